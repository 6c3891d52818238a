//! The management API's answers as types: lispd and lisp-ms build them, lispctl reads them, and
//! `docs/management-api.md` documents them. Each is one command's `result`; every address and
//! prefix is a string in its usual text form.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A locator of a map-cache entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheLocator {
    pub address: IpAddr,
    pub priority: u8,
    pub weight: u8,
    /// Whether RLOC probing and locator-status bits have it reachable.
    pub up: bool,
}

/// Where a map-cache entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The configuration, `map add`, or our own database.
    Static,
    /// A Map-Reply; it expires.
    Learned,
}

/// A map-cache entry (`show-cache`, each element of a listing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub prefix: IpNet,
    pub instance_id: Option<u32>,
    /// `encapsulate`, `drop`, `native-forward` or `send-map-request`.
    pub action: String,
    pub map_version: u16,
    pub origin: Origin,
    /// Seconds until a learned entry expires.
    pub expires_in_secs: Option<u64>,
    pub locators: Vec<CacheLocator>,
}

/// A locator of one of our database records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseLocator {
    pub address: Option<IpAddr>,
    pub priority: u8,
    pub weight: u8,
    /// An address of this xTR.
    pub local: bool,
}

/// One of our EID records (`show-database`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseEntry {
    pub prefix: String,
    pub instance_id: Option<u32>,
    pub ttl_minutes: u32,
    /// Whether it is registered with the map-servers.
    pub register: bool,
    pub map_version: u16,
    pub locators: Vec<DatabaseLocator>,
}

/// A map-server and where registration with it stands (`show-servers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerEntry {
    pub address: SocketAddr,
    /// The host name it was configured by, if any.
    pub name: Option<String>,
    /// `idle`, `waiting`, `registered` or `failing`.
    pub state: String,
    /// Unanswered Map-Registers in a row.
    pub failures: u32,
    pub registered_secs_ago: Option<u64>,
    pub next_register_in_secs: u64,
    /// With NAT discovery on: what the path to it looks like (`no NAT`, `behind a NAT, seen
    /// as ADDRESS:PORT, RTRs [...]`, `no Info-Reply`, `unknown`).
    #[serde(default)]
    pub nat: Option<String>,
}

/// Another peer lispd talks to, at the address in use (`show-servers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerEntry {
    /// `map-resolver`, `petr` or `pitr`.
    pub role: String,
    pub address: IpAddr,
    /// The host name it was configured by, if any.
    pub name: Option<String>,
}

/// `show-servers`: the map-servers and where registration with each stands, and the other
/// peers (map-resolvers in the order they are tried, the PETR in use, the PITRs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Servers {
    pub map_servers: Vec<ServerEntry>,
    pub peers: Vec<PeerEntry>,
}

/// A neighbour a port knows (`show-neighbours`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighbourEntry {
    pub port: String,
    pub address: IpAddr,
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
}

/// One instance (tenant) served (`show-instances`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceEntry {
    pub instance_id: u32,
    /// The EID-side interfaces (ports, VLANs) in it, by name.
    pub interfaces: Vec<String>,
    pub map_cache_entries: usize,
    pub database_prefixes: usize,
    /// Packets from its hosts encapsulated, and toward them decapsulated.
    pub encapsulated: u64,
    pub decapsulated: u64,
}

/// Counters by name.
pub type Counters = BTreeMap<String, u64>;

/// Every counter lispd keeps (`show-stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// The data cores' counters, summed.
    pub data: Counters,
    /// Each data core's counters, by lcore.
    pub cores: BTreeMap<String, Counters>,
    /// Each port's device counters, link and MTU, by port name.
    pub ports: BTreeMap<String, Value>,
    /// The control core's counters (punted frames, neighbours, reloads, uplinks).
    pub control: Value,
    /// The control loop's longest turns.
    pub control_loop: Value,
    /// The management and metrics servers' client counters.
    pub servers: Value,
    /// The control plane's counters (Map-Register/Request/Reply, SMR, CPM, probing).
    pub control_plane: Counters,
}

/// `map-add`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapAdded {
    pub added: IpNet,
}

/// `map-del`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapDeleted {
    pub deleted: IpNet,
}

/// `flush`'s answer: learned mappings dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flushed {
    pub flushed: usize,
}

/// `register`'s answer: map-servers registered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registering {
    pub servers: usize,
}

/// `set-log-level`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLevelSet {
    pub log_level: String,
}

/// `reload`'s answer: the configuration sections that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reloaded {
    pub reloaded: bool,
    pub changed: Vec<String>,
}

/// One packet of a `trace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// The DPDK port it arrived on.
    pub port: u16,
    pub length: u16,
    /// `ip`, `lisp-data`, `lisp-control`, `arp`, `neighbour-discovery`, `fragment-to-us` or
    /// `other`.
    pub class: String,
    /// `encapsulated`, `decapsulated`, `native-forward`, `local`, `icmp-too-big`, `punted`, or
    /// the drop counter's name (`drop_...`).
    pub outcome: String,
    /// The RLOC or EID it went to, when it went somewhere.
    pub to: Option<IpAddr>,
}

/// One response line: `ok` with the command's `result`, or not with an `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseLine {
    pub version: u32,
    pub ok: bool,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<String>,
}
