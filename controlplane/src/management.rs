//! The management API of lispd (what OpenLISP's mapping sockets and LISPmob's lispconf did):
//! one JSON request per line, one JSON response per line, versioned. This module is the I/O-free
//! part: it parses a request, acts on the control plane, and renders the response; the control
//! loop serves it on a Unix socket between packet bursts, so data cores are never disturbed.
//!
//! Request: `{"version": 1, "command": "show-cache", "eid": "10.2.0.7"}`.
//! Response: `{"version": 1, "ok": true, "result": ...}` or `{"version": 1, "ok": false,
//! "error": "..."}`.
//!
//! A listing of the whole map-cache (a million entries, say) is not built at once: it is a
//! [`CacheListing`] that writes the same response line [`LISTING_PAGE`] entries at a time, as
//! the client reads, resuming in prefix order after the last entry written, so the control loop
//! never stalls on it.

use std::net::IpAddr;
use std::time::Instant;

use dataplane::mapcache::{Action, InstalledKey, Locator, Mapping};
use dataplane::pipeline::Tracer;

use crate::management_api as api;
use crate::report::counters;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::xtr::Xtr;

/// The protocol version this lispd speaks.
pub const VERSION: u32 = 1;

/// A locator as management shows and takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocatorView {
    pub address: IpAddr,
    #[serde(default = "one")]
    pub priority: u8,
    #[serde(default = "hundred")]
    pub weight: u8,
    #[serde(default = "yes")]
    pub up: bool,
}

fn one() -> u8 {
    1
}

fn hundred() -> u8 {
    100
}

fn yes() -> bool {
    true
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// The entry an EID's longest match reaches; without an EID, the map-cache (streamed), or
    /// only its entries inside `within`, at most `count` of them.
    ShowCache {
        #[serde(default)]
        eid: Option<IpAddr>,
        /// The instance the EID (or `within`) is in (default instance when absent).
        #[serde(default)]
        instance_id: Option<u32>,
        #[serde(default)]
        within: Option<IpNet>,
        #[serde(default)]
        count: Option<usize>,
    },
    /// Our EID prefixes, of one instance when `instance_id` is given.
    ShowDatabase {
        #[serde(default)]
        instance_id: Option<u32>,
    },
    ShowServers,
    ShowNeighbours,
    /// Each instance (tenant): its interfaces, table sizes and packets.
    ShowInstances,
    ShowStats,
    /// Installs a static mapping (replacing what the prefix had), checked by the rules of the
    /// configuration's `[[map_cache]]`; one inside our own EID space is refused unless forced.
    MapAdd {
        prefix: IpNet,
        #[serde(default)]
        instance_id: Option<u32>,
        #[serde(default)]
        action: Option<String>,
        #[serde(default)]
        locators: Vec<LocatorView>,
        #[serde(default)]
        force: bool,
    },
    MapDel {
        prefix: IpNet,
        #[serde(default)]
        instance_id: Option<u32>,
    },
    /// Drops every mapping learned from Map-Replies.
    Flush,
    /// Sends Map-Registers to every map-server now.
    Register,
    SetLogLevel {
        level: String,
    },
    /// Re-reads the configuration file and applies what can change without a restart.
    Reload,
    /// Records what becomes of the next `count` packets (answered when they have passed, or
    /// after [`TRACE_WAIT`]).
    Trace {
        count: u32,
    },
}

#[derive(Debug, Deserialize)]
struct Envelope {
    version: u32,
    #[serde(flatten)]
    request: Request,
}

/// A port's name and its known neighbours (address, MAC).
pub type PortNeighbours = (String, Vec<(IpAddr, [u8; 6])>);

/// What the runner knows beside the control plane: data-core counters, neighbours, and how to
/// change the log level.
#[derive(Debug)]
pub struct ApplianceView {
    /// Data-core counters summed over the cores.
    pub counters: Vec<(&'static str, u64)>,
    /// Each data core's lcore and its own counters.
    pub per_core: Vec<(u32, Vec<(&'static str, u64)>)>,
    /// Each port's name and its device counters (RX/TX packets, bytes, misses, errors).
    pub ports: Value,
    pub control: Value,
    /// How long the control loop's turns take.
    pub control_loop: crate::loop_timer::LoopStats,
    /// What the management and metrics servers did with their clients.
    pub servers: Value,
    /// Per port: name and neighbour (address, MAC) pairs.
    pub neighbours: Vec<PortNeighbours>,
    /// Our locators and whether each is usable (its port's link and gateway are up).
    pub locators: Vec<(IpAddr, bool)>,
    /// The host names peers were configured by: (role, index in its section, name).
    pub peer_names: Vec<(&'static str, usize, Option<String>)>,
    /// The PETR in use.
    pub petr: Option<IpAddr>,
    /// Per instance served: its id and the packets encapsulated from and decapsulated toward
    /// its hosts, summed over the data cores.
    pub instance_packets: Vec<(u32, u64, u64)>,
    /// Each EID-side interface (port or VLAN): its instance and name.
    pub eid_interfaces: Vec<(u32, String)>,
    pub set_log_level: fn(&str) -> Result<(), String>,
}

fn counter_map(counters: &[(&'static str, u64)]) -> api::Counters {
    counters
        .iter()
        .map(|(name, value)| ((*name).to_owned(), *value))
        .collect()
}

/// Entries a [`CacheListing`] writes per page.
pub const LISTING_PAGE: usize = 256;

/// The answer to one request.
#[derive(Debug)]
pub enum Reply {
    /// The whole response line, newline included.
    Line(String),
    /// The map-cache, to be written page by page.
    Listing(CacheListing),
    /// A reload, which the runner does (it owns the file and the tables); its outcome is
    /// answered with [`response_line`].
    Reload,
    /// A packet trace of this many packets: the runner starts it and streams a [`TraceListing`].
    Trace(u32),
}

/// A `show-cache` listing being written: the whole map-cache, or what lies inside a prefix, up
/// to a count.
#[derive(Debug, Default)]
pub struct CacheListing {
    after: Option<InstalledKey>,
    written: usize,
    within: Option<(Option<u32>, IpNet)>,
    count: Option<usize>,
}

impl CacheListing {
    /// A listing of the entries inside `within` (in its instance; all when `None`), at most
    /// `count` (all when `None`).
    pub fn new(within: Option<(Option<u32>, IpNet)>, count: Option<usize>) -> Self {
        Self {
            within,
            count,
            ..Self::default()
        }
    }

    /// Appends the next page of the response line to `out`; true when the line is complete.
    pub fn next_page(&mut self, xtr: &Xtr, now: Instant, out: &mut Vec<u8>) -> bool {
        if self.written == 0 && self.after.is_none() {
            out.extend_from_slice(
                format!("{{\"version\":{VERSION},\"ok\":true,\"result\":[").as_bytes(),
            );
        }
        let room = self
            .count
            .map_or(LISTING_PAGE, |count| count.saturating_sub(self.written))
            .min(LISTING_PAGE);
        let entries: Box<dyn Iterator<Item = _>> = match self.within {
            Some((instance_id, within)) => {
                Box::new(xtr.map_cache.iter_within(instance_id, within, self.after))
            }
            None => Box::new(xtr.map_cache.iter_after(self.after)),
        };
        let mut page = 0;
        for (key, mapping) in entries.take(room) {
            if self.written > 0 {
                out.push(b',');
            }
            let entry = cache_entry(xtr, &key.1, mapping, now);
            if serde_json::to_writer(&mut *out, &entry).is_err() {
                out.extend_from_slice(b"null");
            }
            self.after = Some(key);
            self.written += 1;
            page += 1;
        }
        if page < LISTING_PAGE || self.count.is_some_and(|count| self.written >= count) {
            out.extend_from_slice(b"]}\n");
            return true;
        }
        false
    }
}

/// How long a trace waits for its packets.
pub const TRACE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A `trace` being answered: records as the data cores make them, until the count is reached
/// or [`TRACE_WAIT`] has passed (then the trace stops with what it has).
#[derive(Debug)]
pub struct TraceListing {
    wanted: u32,
    written: u32,
    deadline: Instant,
    started: bool,
}

impl TraceListing {
    pub fn new(count: u32, now: Instant) -> Self {
        Self {
            wanted: count,
            written: 0,
            deadline: now + TRACE_WAIT,
            started: false,
        }
    }

    /// Appends the records that arrived to `out`; true when the line is complete.
    pub fn next_page(&mut self, tracer: &Tracer, now: Instant, out: &mut Vec<u8>) -> bool {
        if !self.started {
            self.started = true;
            out.extend_from_slice(
                format!("{{\"version\":{VERSION},\"ok\":true,\"result\":[").as_bytes(),
            );
        }
        while self.written < self.wanted {
            let Some(record) = tracer.take() else {
                break;
            };
            if self.written > 0 {
                out.push(b',');
            }
            let (outcome, to) = record.outcome.describe();
            let entry = api::TraceEntry {
                port: record.port,
                length: record.length,
                class: record.class.name().to_owned(),
                outcome: outcome.to_owned(),
                to,
            };
            if serde_json::to_writer(&mut *out, &entry).is_err() {
                out.extend_from_slice(b"null");
            }
            self.written += 1;
        }
        if self.written < self.wanted && now < self.deadline {
            return false;
        }
        tracer.stop();
        out.extend_from_slice(b"]}\n");
        true
    }
}

/// Answers one request line.
pub fn respond(line: &str, xtr: &mut Xtr, view: &ApplianceView, now: Instant) -> Reply {
    let request = serde_json::from_str::<Envelope>(line)
        .map_err(|e| format!("bad request: {e}"))
        .and_then(|envelope| {
            if envelope.version == VERSION {
                Ok(envelope.request)
            } else {
                Err(format!(
                    "protocol version {} is not spoken here (this lispd speaks {VERSION})",
                    envelope.version
                ))
            }
        });
    let outcome = match request {
        Ok(Request::ShowCache {
            eid: None,
            instance_id,
            within,
            count,
        }) => {
            let within = within.map(|prefix| (instance_id, prefix.trunc()));
            return Reply::Listing(CacheListing::new(within, count));
        }
        Ok(Request::Reload) => return Reply::Reload,
        Ok(Request::Trace { count }) => return Reply::Trace(count),
        Ok(request) => act(request, xtr, view, now),
        Err(error) => Err(error),
    };
    Reply::Line(response_line(outcome))
}

/// The response line (newline included) for a request's outcome.
pub fn response_line(outcome: Result<Value, String>) -> String {
    let response = match outcome {
        Ok(result) => json!({"version": VERSION, "ok": true, "result": result}),
        Err(error) => json!({"version": VERSION, "ok": false, "error": error}),
    };
    format!("{response}\n")
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Encapsulate => "encapsulate",
        Action::Drop => "drop",
        Action::NativeForward => "native-forward",
        Action::SendMapRequest => "send-map-request",
    }
}

/// A mapping `map add` is asked for, checked as the configuration's `[[map_cache]]` entries are,
/// and refused inside one of our own EID prefixes (it would take our traffic elsewhere) unless
/// `force`d.
fn check_static(
    xtr: &Xtr,
    prefix: IpNet,
    instance_id: Option<u32>,
    action: Action,
    locators: &[LocatorView],
    force: bool,
) -> Result<(), String> {
    let entry = config::StaticMapping {
        prefix,
        instance_id: instance_id.unwrap_or(0),
        action: match action {
            Action::Encapsulate => config::MapAction::Encapsulate,
            Action::Drop => config::MapAction::Drop,
            Action::NativeForward => config::MapAction::NativeForward,
            Action::SendMapRequest => config::MapAction::SendMapRequest,
        },
        locator: locators
            .iter()
            .map(|l| config::Locator {
                priority: l.priority,
                weight: l.weight,
                ..config::Locator::new(l.address)
            })
            .collect(),
    };
    let instances = xtr.map_cache.instances().ids().collect();
    let problems = config::check_static_mapping(&entry, &instances);
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let shadowed = xtr.database().iter().find_map(|m| {
        let (own, mapping) = crate::resolution::mapping_of(&m.record)?;
        (mapping.instance_id == instance_id && own.contains(&prefix)).then_some(own)
    });
    match shadowed {
        Some(own) if !force => Err(format!(
            "{prefix} is inside our own EID prefix {own}: a static mapping would send its \
             traffic elsewhere; add --force if that is meant"
        )),
        _ => Ok(()),
    }
}

fn parse_action(name: &str) -> Result<Action, String> {
    match name {
        "encapsulate" => Ok(Action::Encapsulate),
        "drop" => Ok(Action::Drop),
        "native-forward" => Ok(Action::NativeForward),
        "send-map-request" => Ok(Action::SendMapRequest),
        other => Err(format!(
            "action {other:?}: expected encapsulate, drop, native-forward or send-map-request"
        )),
    }
}

fn cache_entry(xtr: &Xtr, prefix: &IpNet, mapping: &Mapping, now: Instant) -> api::CacheEntry {
    let expires = xtr
        .learned
        .expires_at(mapping.instance_id, prefix)
        .map(|at| at.saturating_duration_since(now).as_secs());
    api::CacheEntry {
        prefix: *prefix,
        instance_id: mapping.instance_id,
        action: action_name(mapping.action).to_owned(),
        map_version: mapping.map_version,
        origin: if expires.is_some() {
            api::Origin::Learned
        } else {
            api::Origin::Static
        },
        expires_in_secs: expires,
        locators: mapping
            .locators
            .iter()
            .map(|l| api::CacheLocator {
                address: l.address,
                priority: l.priority,
                weight: l.weight,
                up: l.up,
            })
            .collect(),
    }
}

/// `answer` as the JSON of a response's `result`.
fn typed(answer: impl serde::Serialize) -> Result<Value, String> {
    serde_json::to_value(answer).map_err(|e| e.to_string())
}

fn act(
    request: Request,
    xtr: &mut Xtr,
    view: &ApplianceView,
    now: Instant,
) -> Result<Value, String> {
    match request {
        Request::Reload | Request::Trace { .. } => {
            Err("reloads and traces are done by the runner, not the control plane".into())
        }
        Request::ShowCache {
            eid, instance_id, ..
        } => {
            let eid = eid.ok_or("the whole map-cache is listed page by page")?;
            let (prefix, mapping) = xtr
                .map_cache
                .lookup(instance_id, eid)
                .ok_or_else(|| format!("no map-cache entry covers {eid}"))?;
            typed(cache_entry(xtr, &prefix, &mapping, now))
        }
        Request::ShowDatabase { instance_id } => typed(
            xtr.database()
                .iter()
                .filter(|m| {
                    instance_id.is_none_or(|iid| m.record.eid.instance_id().unwrap_or(0) == iid)
                })
                .map(|m| api::DatabaseEntry {
                    prefix: format!(
                        "{}/{}",
                        m.record
                            .eid
                            .ip()
                            .map_or_else(String::new, |a| a.to_string()),
                        m.record.mask_len
                    ),
                    instance_id: m.record.eid.instance_id(),
                    ttl_minutes: m.record.ttl,
                    register: m.register,
                    map_version: m.record.map_version,
                    locators: m
                        .record
                        .locators
                        .iter()
                        .map(|l| api::DatabaseLocator {
                            address: l.address.ip(),
                            priority: l.priority,
                            weight: l.weight,
                            local: l.local,
                        })
                        .collect(),
                })
                .collect::<Vec<_>>(),
        ),
        Request::ShowServers => {
            let name = |role: &str, index: usize| {
                view.peer_names
                    .iter()
                    .find(|(r, i, _)| *r == role && *i == index)
                    .and_then(|(_, _, name)| name.clone())
            };
            let peer = |role: &str, index: usize, address: IpAddr| api::PeerEntry {
                role: role.to_owned(),
                address,
                name: name(role, index),
            };
            let resolvers = xtr.resolver.resolvers().iter().enumerate();
            let peers = resolvers
                .map(|(i, r)| peer("map-resolver", i, r.ip()))
                .chain(view.petr.map(|petr| peer("petr", 0, petr)))
                .chain(
                    xtr.pitrs()
                        .iter()
                        .enumerate()
                        .map(|(i, &p)| peer("pitr", i, p)),
                )
                .collect();
            typed(api::Servers {
                map_servers: xtr
                    .registration
                    .status()
                    .into_iter()
                    .map(|s| api::ServerEntry {
                        address: s.address,
                        name: s.name,
                        state: s.state.name().to_owned(),
                        failures: s.state.failures(),
                        registered_secs_ago: s
                            .registered_at
                            .map(|at| now.saturating_duration_since(at).as_secs()),
                        next_register_in_secs: s
                            .next_register
                            .saturating_duration_since(now)
                            .as_secs(),
                        nat: xtr.nat.as_ref().and_then(|nat| {
                            nat.states()
                                .find(|(server, _)| *server == s.address)
                                .map(|(_, state)| state.to_string())
                        }),
                    })
                    .collect(),
                peers,
            })
        }
        Request::ShowNeighbours => typed(
            view.neighbours
                .iter()
                .flat_map(|(port, entries)| {
                    entries
                        .iter()
                        .map(move |(address, mac)| api::NeighbourEntry {
                            port: port.clone(),
                            address: *address,
                            mac: mac.map(|b| format!("{b:02x}")).join(":"),
                        })
                })
                .collect::<Vec<_>>(),
        ),
        Request::ShowInstances => {
            let map_cache: std::collections::BTreeMap<u32, usize> =
                xtr.map_cache.len_per_instance().collect();
            let database = xtr.database_per_instance();
            let mut entries: Vec<api::InstanceEntry> = view
                .instance_packets
                .iter()
                .map(
                    |&(instance_id, encapsulated, decapsulated)| api::InstanceEntry {
                        instance_id,
                        interfaces: view
                            .eid_interfaces
                            .iter()
                            .filter(|(instance, _)| *instance == instance_id)
                            .map(|(_, name)| name.clone())
                            .collect(),
                        map_cache_entries: map_cache.get(&instance_id).copied().unwrap_or(0),
                        database_prefixes: database.get(&instance_id).copied().unwrap_or(0),
                        encapsulated,
                        decapsulated,
                    },
                )
                .collect();
            entries.sort_by_key(|e| e.instance_id);
            typed(entries)
        }
        Request::ShowStats => typed(api::Stats {
            data: counter_map(&view.counters),
            cores: view
                .per_core
                .iter()
                .map(|(lcore, counters)| (lcore.to_string(), counter_map(counters)))
                .collect(),
            ports: view
                .ports
                .as_object()
                .map(|ports| ports.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            control: view.control.clone(),
            control_loop: typed(view.control_loop)?,
            servers: view.servers.clone(),
            control_plane: counters("", &xtr.stats()).into_iter().collect(),
        }),
        Request::MapAdd {
            prefix,
            instance_id,
            action,
            locators,
            force,
        } => {
            let action = match action {
                Some(name) => parse_action(&name)?,
                None if locators.is_empty() => Action::Drop,
                None => Action::Encapsulate,
            };
            check_static(xtr, prefix, instance_id, action, &locators, force)?;
            let mapping = Mapping {
                action,
                instance_id,
                map_version: 0,
                locators: locators
                    .iter()
                    .map(|l| Locator::new(l.address, l.priority, l.weight, l.up))
                    .collect(),
            };
            xtr.add_static(prefix.trunc(), mapping, now)?;
            typed(api::MapAdded {
                added: prefix.trunc(),
            })
        }
        Request::MapDel {
            prefix,
            instance_id,
        } => {
            if xtr.remove_mapping(instance_id, &prefix)? {
                typed(api::MapDeleted {
                    deleted: prefix.trunc(),
                })
            } else {
                Err(format!("no map-cache entry for exactly {}", prefix.trunc()))
            }
        }
        Request::Flush => typed(api::Flushed {
            flushed: xtr.flush_learned()?,
        }),
        Request::Register => {
            xtr.register_now(now);
            typed(api::Registering {
                servers: xtr.registration.status().len(),
            })
        }
        Request::SetLogLevel { level } => {
            (view.set_log_level)(&level)?;
            typed(api::LogLevelSet { log_level: level })
        }
    }
}
