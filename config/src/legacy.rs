//! Import of the seed control plane's configuration format:
//!
//! ```text
//! @MAPSERVER
//! 193.162.145.50          lip6          # address or host name, then the key
//! @EID
//! #Eid-Prefix  Subnetmask  TTL  Flag    # Flag 1 = register
//! 153.16.38.0  25          60   1
//! #RLOC        Priority    Weight  Local flag
//! 132.227.62.242  2        100     1
//! ```
//!
//! The seed authenticates with HMAC-SHA-1 (key id 1) and asks for no Map-Notify, so imported
//! map-servers say so explicitly. Everything else the format carries maps one to one.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{AuthAlgorithm, Config, DatabaseEntry, Locator, MapServer};

/// A line of the legacy file that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LegacyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for LegacyError {}

enum Section {
    None,
    MapServer,
    /// Inside an @EID section: the entry it fills, once its first line was read.
    Eid(Option<usize>),
}

/// Parses the legacy text into the map-server and database parts of a [`Config`].
pub fn import(text: &str) -> Result<Config, LegacyError> {
    let mut config = Config::default();
    let mut section = Section::None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let error = |message: String| LegacyError { line, message };
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        match content {
            "@MAPSERVER" => {
                section = Section::MapServer;
                continue;
            }
            "@EID" => {
                section = Section::Eid(None);
                continue;
            }
            other if other.starts_with('@') => {
                return Err(error(format!(
                    "unknown section {other}; expected @MAPSERVER or @EID"
                )))
            }
            _ => {}
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        match &mut section {
            Section::None => {
                return Err(error("data before any @MAPSERVER or @EID section".into()));
            }
            Section::MapServer => {
                let [address, key] = fields[..] else {
                    return Err(error(format!(
                        "expected \"ADDRESS KEY\", found {content:?}"
                    )));
                };
                config.map_server.push(MapServer {
                    address: address.to_owned(),
                    key: key.to_owned(),
                    algorithm: AuthAlgorithm::HmacSha1,
                    want_map_notify: false,
                    proxy_reply: false,
                    instance_id: None,
                });
            }
            Section::Eid(current) => match current {
                None => {
                    let [prefix, mask, ttl, flag] = fields[..] else {
                        return Err(error(format!(
                            "expected \"EID-PREFIX MASK-LENGTH TTL FLAG\", found {content:?}"
                        )));
                    };
                    let address: IpAddr = prefix
                        .parse()
                        .map_err(|_| error(format!("{prefix:?} is not an IP address")))?;
                    let mask: u8 = number(mask, "mask length").map_err(error)?;
                    let prefix = IpNet::new(address, mask)
                        .map_err(|_| error(format!("mask length {mask} too long for {address}")))?;
                    config.database.push(DatabaseEntry {
                        prefix,
                        instance_id: 0,
                        ttl_minutes: number(ttl, "TTL").map_err(error)?,
                        register: flag_value(flag).map_err(error)?,
                        locator: Vec::new(),
                    });
                    *current = Some(config.database.len() - 1);
                }
                Some(entry) => {
                    let [address, priority, weight, local] = fields[..] else {
                        return Err(error(format!(
                            "expected \"RLOC PRIORITY WEIGHT LOCAL-FLAG\", found {content:?}"
                        )));
                    };
                    config.database[*entry].locator.push(Locator {
                        address: address
                            .parse()
                            .map_err(|_| error(format!("{address:?} is not an IP address")))?,
                        priority: number(priority, "priority").map_err(error)?,
                        weight: number(weight, "weight").map_err(error)?,
                        multicast_priority: 255,
                        multicast_weight: 0,
                        local: flag_value(local).map_err(error)?,
                    });
                }
            },
        }
    }
    Ok(config)
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{what} {text:?} is not a number in range"))
}

fn flag_value(text: &str) -> Result<bool, String> {
    match text {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(format!("flag {text:?} must be 0 or 1")),
    }
}

/// The imported configuration as TOML, with a header saying what the operator must add.
pub fn to_toml(config: &Config) -> Result<String, toml::ser::Error> {
    #[derive(serde::Serialize)]
    struct Imported<'a> {
        map_server: &'a [MapServer],
        database: &'a [DatabaseEntry],
    }
    let body = toml::to_string_pretty(&Imported {
        map_server: &config.map_server,
        database: &config.database,
    })?;
    Ok(format!(
        "# Imported from the legacy @MAPSERVER/@EID format by `lispd import-legacy`.\n\
         # The legacy file has no ports or cores: add [cores] and [[port]] sections (see\n\
         # config/examples/) before `lispd check-config` accepts this file.\n\n{body}"
    ))
}
