//! The appliance configuration: one TOML file for DPDK, cores, ports and the LISP site.
//!
//! [`parse`] deserializes and then validates; every error names the file, line and column of the
//! value and what is expected. [`legacy::import`] reads the seed control plane's format.

pub mod bulk;
mod diagnostics;
pub mod legacy;
mod mac;
mod map_server;
mod model;
mod summary;
mod validate;

use std::path::Path;

pub use diagnostics::{ConfigErrors, Diagnostic};
pub use mac::MacAddr;
pub use map_server::{
    parse_map_server, MapServerConfig, NegativeAction, ReplayProtection, Site, SiteLimits,
};
pub use model::*;
pub use summary::summary;
pub use validate::{
    check_static_mapping, Host, MAX_INSTANCES, MAX_INSTANCE_ID, MAX_MAP_CACHE,
    MAX_PROXY_ETR_ALLOWED,
};

/// Parses and validates `text` by the rules that hold on any machine; `file` names it in errors.
/// A `map_cache_file` is read relative to the current directory.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigErrors> {
    parse_in(text, file, None, Path::new(""))
}

/// [`parse`], then checks that this machine (`host`) has what the configuration names.
pub fn parse_here(text: &str, file: &str, host: &Host) -> Result<Config, ConfigErrors> {
    parse_in(text, file, Some(host), Path::new(""))
}

/// Reads, parses and validates a configuration file (and its `map_cache_file`) by the rules
/// that hold on any machine: what `lispd check-config` checks.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let (text, file) = read(path)?;
    parse_in(&text, &file, None, path.parent().unwrap_or(Path::new("")))
}

/// [`load`], then checks that this machine (`host`) has what the configuration names: what
/// `lispd run` and `lispd check-config --here` check.
pub fn load_here(path: &Path, host: &Host) -> Result<Config, ConfigErrors> {
    let (text, file) = read(path)?;
    parse_in(
        &text,
        &file,
        Some(host),
        path.parent().unwrap_or(Path::new("")),
    )
}

/// Parses `text`, appends the mappings of its `map_cache_file` (relative to `dir`) and validates
/// the whole, on `host` when given.
fn parse_in(
    text: &str,
    file: &str,
    host: Option<&Host>,
    dir: &Path,
) -> Result<Config, ConfigErrors> {
    let mut config: Config =
        toml::from_str(text).map_err(|e| diagnostics::from_toml_error(file, text, &e))?;
    let bulk = match &config.map_cache_file {
        Some(name) => {
            let path = dir.join(name);
            let (mappings, lines) = bulk::read(&path)?;
            let first = config.map_cache.len();
            config.map_cache.extend(mappings);
            Some((path.display().to_string(), first, lines))
        }
        None => None,
    };
    let mut issues = validate::validate(&config);
    if let Some(host) = host {
        issues.extend(validate::check_host(&config, host));
    }
    if issues.is_empty() {
        return Ok(config);
    }
    let bulk = bulk
        .as_ref()
        .map(|(file, first, lines)| diagnostics::BulkLines {
            file,
            first: *first,
            lines,
        });
    Err(diagnostics::place_with_bulk(
        file,
        text,
        issues,
        bulk.as_ref(),
    ))
}

/// Reads, parses and validates a `lisp-ms` configuration file.
pub fn load_map_server(path: &Path) -> Result<MapServerConfig, ConfigErrors> {
    let (text, file) = read(path)?;
    parse_map_server(&text, &file)
}

fn read(path: &Path) -> Result<(String, String), ConfigErrors> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, file)),
        Err(e) => Err(ConfigErrors(vec![Diagnostic {
            file,
            line: 0,
            column: 0,
            path: String::new(),
            message: format!("cannot read: {e}"),
        }])),
    }
}
