//! `lispd run`: the appliance process, in three steps a test can drive: [`Appliance::start`]
//! brings up EAL, the ports (by role), the tables, the data cores and the control-plane machines
//! from the configuration; [`Appliance::turn`] is one pass of the control loop on the main lcore;
//! [`Appliance::stop`] stops the data cores and reports.
//!
//! Any number of EID-side and RLOC-side ports. Each data core owns its RX queues (every N-th
//! queue of a port; RSS or the device's fanout spreads flows), one TX queue per port, a punt
//! ring, a feedback queue and its counters; the control core transmits on the last TX queue of
//! each port, and watches links and gateways to decide which of our locators are usable.

mod control;
mod counters;
mod data_cores;
mod interfaces;
mod machines;
mod names;
mod outbox;
mod ports;
mod reload;
mod tables;
mod udp_io;
mod uplinks;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use config::Config;
use dataplane::dpdk::DataCore;
use dataplane::mapcache::{DatabaseWriter, InstanceTables, Instances, MapCacheWriter};
use dataplane::pipeline::{CoreCounters, Counter, PathConfig, Tracer};
use dataplane::rcu::Qsbr;
use dataplane::wire::ipv4::PROTOCOL_UDP;
use dpdk_bindings::lcore::LcoreJoin;
use dpdk_bindings::{lcore, Eal, EalBuilder, MbufBurst, Mempool, MempoolConfig};
use hashbrown::HashMap;

pub use control::ControlStats;
use controlplane::listeners::{
    ManagementSocket, MetricsListener, MetricsService, Response, Service,
};
use data_cores::{DataCoreLink, Tables};
use interfaces::{ControlPort, PortHandles};
use names::Peer;
use outbox::Outbox;
use ports::OpenPort;
use reload::Reloader;
use udp_io::Punted;
use uplinks::Uplinks;

use controlplane::decode::{decode, Input};
use controlplane::loop_timer::LoopTimer;
use controlplane::management::{self, ApplianceView, CacheListing, Reply, TraceListing};
use controlplane::nat_discovery::NatState;
use controlplane::neighbour_resolution::{NeighbourLimits, NeighbourResolution};
use controlplane::reassembly::Reassembly;
use controlplane::report::counters as stats_counters;
use controlplane::state_file;
use controlplane::xtr::{Event, Xtr, XtrStats};

/// Why the appliance could not start, or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A DPDK call failed: EAL, the mbuf pool, a port or queue, a ring, an lcore.
    #[error("{what}: {source}")]
    Dpdk {
        what: String,
        #[source]
        source: dpdk_bindings::Error,
    },
    /// The configuration asks for what this version cannot run.
    #[error("{0}")]
    Unsupported(String),
    /// A table could not be built from the configuration.
    #[error("{what}: {reason}")]
    Table { what: &'static str, reason: String },
    /// The management socket or the metrics endpoint could not be opened.
    #[error("{0}")]
    Listener(String),
    /// A map-server or map-resolver name does not resolve, or its refresh thread did not start.
    #[error("{0}")]
    Names(String),
    #[error("the data core on lcore {0} panicked")]
    DataCorePanicked(u32),
}

/// A [`RunError::Dpdk`] for `what`.
fn dpdk(what: impl Into<String>) -> impl FnOnce(dpdk_bindings::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Dpdk { what, source }
}

/// A [`RunError::Table`] for `what`.
fn table(what: &'static str) -> impl FnOnce(&dyn std::fmt::Display) -> RunError {
    move |e| RunError::Table {
        what,
        reason: e.to_string(),
    }
}

/// What happened while running, reported at the stop.
#[derive(Debug, Clone)]
pub struct Report {
    pub counters: Vec<(&'static str, u64)>,
    pub per_core: Vec<CoreReport>,
    pub control: ControlStats,
    pub xtr: XtrStats,
    /// Each map-server and where registration with it stands.
    pub registration: Vec<(SocketAddr, controlplane::registration::State)>,
}

/// One data core's counters over the run.
#[derive(Debug, Clone)]
pub struct CoreReport {
    pub lcore: u32,
    pub counters: Vec<(&'static str, u64)>,
}

impl CoreReport {
    pub fn get(&self, counter: Counter) -> u64 {
        self.counters
            .iter()
            .find(|(name, _)| *name == counter.name())
            .map_or(0, |(_, value)| *value)
    }

    /// Busy cycles per received packet (testpmd's "CPU cycles/packet"), if anything arrived.
    pub fn cycles_per_packet(&self) -> Option<f64> {
        let received = self.get(Counter::Received);
        (received > 0).then(|| self.get(Counter::BusyCycles) as f64 / received as f64)
    }
}

/// EAL arguments for the configuration: lcores and their CPUs, main lcore, file prefix, then the
/// passthrough.
pub fn eal_arguments(config: &Config) -> Vec<String> {
    let lcores: Vec<String> = config
        .cores
        .placement()
        .iter()
        .map(|(lcore, cpu)| format!("{lcore}@{cpu}"))
        .collect();
    let mut args = vec![
        "--lcores".to_owned(),
        lcores.join(","),
        "--main-lcore".to_owned(),
        config.cores.control.to_string(),
        "--file-prefix".to_owned(),
        config.dpdk.file_prefix.clone(),
    ];
    args.extend(config.dpdk.eal_args.iter().cloned());
    args
}

/// How often the control counters are copied for the DPDK telemetry thread.
const TELEMETRY_SNAPSHOT: Duration = Duration::from_millis(100);

/// The running appliance. Dropping it stops the data cores.
pub struct Appliance {
    xtr: Xtr,
    /// One per interface (each port's untagged frames, then its VLANs), ports in order.
    control_ports: Vec<ControlPort>,
    /// Each port's control TX queue and place on its side, to make interfaces from.
    handles: PortHandles,
    /// Which table each instance has; reloads add and remove instances.
    instance_tables: InstanceTables,
    /// What a reused instance table had counted before its instance took it.
    instance_baselines: HashMap<usize, (u64, u64)>,
    uplinks: Uplinks,
    names: names::NameRefresh,
    /// The data-path settings the data cores run with, republished when a PETR moves or NAT
    /// traversal finds an RTR.
    path: PathConfig,
    /// The configuration running, and reloads of its file.
    reloader: Reloader,
    /// Our EID prefixes as the data cores read them (changed by reloads).
    database: DatabaseWriter,
    links: Vec<DataCoreLink>,
    running: Vec<LcoreJoin<DataCore>>,
    data_stop: Arc<AtomicBool>,
    resolution: NeighbourResolution,
    reassembly: Reassembly,
    outbox: Outbox,
    stats: ControlStats,
    /// Our port addresses: punted datagrams to them are for the control plane.
    ours: Vec<IpAddr>,
    state_path: PathBuf,
    management: ManagementSocket<Streamed>,
    /// The packet trace the data cores record into.
    tracer: Arc<Tracer>,
    metrics: MetricsListener,
    loop_timer: LoopTimer,
    /// Control counters as of the last snapshot, for the DPDK telemetry thread.
    telemetry: Arc<Mutex<Vec<(String, u64)>>>,
    next_snapshot: Instant,
    set_log_level: fn(&str) -> Result<(), String>,
    burst: MbufBurst,
    /// Serves `dpdk-dumpcap`, when EAL allows it.
    _capture: Option<dpdk_bindings::CaptureServer>,
    ports: Vec<OpenPort>,
    pool: Mempool,
}

impl std::fmt::Debug for Appliance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appliance")
            .field("data_cores", &self.links.len())
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

impl Appliance {
    /// EAL, ports, tables, data cores and control plane from `config`, at `now`; data cores are
    /// polling when it returns. `set_log_level` serves the management API's log-level command.
    pub fn start(
        owned: Config,
        set_log_level: fn(&str) -> Result<(), String>,
        now: Instant,
    ) -> Result<Self, RunError> {
        // Kept (not copied: a 1M-entry map_cache_file makes it large) for reloads to diff against.
        let config = &owned;
        let management =
            ManagementSocket::bind(&config.management.socket).map_err(RunError::Listener)?;
        let metrics =
            MetricsListener::bind(config.management.metrics_listen).map_err(RunError::Listener)?;
        let resolved = names::resolve_all(config).map_err(RunError::Names)?;
        let eal = EalBuilder::new("lispd")
            .args(eal_arguments(config))
            .init()
            .map_err(dpdk("EAL"))?;
        // `dpdk-dumpcap --file-prefix PREFIX -i PORT` captures our ports (not without EAL's
        // multi-process channel: `--no-shconf`, `--in-memory`).
        let capture = dpdk_bindings::CaptureServer::start(&eal)
            .map_err(|e| tracing::warn!("packet capture (dpdk-dumpcap) unavailable: {e}"))
            .ok();
        let workers = lcore::workers(&eal);
        if workers.is_empty() {
            return Err(RunError::Unsupported(
                "no data core: EAL has no worker lcore (set [cores] data = [N])".into(),
            ));
        }
        let cores = u16::try_from(workers.len()).map_err(|_| {
            RunError::Unsupported(format!("too many data cores: {}", workers.len()))
        })?;
        let pool = Mempool::new(
            &eal,
            "lispd_mbufs",
            MempoolConfig {
                size: config.dpdk.mbuf_pool_size,
                cache_size: config.dpdk.mbuf_cache_size,
                data_room: ports::mbuf_data_room(config),
            },
        )
        .map_err(dpdk("mbuf pool"))?;
        let ports = ports::open(&eal, &pool, config, cores)?;
        let interfaces: Vec<config::Interface<'_>> = config.interfaces().collect();
        ports::log_up(&ports, &interfaces);

        let qsbr = Qsbr::new(usize::from(cores));
        let instances =
            Instances::new(config.instance_ids()).map_err(|e| table("instances")(&e))?;
        let mut map_cache = MapCacheWriter::new(
            config.timers.map_cache_limit,
            instances.clone(),
            qsbr.clone(),
        );
        tables::static_map_cache(config, &mut map_cache).map_err(|e| table("map-cache")(&e))?;
        let mut database = DatabaseWriter::new(instances.clone(), qsbr.clone());
        tables::database(config, &mut database).map_err(|e| table("database")(&e))?;
        tracing::info!(
            "tables loaded: {} database prefix(es), {} static map-cache entries",
            config.database.len(),
            config.map_cache.len()
        );
        let handles = PortHandles::new(&ports, cores)?;
        let control_ports: Vec<ControlPort> = interfaces
            .iter()
            .map(|interface| handles.control_port(&ports, interface))
            .collect();
        let sets = interfaces::interface_sets(&control_ports, &instances, handles.per_side)
            .map_err(|e| RunError::Unsupported(format!("interfaces: {e}")))?;
        let local = tables::local_rlocs(config, &[]);
        let tracer = Arc::new(Tracer::default());
        let path = tables::path_config(config, &resolved.section(Peer::Petr));
        let data_stop = Arc::new(AtomicBool::new(false));
        let (links, running) = data_cores::launch(
            &eal,
            &workers,
            config,
            (&pool, &ports, &sets),
            Tables {
                qsbr: &qsbr,
                map_cache: &map_cache,
                database: &database,
                instances: &instances,
                local: &local,
                path: &path,
                tracer: &tracer,
            },
            &data_stop,
        )?;

        let names = names::NameRefresh::start(config, &resolved)
            .map_err(|e| RunError::Names(format!("name refresh thread: {e}")))?;
        let peers = machines::peers(config, &resolved);
        let mut resolution = NeighbourResolution::new(NeighbourLimits::default());
        for port in &control_ports {
            for &gateway in &port.neighbours.gateways {
                port.want(gateway, true, &mut resolution, now);
            }
        }
        let rloc_side = tables::map_cache_locators(config)
            .chain(resolved.section(Peer::Petr))
            .chain(peers.0.iter().map(|s| s.address.ip()))
            .chain(peers.1.iter().map(|r| r.ip()));
        for destination in rloc_side {
            control::want_uplinks(&control_ports, destination, true, &mut resolution, now);
        }
        let xtr = machines::control_plane(config, peers, map_cache, now);
        let ours = interfaces::our_addresses(&control_ports);
        let telemetry = Arc::default();
        register_telemetry(&eal, &links, &telemetry);
        let state_path = config.state_file();
        Ok(Self {
            xtr,
            uplinks: Uplinks::new(&control_ports, now),
            handles,
            instance_tables: InstanceTables::new(instances, qsbr),
            instance_baselines: HashMap::new(),
            names,
            path,
            reloader: Reloader::new(owned),
            database,
            control_ports,
            links,
            running,
            data_stop,
            resolution,
            reassembly: Reassembly::default(),
            outbox: Outbox::new(local),
            stats: ControlStats::default(),
            ours,
            state_path,
            management,
            tracer,
            metrics,
            loop_timer: LoopTimer::new(now),
            telemetry,
            next_snapshot: now,
            set_log_level,
            burst: MbufBurst::new(),
            _capture: capture,
            ports,
            pool,
        })
    }

    /// One pass of the control loop at `now`: timers, punted frames, neighbour resolution,
    /// events, the state file, management and metrics clients, datagrams out, data-core
    /// feedback. Returns how many punted frames it took (0: the caller may sleep a little).
    pub fn turn(&mut self, now: Instant) -> usize {
        self.snapshot_for_telemetry(now);
        if self.xtr.poll_timeout().is_some_and(|due| now >= due) {
            self.xtr.handle_timeout(now);
        }
        if self.reassembly.poll_timeout().is_some_and(|due| now >= due) {
            self.reassembly.handle_timeout(now);
        }
        let received = self.take_punted(now);
        self.stats.reassembly = self.reassembly.stats();
        self.follow_names(now);
        self.resolve_neighbours(now);
        self.watch_uplinks(now);
        while let Some(event) = self.xtr.poll_event() {
            match &event {
                Event::Nat {
                    state: NatState::BehindNat { .. } | NatState::NoAnswer,
                    ..
                } => tracing::warn!("{event}"),
                _ => tracing::info!("{event}"),
            }
        }
        if self.path.rtr != self.xtr.data_rtr() {
            tracing::warn!(
                "encapsulated traffic now goes to {}",
                self.xtr
                    .data_rtr()
                    .map_or("its locators directly".to_owned(), |rtr| format!(
                        "RTR {rtr}"
                    ))
            );
            self.publish_path();
        }
        if let Some(state) = self.xtr.take_mobility_state() {
            if let Err(e) = state_file::save(&self.state_path, &state) {
                tracing::warn!("state file {}: {e}", self.state_path.display());
            }
        }
        self.serve_clients(now);
        self.apply_reload(now);
        self.stats.reloads_refused = self.reloader.refused();
        self.send_control_messages(now);
        self.take_feedback(now);
        self.loop_timer.record(now, Instant::now());
        received
    }

    /// Republishes the data-path settings to every data core, with the RTR NAT traversal
    /// found, if any.
    fn publish_path(&mut self) {
        self.path.rtr = self.xtr.data_rtr();
        let shared = Arc::new(self.path);
        for link in &self.links {
            link.path.publish(shared.clone());
        }
    }

    /// Reloads read `file` (the one the configuration came from).
    pub fn set_config_file(&mut self, file: PathBuf) {
        self.reloader.set_file(file);
    }

    /// Reloads the configuration file now (SIGHUP): checked in full, then applied, or refused
    /// with the reason in the log.
    pub fn reload(&mut self, now: Instant) {
        if self.reloader.check().is_ok() {
            self.apply_reload(now);
        }
    }

    /// Applies a checked reload, if one waits: the data cores' database, static mappings and
    /// settings, our locator choice, the control plane's peers, keys, timers and database, name
    /// refresh and the log level. The data cores keep running throughout.
    fn apply_reload(&mut self, now: Instant) {
        let Some((new, resolved)) = self.reloader.take() else {
            return;
        };
        let old = self.reloader.running();
        let (before, after) = (reload::instances(old), reload::instances(&new));
        let tables_before: Vec<usize> = self
            .instance_tables
            .current()
            .tables()
            .map(|(_, t)| t)
            .collect();
        // While prefixes move, the instances leaving and those arriving all have tables.
        let both: BTreeSet<u32> = before.union(&after).copied().collect();
        let changed_tables = serve_instances(
            &both,
            &mut self.instance_tables,
            (&mut self.database, &mut self.xtr),
        )
        .and_then(|()| tables::reload_database(old, &new, &mut self.database))
        .and_then(|()| tables::reload_static_map_cache(old, &new, &mut self.xtr, now));
        if let Err(e) = changed_tables {
            tracing::error!("reload: {e}; the rest is applied");
        }
        for &gone in before.difference(&after) {
            match self.xtr.clear_instance(gone) {
                Ok(dropped) => tracing::info!(
                    "reload: instance-id {gone} no longer served ({dropped} mapping(s) dropped)"
                ),
                Err(e) => tracing::error!("reload: instance-id {gone}: {e}"),
            }
        }
        let writers = (&mut self.database, &mut self.xtr);
        if let Err(e) = serve_instances(&after, &mut self.instance_tables, writers) {
            tracing::error!("reload: {e}");
        }
        // A table another instance had before counts from here for its new instance.
        for (_, table) in self.instance_tables.current().tables() {
            if !tables_before.contains(&table) {
                let counted = counters::table_packets(&self.links, table);
                self.instance_baselines.insert(table, counted);
            }
        }
        self.reload_interfaces(&new, now);
        self.publish_interfaces();
        self.instance_tables.published();
        let peers = machines::peers(&new, &resolved);
        for destination in tables::map_cache_locators(&new)
            .chain(resolved.section(Peer::Petr))
            .chain(peers.0.iter().map(|s| s.address.ip()))
            .chain(peers.1.iter().map(|r| r.ip()))
        {
            control::want_uplinks(
                &self.control_ports,
                destination,
                true,
                &mut self.resolution,
                now,
            );
        }
        self.xtr
            .reconfigure(machines::reconfiguration(&new, peers), now);
        self.path = tables::path_config(&new, &resolved.section(Peer::Petr));
        self.publish_path();
        let local = tables::local_rlocs(&new, self.uplinks.unusable());
        let shared = Arc::new(local.clone());
        for link in &self.links {
            link.local.publish(shared.clone());
        }
        self.outbox.set_local(local);
        match names::NameRefresh::start(&new, &resolved) {
            Ok(names) => self.names = names,
            Err(e) => tracing::error!("reload: name refresh thread: {e}; names are not refreshed"),
        }
        if let Err(e) = (self.set_log_level)(new.management.log_level.as_str()) {
            tracing::error!("reload: log level: {e}");
        }
        self.stats.reloads += 1;
        tracing::info!("configuration reloaded");
        self.reloader.applied(new);
    }

    /// Stops the data cores and reports what the run did.
    pub fn stop(mut self) -> Result<Report, RunError> {
        self.data_stop.store(true, Ordering::Relaxed);
        let mut panicked = None;
        for data_core in std::mem::take(&mut self.running) {
            let lcore = data_core.lcore();
            if data_core.join().is_err() {
                panicked = Some(lcore);
            }
        }
        if let Some(lcore) = panicked {
            return Err(RunError::DataCorePanicked(lcore));
        }
        Ok(Report {
            counters: counters::data_totals(&self.links),
            per_core: counters::per_core(&self.links)
                .into_iter()
                .map(|(lcore, counters)| CoreReport { lcore, counters })
                .collect(),
            control: self.stats,
            xtr: self.xtr.stats(),
            registration: self
                .xtr
                .registration
                .status()
                .into_iter()
                .map(|s| (s.address, s.state))
                .collect(),
        })
    }

    fn snapshot_for_telemetry(&mut self, now: Instant) {
        if now < self.next_snapshot {
            return;
        }
        let mut snapshot = stats_counters("control_", &self.stats);
        snapshot.extend(stats_counters("", &self.xtr.stats()));
        *self
            .telemetry
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = snapshot;
        self.next_snapshot = now + TELEMETRY_SNAPSHOT;
    }

    /// A named peer moved: the control plane (map-servers, map-resolvers, PITRs) or the data
    /// cores (the PETR in use, the first) use its new address, and its next hop is resolved.
    fn follow_names(&mut self, now: Instant) {
        while let Some(renamed) = self.names.poll() {
            tracing::info!("{} now resolves to {}", renamed.name, renamed.address);
            let address = names::control_address(renamed.address);
            match renamed.peer {
                Peer::MapServer(i) => self.xtr.set_map_server_address(i, address, now),
                Peer::MapResolver(i) => self.xtr.resolver.set_resolver_address(i, address),
                Peer::Petr(0) => {
                    self.path.petr = Some(renamed.address);
                    self.publish_path();
                }
                Peer::Petr(_) => {}
                Peer::Pitr(i) => self.xtr.set_pitr_address(i, renamed.address),
            }
            control::want_uplinks(
                &self.control_ports,
                renamed.address,
                true,
                &mut self.resolution,
                now,
            );
        }
    }

    /// Links and gateways: when the set of usable locators changes, the data cores get the new
    /// locator choice and the control plane re-registers and signals.
    fn watch_uplinks(&mut self, now: Instant) {
        let Some(unusable) = self.uplinks.poll(
            &mut self.control_ports,
            &self.ports,
            &self.pool,
            now,
            &mut self.stats,
        ) else {
            return;
        };
        let local = tables::local_rlocs(self.reloader.running(), &unusable);
        let shared = Arc::new(local.clone());
        for link in &self.links {
            link.local.publish(shared.clone());
        }
        self.outbox.set_local(local);
        self.xtr.set_unusable_locators(unusable, now);
    }

    /// Handles every frame the data cores punted.
    fn take_punted(&mut self, now: Instant) -> usize {
        let mut received = 0;
        // An RTR resolves what it decapsulated: its misses come from the RLOC side.
        let rtr = self.path.reencapsulate;
        for link in &mut self.links {
            received += link.punt.dequeue_burst(&mut self.burst);
            for mbuf in self.burst.drain() {
                let arrived = (mbuf.input_port(), udp_io::vlan(mbuf.data()));
                match udp_io::punted(mbuf.data(), &self.ours) {
                    Punted::Control { from, message } => {
                        tracing::debug!(
                            "control message from {from}:\n{}",
                            decode(message, Input::Control)
                        );
                        self.xtr.handle_datagram(from, message, now)
                    }
                    Punted::Miss {
                        source,
                        destination,
                    } => match interfaces::arrived_on(&self.control_ports, arrived)
                        .map(|i| &self.control_ports[i])
                        .filter(|p| p.role == config::PortRole::Eid)
                    {
                        // A miss is resolved in its interface's instance.
                        Some(port) => {
                            let instance_id = (port.instance_id != 0).then_some(port.instance_id);
                            self.xtr.handle_miss(instance_id, source, destination, now)
                        }
                        None if rtr => self.xtr.handle_miss(None, source, destination, now),
                        None => self.stats.other += 1,
                    },
                    Punted::Fragment(fragment) => {
                        let Some((key, datagram)) = self.reassembly.add(fragment, now) else {
                            continue;
                        };
                        match udp_io::control_message(key.source, &datagram) {
                            Some((from, message)) if key.protocol == PROTOCOL_UDP => {
                                self.xtr.handle_datagram(from, message, now)
                            }
                            _ => self.stats.reassembled_not_control += 1,
                        }
                    }
                    Punted::Neighbour(frame) => {
                        let heard = control::handle(
                            frame,
                            arrived,
                            &mut self.control_ports,
                            &self.pool,
                            &mut self.resolution,
                            now,
                            &mut self.stats,
                        );
                        if let Some(from) = heard {
                            self.uplinks.heard(mbuf.input_port(), from);
                        }
                    }
                    Punted::Other => self.stats.other += 1,
                }
            }
        }
        received
    }

    /// Next hops the control plane and the data cores need, then solicitations and tables.
    fn resolve_neighbours(&mut self, now: Instant) {
        for locator in self.xtr.take_new_locators() {
            control::want_uplinks(
                &self.control_ports,
                locator,
                false,
                &mut self.resolution,
                now,
            );
        }
        for port in self.control_ports.iter() {
            while let Some(next_hop) = port.wanted.take() {
                port.want(next_hop, false, &mut self.resolution, now);
            }
        }
        let changed = control::resolve(
            &mut self.control_ports,
            &self.pool,
            &mut self.resolution,
            now,
            &mut self.stats,
        );
        if changed {
            self.publish_interfaces();
        }
    }

    /// Gives every data core the interfaces as they are now (their neighbour tables, VLANs and
    /// instances' tables) and the instances served.
    fn publish_interfaces(&mut self) {
        let instances = self.instance_tables.current();
        match interfaces::interface_sets(&self.control_ports, instances, self.handles.per_side) {
            Ok((eid, rloc)) => {
                let (eid, rloc) = (Arc::new(eid), Arc::new(rloc));
                let instances = Arc::new(instances.clone());
                for link in &self.links {
                    link.interfaces.0.publish(eid.clone());
                    link.interfaces.1.publish(rloc.clone());
                    link.instances.publish(instances.clone());
                }
            }
            Err(e) => tracing::error!("interfaces not published: {e}"),
        }
    }

    /// The interfaces of `new`: those that run as configured stay (with what they learned),
    /// the rest are made anew; next hops of interfaces gone are forgotten.
    fn reload_interfaces(&mut self, new: &Config, now: Instant) {
        let mut running = std::mem::take(&mut self.control_ports);
        let mut kept: Vec<Option<ControlPort>> = Vec::new();
        for interface in new.interfaces() {
            let same = running.iter().position(|p| {
                p.port_id == self.ports[interface.port].port.id().raw() && p.runs(&interface)
            });
            kept.push(same.map(|i| running.swap_remove(i)));
        }
        for gone in &running {
            self.resolution.forget_interface(gone.key());
        }
        let added = kept.iter().filter(|p| p.is_none()).count();
        let (handles, ports, resolution) = (&self.handles, &self.ports, &mut self.resolution);
        self.control_ports = new
            .interfaces()
            .zip(kept)
            .map(|(interface, kept)| {
                kept.unwrap_or_else(|| {
                    let port = handles.control_port(ports, &interface);
                    for &gateway in &port.neighbours.gateways {
                        port.want(gateway, true, resolution, now);
                    }
                    port
                })
            })
            .collect();
        self.ours = interfaces::our_addresses(&self.control_ports);
        if added + running.len() > 0 {
            tracing::info!(
                "reload: {added} interface(s) added or changed, {} removed",
                running.len()
            );
        }
    }

    /// Serves the management and metrics clients that are ready.
    fn serve_clients(&mut self, now: Instant) {
        let servers = (
            self.management.stats(),
            self.metrics.stats(),
            self.loop_timer.stats(),
        );
        let (links, ports, control_ports, stats) =
            (&self.links, &self.ports, &self.control_ports, &self.stats);
        let (unusable, running) = (self.uplinks.unusable(), self.reloader.running());
        let petr = self.path.petr;
        let set_log_level = self.set_log_level;
        let (instances, baselines) = (self.instance_tables.current(), &self.instance_baselines);
        let view = || ApplianceView {
            counters: counters::data_totals(links),
            per_core: counters::per_core(links),
            ports: ports::device_stats(ports),
            control: serde_json::to_value(stats).unwrap_or_default(),
            control_loop: servers.2,
            servers: serde_json::json!({"management": servers.0, "metrics": servers.1}),
            neighbours: control_ports
                .iter()
                .map(|p| {
                    let mut known: Vec<(IpAddr, [u8; 6])> =
                        p.neighbours.macs.iter().map(|(a, m)| (*a, *m)).collect();
                    known.sort();
                    (p.name.clone(), known)
                })
                .collect(),
            set_log_level,
            locators: tables::local_rlocs(running, &[])
                .all
                .into_iter()
                .map(|locator| (locator, !unusable.contains(&locator)))
                .collect(),
            peer_names: names::peer_names(running),
            petr,
            instance_packets: counters::instance_packets(links, instances, baselines),
            eid_interfaces: control_ports
                .iter()
                .filter(|p| p.role == config::PortRole::Eid)
                .map(|p| (p.instance_id, p.name.clone()))
                .collect(),
        };
        let xtr = &mut self.xtr;
        self.metrics.poll(
            &mut MetricsService(|| controlplane::metrics::exposition(xtr, &view())),
            now,
        );
        self.management.poll(
            &mut ManagementService {
                xtr: &mut self.xtr,
                view: &view,
                reloader: &self.reloader,
                tracer: &self.tracer,
                now,
            },
            now,
        );
    }

    /// Sends what the control plane queued, and retries what waits for a neighbour.
    fn send_control_messages(&mut self, now: Instant) {
        let ports = &mut self.control_ports;
        self.outbox.retry(
            ports,
            &self.pool,
            &mut self.resolution,
            now,
            &mut self.stats,
        );
        while let Some(transmit) = self.xtr.poll_transmit() {
            self.outbox.send(
                ports,
                &self.pool,
                &mut self.resolution,
                transmit,
                now,
                &mut self.stats,
            );
        }
    }

    /// Locator-status bits and echo-nonce reports from the data cores; a new echo table back.
    fn take_feedback(&mut self, now: Instant) {
        for link in &self.links {
            while let Some(feedback) = link.feedback.pop() {
                if let Some(bits) = feedback.status_bits {
                    self.xtr.handle_locator_status(feedback.rloc, bits);
                }
                if let Some(nonce) = feedback.echo_nonce {
                    self.xtr.handle_echo_request(feedback.rloc, nonce, now);
                }
                if feedback.echoed {
                    self.xtr.handle_echo(feedback.rloc, now);
                }
            }
        }
        if let Some(table) = self.xtr.take_echo_table() {
            let table = Arc::new(table);
            for link in &self.links {
                link.echo.publish(table.clone());
            }
        }
    }
}

impl Drop for Appliance {
    /// The data cores stop before anything they use goes (their join handles wait for them).
    fn drop(&mut self) {
        self.data_stop.store(true, Ordering::Relaxed);
    }
}

/// The database and the map-cache (in `xtr`) serve `ids` from now on (new ones get tables from
/// `tables`).
fn serve_instances(
    ids: &BTreeSet<u32>,
    tables: &mut InstanceTables,
    (database, xtr): (&mut DatabaseWriter, &mut Xtr),
) -> Result<(), String> {
    let instances = tables.change(ids).map_err(|e| e.to_string())?.clone();
    database.set_instances(instances.clone());
    xtr.set_instances(instances);
    Ok(())
}

/// DPDK telemetry (`/lispd/stats`): data-core counters live, control counters as of the last
/// snapshot (so the telemetry thread never touches control state).
fn register_telemetry(eal: &Eal, links: &[DataCoreLink], control: &Arc<Mutex<Vec<(String, u64)>>>) {
    let cores: Vec<Arc<CoreCounters>> = links.iter().map(|l| l.counters.clone()).collect();
    let control = control.clone();
    let registered = dpdk_bindings::register_counters(
        eal,
        "/lispd/stats",
        "lispd data-core, control-core and control-plane counters.",
        move || {
            let mut all: Vec<(String, u64)> = counters::totals(cores.iter().map(|c| &**c))
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect();
            all.extend(
                control
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .cloned(),
            );
            all
        },
    );
    if let Err(e) = registered {
        tracing::warn!("DPDK telemetry command not registered: {e}");
    }
}

/// Runs `config`, read from `file`, until `stop` is set, reloading the file whenever `reload` is
/// set; `set_log_level` serves the management API's log-level command and reloads.
pub fn run(
    config: Config,
    file: &std::path::Path,
    (stop, reload): (&AtomicBool, &AtomicBool),
    set_log_level: fn(&str) -> Result<(), String>,
) -> Result<Report, RunError> {
    use sd_notify::NotifyState;
    let mut appliance = Appliance::start(config, set_log_level, Instant::now())?;
    appliance.set_config_file(file.to_owned());
    // Under systemd (Type=notify): ready once the data cores poll, reloading while a reload is
    // checked and applied, stopping at the end. Outside systemd these do nothing.
    let _ = sd_notify::notify(&[NotifyState::Ready]);
    tracing::info!("ready: {} data core(s) forwarding", appliance.links.len());
    while !stop.load(Ordering::Relaxed) {
        if reload.swap(false, Ordering::Relaxed) {
            let _ = sd_notify::notify(&[NotifyState::Reloading]);
            appliance.reload(Instant::now());
            let _ = sd_notify::notify(&[NotifyState::Ready]);
        }
        if appliance.turn(Instant::now()) == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
    appliance.stop()
}

/// A management answer written over several loop turns.
#[derive(Debug)]
enum Streamed {
    /// A map-cache listing, page by page.
    Cache(CacheListing),
    /// A packet trace, as its records arrive.
    Trace(TraceListing),
}

/// The management API served from the control loop: a request is answered against the control
/// plane and a view of the appliance built only then; a whole-cache listing continues page by
/// page, a trace as its packets pass.
struct ManagementService<'a, V: Fn() -> ApplianceView> {
    xtr: &'a mut Xtr,
    view: &'a V,
    /// A reload is checked while answering and applied later in the same turn.
    reloader: &'a Reloader,
    tracer: &'a Tracer,
    now: Instant,
}

impl<V: Fn() -> ApplianceView> Service for ManagementService<'_, V> {
    type Stream = Streamed;

    fn answer(&mut self, request: &[u8]) -> Response<Streamed> {
        let line = String::from_utf8_lossy(request);
        match management::respond(&line, self.xtr, &(self.view)(), self.now) {
            Reply::Line(line) => Response::Bytes(line.into_bytes()),
            Reply::Listing(listing) => Response::Stream(Streamed::Cache(listing)),
            Reply::Trace(count) => {
                self.tracer.start(count);
                Response::Stream(Streamed::Trace(TraceListing::new(count, self.now)))
            }
            Reply::Reload => {
                let outcome = self.reloader.check().and_then(|changed| {
                    serde_json::to_value(controlplane::management_api::Reloaded {
                        reloaded: true,
                        changed: changed.into_iter().map(String::from).collect(),
                    })
                    .map_err(|e| e.to_string())
                });
                Response::Bytes(management::response_line(outcome).into_bytes())
            }
        }
    }

    fn continue_stream(&mut self, streamed: &mut Streamed, out: &mut Vec<u8>) -> bool {
        match streamed {
            Streamed::Cache(listing) => listing.next_page(self.xtr, self.now, out),
            Streamed::Trace(trace) => trace.next_page(self.tracer, self.now, out),
        }
    }
}
