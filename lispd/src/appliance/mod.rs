//! `lispd run`: the appliance process. EAL and ports from the configuration, one data core per
//! configured data lcore, the control loop on the main lcore, a clean stop on SIGINT/SIGTERM.
//!
//! One EID-side and one RLOC-side port. Each data core owns its RX queues (every N-th queue of a
//! port; RSS or the device's fanout spreads flows), one TX queue per port, a punt ring, a
//! feedback queue and its counters; the control core transmits on the last TX queue of each port.

mod control;
mod listeners;
mod outbox;
mod tables;
mod udp_io;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use config::{Config, PortRole};
use dataplane::dpdk::{DataCore, PortIo};
use dataplane::mailbox::{mailbox, Publisher};
use dataplane::mapcache::{DatabaseWriter, Instances, MapCacheWriter};
use dataplane::pipeline::{
    feedback_channel, total, CoreCounters, Counter, EchoNonces, FeedbackReceiver, Neighbours,
    Nonces, PathConfig, PuntLimiter, WantedNeighbours,
};
use dataplane::rcu::Qsbr;
use dpdk_bindings::{
    attach_vdev, lcore, spsc_ring, EalBuilder, MbufBurst, Mempool, MempoolConfig, Port, PortConfig,
    PortId, RingConsumer,
};

use control::ControlPort;
pub use control::ControlStats;

use controlplane::loop_timer::LoopTimer;
use listeners::{ManagementSocket, MetricsListener, MetricsService, Response, Service};
use outbox::Outbox;
use udp_io::Punted;

use controlplane::clock::WallClock;
use controlplane::decode::{decode, Input};
use controlplane::echo_nonce::{EchoConfig, EchoNonce};
use controlplane::learned::LearnedMappings;
use controlplane::management::{self, ApplianceView, CacheListing, Reply};
use controlplane::mobility::{CpmPeer, Mobility, MobilityState};
use controlplane::neighbour_resolution::{NeighbourLimits, NeighbourResolution};
use controlplane::nonce::NonceSource;
use controlplane::probing::{ProbeConfig, Prober};
use controlplane::reassembly::Reassembly;
use controlplane::registration::{MapServerPeer, Registration, Timers};
use controlplane::report::counters;
use controlplane::resolution::{Resolver, ResolverConfig};
use controlplane::responder::{Responder, ResponderLimits};
use controlplane::state_file;
use controlplane::wire::registration::XtrIdentity;
use controlplane::xtr::{Xtr, XtrParts, XtrStats};
use dataplane::wire::ipv4::PROTOCOL_UDP;

/// Why the appliance could not start or run.
#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

fn fail(context: &str) -> impl Fn(&dyn std::fmt::Display) -> RunError + '_ {
    move |e| RunError(format!("{context}: {e}"))
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

/// One data core's work over the run.
#[derive(Debug, Clone, Copy)]
pub struct CoreReport {
    pub lcore: u32,
    pub encapsulated: u64,
    pub decapsulated: u64,
    pub received: u64,
    /// TSC cycles of the polls that received something.
    pub busy_cycles: u64,
}

impl CoreReport {
    /// Busy cycles per received packet (testpmd's "CPU cycles/packet"), if anything arrived.
    pub fn cycles_per_packet(&self) -> Option<f64> {
        (self.received > 0).then(|| self.busy_cycles as f64 / self.received as f64)
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

/// The RX queues of a port that data core `core` of `cores` polls: every `cores`-th one.
fn rx_queues(port: &Port, core: u16, cores: u16) -> Result<Vec<dpdk_bindings::RxQueue>, RunError> {
    (core..port.config().rx_queues)
        .step_by(usize::from(cores))
        .map(|q| port.rx_queue(q).map_err(|e| fail("RX queue")(&e)))
        .collect()
}

/// Data core `core` of `cores`'s view of one port (`side` names it in errors), and the control
/// core's end of its neighbour mailbox.
fn data_port(
    (side, port): (&str, &Port),
    (core, cores): (u16, u16),
    mac: [u8; 6],
    neighbours: &Neighbours,
    wanted: &WantedNeighbours,
) -> Result<(PortIo, Publisher<Neighbours>), RunError> {
    let (publisher, updates) = mailbox();
    let io = PortIo {
        rx: rx_queues(port, core, cores)?,
        tx: port
            .tx_queue(core)
            .map_err(|e| fail(&format!("{side} TX queue"))(&e))?,
        mac,
        neighbours: Arc::new(neighbours.clone()),
        neighbour_updates: Some(updates),
        wanted: wanted.clone(),
    };
    Ok((io, publisher))
}

/// What the control core keeps of one data core.
struct DataCoreLink {
    lcore: u32,
    punt: RingConsumer,
    feedback: FeedbackReceiver,
    /// Where the echo-nonce table goes.
    echo: Publisher<EchoNonces>,
    counters: Arc<CoreCounters>,
}

/// One counter summed over every data core.
fn data_total(links: &[DataCoreLink], counter: Counter) -> u64 {
    total(links.iter().map(|l| &*l.counters), counter)
}

/// Runs until `stop` is set; `set_log_level` serves the management API's log-level command.
pub fn run(
    config: &Config,
    stop: Arc<AtomicBool>,
    set_log_level: fn(&str) -> Result<(), String>,
) -> Result<Report, RunError> {
    let mut management = ManagementSocket::bind(&config.management.socket).map_err(RunError)?;
    let mut metrics = MetricsListener::bind(config.management.metrics_listen).map_err(RunError)?;
    let eal = EalBuilder::new("lispd")
        .args(eal_arguments(config))
        .init()
        .map_err(|e| fail("EAL")(&e))?;
    let workers = lcore::workers(&eal);
    if workers.is_empty() {
        return Err(RunError(
            "no data core: EAL has no worker lcore (set [cores] data = [N])".into(),
        ));
    }
    let cores = u16::try_from(workers.len())
        .map_err(|_| RunError(format!("too many data cores: {}", workers.len())))?;
    let pool = Mempool::new(
        &eal,
        "lispd_mbufs",
        MempoolConfig {
            size: config.dpdk.mbuf_pool_size,
            cache_size: config.dpdk.mbuf_cache_size,
            ..MempoolConfig::default()
        },
    )
    .map_err(|e| fail("mbuf pool")(&e))?;

    let find = |role: PortRole| {
        let mut ports = config.port.iter().filter(move |p| p.role == role);
        match (ports.next(), ports.next()) {
            (Some(port), None) => Ok(port),
            _ => Err(RunError(format!(
                "this version drives exactly one {role:?} port"
            ))),
        }
    };
    let (eid_cfg, rloc_cfg) = (find(PortRole::Eid)?, find(PortRole::Rloc)?);
    let open = |cfg: &config::Port| -> Result<Port, RunError> {
        let id = PortId::by_name(&eal, &cfg.device)
            .or_else(|_| attach_vdev(&eal, &cfg.device))
            .map_err(|e| fail(&format!("port {} ({})", cfg.name, cfg.device))(&e))?;
        // One TX queue per data core plus the control core's; one RX queue per data core, or
        // as many as TX where the device pairs them (af_packet), spread over the data cores.
        let paired = PortConfig {
            rx_queues: cores + 1,
            tx_queues: cores + 1,
            promiscuous: true,
            ..PortConfig::default()
        };
        let mut port = Port::configure(&eal, id, &pool, paired.clone())
            .or_else(|_| {
                Port::configure(
                    &eal,
                    id,
                    &pool,
                    PortConfig {
                        rx_queues: cores,
                        ..paired
                    },
                )
            })
            .map_err(|e| {
                fail(&format!(
                    "port {} (af_packet needs qpairs = data cores + 1 = {})",
                    cfg.name,
                    cores + 1
                ))(&e)
            })?;
        port.start()
            .map_err(|e| fail(&format!("port {}", cfg.name))(&e))?;
        Ok(port)
    };
    let (eid_port, rloc_port) = (open(eid_cfg)?, open(rloc_cfg)?);
    let mac = |p: &Port| p.mac_address().map_err(|e| fail("MAC address")(&e));
    let (eid_mac, rloc_mac) = (mac(&eid_port)?, mac(&rloc_port)?);

    let qsbr = Qsbr::new(usize::from(cores));
    let instances = Instances::new(config.database.iter().map(|e| e.instance_id))
        .map_err(|e| fail("instances")(&e))?;
    let mut map_cache = MapCacheWriter::new(
        config.timers.map_cache_limit,
        instances.clone(),
        qsbr.clone(),
    );
    tables::static_map_cache(config, &mut map_cache).map_err(|e| fail("map-cache")(&e))?;
    let mut database = DatabaseWriter::new(instances, qsbr.clone());
    tables::database(config, &mut database).map_err(|e| fail("database")(&e))?;
    let (eid_neighbours, rloc_neighbours) =
        (tables::neighbours(eid_cfg), tables::neighbours(rloc_cfg));
    let (eid_wanted, rloc_wanted) = (WantedNeighbours::new(64), WantedNeighbours::new(64));
    let (mut eid_publishers, mut rloc_publishers) = (Vec::new(), Vec::new());
    let mut links = Vec::new();
    let mut running = Vec::new();
    for (core, &lcore_id) in (0..cores).zip(&workers) {
        let (punt_tx, punt_rx) = spsc_ring(&eal, &format!("lispd_punt{core}"), 1024)
            .map_err(|e| fail("punt ring")(&e))?;
        let (feedback, feedback_rx) = feedback_channel(1024);
        let (echo_publisher, echo_updates) = mailbox();
        let counters = Arc::new(CoreCounters::default());
        let (eid, eid_publisher) = data_port(
            ("EID", &eid_port),
            (core, cores),
            eid_mac,
            &eid_neighbours,
            &eid_wanted,
        )?;
        let (rloc, rloc_publisher) = data_port(
            ("RLOC", &rloc_port),
            (core, cores),
            rloc_mac,
            &rloc_neighbours,
            &rloc_wanted,
        )?;
        eid_publishers.push(eid_publisher);
        rloc_publishers.push(rloc_publisher);
        let data_core = DataCore {
            eid,
            rloc,
            punt: punt_tx,
            pool: pool.clone(),
            reader: qsbr.register().map_err(|e| fail("QSBR")(&e))?,
            map_cache: map_cache.shared(),
            database: database.shared(),
            local: tables::local_rlocs(config),
            config: PathConfig {
                rloc_mtu: rloc_cfg.mtu,
                petr: config.petr.first().map(|p| p.address),
                petr_for_misses: config.petr.first().is_some_and(|p| p.send_misses),
                ..PathConfig::default()
            },
            counters: counters.clone(),
            feedback,
            nonces: Nonces::new(lcore_id.wrapping_mul(0x9e37_79b9) | 1),
            echo: Arc::new(EchoNonces::default()),
            echo_updates: Some(echo_updates),
            punt_limiter: PuntLimiter::new(
                4096,
                dpdk_bindings::time::tsc_hz(&eal) / 1000
                    * u64::from(config.timers.map_request_min_interval_ms),
            ),
            idle_sleep: Duration::from_micros(u64::from(config.cores.idle_sleep_us)),
        };
        let data_stop = stop.clone();
        running.push(
            lcore::launch(&eal, lcore_id, move || data_core.run(&data_stop))
                .map_err(|e| fail("data core")(&e))?,
        );
        links.push(DataCoreLink {
            lcore: lcore_id,
            punt: punt_rx,
            feedback: feedback_rx,
            echo: echo_publisher,
            counters,
        });
    }

    let mut control_ports = vec![
        ControlPort {
            name: eid_cfg.name.clone(),
            port_id: eid_port.id().raw(),
            mac: eid_mac,
            addresses: eid_cfg.addresses.iter().map(|a| a.addr()).collect(),
            tx: eid_port
                .tx_queue(cores)
                .map_err(|e| fail("EID control TX queue")(&e))?,
            configured: eid_neighbours.macs.clone(),
            neighbours: eid_neighbours,
            publishers: eid_publishers,
            wanted: eid_wanted,
        },
        ControlPort {
            name: rloc_cfg.name.clone(),
            port_id: rloc_port.id().raw(),
            mac: rloc_mac,
            addresses: rloc_cfg.addresses.iter().map(|a| a.addr()).collect(),
            tx: rloc_port
                .tx_queue(cores)
                .map_err(|e| fail("RLOC control TX queue")(&e))?,
            configured: rloc_neighbours.macs.clone(),
            neighbours: rloc_neighbours,
            publishers: rloc_publishers,
            wanted: rloc_wanted,
        },
    ];
    let servers = tables::map_servers(config).map_err(RunError)?;
    let resolvers = tables::map_resolvers(config).map_err(RunError)?;
    let start = Instant::now();
    let mut resolution = NeighbourResolution::new(NeighbourLimits::default());
    for &gateway in &eid_cfg.gateways {
        control_ports[0].want(gateway, true, &mut resolution, start);
    }
    let rloc_side = rloc_cfg
        .gateways
        .iter()
        .copied()
        .chain(tables::map_cache_locators(config))
        .chain(config.petr.iter().map(|p| p.address))
        .chain(servers.iter().map(|s| s.address.ip()))
        .chain(resolvers.iter().map(|r| r.ip()));
    for destination in rloc_side {
        control_ports[1].want(destination, true, &mut resolution, start);
    }
    let mut xtr = control_plane(config, servers, resolvers, map_cache, start);
    let ours: Vec<IpAddr> = control_ports
        .iter()
        .flat_map(|p| p.addresses.iter().copied())
        .collect();
    let eid_port_id = control_ports[0].port_id;
    let state_path = config.state_file();
    let mut stats = ControlStats::default();
    let mut outbox = Outbox::new(tables::local_rlocs(config));
    let mut burst = MbufBurst::new();
    // DPDK telemetry (`/lispd/stats`): data-core counters live, control counters as of the last
    // snapshot (taken every 100 ms, so the telemetry thread never touches control state).
    let control_snapshot: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let core_counters: Vec<Arc<CoreCounters>> = links.iter().map(|l| l.counters.clone()).collect();
    let telemetry_counters = (core_counters, control_snapshot.clone());
    let registered = dpdk_bindings::register_counters(
        &eal,
        "/lispd/stats",
        "lispd data-core, control-core and control-plane counters.",
        move || {
            let (data, control) = &telemetry_counters;
            let mut all: Vec<(String, u64)> = Counter::ALL
                .iter()
                .map(|&c| (c.name().to_owned(), total(data.iter().map(|d| &**d), c)))
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
    let mut next_snapshot = start;
    let mut loop_timer = LoopTimer::new(start);
    let mut reassembly = Reassembly::default();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_snapshot {
            let mut snapshot = counters("control_", &stats);
            snapshot.extend(counters("", &xtr.stats()));
            *control_snapshot
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = snapshot;
            next_snapshot = now + Duration::from_millis(100);
        }
        if xtr.poll_timeout().is_some_and(|due| now >= due) {
            xtr.handle_timeout(now);
        }
        if reassembly.poll_timeout().is_some_and(|due| now >= due) {
            reassembly.handle_timeout(now);
        }
        let mut received = 0;
        for link in &mut links {
            received += link.punt.dequeue_burst(&mut burst);
            for mbuf in burst.drain() {
                match udp_io::punted(mbuf.data(), &ours) {
                    Punted::Control { from, message } => {
                        tracing::debug!(
                            "control message from {from}:\n{}",
                            decode(message, Input::Control)
                        );
                        xtr.handle_datagram(from, message, now)
                    }
                    Punted::Miss {
                        source,
                        destination,
                    } if mbuf.input_port() == eid_port_id => {
                        xtr.handle_miss(source, destination, now)
                    }
                    Punted::Miss { .. } => stats.other += 1,
                    Punted::Fragment(fragment) => {
                        let Some((key, datagram)) = reassembly.add(fragment, now) else {
                            continue;
                        };
                        match udp_io::control_message(key.source, &datagram) {
                            Some((from, message)) if key.protocol == PROTOCOL_UDP => {
                                xtr.handle_datagram(from, message, now)
                            }
                            _ => stats.reassembled_not_control += 1,
                        }
                    }
                    Punted::Other => control::handle(
                        mbuf,
                        &mut control_ports,
                        &pool,
                        &mut resolution,
                        now,
                        &mut stats,
                    ),
                }
            }
        }
        stats.reassembly = reassembly.stats();
        for locator in xtr.take_new_locators() {
            control_ports[1].want(locator, false, &mut resolution, now);
        }
        for port in &control_ports {
            while let Some(next_hop) = port.wanted.take() {
                port.want(next_hop, false, &mut resolution, now);
            }
        }
        control::resolve(&mut control_ports, &pool, &mut resolution, now, &mut stats);
        while let Some(event) = xtr.poll_event() {
            tracing::info!("{event}");
        }
        if let Some(state) = xtr.take_mobility_state() {
            if let Err(e) = state_file::save(&state_path, &state) {
                tracing::warn!("state file {}: {e}", state_path.display());
            }
        }
        let servers = (management.stats(), metrics.stats(), loop_timer.stats());
        let view = || ApplianceView {
            counters: Counter::ALL
                .iter()
                .map(|&c| (c.name(), data_total(&links, c)))
                .collect(),
            per_core: links
                .iter()
                .map(|l| {
                    let counters = Counter::ALL
                        .iter()
                        .map(|&c| (c.name(), l.counters.get(c)))
                        .collect();
                    (l.lcore, counters)
                })
                .collect(),
            ports: port_stats(&[(&eid_cfg.name, &eid_port), (&rloc_cfg.name, &rloc_port)]),
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
        };
        let mut metrics_service = MetricsService(|| management::prometheus_text(&xtr, &view()));
        metrics.poll(&mut metrics_service, now);
        management.poll(
            &mut ManagementService {
                xtr: &mut xtr,
                view: &view,
                now,
            },
            now,
        );
        outbox.retry(
            &mut control_ports[1],
            &pool,
            &mut resolution,
            now,
            &mut stats,
        );
        while let Some(transmit) = xtr.poll_transmit() {
            outbox.send(
                &mut control_ports[1],
                &pool,
                &mut resolution,
                transmit,
                now,
                &mut stats,
            );
        }
        for link in &links {
            while let Some(feedback) = link.feedback.pop() {
                if let Some(bits) = feedback.status_bits {
                    xtr.handle_locator_status(feedback.rloc, bits);
                }
                if let Some(nonce) = feedback.echo_nonce {
                    xtr.handle_echo_request(feedback.rloc, nonce, now);
                }
                if feedback.echoed {
                    xtr.handle_echo(feedback.rloc, now);
                }
            }
        }
        if let Some(table) = xtr.take_echo_table() {
            let table = Arc::new(table);
            for link in &links {
                link.echo.publish(table.clone());
            }
        }
        loop_timer.record(now, Instant::now());
        if received == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    for data_core in running {
        let finished = data_core
            .join()
            .map_err(|_| RunError("a data core panicked".into()))?;
        drop(finished);
    }
    drop(control_ports);
    let report = Report {
        counters: Counter::ALL
            .iter()
            .map(|&c| (c.name(), data_total(&links, c)))
            .collect(),
        per_core: links
            .iter()
            .map(|l| {
                let get = |c| l.counters.get(c);
                CoreReport {
                    lcore: l.lcore,
                    encapsulated: get(Counter::Encapsulated),
                    decapsulated: get(Counter::Decapsulated),
                    received: get(Counter::Received),
                    busy_cycles: get(Counter::BusyCycles),
                }
            })
            .collect(),
        control: stats,
        xtr: xtr.stats(),
        registration: xtr
            .registration
            .status()
            .into_iter()
            .map(|s| (s.address, s.state))
            .collect(),
    };
    Ok(report)
}

/// The management API served from the control loop: a request is answered against the control
/// plane and a view of the appliance built only then; a whole-cache listing continues page by
/// page.
struct ManagementService<'a, V: Fn() -> ApplianceView> {
    xtr: &'a mut Xtr,
    view: &'a V,
    now: Instant,
}

impl<V: Fn() -> ApplianceView> Service for ManagementService<'_, V> {
    type Stream = CacheListing;

    fn answer(&mut self, request: &[u8]) -> Response<CacheListing> {
        let line = String::from_utf8_lossy(request);
        match management::respond(&line, self.xtr, &(self.view)(), self.now) {
            Reply::Line(line) => Response::Bytes(line.into_bytes()),
            Reply::Listing(listing) => Response::Stream(listing),
        }
    }

    fn continue_stream(&mut self, listing: &mut CacheListing, out: &mut Vec<u8>) -> bool {
        listing.next_page(self.xtr, self.now, out)
    }
}

/// Each port's device counters by name, for management.
fn port_stats(ports: &[(&String, &Port)]) -> serde_json::Value {
    let stats = ports.iter().map(|(name, port)| {
        let value = match port.stats() {
            Ok(s) => serde_json::json!({
                "rx_packets": s.rx_packets,
                "tx_packets": s.tx_packets,
                "rx_bytes": s.rx_bytes,
                "tx_bytes": s.tx_bytes,
                "rx_missed": s.rx_missed,
                "rx_errors": s.rx_errors,
                "tx_errors": s.tx_errors,
                "rx_no_mbuf": s.rx_no_mbuf,
            }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        ((*name).clone(), value)
    });
    serde_json::Value::Object(stats.collect())
}

/// The state a previous run saved at `path`; an unreadable file is moved aside (and said so),
/// and the run starts from the configuration.
fn saved_state(path: &std::path::Path) -> MobilityState {
    match state_file::load(path) {
        Ok(state) => state.unwrap_or_default(),
        Err(e) => {
            let aside = path.with_extension("json.unreadable");
            tracing::warn!(
                "state file not used ({e}); moved to {}, starting from the configuration",
                aside.display()
            );
            let _ = std::fs::rename(path, aside);
            MobilityState::default()
        }
    }
}

/// How long an ITR that asked us for a mapping counts as a correspondent to signal with SMRs.
const CORRESPONDENT_MEMORY: Duration = Duration::from_secs(600);

/// The control-plane machines for `config`, starting at `start`.
fn control_plane(
    config: &Config,
    servers: Vec<MapServerPeer>,
    resolvers: Vec<SocketAddr>,
    map_cache: MapCacheWriter,
    start: Instant,
) -> Xtr {
    let timers = &config.timers;
    let local = tables::local_rlocs(config);
    let rlocs: Vec<IpAddr> = local
        .v4
        .map(IpAddr::V4)
        .into_iter()
        .chain(local.v6.map(IpAddr::V6))
        .collect();
    let mut nonces = NonceSource::from_entropy();
    let registration = Registration::new(
        servers,
        tables::registered_records(config),
        config.identity.xtr_id_bytes().map(|xtr_id| XtrIdentity {
            xtr_id,
            site_id: config.identity.site_id,
        }),
        Timers {
            interval: Duration::from_secs(u64::from(timers.map_register_interval_secs)),
            ..Timers::default()
        },
        nonces.fork(),
        WallClock::system(),
        start,
    );
    let resolver = Resolver::new(
        ResolverConfig {
            resolvers,
            itr_rlocs: rlocs.clone(),
            retries: u32::from(timers.map_request_retries),
            timeout: Duration::from_millis(u64::from(timers.map_request_timeout_ms)),
            rate_per_sec: timers.map_request_rate_per_sec.max(1),
        },
        nonces.fork(),
    );
    let database = tables::local_mappings(config);
    let responder = Responder::new(
        database.iter().map(|m| m.record.clone()).collect(),
        rlocs.clone(),
        CORRESPONDENT_MEMORY,
        ResponderLimits {
            per_itr_rloc_per_sec: timers.map_reply_rate_per_itr_per_sec,
            overall_per_sec: timers.map_reply_rate_per_sec,
            ..ResponderLimits::default()
        },
    );
    let mut mobility = Mobility::new(
        config.cpm.enabled,
        config.cpm.legacy_lip6_type5,
        config
            .cpm
            .sender
            .iter()
            .map(|s| CpmPeer {
                address: s.address,
                key: s.key.as_bytes().to_vec(),
                algorithm: s.algorithm.into(),
            })
            .collect(),
    );
    mobility.restore(saved_state(&config.state_file()));
    let prober = Prober::new(
        ProbeConfig {
            interval: Duration::from_secs(u64::from(timers.rloc_probe_interval_secs)),
            count: u32::from(timers.rloc_probe_count),
            retry: Duration::from_millis(u64::from(timers.rloc_probe_retry_ms)),
            rate_per_sec: timers.rloc_probe_rate_per_sec,
            rlocs: rlocs.clone(),
        },
        nonces.fork(),
    );
    Xtr::new(XtrParts {
        prober,
        echo: EchoNonce::new(EchoConfig::default(), nonces.fork()),
        registration,
        resolver,
        responder,
        map_cache,
        learned: LearnedMappings::new(timers.map_cache_limit as usize),
        mobility,
        database,
        rlocs,
        pitrs: config.pitr.iter().map(|p| p.address).collect(),
        smr_interval: Duration::from_millis(u64::from(timers.smr_min_interval_ms)),
        nonces,
        now: start,
    })
}
