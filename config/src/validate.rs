//! Rules beyond syntax. Every broken rule becomes an [`Issue`]; all of them are reported at once.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::diagnostics::{FieldPath, Issue};
use crate::model::{
    AuthAlgorithm, Config, DatabaseEntry, Interface, Locator, MapAction, Port, PortRole,
    StaticMapping,
};

/// Largest instance-id (24 bits on the wire).
pub const MAX_INSTANCE_ID: u32 = 0x00ff_ffff;
/// Most instance-ids, the default included, one xTR serves (the data plane's table count).
pub const MAX_INSTANCES: usize = 4096;
/// Most ITR prefixes a proxy-ETR's allowed list holds (the data path's fixed-size list).
pub const MAX_PROXY_ETR_ALLOWED: usize = 16;
/// Most map-cache entries the data plane is built for.
pub const MAX_MAP_CACHE: u32 = 4_000_000;

/// Facts about the machine the configuration will run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// CPU cores this process may run on.
    pub cores: Vec<usize>,
}

impl Host {
    /// The cores the current process is allowed to use.
    pub fn current() -> Self {
        let cores = core_affinity::get_core_ids()
            .map(|ids| ids.into_iter().map(|id| id.id).collect())
            .unwrap_or_default();
        Self { cores }
    }
}

/// Checks one static mapping added at run time (`lispctl map add`) by the rules a
/// `[[map_cache]]` entry of the file follows; `instances` are the instance-ids we serve.
/// Each problem as `field: message`.
pub fn check_static_mapping(entry: &StaticMapping, instances: &HashSet<u32>) -> Vec<String> {
    let mut v = Validator {
        issues: Vec::new(),
        root: FieldPath::root(),
    };
    v.map_cache(std::slice::from_ref(entry), instances);
    v.issues
        .into_iter()
        .map(|issue| {
            let path = issue.path.to_string();
            let field = path.strip_prefix("map_cache[0]").unwrap_or(&path);
            let field = field.trim_start_matches('.');
            if field.is_empty() {
                issue.message
            } else {
                format!("{field}: {}", issue.message)
            }
        })
        .collect()
}

/// Checks that the CPUs `config` places its lcores on exist on `host` (the machine-specific step
/// `lispd run` performs and `lispd check-config --here` adds).
pub fn check_host(config: &Config, host: &Host) -> Vec<Issue> {
    let mut v = Validator {
        issues: Vec::new(),
        root: FieldPath::root(),
    };
    if !host.cores.is_empty() {
        v.cpus_exist(config, host);
    }
    v.issues
}

/// Checks `config` against every rule that holds on any machine; empty when it is valid. A
/// configuration that passes starts unless the machine lacks what it names ([`check_host`]).
pub fn validate(config: &Config) -> Vec<Issue> {
    let mut v = Validator {
        issues: Vec::new(),
        root: FieldPath::root(),
    };
    v.cores(config);
    v.dpdk(config);
    v.ports(&config.port, config.roles.rtr);
    let rloc_addresses: HashSet<IpAddr> = config
        .port
        .iter()
        .filter(|p| p.role == PortRole::Rloc)
        .flat_map(|p| p.addresses.iter().map(IpNet::addr))
        .collect();
    v.database(&config.database, &rloc_addresses);
    v.instance_ports(config);
    let instances: HashSet<u32> = config.instance_ids().into_iter().collect();
    v.map_cache(&config.map_cache, &instances);
    v.map_servers(config);
    v.resolvers(config);
    v.underlay_families(config);
    v.cpm(config);
    v.timers(config);
    if config.roles.proxy_etr
        && !config
            .port
            .iter()
            .any(|p| p.role == PortRole::Rloc && !p.gateways.is_empty())
    {
        v.report(
            v.root.key("roles").key("proxy_etr"),
            "a proxy-ETR forwards natively by an uplink's gateway; no port with role = \"rloc\" has one",
        );
    }
    if config.roles.proxy_etr_allowed.len() > MAX_PROXY_ETR_ALLOWED {
        v.report(
            v.root.key("roles").key("proxy_etr_allowed"),
            format!(
                "at most {MAX_PROXY_ETR_ALLOWED} prefixes (the data cores check each packet against all of them)"
            ),
        );
    }
    v.nat_roles(config);
    if config.identity.xtr_id.is_some() && config.identity.xtr_id_bytes().is_none() {
        v.report(
            v.root.key("identity").key("xtr_id"),
            "expected 32 hex digits (a 128-bit xTR-ID)",
        );
    }
    v.issues
}

struct Validator {
    issues: Vec<Issue>,
    root: FieldPath,
}

impl Validator {
    fn report(&mut self, path: FieldPath, message: impl Into<String>) {
        self.issues.push(Issue {
            path,
            message: message.into(),
        });
    }

    fn cores(&mut self, config: &Config) {
        let cores = &config.cores;
        let path = self.root.key("cores");
        if cores.data.is_empty() {
            self.report(
                path.key("data"),
                "no data core; expected at least one, e.g. data = [1]",
            );
        }
        if cores.idle_sleep_us > 10_000 {
            self.report(
                path.key("idle_sleep_us"),
                format!(
                    "{} µs would stall forwarding; at most 10000",
                    cores.idle_sleep_us
                ),
            );
        }
        let mut seen = HashSet::new();
        for (i, &core) in cores.data.iter().enumerate() {
            if core == cores.control {
                self.report(
                    path.key("data").index(i),
                    format!("core {core} is also the control core; data cores must be dedicated"),
                );
            }
            if !seen.insert(core) {
                self.report(
                    path.key("data").index(i),
                    format!("core {core} is listed twice"),
                );
            }
        }
        if !cores.cpus.is_empty() && cores.cpus.len() != cores.data.len() + 1 {
            self.report(
                path.key("cpus"),
                format!(
                    "{} CPUs for {} lcores; list one per lcore, the control core's first",
                    cores.cpus.len(),
                    cores.data.len() + 1
                ),
            );
        }
    }

    fn cpus_exist(&mut self, config: &Config, host: &Host) {
        let cores = &config.cores;
        let path = self.root.key("cores");
        let missing = |cpu: &usize| !host.cores.contains(cpu);
        if !cores.cpus.is_empty() {
            for (i, cpu) in cores.cpus.iter().enumerate().filter(|(_, c)| missing(c)) {
                self.report(
                    path.key("cpus").index(i),
                    format!("CPU {cpu} does not exist here; available: {:?}", host.cores),
                );
            }
            return;
        }
        if missing(&cores.control) {
            self.report(
                path.key("control"),
                format!(
                    "core {} does not exist here; available: {:?}",
                    cores.control, host.cores
                ),
            );
        }
        for (i, core) in cores.data.iter().enumerate().filter(|(_, c)| missing(c)) {
            self.report(
                path.key("data").index(i),
                format!(
                    "core {core} does not exist here; available: {:?}",
                    host.cores
                ),
            );
        }
    }

    fn dpdk(&mut self, config: &Config) {
        let path = self.root.key("dpdk");
        let needed = 1024 * config.port.len().max(1) as u32 * (config.cores.data.len() as u32 + 1);
        if config.dpdk.mbuf_pool_size < needed {
            self.report(
                path.key("mbuf_pool_size"),
                format!(
                    "{} mbufs cannot fill the RX rings of {} ports × {} queues; expected at least {needed}",
                    config.dpdk.mbuf_pool_size,
                    config.port.len(),
                    config.cores.data.len() + 1
                ),
            );
        }
        if config.dpdk.mbuf_cache_size > 512 {
            self.report(
                path.key("mbuf_cache_size"),
                "DPDK caps the per-core cache at 512",
            );
        }
        if config.dpdk.file_prefix.is_empty() {
            self.report(path.key("file_prefix"), "must not be empty");
        }
    }

    /// An RTR alone (`rtr`) needs no EID-side port: it only carries others' traffic.
    fn ports(&mut self, ports: &[Port], rtr: bool) {
        let path = self.root.key("port");
        if !ports.iter().any(|p| p.role == PortRole::Rloc) {
            self.report(
                path.clone(),
                "no port with role = \"rloc\"; an xTR needs an underlay port",
            );
        }
        if !rtr && !ports.iter().any(|p| p.role == PortRole::Eid) {
            self.report(
                path.clone(),
                "no port with role = \"eid\"; an xTR needs a port toward its EIDs",
            );
        }
        let mut names = HashMap::new();
        let mut devices = HashMap::new();
        let mut addresses = HashMap::new();
        for (i, port) in ports.iter().enumerate() {
            let here = path.index(i);
            if port.device.is_empty() {
                self.report(
                    here.key("device"),
                    "must not be empty; expected a PCI address or vdev devargs",
                );
            } else if let Some(first) = devices.insert(port.device.as_str(), i) {
                self.report(
                    here.key("device"),
                    format!("device already used by port[{first}]"),
                );
            }
            let has_v6 = port
                .interfaces(i)
                .flat_map(|f| f.addresses)
                .any(|a| matches!(a, IpNet::V6(_)));
            let min_mtu = if has_v6 { 1280 } else { 576 };
            if !(min_mtu..=9216).contains(&port.mtu) {
                self.report(
                    here.key("mtu"),
                    format!("MTU {} out of range; expected {min_mtu}..=9216", port.mtu),
                );
            }
            self.vlans(port, &here);
            for (v, interface) in port.interfaces(i).enumerate() {
                // The untagged side of a port that carries VLANs may have no address of its own.
                let at = self.interface_path(i, v);
                let needs_address = v > 0 || port.vlan.is_empty();
                self.interface(&interface, &at, needs_address, &mut addresses);
                if interface.name.is_empty() {
                    self.report(at.key("name"), "must not be empty");
                } else if let Some(first) = names.insert(interface.name.to_string(), i) {
                    self.report(
                        at.key("name"),
                        format!(
                            "name {:?} already used by port[{first}] or a VLAN of it",
                            interface.name
                        ),
                    );
                }
            }
        }
    }

    /// Where the `v`th interface of `port[i]` is configured (see [`Port::interfaces`]).
    fn interface_path(&self, i: usize, v: usize) -> FieldPath {
        let port = self.root.key("port").index(i);
        match v {
            0 => port,
            _ => port.key("vlan").index(v - 1),
        }
    }

    /// A port's VLANs: on EID-side ports only, valid and distinct ids.
    fn vlans(&mut self, port: &Port, here: &FieldPath) {
        if port.role == PortRole::Rloc && !port.vlan.is_empty() {
            self.report(
                here.key("vlan"),
                "VLANs are for EID-side ports (tenants); an uplink is one interface",
            );
        }
        let mut ids = HashMap::new();
        for (v, vlan) in port.vlan.iter().enumerate() {
            let at = here.key("vlan").index(v).key("id");
            if !(1..=4094).contains(&vlan.id) {
                self.report(
                    at,
                    format!("VLAN id {} out of range; expected 1..=4094", vlan.id),
                );
            } else if let Some(first) = ids.insert(vlan.id, v) {
                self.report(at, format!("VLAN {} is already vlan[{first}]", vlan.id));
            }
        }
    }

    /// One interface's addresses (unique within its instance: each tenant may have its gateway
    /// at 10.0.0.1), gateways and static neighbours.
    fn interface(
        &mut self,
        interface: &Interface<'_>,
        here: &FieldPath,
        needs_address: bool,
        addresses: &mut HashMap<(u32, IpAddr), String>,
    ) {
        for (a, address) in interface.addresses.iter().enumerate() {
            let key = (interface.instance_id, address.addr());
            if let Some(first) = addresses.insert(key, interface.name.to_string()) {
                self.report(
                    here.key("addresses").index(a),
                    format!("{} is already an address of {first}", address.addr()),
                );
            }
        }
        if needs_address && interface.addresses.is_empty() {
            let what = if interface.vlan.is_some() {
                "VLAN"
            } else {
                "port"
            };
            self.report(
                here.key("addresses"),
                format!(
                    "{what} has no address; expected at least one, e.g. addresses = \
                     [\"192.0.2.1/24\"]"
                ),
            );
        }
        let on_link =
            |address: &IpAddr| interface.addresses.iter().any(|net| net.contains(address));
        for (g, gateway) in interface.gateways.iter().enumerate() {
            if !on_link(gateway) {
                self.report(
                    here.key("gateways").index(g),
                    format!("gateway {gateway} is not inside any address prefix of this interface"),
                );
            }
        }
        for family_v6 in [false, true] {
            if interface
                .gateways
                .iter()
                .filter(|g| g.is_ipv6() == family_v6)
                .count()
                > 1
            {
                self.report(
                    here.key("gateways"),
                    "at most one gateway per address family",
                );
            }
        }
        for (n, neighbour) in interface.neighbour.iter().enumerate() {
            let at = here.key("neighbour").index(n);
            if !on_link(&neighbour.address) {
                self.report(
                    at.key("address"),
                    format!(
                        "{} is not inside any address prefix of this interface",
                        neighbour.address
                    ),
                );
            }
            if neighbour.mac.is_group() || neighbour.mac.is_zero() {
                self.report(
                    at.key("mac"),
                    format!("{} is not a unicast MAC", neighbour.mac),
                );
            }
        }
    }

    fn prefix(
        &mut self,
        path: FieldPath,
        prefix: &IpNet,
        instance_id: u32,
        instance_path: FieldPath,
    ) {
        if prefix.addr() != prefix.network() {
            self.report(
                path,
                format!(
                    "{prefix} has host bits set; expected the network address, {}",
                    prefix.trunc()
                ),
            );
        }
        if instance_id > MAX_INSTANCE_ID {
            self.report(
                instance_path,
                format!("instance-id {instance_id} does not fit 24 bits; expected 0..={MAX_INSTANCE_ID}"),
            );
        }
    }

    fn locators(
        &mut self,
        path: FieldPath,
        locators: &[Locator],
        rloc_addresses: Option<&HashSet<IpAddr>>,
    ) {
        let mut seen = HashSet::new();
        for (j, locator) in locators.iter().enumerate() {
            let at = path.index(j);
            if !seen.insert(locator.address) {
                self.report(
                    at.key("address"),
                    format!("locator {} is listed twice", locator.address),
                );
            }
            if locator.address.is_unspecified() || locator.address.is_multicast() {
                self.report(
                    at.key("address"),
                    format!("{} cannot be a locator", locator.address),
                );
            }
            match (locator.local, rloc_addresses) {
                (true, None) => self.report(at.key("local"), "map-cache locators cannot be local"),
                (true, Some(ours)) if !ours.contains(&locator.address) => self.report(
                    at.key("address"),
                    format!(
                        "locator {} is marked local but is not an address of any port with role = \"rloc\"",
                        locator.address
                    ),
                ),
                _ => {}
            }
        }
    }

    /// Prefix rules shared by `[[database]]` and `[[map_cache]]`: network address, 24-bit
    /// instance-id, no duplicate per instance-id.
    fn unique_prefixes(
        &mut self,
        path: &FieldPath,
        section: &str,
        prefixes: impl Iterator<Item = (IpNet, u32)>,
    ) {
        let mut seen = HashMap::new();
        for (i, (prefix, instance_id)) in prefixes.enumerate() {
            let here = path.index(i);
            self.prefix(
                here.key("prefix"),
                &prefix,
                instance_id,
                here.key("instance_id"),
            );
            if let Some(first) = seen.insert((instance_id, prefix.trunc()), i) {
                self.report(
                    here.key("prefix"),
                    format!(
                        "{prefix} (instance-id {instance_id}) is already in {section}[{first}]"
                    ),
                );
            }
        }
    }

    fn database(&mut self, entries: &[DatabaseEntry], rloc_addresses: &HashSet<IpAddr>) {
        let path = self.root.key("database");
        self.unique_prefixes(
            &path,
            "database",
            entries.iter().map(|e| (e.prefix, e.instance_id)),
        );
        for (i, entry) in entries.iter().enumerate() {
            let here = path.index(i);
            if entry.locator.is_empty() {
                self.report(
                    here.clone(),
                    "database entry has no locator; add at least one [[database.locator]]",
                );
            } else if !entry.locator.iter().any(|l| l.local) {
                self.report(
                    here.key("locator"),
                    "no locator is marked local = true; an ETR must own at least one RLOC of its EIDs",
                );
            }
            if entry.ttl_minutes == 0 {
                self.report(
                    here.key("ttl_minutes"),
                    "TTL 0 means \"do not cache\"; expected at least 1 minute",
                );
            }
            self.locators(here.key("locator"), &entry.locator, Some(rloc_addresses));
        }
    }

    /// A packet's instance is its EID-side port's, so each instance with local prefixes needs a
    /// port in it (prefixes of different instances may overlap: tenants with one address plan);
    /// and the data plane has a table per instance, up to a limit.
    fn instance_ports(&mut self, config: &Config) {
        let path = self.root.key("database");
        let on_ports: HashSet<u32> = config
            .interfaces()
            .filter(|i| i.role == PortRole::Eid)
            .map(|i| i.instance_id)
            .collect();
        let mut reported = HashSet::new();
        for (i, entry) in config.database.iter().enumerate() {
            // No EID port at all, or an id out of range, is reported once, elsewhere.
            if !on_ports.is_empty()
                && entry.instance_id <= MAX_INSTANCE_ID
                && !on_ports.contains(&entry.instance_id)
                && reported.insert(entry.instance_id)
            {
                self.report(
                    path.index(i).key("instance_id"),
                    format!(
                        "no EID-side port or VLAN is in instance-id {}, so no host could send \
                         from {}; set instance_id = {} on the port or VLAN its hosts are behind",
                        entry.instance_id, entry.prefix, entry.instance_id
                    ),
                );
            }
        }
        for (i, port) in config.port.iter().enumerate() {
            for (v, interface) in port.interfaces(i).enumerate() {
                let here = self.interface_path(i, v).key("instance_id");
                if interface.instance_id > MAX_INSTANCE_ID {
                    self.report(
                        here,
                        format!(
                            "instance-id {} does not fit 24 bits; expected 0..={MAX_INSTANCE_ID}",
                            interface.instance_id
                        ),
                    );
                } else if port.role == PortRole::Rloc && interface.instance_id != 0 {
                    self.report(here, "only EID-side ports belong to an instance");
                }
            }
        }
        let instances = config.instance_ids();
        if instances.len() > MAX_INSTANCES {
            self.report(
                path,
                format!(
                    "{} instance-ids (with the default one); at most {MAX_INSTANCES} are supported",
                    instances.len()
                ),
            );
        }
    }

    fn map_cache(&mut self, entries: &[StaticMapping], instances: &HashSet<u32>) {
        let path = self.root.key("map_cache");
        self.unique_prefixes(
            &path,
            "map_cache",
            entries.iter().map(|e| (e.prefix, e.instance_id)),
        );
        for (i, entry) in entries.iter().enumerate() {
            let here = path.index(i);
            if entry.instance_id != 0 && !instances.contains(&entry.instance_id) {
                self.report(
                    here.key("instance_id"),
                    format!(
                        "instance-id {} is served by no EID-side port or [[database]] prefix, so \
                         no local host could use this mapping",
                        entry.instance_id
                    ),
                );
            }
            match (entry.action, entry.locator.is_empty()) {
                (MapAction::Encapsulate, true) => self.report(
                    here.key("locator"),
                    "action \"encapsulate\" needs at least one [[map_cache.locator]]",
                ),
                (MapAction::Drop | MapAction::NativeForward | MapAction::SendMapRequest, false) => {
                    self.report(
                        here.key("locator"),
                        "a negative entry (drop, native-forward, send-map-request) has no locators",
                    )
                }
                _ => {}
            }
            self.locators(here.key("locator"), &entry.locator, None);
        }
    }

    fn key(&mut self, path: FieldPath, key: &str) {
        if key.is_empty() {
            self.report(path, "key must not be empty");
        }
    }

    fn map_servers(&mut self, config: &Config) {
        let path = self.root.key("map_server");
        if config.map_server.is_empty() && config.database.iter().any(|d| d.register) {
            self.report(
                path.clone(),
                "database entries are marked register = true but no [[map_server]] is configured",
            );
        }
        // One map-server may be named once per instance (a key per tenant's site).
        let mut seen = HashMap::new();
        let served = config.instance_ids();
        for (i, server) in config.map_server.iter().enumerate() {
            let here = path.index(i);
            self.host(here.key("address"), &server.address);
            self.key(here.key("key"), &server.key);
            if let Some(first) = seen.insert((server.address.as_str(), server.instance_id), i) {
                self.report(
                    here.key("address"),
                    format!("already configured as map_server[{first}]"),
                );
            }
            if let Some(iid) = server.instance_id.filter(|iid| !served.contains(iid)) {
                self.report(
                    here.key("instance_id"),
                    format!(
                        "instance-id {iid} is served by no EID-side port or [[database]] prefix"
                    ),
                );
            }
        }
    }

    /// Map-resolvers, PETRs and PITRs: each an IP address or a host name.
    fn resolvers(&mut self, config: &Config) {
        let sections = [
            (
                "map_resolver",
                config
                    .map_resolver
                    .iter()
                    .map(|r| &r.address)
                    .collect::<Vec<_>>(),
            ),
            ("petr", config.petr.iter().map(|p| &p.address).collect()),
            ("pitr", config.pitr.iter().map(|p| &p.address).collect()),
        ];
        for (section, addresses) in sections {
            let path = self.root.key(section);
            for (i, address) in addresses.into_iter().enumerate() {
                self.host(path.index(i).key("address"), address);
            }
        }
    }

    /// Control-plane peers given as IP addresses must be reachable from some RLOC-side port.
    fn underlay_families(&mut self, config: &Config) {
        let rloc_family = |v6: bool| {
            config
                .port
                .iter()
                .filter(|p| p.role == PortRole::Rloc)
                .flat_map(|p| &p.addresses)
                .any(|a| a.addr().is_ipv6() == v6)
        };
        let peers = config
            .map_server
            .iter()
            .enumerate()
            .map(|(i, s)| ("map_server", i, s.address.parse::<IpAddr>().ok()))
            .chain(
                config
                    .map_resolver
                    .iter()
                    .enumerate()
                    .map(|(i, r)| ("map_resolver", i, r.address.parse().ok())),
            )
            .chain(
                config
                    .petr
                    .iter()
                    .enumerate()
                    .map(|(i, p)| ("petr", i, p.address.parse().ok())),
            )
            .chain(
                config
                    .pitr
                    .iter()
                    .enumerate()
                    .map(|(i, p)| ("pitr", i, p.address.parse().ok())),
            );
        for (section, i, address) in peers {
            if let Some(address) = address {
                if !rloc_family(address.is_ipv6()) {
                    self.report(
                        self.root.key(section).index(i).key("address"),
                        format!(
                            "{address} is {} but no port with role = \"rloc\" has an address of that family",
                            if address.is_ipv6() { "IPv6" } else { "IPv4" }
                        ),
                    );
                }
            }
        }
    }

    /// An IP address or a host name (RFC 1123 labels).
    fn host(&mut self, path: FieldPath, address: &str) {
        if address.parse::<IpAddr>().is_ok() {
            return;
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        let name = address.strip_suffix('.').unwrap_or(address);
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            self.report(
                path,
                format!("{address:?} is neither an IP address nor a host name"),
            );
        }
    }

    fn cpm(&mut self, config: &Config) {
        let cpm = &config.cpm;
        let path = self.root.key("cpm");
        if cpm.enabled && cpm.sender.is_empty() {
            self.report(
                path.key("sender"),
                "CPM is enabled but no [[cpm.sender]] is allowed to send it",
            );
        }
        let mut seen = HashMap::new();
        for (i, sender) in cpm.sender.iter().enumerate() {
            let here = path.key("sender").index(i);
            self.key(here.key("key"), &sender.key);
            if cpm.legacy_lip6_type5 && sender.algorithm != AuthAlgorithm::HmacSha1 {
                self.report(
                    here.key("algorithm"),
                    "the legacy type-5 layout carries HMAC-SHA-1 only; expected \"hmac-sha1\"",
                );
            }
            if let Some(first) = seen.insert(sender.address, i) {
                self.report(
                    here.key("address"),
                    format!("already configured as cpm.sender[{first}]"),
                );
            }
        }
    }

    /// NAT traversal and the RTR role.
    fn nat_roles(&mut self, config: &Config) {
        if config.nat_traversal.keepalive_secs == 0 {
            self.report(
                self.root.key("nat_traversal").key("keepalive_secs"),
                "must be at least 1",
            );
        }
        if !config.roles.rtr {
            return;
        }
        if config.rtr.map_servers.is_empty() {
            self.report(
                self.root.key("rtr").key("map_servers"),
                "an RTR relays registrations to map-servers; name at least one",
            );
        }
        if config.map_resolver.is_empty() {
            self.report(
                self.root.key("map_resolver"),
                "an RTR resolves the EIDs it carries traffic to; name a map-resolver",
            );
        }
        if config.rtr.registration_ttl_secs == 0 {
            self.report(
                self.root.key("rtr").key("registration_ttl_secs"),
                "must be at least 1",
            );
        }
    }

    fn timers(&mut self, config: &Config) {
        let t = &config.timers;
        let path = self.root.key("timers");
        let nonzero = [
            ("map_register_interval_secs", t.map_register_interval_secs),
            ("map_request_timeout_ms", t.map_request_timeout_ms),
            ("map_request_rate_per_sec", t.map_request_rate_per_sec),
            ("rloc_probe_count", u32::from(t.rloc_probe_count)),
            ("rloc_probe_retry_ms", t.rloc_probe_retry_ms),
            ("rloc_probe_rate_per_sec", t.rloc_probe_rate_per_sec),
            (
                "map_reply_rate_per_itr_per_sec",
                t.map_reply_rate_per_itr_per_sec,
            ),
            ("map_reply_rate_per_sec", t.map_reply_rate_per_sec),
            ("map_cache_limit", t.map_cache_limit),
            ("negative_ttl_minutes", t.negative_ttl_minutes),
            ("dns_refresh_secs", t.dns_refresh_secs),
        ];
        for (key, value) in nonzero {
            if value == 0 {
                self.report(path.key(key), "must be greater than 0");
            }
        }
        if t.map_cache_limit > MAX_MAP_CACHE {
            self.report(
                path.key("map_cache_limit"),
                format!("{} entries is beyond what the data plane holds; expected at most {MAX_MAP_CACHE}", t.map_cache_limit),
            );
        }
        if config.map_cache.len() > t.map_cache_limit as usize {
            self.report(
                path.key("map_cache_limit"),
                format!(
                    "{} static map-cache entries do not fit a limit of {}; raise map_cache_limit \
                     (learned mappings need room too)",
                    config.map_cache.len(),
                    t.map_cache_limit
                ),
            );
        }
        if t.map_register_interval_secs > 0 && t.map_register_interval_secs < 5 {
            self.report(
                path.key("map_register_interval_secs"),
                "registering more often than every 5 s floods map-servers",
            );
        }
    }
}
