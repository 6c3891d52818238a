//! `lisp-ms`: a Map-Server and Map-Resolver on ordinary UDP sockets.
//!
//! With no configuration it serves the built-in demo sites on loopback, so the demo needs no file.
//! Logs go to standard output (`RUST_LOG=debug` shows every message decoded).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::{CommandFactory, Parser};
use config::MapServerConfig;
use controlplane::clock::WallClock;
use controlplane::map_server::MapServer;
use controlplane::map_server_endpoints::Endpoints;
use controlplane::map_server_runner::{self as runner, RunnerStats};
use controlplane::report::nonzero_counters;

#[derive(Parser)]
#[command(name = "lisp-ms", version, about = "LISP Map-Server and Map-Resolver")]
struct Cli {
    /// The TOML configuration (default: the built-in demo sites).
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Listen here instead of the configured addresses (repeatable).
    #[arg(short, long)]
    listen: Vec<SocketAddr>,
    /// Serve the management API (`lispctl --ms`) on this Unix socket.
    #[arg(long, value_name = "PATH")]
    management: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDRESS/metrics.
    #[arg(long, value_name = "ADDRESS")]
    metrics: Option<SocketAddr>,
    /// Log one JSON object per line instead of text.
    #[arg(long)]
    log_json: bool,
    /// Validate the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Write the man page and bash/zsh completions under DIR and exit (for packaging).
    #[arg(long, hide = true, value_name = "DIR")]
    generate_docs: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(dir) = &cli.generate_docs {
        return match controlplane::docs::write(Cli::command(), dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                ExitCode::FAILURE
            }
        };
    }
    let mut config = match &cli.config {
        Some(path) => match config::load_map_server(path) {
            Ok(config) => config,
            Err(errors) => {
                eprintln!("{errors}");
                return ExitCode::FAILURE;
            }
        },
        None => MapServerConfig::demo(),
    };
    if !cli.listen.is_empty() {
        config.listen = cli.listen;
    }
    if cli.check {
        println!(
            "lisp-ms: configuration OK: {} site(s), listening on {:?}",
            config.site.len(),
            config.listen
        );
        return ExitCode::SUCCESS;
    }
    controlplane::logging::init("info", cli.log_json);
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGQUIT,
    ] {
        if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
            eprintln!("lisp-ms: cannot handle signal {signal}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let endpoints = match Endpoints::bind(cli.management.as_deref(), cli.metrics) {
        Ok(endpoints) => endpoints,
        Err(e) => {
            eprintln!("lisp-ms: {e}");
            return ExitCode::FAILURE;
        }
    };
    match serve(config, endpoints, &stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lisp-ms: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    config: MapServerConfig,
    mut endpoints: Endpoints,
    stop: &AtomicBool,
) -> Result<(), String> {
    let sockets = runner::bind(&config.listen)?;
    let sites: Vec<String> = config.site.iter().map(|s| s.name.clone()).collect();
    println!(
        "lisp-ms: serving sites {} on {:?} (stop with SIGINT or SIGTERM)",
        sites.join(", "),
        config.listen
    );
    let mut server = MapServer::new(config, WallClock::system(), Instant::now());
    server.set_host_addresses(runner::host_addresses());
    let stats = RunnerStats::default();
    // Under systemd (Type=notify): ready once the sockets are bound, and stopping.
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let served = runner::serve(&mut server, &sockets, &mut endpoints, stop, &stats);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    served?;
    println!("lisp-ms: stopped");
    for r in server.registrations() {
        println!(
            "  {} {} locators {:?} registrants {}",
            r.site, r.prefix, r.locators, r.registrants
        );
    }
    println!("  {}", nonzero_counters(&server.stats()));
    println!(
        "  loop wakeups {}, datagrams {}, refusals not logged {}",
        stats.wakeups.load(Ordering::Relaxed),
        stats.datagrams.load(Ordering::Relaxed),
        stats.refusals_not_logged.load(Ordering::Relaxed)
    );
    Ok(())
}
