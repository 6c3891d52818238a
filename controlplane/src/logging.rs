//! Structured logs (`tracing`) for lispd and lisp-ms: the level comes from `RUST_LOG` when set,
//! else from the configuration, and the management API can change it while running.

use std::sync::OnceLock;

use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Registry;

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Installs the subscriber (once per process): lines on standard output, as text or, with
/// `json`, one JSON object per line (for log shippers reading the journal).
pub fn init(default_level: &str, json: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let (layer, handle) = reload::Layer::new(filter);
    let installed = tracing_subscriber::registry()
        .with(layer)
        .with(json.then(|| tracing_subscriber::fmt::layer().json().with_target(false)))
        .with((!json).then(|| {
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        }))
        .try_init();
    if installed.is_ok() {
        let _ = FILTER.set(handle);
    }
}

/// Changes the level (`error`, `warn`, `info`, `debug`, `trace`, or a full filter directive).
pub fn set_level(level: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(level).map_err(|e| format!("log level {level:?}: {e}"))?;
    FILTER
        .get()
        .ok_or_else(|| "logging is not initialised".to_owned())?
        .reload(filter)
        .map_err(|e| e.to_string())
}
