//! The data cores: one per EAL worker lcore, each with its RX queues and a TX queue on every
//! port, a punt ring and a feedback queue to the control core, mailboxes for interface sets,
//! instances, echo-nonce tables and settings, and its counters. What the control core keeps of
//! each is a [`DataCoreLink`].

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use config::{Config, PortRole};
use dataplane::dpdk::{DataCore, InterfaceSet, PortIo, Side, SideError};
use dataplane::mailbox::{mailbox, Publisher};
use dataplane::mapcache::{DatabaseWriter, Instances, MapCacheWriter};
use dataplane::pipeline::{
    feedback_channel, CoreCounters, EchoNonces, FeedbackReceiver, InstanceCounters, LocalRlocs,
    MissLog, Nonces, PathConfig, PuntLimiter, Tracer,
};
use dataplane::rcu::Qsbr;
use dpdk_bindings::lcore::LcoreJoin;
use dpdk_bindings::{lcore, spsc_ring, Eal, Mempool, RingConsumer};

use super::ports::{rx_queues, OpenPort};
use super::{dpdk, RunError};

/// What the control core keeps of one data core.
#[derive(Debug)]
pub struct DataCoreLink {
    pub lcore: u32,
    pub punt: RingConsumer,
    pub feedback: FeedbackReceiver,
    /// Where the echo-nonce table goes.
    pub echo: Publisher<EchoNonces>,
    /// Where our locator choice goes when an uplink changes.
    pub local: Publisher<LocalRlocs>,
    /// Where new data-path settings go (a PETR's new address).
    pub path: Publisher<PathConfig>,
    /// Where new interface sets go (EID side, RLOC side): a neighbour table changed, or a
    /// reload changed VLANs.
    pub interfaces: (Publisher<InterfaceSet>, Publisher<InterfaceSet>),
    /// Where the instances' tables go when a reload adds or removes tenants.
    pub instances: Publisher<Instances>,
    pub counters: Arc<CoreCounters>,
    /// Its packets per instance table.
    pub instance_counters: Arc<InstanceCounters>,
}

/// The shared tables the data cores read, and our locators as they start.
#[derive(Debug)]
pub struct Tables<'a> {
    pub qsbr: &'a Arc<Qsbr>,
    pub map_cache: &'a MapCacheWriter,
    pub database: &'a DatabaseWriter,
    pub instances: &'a Instances,
    pub local: &'a LocalRlocs,
    pub path: &'a PathConfig,
    /// The packet trace every data core records into.
    pub tracer: &'a Arc<Tracer>,
}

/// Launches one data core on each of `workers` (EAL's worker lcores), with the interfaces of
/// `sets` (EID, RLOC) on `ports`; they run until `stop` is set.
pub fn launch(
    eal: &Eal,
    workers: &[u32],
    config: &Config,
    (pool, ports, sets): (&Mempool, &[OpenPort], &(InterfaceSet, InterfaceSet)),
    tables: Tables<'_>,
    stop: &Arc<AtomicBool>,
) -> Result<(Vec<DataCoreLink>, Vec<LcoreJoin<DataCore>>), RunError> {
    let cores = u16::try_from(workers.len())
        .map_err(|_| RunError::Unsupported(format!("too many data cores: {}", workers.len())))?;
    let mut links = Vec::new();
    let mut running = Vec::new();
    for (core, &lcore_id) in (0..cores).zip(workers) {
        let (punt_tx, punt_rx) =
            spsc_ring(eal, &format!("lispd_punt{core}"), 1024).map_err(dpdk("punt ring"))?;
        let (feedback, feedback_rx) = feedback_channel(1024);
        let (echo_publisher, echo_updates) = mailbox();
        let (local_publisher, local_updates) = mailbox();
        let (path_publisher, path_updates) = mailbox();
        let counters = Arc::new(CoreCounters::default());
        let instance_counters = Arc::new(InstanceCounters::default());
        let (eid_publisher, eid_updates) = mailbox();
        let (rloc_publisher, rloc_updates) = mailbox();
        let (instances_publisher, instances_updates) = mailbox();
        let (eid_ports, rloc_ports) = port_queues(ports, core, cores)?;
        let wrong = |e: SideError| RunError::Unsupported(format!("interfaces: {e}"));
        let eid = Side::new(eid_ports, sets.0.clone(), Some(eid_updates)).map_err(wrong)?;
        let rloc = Side::new(rloc_ports, sets.1.clone(), Some(rloc_updates)).map_err(wrong)?;
        let data_core = DataCore {
            eid,
            rloc,
            punt: punt_tx,
            pool: pool.clone(),
            reader: tables
                .qsbr
                .register()
                .map_err(|e| RunError::Unsupported(format!("data core {core}: {e}")))?,
            map_cache: tables.map_cache.shared(),
            database: tables.database.shared(),
            instances: Arc::new(tables.instances.clone()),
            instances_updates: Some(instances_updates),
            local: Arc::new(tables.local.clone()),
            local_updates: Some(local_updates),
            config: Arc::new(*tables.path),
            config_updates: Some(path_updates),
            tracer: tables.tracer.clone(),
            counters: counters.clone(),
            instance_counters: instance_counters.clone(),
            feedback,
            nonces: Nonces::new(lcore_id.wrapping_mul(0x9e37_79b9) | 1),
            echo: Arc::new(EchoNonces::default()),
            echo_updates: Some(echo_updates),
            punt_limiter: PuntLimiter::new(
                4096,
                dpdk_bindings::time::tsc_hz(eal) / 1000
                    * u64::from(config.timers.map_request_min_interval_ms),
            ),
            misses: MissLog::default(),
            idle_sleep: Duration::from_micros(u64::from(config.cores.idle_sleep_us)),
        };
        let data_stop = stop.clone();
        running.push(
            lcore::launch(eal, lcore_id, move || data_core.run(&data_stop))
                .map_err(dpdk(format!("data core on lcore {lcore_id}")))?,
        );
        links.push(DataCoreLink {
            lcore: lcore_id,
            punt: punt_rx,
            feedback: feedback_rx,
            echo: echo_publisher,
            local: local_publisher,
            path: path_publisher,
            interfaces: (eid_publisher, rloc_publisher),
            instances: instances_publisher,
            counters,
            instance_counters,
        });
    }
    Ok((links, running))
}

/// Data core `core`'s RX queues and TX queue on every port, by side (EID, RLOC), in
/// configuration order.
fn port_queues(
    ports: &[OpenPort],
    core: u16,
    cores: u16,
) -> Result<(Vec<PortIo>, Vec<PortIo>), RunError> {
    let (mut eid, mut rloc) = (Vec::new(), Vec::new());
    for open in ports {
        let io = PortIo {
            rx: rx_queues(&open.port, core, cores)?,
            tx: open
                .port
                .tx_queue(core)
                .map_err(dpdk(format!("port {} TX queue", open.config.name)))?,
            mac: open.mac,
        };
        match open.config.role {
            PortRole::Eid => eid.push(io),
            PortRole::Rloc => rloc.push(io),
        }
    }
    Ok((eid, rloc))
}
