//! The configuration schema. Field names are the TOML keys; `config/README.md` documents each one.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::mac::MacAddr;

/// The whole appliance configuration (one TOML file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub dpdk: Dpdk,
    #[serde(default)]
    pub cores: Cores,
    #[serde(default)]
    pub port: Vec<Port>,
    #[serde(default)]
    pub database: Vec<DatabaseEntry>,
    #[serde(default)]
    pub map_server: Vec<MapServer>,
    #[serde(default)]
    pub map_resolver: Vec<MapResolver>,
    #[serde(default)]
    pub petr: Vec<Petr>,
    #[serde(default)]
    pub pitr: Vec<ProxyRouter>,
    #[serde(default)]
    pub map_cache: Vec<StaticMapping>,
    /// More static mappings, one per line (see [`crate::bulk`]); relative to the configuration
    /// file's directory. [`crate::load`] appends them to `map_cache`.
    #[serde(default)]
    pub map_cache_file: Option<PathBuf>,
    #[serde(default)]
    pub cpm: Cpm,
    #[serde(default)]
    pub timers: Timers,
    #[serde(default)]
    pub management: Management,
    #[serde(default)]
    pub identity: Identity,
    #[serde(default)]
    pub roles: Roles,
    #[serde(default)]
    pub nat_traversal: NatTraversal,
    #[serde(default)]
    pub rtr: Rtr,
}

/// The RTR role's relaying (with `roles.rtr`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rtr {
    /// Map-servers we relay the registrations of xTRs behind NATs to (addresses): an ECM
    /// naming another is refused, so we are no open relay.
    pub map_servers: Vec<IpAddr>,
    /// How long an xTR behind a NAT stays reachable through us after its last confirmed
    /// registration.
    pub registration_ttl_secs: u32,
}

impl Default for Rtr {
    fn default() -> Self {
        Self {
            map_servers: Vec::new(),
            registration_ttl_secs: 180,
        }
    }
}

/// NAT traversal (draft-ietf-lisp-nat-traversal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatTraversal {
    /// Ask each map-server (Info-Request) what address and port our messages arrive from, at
    /// start, when our usable locators change and every `keepalive_secs`; behind a NAT,
    /// register through the RTR it names and send all traffic there.
    pub enabled: bool,
    /// Between Info-Requests once answered: how soon a changed NAT mapping is noticed.
    pub keepalive_secs: u32,
}

impl Default for NatTraversal {
    fn default() -> Self {
        Self {
            enabled: false,
            keepalive_secs: 60,
        }
    }
}

/// The proxy roles of RFC 6832 this xTR takes on beside its own site's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Roles {
    /// Proxy-ITR: encapsulate traffic from any source (non-LISP space) toward EIDs, not only
    /// from our own EIDs.
    pub proxy_itr: bool,
    /// Proxy-ETR: decapsulate LISP traffic for destinations outside our EIDs and forward it
    /// natively by the uplinks' gateways.
    pub proxy_etr: bool,
    /// The ITRs (outer source prefixes) a proxy-ETR forwards for; empty: any.
    pub proxy_etr_allowed: Vec<IpNet>,
    /// RTR (NAT traversal): relay the registrations of xTRs behind NATs (see [`Rtr`]) and
    /// carry their traffic: LISP data for EIDs that are not ours is encapsulated again.
    pub rtr: bool,
}

/// How this xTR names itself in Map-Registers (RFC 9301 xTR-ID and site-ID), so a map-server
/// can tell the xTRs of a multihomed site apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Identity {
    /// 128-bit xTR-ID as 32 hex digits; when set, Map-Registers carry it and `site_id`.
    pub xtr_id: Option<String>,
    pub site_id: u64,
}

impl Config {
    /// Every instance-id served: our database's and our EID-side ports' (0 included when used).
    pub fn instance_ids(&self) -> std::collections::BTreeSet<u32> {
        self.database
            .iter()
            .map(|e| e.instance_id)
            .chain(
                self.interfaces()
                    .filter(|i| i.role == PortRole::Eid)
                    .map(|i| i.instance_id),
            )
            .collect()
    }

    /// Every port's interfaces (see [`Port::interfaces`]), ports in configuration order.
    pub fn interfaces(&self) -> impl Iterator<Item = Interface<'_>> {
        self.port
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.interfaces(i))
    }

    /// The file that keeps state across restarts (see [`Management::state_directory`]).
    pub fn state_file(&self) -> PathBuf {
        self.management
            .state_directory
            .join(format!("{}.state.json", self.dpdk.file_prefix))
    }
}

impl Identity {
    /// The xTR-ID's 16 bytes, or `None` when unset or not 32 hex digits.
    pub fn xtr_id_bytes(&self) -> Option<[u8; 16]> {
        let text = self.xtr_id.as_deref()?;
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(bytes)
    }
}

/// EAL and packet-buffer settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dpdk {
    /// Extra EAL arguments passed through verbatim (`--vdev=...`, `--no-huge`, `-m 512`, `-a PCI`).
    pub eal_args: Vec<String>,
    /// `--file-prefix`, so several DPDK processes can share the machine.
    pub file_prefix: String,
    /// Mbufs in the packet pool.
    pub mbuf_pool_size: u32,
    /// Per-core mbuf cache.
    pub mbuf_cache_size: u32,
}

impl Default for Dpdk {
    fn default() -> Self {
        Self {
            eal_args: Vec::new(),
            file_prefix: "lispd".into(),
            mbuf_pool_size: 16383,
            mbuf_cache_size: 256,
        }
    }
}

/// Which CPU cores run what; each port gets one RX and one TX queue per data core.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cores {
    /// The control-plane core (EAL main lcore).
    pub control: usize,
    /// The pinned poll-mode data cores.
    pub data: Vec<usize>,
    /// Microseconds a data core sleeps after a run of empty polls; 0 = pure polling.
    pub idle_sleep_us: u32,
    /// The CPU each lcore runs on, control first then data (EAL `--lcores l@cpu`); empty: each
    /// lcore on the CPU of the same number.
    pub cpus: Vec<usize>,
}

impl Cores {
    /// Every lcore with its CPU, control first.
    pub fn placement(&self) -> Vec<(usize, usize)> {
        let lcores = std::iter::once(self.control).chain(self.data.iter().copied());
        if self.cpus.is_empty() {
            lcores.map(|l| (l, l)).collect()
        } else {
            lcores.zip(self.cpus.iter().copied()).collect()
        }
    }
}

impl Default for Cores {
    fn default() -> Self {
        Self {
            control: 0,
            data: vec![1],
            idle_sleep_us: 0,
            cpus: Vec::new(),
        }
    }
}

/// Which side of the xTR a port faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortRole {
    /// Hosts and VMs (EIDs): packets arriving here are encapsulated (ITR).
    Eid,
    /// The underlay (RLOCs): LISP packets arriving here are decapsulated (ETR).
    Rloc,
}

/// A DPDK port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Name used in logs, counters and `lispctl`.
    pub name: String,
    /// PCI address (`0000:01:00.0`) or vdev devargs (`net_af_packet0,iface=veth0`).
    pub device: String,
    pub role: PortRole,
    /// The port's own addresses with their prefix length (`192.0.2.1/24`, `2001:db8::1/64`).
    #[serde(default)]
    pub addresses: Vec<IpNet>,
    #[serde(default = "default_mtu")]
    pub mtu: u16,
    /// Next hops toward the underlay (default gateways), one per address family at most.
    #[serde(default)]
    pub gateways: Vec<IpAddr>,
    /// Neighbours whose MAC is fixed instead of resolved by ARP/ND.
    #[serde(default)]
    pub neighbour: Vec<StaticNeighbour>,
    /// An EID-side port's instance (0: the default one): its hosts' packets are in it, and
    /// traffic for it leaves here, so tenants on different ports may use the same addresses.
    /// With VLANs, this is the instance of the port's untagged frames.
    #[serde(default)]
    pub instance_id: u32,
    /// 802.1Q VLANs on an EID-side port, each its own interface (addresses, neighbours,
    /// instance): tagged frames are sorted by VLAN id, and what leaves by a VLAN is tagged.
    #[serde(default)]
    pub vlan: Vec<Vlan>,
}

/// One 802.1Q VLAN of an EID-side port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vlan {
    /// The VLAN id, 1..=4094.
    pub id: u16,
    /// Name in logs and `lispctl`; default `PORT.ID`.
    #[serde(default)]
    pub name: Option<String>,
    /// The instance its hosts are in.
    #[serde(default)]
    pub instance_id: u32,
    #[serde(default)]
    pub addresses: Vec<IpNet>,
    #[serde(default)]
    pub gateways: Vec<IpAddr>,
    #[serde(default)]
    pub neighbour: Vec<StaticNeighbour>,
}

/// One interface of a port: its untagged frames or one of its VLANs, with what the data and
/// control cores need of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Interface<'a> {
    pub name: std::borrow::Cow<'a, str>,
    /// The port it is on, by index into `[[port]]`.
    pub port: usize,
    pub role: PortRole,
    pub vlan: Option<u16>,
    pub instance_id: u32,
    pub addresses: &'a [IpNet],
    pub gateways: &'a [IpAddr],
    pub neighbour: &'a [StaticNeighbour],
}

impl Port {
    /// The port's interfaces: its untagged frames first, then its VLANs in order; `index` is
    /// the port's place in `[[port]]`.
    pub fn interfaces(&self, index: usize) -> impl Iterator<Item = Interface<'_>> {
        let untagged = Interface {
            name: std::borrow::Cow::Borrowed(self.name.as_str()),
            port: index,
            role: self.role,
            vlan: None,
            instance_id: self.instance_id,
            addresses: &self.addresses,
            gateways: &self.gateways,
            neighbour: &self.neighbour,
        };
        let vlans = self.vlan.iter().map(move |v| Interface {
            name: v.name.as_deref().map_or_else(
                || std::borrow::Cow::Owned(format!("{}.{}", self.name, v.id)),
                std::borrow::Cow::Borrowed,
            ),
            port: index,
            role: self.role,
            vlan: Some(v.id),
            instance_id: v.instance_id,
            addresses: &v.addresses,
            gateways: &v.gateways,
            neighbour: &v.neighbour,
        });
        std::iter::once(untagged).chain(vlans)
    }
}

fn default_mtu() -> u16 {
    1500
}

/// A neighbour with a fixed MAC address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticNeighbour {
    pub address: IpAddr,
    pub mac: MacAddr,
}

/// A local EID prefix and its locators (the "LISP database").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseEntry {
    pub prefix: IpNet,
    /// 24-bit instance-id (0 = default VRF).
    #[serde(default)]
    pub instance_id: u32,
    /// Record TTL in minutes, as sent in Map-Replies and Map-Registers.
    #[serde(default = "default_record_ttl")]
    pub ttl_minutes: u32,
    /// Whether the prefix is registered with the map-servers.
    #[serde(default = "yes")]
    pub register: bool,
    #[serde(default)]
    pub locator: Vec<Locator>,
}

fn default_record_ttl() -> u32 {
    1440
}

fn yes() -> bool {
    true
}

/// One RLOC of a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locator {
    pub address: IpAddr,
    /// Unicast priority: lower is preferred; 255 means "do not use for unicast".
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Unicast weight among locators of equal priority, in percent.
    #[serde(default = "default_weight")]
    pub weight: u8,
    #[serde(default = "default_multicast_priority")]
    pub multicast_priority: u8,
    #[serde(default)]
    pub multicast_weight: u8,
    /// The locator is an address of this xTR (an RLOC-side port address).
    #[serde(default)]
    pub local: bool,
}

impl Locator {
    /// A locator at `address` with the defaults a `[[…locator]]` table gets.
    pub fn new(address: IpAddr) -> Self {
        Self {
            address,
            priority: default_priority(),
            weight: default_weight(),
            multicast_priority: default_multicast_priority(),
            multicast_weight: 0,
            local: false,
        }
    }
}

fn default_priority() -> u8 {
    1
}

fn default_weight() -> u8 {
    100
}

fn default_multicast_priority() -> u8 {
    255
}

/// HMAC used to authenticate Map-Register/Map-Notify (and CPM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthAlgorithm {
    /// Key id 1; deployed peers carry the full 20-byte output.
    HmacSha1,
    /// Key id 2; deployed peers carry the full 32-byte output.
    HmacSha256,
}

/// A map-server this xTR registers with; each has its own key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapServer {
    /// IPv4/IPv6 address or host name.
    pub address: String,
    pub key: String,
    #[serde(default = "default_algorithm")]
    pub algorithm: AuthAlgorithm,
    #[serde(default = "yes")]
    pub want_map_notify: bool,
    /// Ask the map-server to answer Map-Requests on our behalf.
    #[serde(default)]
    pub proxy_reply: bool,
    /// Register only our prefixes of this instance here (with this key: a map-server keeps
    /// each tenant's site, and key, apart); unset: every prefix.
    #[serde(default)]
    pub instance_id: Option<u32>,
}

fn default_algorithm() -> AuthAlgorithm {
    AuthAlgorithm::HmacSha256
}

/// A map-resolver; several are tried in order for failover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapResolver {
    /// IPv4/IPv6 address or host name.
    pub address: String,
}

/// A proxy-ETR (RFC 6832): receives our traffic for non-LISP destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Petr {
    /// IPv4/IPv6 address or host name.
    pub address: String,
    /// Also send map-cache misses here while they resolve, so a flow's first packets are not lost.
    #[serde(default)]
    pub send_misses: bool,
}

/// A proxy-ITR: receives our SMRs when a local mapping changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyRouter {
    /// IPv4/IPv6 address or host name.
    pub address: String,
}

/// What to do with packets matching a map-cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MapAction {
    /// Encapsulate to the entry's locators (a positive entry).
    Encapsulate,
    Drop,
    /// Forward without encapsulation (or to the PETR when one is configured).
    NativeForward,
    /// Drop and ask the mapping system.
    SendMapRequest,
}

/// A static map-cache entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticMapping {
    pub prefix: IpNet,
    #[serde(default)]
    pub instance_id: u32,
    #[serde(default = "default_action")]
    pub action: MapAction,
    #[serde(default)]
    pub locator: Vec<Locator>,
}

fn default_action() -> MapAction {
    MapAction::Encapsulate
}

/// Change Priority Messages (VM mobility) from hypervisors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Cpm {
    pub enabled: bool,
    /// Also accept the seed's prototype layout (type 5, HMAC-SHA-1 over the header only).
    pub legacy_lip6_type5: bool,
    pub sender: Vec<CpmSender>,
}

/// A hypervisor allowed to send CPMs, with its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpmSender {
    pub address: IpAddr,
    pub key: String,
    #[serde(default = "default_algorithm")]
    pub algorithm: AuthAlgorithm,
}

/// Control-plane timers and limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timers {
    pub map_register_interval_secs: u32,
    /// Map-Request retransmissions before giving up on a resolver.
    pub map_request_retries: u8,
    /// First retransmission timeout; doubles on each retry.
    pub map_request_timeout_ms: u32,
    /// At most one Map-Request per destination prefix in this interval (miss-flood protection).
    pub map_request_min_interval_ms: u32,
    /// Map-Requests per second in total, split between refreshes, SMR-invoked requests and misses.
    pub map_request_rate_per_sec: u32,
    /// At most one SMR per correspondent in this interval.
    pub smr_min_interval_ms: u32,
    /// Map-Replies per second to one ITR-RLOC (a forged ITR-RLOC must not make us a reflector).
    pub map_reply_rate_per_itr_per_sec: u32,
    /// Map-Replies per second in total.
    pub map_reply_rate_per_sec: u32,
    pub rloc_probe_interval_secs: u32,
    /// Unanswered probes before a locator is marked down.
    pub rloc_probe_count: u8,
    /// Gap between the probes of one round.
    pub rloc_probe_retry_ms: u32,
    /// RLOC probes per second, over all locators.
    pub rloc_probe_rate_per_sec: u32,
    /// Most map-cache entries; least-recently-used ones are evicted beyond it.
    pub map_cache_limit: u32,
    /// TTL given to negative entries created locally.
    pub negative_ttl_minutes: u32,
    /// Map-servers and map-resolvers given by host name are resolved again this often.
    pub dns_refresh_secs: u32,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            map_register_interval_secs: 60,
            map_request_retries: 3,
            map_request_timeout_ms: 1000,
            map_request_min_interval_ms: 1000,
            map_request_rate_per_sec: 100,
            smr_min_interval_ms: 1000,
            rloc_probe_interval_secs: 30,
            rloc_probe_count: 3,
            rloc_probe_retry_ms: 1000,
            rloc_probe_rate_per_sec: 200,
            map_reply_rate_per_itr_per_sec: 20,
            map_reply_rate_per_sec: 10_000,
            map_cache_limit: 100_000,
            negative_ttl_minutes: 15,
            dns_refresh_secs: 60,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The name as in the file (and as `tracing` filters take it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

/// Management interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Management {
    /// Unix socket of the JSON management API (`lispctl`).
    pub socket: PathBuf,
    /// Prometheus metrics endpoint.
    pub metrics_listen: SocketAddr,
    pub log_level: LogLevel,
    /// `text` or `json` lines on standard output.
    pub log_format: LogFormat,
    /// Where state that must survive a restart is kept (`<file_prefix>.state.json`: the moves
    /// CPMs made and their replay protection).
    pub state_directory: PathBuf,
}

impl Default for Management {
    fn default() -> Self {
        Self {
            socket: PathBuf::from("/run/lispd/lispd.sock"),
            metrics_listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9141),
            log_level: LogLevel::Info,
            log_format: LogFormat::Text,
            state_directory: PathBuf::from("/var/lib/lispd"),
        }
    }
}
