//! The configuration of `lisp-ms`, the Map-Server and Map-Resolver: listen addresses, the sites
//! with their EID prefixes and keys, and what to answer for space nobody registered.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::diagnostics::{self, ConfigErrors, FieldPath, Issue};
use crate::model::AuthAlgorithm;

/// The whole `lisp-ms` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapServerConfig {
    /// UDP sockets to serve on (port 4342 by convention).
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    /// A registration not refreshed within this time is dropped (RFC 9301 suggests 3 minutes).
    #[serde(default = "default_registration_ttl")]
    pub registration_ttl_secs: u32,
    /// TTL of negative Map-Replies for space outside every site.
    #[serde(default = "default_negative_ttl")]
    pub negative_ttl_minutes: u32,
    /// Action of negative Map-Replies for space outside every site.
    #[serde(default)]
    pub negative_action: NegativeAction,
    /// For this long after start, site space nobody has (re-)registered yet is answered with a
    /// TTL-0 "send-map-request" negative reply instead of a one-minute "drop": the sites'
    /// registrations were lost with the restart and come back within one registration interval.
    #[serde(default = "default_startup_grace")]
    pub startup_grace_secs: u32,
    /// RTRs named in Info-Replies: xTRs behind a NAT register and send through them.
    #[serde(default)]
    pub rtrs: Vec<std::net::IpAddr>,
    /// How long an xTR may keep an Info-Reply's answer, in minutes.
    #[serde(default = "default_info_reply_ttl")]
    pub info_reply_ttl_minutes: u32,
    #[serde(default)]
    pub site: Vec<Site>,
}

fn default_info_reply_ttl() -> u32 {
    15
}

/// How a site's Map-Registers are told from replays of captured ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplayProtection {
    /// Random nonces (most deployed xTRs): each registrant's last 1,024 accepted nonces are
    /// remembered and refused again; a nonce of 0 is refused.
    #[default]
    NonceMemory,
    /// lispd's nonces, whose upper 32 bits are the sender's Unix time: a Map-Register must be
    /// within `max_clock_skew_secs` of our clock and newer than the registrant's last one.
    Timestamp,
}

/// What one site may register (safe defaults; a Map-Register beyond any is refused whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteLimits {
    /// Distinct prefixes registered by the site at once.
    pub max_prefixes: u32,
    /// Of those, prefixes that are not one of the site's configured prefixes (more-specifics and
    /// mobility-space host routes).
    pub max_more_specifics: u32,
    /// Locators in one EID record.
    pub max_locators: u32,
    /// xTRs (xTR-IDs, or source addresses without one) registering for the site at once.
    pub max_registrants: u32,
}

impl Default for SiteLimits {
    fn default() -> Self {
        Self {
            max_prefixes: 4096,
            max_more_specifics: 1024,
            max_locators: 16,
            max_registrants: 16,
        }
    }
}

/// What an ITR is told to do with packets for unregistered, non-site space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NegativeAction {
    #[default]
    NativelyForward,
    Drop,
    SendMapRequest,
}

/// One LISP site: who may register which prefixes, with which key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub name: String,
    pub key: String,
    #[serde(default = "default_algorithm")]
    pub algorithm: AuthAlgorithm,
    /// The instance (tenant) the site's prefixes are in (0: the default one): a site registers
    /// and is answered within its instance only.
    #[serde(default)]
    pub instance_id: u32,
    /// The EID prefixes the site owns.
    pub prefixes: Vec<IpNet>,
    /// Whether registrations of more-specific prefixes inside them are accepted.
    #[serde(default = "yes")]
    pub accept_more_specifics: bool,
    /// VM-mobility space: prefixes several sites may register (more-specifics always accepted);
    /// the registrations of all of them are merged.
    #[serde(default)]
    pub mobile_prefixes: Vec<IpNet>,
    #[serde(default)]
    pub replay_protection: ReplayProtection,
    /// With `replay_protection = "timestamp"`: how far a Map-Register's time may be from ours.
    #[serde(default = "default_clock_skew")]
    pub max_clock_skew_secs: u32,
    #[serde(default)]
    pub limits: SiteLimits,
}

fn default_listen() -> Vec<SocketAddr> {
    vec![
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4342),
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 4342),
    ]
}

fn default_registration_ttl() -> u32 {
    180
}

fn default_negative_ttl() -> u32 {
    15
}

fn default_startup_grace() -> u32 {
    60
}

fn default_clock_skew() -> u32 {
    120
}

fn default_algorithm() -> AuthAlgorithm {
    AuthAlgorithm::HmacSha256
}

fn yes() -> bool {
    true
}

impl MapServerConfig {
    /// The built-in demo: loopback listeners and the two demo sites (keys `demo-site-a` and
    /// `demo-site-b`) sharing the VM-mobility space 10.9.0.0/24 and 2001:db8:9::/64, so the demo
    /// needs no extra file. The sites are lispd's, so their Map-Registers carry timestamps.
    pub fn demo() -> Self {
        let site = |name: &str, prefixes: [&str; 2]| Site {
            name: name.to_owned(),
            key: format!("demo-{name}"),
            algorithm: AuthAlgorithm::HmacSha256,
            instance_id: 0,
            prefixes: prefixes.iter().filter_map(|p| p.parse().ok()).collect(),
            accept_more_specifics: true,
            mobile_prefixes: ["10.9.0.0/24", "2001:db8:9::/64"]
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect(),
            replay_protection: ReplayProtection::Timestamp,
            max_clock_skew_secs: default_clock_skew(),
            limits: SiteLimits::default(),
        };
        Self {
            listen: default_listen(),
            registration_ttl_secs: default_registration_ttl(),
            negative_ttl_minutes: default_negative_ttl(),
            negative_action: NegativeAction::NativelyForward,
            startup_grace_secs: default_startup_grace(),
            rtrs: Vec::new(),
            info_reply_ttl_minutes: default_info_reply_ttl(),
            site: vec![
                site("site-a", ["10.1.0.0/16", "2001:db8:a::/48"]),
                site("site-b", ["10.2.0.0/16", "2001:db8:b::/48"]),
            ],
        }
    }
}

/// Parses and validates a `lisp-ms` file; `file` names it in errors.
pub fn parse_map_server(text: &str, file: &str) -> Result<MapServerConfig, ConfigErrors> {
    let config: MapServerConfig =
        toml::from_str(text).map_err(|e| diagnostics::from_toml_error(file, text, &e))?;
    let issues = validate(&config);
    if issues.is_empty() {
        Ok(config)
    } else {
        Err(diagnostics::place(file, text, issues))
    }
}

fn validate(config: &MapServerConfig) -> Vec<Issue> {
    let mut issues = Vec::new();
    let root = FieldPath::root();
    let mut report = |path: FieldPath, message: String| issues.push(Issue { path, message });
    if config.listen.is_empty() {
        report(root.key("listen"), "at least one listen address".into());
    }
    if config.registration_ttl_secs < 10 {
        report(
            root.key("registration_ttl_secs"),
            "at least 10 seconds (registrations are refreshed every 60)".into(),
        );
    }
    for (i, rtr) in config.rtrs.iter().enumerate() {
        if rtr.is_unspecified() || rtr.is_multicast() {
            report(
                root.key("rtrs").index(i),
                format!("{rtr} cannot be an RTR's address"),
            );
        }
    }
    let mut names = HashMap::new();
    let mut owners: Vec<(IpNet, usize)> = Vec::new();
    for (i, site) in config.site.iter().enumerate() {
        let here = root.key("site").index(i);
        if let Some(first) = names.insert(site.name.as_str(), i) {
            report(
                here.key("name"),
                format!("site name {:?} is already used by site[{first}]", site.name),
            );
        }
        if site.key.is_empty() {
            report(here.key("key"), "a site needs a non-empty key".into());
        }
        let limits = site.limits;
        for (name, value) in [
            ("max_prefixes", limits.max_prefixes),
            ("max_locators", limits.max_locators),
            ("max_registrants", limits.max_registrants),
        ] {
            if value == 0 {
                report(
                    here.key("limits").key(name),
                    format!("{name} must be at least 1"),
                );
            }
        }
        if site.max_clock_skew_secs == 0 {
            report(here.key("max_clock_skew_secs"), "at least 1 second".into());
        }
        if site.prefixes.is_empty() {
            report(
                here.key("prefixes"),
                "a site owns at least one prefix".into(),
            );
        }
        for (j, prefix) in site.prefixes.iter().enumerate() {
            let path = here.key("prefixes").index(j);
            if prefix.trunc() != *prefix {
                report(
                    path.clone(),
                    format!("{prefix} has host bits set; write {}", prefix.trunc()),
                );
            }
            if let Some((other, owner)) = owners.iter().find(|(o, owner)| {
                config.site[*owner].instance_id == site.instance_id
                    && (o.contains(&prefix.network()) || prefix.contains(&o.network()))
            }) {
                report(
                    path,
                    format!(
                        "{prefix} overlaps {other} of site[{owner}] in instance-id {}: a prefix \
                         has one owner",
                        site.instance_id
                    ),
                );
            }
        }
        owners.extend(site.prefixes.iter().map(|p| (p.trunc(), i)));
    }
    for (i, site) in config.site.iter().enumerate() {
        for (j, mobile) in site.mobile_prefixes.iter().enumerate() {
            let path = root.key("site").index(i).key("mobile_prefixes").index(j);
            if mobile.trunc() != *mobile {
                report(
                    path.clone(),
                    format!("{mobile} has host bits set; write {}", mobile.trunc()),
                );
            }
            if let Some((other, owner)) = owners.iter().find(|(o, owner)| {
                config.site[*owner].instance_id == site.instance_id
                    && (o.contains(&mobile.network()) || mobile.contains(&o.network()))
            }) {
                report(
                    path,
                    format!(
                        "{mobile} overlaps {other} of site[{owner}]: mobility space is shared, not owned"
                    ),
                );
            }
        }
    }
    issues
}
