//! The data cores: one per EAL worker lcore, each with its RX queues and a TX queue on every
//! port, a punt ring and a feedback queue to the control core, mailboxes for neighbour and
//! echo-nonce tables, and its counters. What the control core keeps of each is a
//! [`DataCoreLink`].

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use config::{Config, PortRole};
use dataplane::dpdk::{DataCore, Interface, PortIo, Side, SideError};
use dataplane::mailbox::{mailbox, signalled_mailbox, Publisher, Signal};
use dataplane::mapcache::{DatabaseWriter, Instances, LocalEid, MapCacheWriter};
use dataplane::pipeline::{
    feedback_channel, CoreCounters, EchoNonces, FeedbackReceiver, LocalRlocs, MissLog, Neighbours,
    Nonces, PathConfig, PuntLimiter, Tracer, WantedNeighbours,
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
    pub counters: Arc<CoreCounters>,
}

/// Each interface's neighbour table as the data cores start with it, where they ask for missing
/// next hops, and (filled by [`launch`]) one mailbox per data core for new tables.
#[derive(Debug)]
pub struct NeighbourChannels {
    pub initial: Neighbours,
    pub wanted: WantedNeighbours,
    pub publishers: Vec<Publisher<Neighbours>>,
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

/// An interface's instance as the data path uses it (every configured instance-id has tables).
fn interface_instance(instances: &Instances, instance_id: u32) -> LocalEid {
    LocalEid {
        instance_id: (instance_id != 0).then_some(instance_id),
        table: instances.table(Some(instance_id)).unwrap_or(0),
    }
}

/// Launches one data core on each of `workers` (EAL's worker lcores); they run until `stop` is
/// set. `neighbours` holds one entry per interface of `interfaces` (those of `ports`).
pub fn launch(
    eal: &Eal,
    workers: &[u32],
    config: &Config,
    (pool, ports, interfaces): (&Mempool, &[OpenPort], &[config::Interface<'_>]),
    tables: Tables<'_>,
    neighbours: &mut [NeighbourChannels],
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
        let neighbour_news = Signal::default();
        let (eid, rloc) = sides(
            (ports, interfaces),
            neighbours,
            &neighbour_news,
            tables.instances,
            (core, cores),
        )?;
        let data_core = DataCore {
            eid,
            rloc,
            neighbour_news,
            punt: punt_tx,
            pool: pool.clone(),
            reader: tables
                .qsbr
                .register()
                .map_err(|e| RunError::Unsupported(format!("data core {core}: {e}")))?,
            map_cache: tables.map_cache.shared(),
            database: tables.database.shared(),
            instances: tables.instances.clone(),
            local: Arc::new(tables.local.clone()),
            local_updates: Some(local_updates),
            config: Arc::new(*tables.path),
            config_updates: Some(path_updates),
            tracer: tables.tracer.clone(),
            counters: counters.clone(),
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
            counters,
        });
    }
    Ok((links, running))
}

/// Data core `core`'s EID and RLOC sides: its RX queues and TX queue on every port, and every
/// interface with a mailbox for its neighbour tables (the publisher goes into `neighbours`),
/// all raising `news`.
fn sides(
    (ports, interfaces): (&[OpenPort], &[config::Interface<'_>]),
    neighbours: &mut [NeighbourChannels],
    news: &Signal,
    instances: &Instances,
    (core, cores): (u16, u16),
) -> Result<(Side, Side), RunError> {
    let mut by_role = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    let side = |role: PortRole| match role {
        PortRole::Eid => 0,
        PortRole::Rloc => 1,
    };
    // Where each configured port lands among its side's ports.
    let mut index_on_side = Vec::with_capacity(ports.len());
    for open in ports {
        let (side_ports, _) = &mut by_role[side(open.config.role)];
        index_on_side.push(side_ports.len());
        side_ports.push(PortIo {
            rx: rx_queues(&open.port, core, cores)?,
            tx: open
                .port
                .tx_queue(core)
                .map_err(dpdk(format!("port {} TX queue", open.config.name)))?,
            mac: open.mac,
        });
    }
    for (interface, channels) in interfaces.iter().zip(neighbours.iter_mut()) {
        let (publisher, updates) = signalled_mailbox(news);
        channels.publishers.push(publisher);
        let (_, side_interfaces) = &mut by_role[side(interface.role)];
        side_interfaces.push(Interface {
            port: index_on_side[interface.port],
            vlan: interface.vlan,
            mac: ports[interface.port].mac,
            instance: interface_instance(instances, interface.instance_id),
            neighbours: Arc::new(channels.initial.clone()),
            neighbour_updates: Some(updates),
            wanted: channels.wanted.clone(),
        });
    }
    let [(eid_ports, eid), (rloc_ports, rloc)] = by_role;
    let wrong = |e: SideError| RunError::Unsupported(format!("interfaces: {e}"));
    Ok((
        Side::new(eid_ports, eid).map_err(wrong)?,
        Side::new(rloc_ports, rloc).map_err(wrong)?,
    ))
}
