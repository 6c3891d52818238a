//! Static mappings in bulk (`map_cache_file`): one mapping per line, for map-caches of a million
//! entries, where `[[map_cache]]` tables take seconds and gigabytes to parse (measured: 1M tables,
//! 80 MB of TOML, 3.8 GB resident while parsing).
//!
//! ```text
//! # PREFIX [instance-id=N] [action=ACTION] LOCATOR...
//! 10.3.0.0/16 192.0.2.7 192.0.2.8:2:50
//! 2001:db8:3::/48 instance-id=7 [2001:db8::1]:1:100
//! 10.9.0.0/16 action=drop
//! ```
//!
//! A locator is `ADDRESS[:PRIORITY[:WEIGHT]]` (IPv6 in brackets when fields follow), as in
//! `lispctl map add`; the defaults and the rules are those of `[[map_cache]]`.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::Deserialize;

use crate::diagnostics::{ConfigErrors, Diagnostic};
use crate::model::{Locator, MapAction, StaticMapping};

/// `ADDRESS[:PRIORITY[:WEIGHT]]`, IPv6 addresses in brackets when followed by fields; unset
/// fields take the `[[map_cache.locator]]` defaults.
pub fn parse_locator(text: &str) -> Result<Locator, String> {
    let (address, rest) = match text.strip_prefix('[') {
        Some(inner) => {
            let (address, rest) = inner
                .split_once(']')
                .ok_or_else(|| format!("locator {text:?}: missing ']'"))?;
            (address, rest.strip_prefix(':').unwrap_or(rest))
        }
        None if text.parse::<IpAddr>().is_ok() => (text, ""),
        None => text.split_once(':').unwrap_or((text, "")),
    };
    let address: IpAddr = address
        .parse()
        .map_err(|_| format!("locator {text:?}: {address:?} is not an IP address"))?;
    let mut fields = rest.split(':');
    let mut number = |name: &str| -> Result<Option<u8>, String> {
        match fields.next() {
            None | Some("") => Ok(None),
            Some(f) => f
                .parse()
                .map(Some)
                .map_err(|_| format!("locator {text:?}: {name} {f:?} is not 0-255")),
        }
    };
    let priority = number("priority")?;
    let weight = number("weight")?;
    if fields.next().is_some() {
        return Err(format!(
            "locator {text:?}: expected ADDRESS[:PRIORITY[:WEIGHT]]"
        ));
    }
    let mut locator = Locator::new(address);
    locator.priority = priority.unwrap_or(locator.priority);
    locator.weight = weight.unwrap_or(locator.weight);
    Ok(locator)
}

/// One line: a mapping, `None` for a blank or comment line.
pub fn parse_line(line: &str) -> Result<Option<StaticMapping>, String> {
    let content = line.split('#').next().unwrap_or("");
    let mut words = content.split_whitespace();
    let Some(prefix) = words.next() else {
        return Ok(None);
    };
    let prefix: IpNet = prefix
        .parse()
        .map_err(|_| format!("{prefix:?} is not an IP prefix (address/length)"))?;
    let mut mapping = StaticMapping {
        prefix,
        instance_id: 0,
        action: MapAction::Encapsulate,
        locator: Vec::new(),
    };
    for word in words {
        if let Some(id) = word.strip_prefix("instance-id=") {
            mapping.instance_id = id
                .parse()
                .map_err(|_| format!("instance-id {id:?} is not a number"))?;
        } else if let Some(action) = word.strip_prefix("action=") {
            mapping.action = MapAction::deserialize(StrDeserializer::<ValueError>::new(action))
                .map_err(|_| {
                    format!(
                        "action {action:?}: expected encapsulate, drop, native-forward or \
                         send-map-request"
                    )
                })?;
        } else {
            mapping.locator.push(parse_locator(word)?);
        }
    }
    Ok(Some(mapping))
}

/// The mappings of `path` and the line each came from; errors name the file and line.
pub fn read(path: &Path) -> Result<(Vec<StaticMapping>, Vec<usize>), ConfigErrors> {
    let file = path.display().to_string();
    let diagnostic = |line, message| Diagnostic {
        file: file.clone(),
        line,
        column: 0,
        path: String::new(),
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors(vec![diagnostic(0, format!("cannot read: {e}"))]))?;
    let mut mappings = Vec::new();
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (number, line) in (1..).zip(text.lines()) {
        match parse_line(line) {
            Ok(Some(mapping)) => {
                mappings.push(mapping);
                lines.push(number);
            }
            Ok(None) => {}
            Err(message) => errors.push(diagnostic(number, message)),
        }
    }
    if errors.is_empty() {
        Ok((mappings, lines))
    } else {
        Err(ConfigErrors(errors))
    }
}
