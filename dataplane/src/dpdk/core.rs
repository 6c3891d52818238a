//! One data core: polls its RX queues of every EID-side and RLOC-side port, classifies,
//! encapsulates or decapsulates a whole burst, rewrites Ethernet, transmits on its own TX queue
//! of the port each packet leaves by (the uplink that owns the source RLOC; the EID port whose
//! prefix holds the destination), and hands control traffic and map-cache misses to the control
//! core over a single-producer ring. No allocation, lock or syscall in the loop; one
//! quiescent-state report per iteration.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dpdk_bindings::{time, Mbuf, MbufBurst, Mempool, RingProducer, MAX_BURST};

use super::interfaces::{PortIo, Side};
use crate::mailbox::Subscriber;
use crate::mapcache::{Database, Instances, LocalEid, MapCache};
use crate::pipeline::PuntLimiter;
use crate::pipeline::{
    classify, covers, decapsulate, encapsulate_burst, AddressWords, Class, CoreCounters, Counter,
    EchoNonces, EtrContext, EtrVerdict, FeedbackSender, InstanceCounters, ItrContext, ItrVerdict,
    LocalRlocs, MissLog, NoMac, Nonces, Outcome, PacketBuffer, PathConfig, TraceRecord, Tracer,
};
use crate::rcu::QsbrReader;
use crate::wire::ethernet::{EthernetRepr, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::wire::ipv4::Ipv4Repr;
use crate::wire::ipv6::Ipv6Repr;

/// Everything a data core owns.
#[derive(Debug)]
pub struct DataCore {
    /// Ports and interfaces toward the EIDs (at least one).
    pub eid: Side,
    /// Ports toward the underlay (at least one), one interface each, indexed by
    /// [`crate::pipeline::Uplink::port`].
    pub rloc: Side,
    pub punt: RingProducer,
    /// Where reports of misses sent to the PETR come from.
    pub pool: Mempool,
    pub reader: QsbrReader,
    pub map_cache: MapCache,
    pub database: Database,
    /// The instance-ids served and their tables (LISP data names its instance by id), and new
    /// ones from the control core (a reload added or removed tenants), picked up at the
    /// quiescent point.
    pub instances: Arc<Instances>,
    pub instances_updates: Option<Subscriber<Instances>>,
    pub local: Arc<LocalRlocs>,
    /// New locator choices from the control core (an uplink went down or came back), picked up
    /// at the quiescent point.
    pub local_updates: Option<Subscriber<LocalRlocs>>,
    pub config: Arc<PathConfig>,
    /// New settings from the control core (a PETR's name resolved to another address), picked
    /// up at the quiescent point.
    pub config_updates: Option<Subscriber<PathConfig>>,
    pub counters: Arc<CoreCounters>,
    /// Packets encapsulated and decapsulated per instance (tenant).
    pub instance_counters: Arc<InstanceCounters>,
    pub feedback: FeedbackSender,
    pub nonces: Nonces,
    /// Echo-nonce state per remote RLOC, and its updates from the control core (picked up at
    /// the quiescent point).
    pub echo: Arc<EchoNonces>,
    pub echo_updates: Option<Subscriber<EchoNonces>>,
    /// Map-cache misses punted per destination prefix, in TSC ticks.
    pub punt_limiter: PuntLimiter,
    /// Misses the last burst sent to the PETR, to report.
    pub misses: MissLog,
    /// `lispctl trace`: while on, each packet's fate is recorded for the control core.
    pub tracer: Arc<Tracer>,
    /// Sleep this long after a run of empty polls (zero: pure polling, the appliance default),
    /// for machines where data cores share CPUs with other work.
    pub idle_sleep: Duration,
}

/// Consecutive empty polls before an idle sleep.
const EMPTY_POLLS_BEFORE_SLEEP: u32 = 256;

/// Prepends an Ethernet header for an IP packet, tagged with `vlan` when set.
fn push_ethernet<P: PacketBuffer>(
    packet: &mut P,
    destination: [u8; 6],
    source: [u8; 6],
    vlan: Option<u16>,
) -> bool {
    let ethertype = match packet.data().first().map(|b| b >> 4) {
        Some(6) => ETHERTYPE_IPV6,
        _ => ETHERTYPE_IPV4,
    };
    let header = EthernetRepr {
        destination,
        source,
        vlan,
        ethertype,
    };
    let Some(frame) = packet.prepend(header.header_len()) else {
        return false;
    };
    header.emit(frame);
    true
}

/// A frame standing for a miss on `vlan`: Ethernet and an IP header from `source` to
/// `destination` with no payload.
fn miss_report(
    pool: &Mempool,
    vlan: Option<u16>,
    source: IpAddr,
    destination: IpAddr,
) -> Option<Mbuf> {
    let mut mbuf = pool.alloc()?;
    let (ethertype, ip_len) = match source {
        IpAddr::V4(_) => (ETHERTYPE_IPV4, 20),
        IpAddr::V6(_) => (ETHERTYPE_IPV6, 40),
    };
    let header = EthernetRepr {
        destination: [0; 6],
        source: [0; 6],
        vlan,
        ethertype,
    };
    let l2 = header.header_len();
    let frame = mbuf.append(l2 + ip_len)?;
    header.emit(frame);
    match (source, destination) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => Ipv4Repr {
            src,
            dst,
            protocol: 0,
            payload_len: 0,
            ttl: 1,
            tos: 0,
        }
        .emit(&mut frame[l2..]),
        (IpAddr::V6(src), IpAddr::V6(dst)) => Ipv6Repr {
            src,
            dst,
            next_header: NO_NEXT_HEADER,
            payload_len: 0,
            hop_limit: 1,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut frame[l2..]),
        _ => return None,
    }
    Some(mbuf)
}

/// IPv6 "no next header" (RFC 8200).
const NO_NEXT_HEADER: u8 = 59;

/// What leaves on one side during a burst, the port it is queued for, and the MAC of the last
/// destination resolved (with its interface): consecutive packets mostly go to the same RLOC
/// or host, and comparing with the last one is cheaper than finding the next hop again. A
/// packet for another port first sends what is queued, so order is kept; interfaces of one
/// port (its VLANs) share the queue.
struct Outgoing {
    side: Direction,
    port: usize,
    burst: MbufBurst,
    last_hop: Option<(usize, AddressWords, [u8; 6])>,
}

impl Outgoing {
    fn new(side: Direction) -> Self {
        Self {
            side,
            port: 0,
            burst: MbufBurst::new(),
            last_hop: None,
        }
    }

    /// Queues for `port` of `ports` from now on, first sending what it holds for another one.
    #[inline(always)]
    fn switch(&mut self, port: usize, ports: &mut [PortIo], counters: &CoreCounters) {
        if self.port == port {
            return;
        }
        self.transmit(ports, counters);
        self.port = port;
    }

    /// Transmits what the queue takes; counts and frees the rest.
    fn transmit(&mut self, ports: &mut [PortIo], counters: &CoreCounters) {
        if self.burst.is_empty() {
            return;
        }
        if let Some(port) = ports.get_mut(self.port) {
            port.tx.tx_burst(&mut self.burst);
        }
        for _ in 0..self.burst.len() {
            counters.bump(Counter::DropTxFull);
        }
        self.burst.free_all();
    }
}

impl DataCore {
    /// Polls until `stop` is set, then goes offline for QSBR.
    pub fn run(mut self, stop: &AtomicBool) -> Self {
        let mut empty_polls = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let start = time::tsc();
            let received = self.poll();
            if received > 0 {
                self.counters.add(Counter::BusyCycles, time::tsc() - start);
                self.counters.add(Counter::Received, received as u64);
                empty_polls = 0;
                continue;
            }
            empty_polls = empty_polls.saturating_add(1);
            if empty_polls >= EMPTY_POLLS_BEFORE_SLEEP && !self.idle_sleep.is_zero() {
                std::thread::sleep(self.idle_sleep);
            }
        }
        self.reader.offline();
        self
    }

    /// One iteration: every RX queue once. Returns how many packets arrived.
    pub fn poll(&mut self) -> usize {
        self.reader.quiescent();
        self.eid.refresh();
        self.rloc.refresh();
        if let Some(updates) = &self.instances_updates {
            updates.refresh(&mut self.instances);
        }
        if let Some(updates) = &self.echo_updates {
            updates.refresh(&mut self.echo);
        }
        if let Some(updates) = &self.local_updates {
            updates.refresh(&mut self.local);
        }
        if let Some(updates) = &self.config_updates {
            updates.refresh(&mut self.config);
        }
        let mut rx = MbufBurst::new();
        let mut received = 0;
        for port in 0..self.eid.ports.len() {
            for queue in 0..self.eid.ports[port].rx.len() {
                if self.eid.ports[port].rx[queue].rx_burst(&mut rx) > 0 {
                    received += rx.len();
                    if self.eid.set.has_vlans(port) {
                        self.sort_by_vlan(port, &mut rx);
                    } else {
                        self.handle_eid_burst(self.eid.set.untagged(port), &mut rx);
                    }
                }
            }
        }
        for port in 0..self.rloc.ports.len() {
            for queue in 0..self.rloc.ports[port].rx.len() {
                if self.rloc.ports[port].rx[queue].rx_burst(&mut rx) > 0 {
                    received += rx.len();
                    self.handle_rloc_burst(&mut rx);
                }
            }
        }
        received
    }

    /// A burst from an EID port that carries VLANs: each run of frames of one interface is
    /// handled as a burst of it (frames keep their order); a VLAN the port does not carry is
    /// dropped and counted.
    fn sort_by_vlan(&mut self, port: usize, rx: &mut MbufBurst) {
        let mut run = MbufBurst::new();
        let mut current = usize::MAX;
        for mbuf in rx.drain() {
            let Some(interface) = self.eid.set.interface_of(port, mbuf.data()) else {
                self.counters.bump(Counter::DropUnknownVlan);
                if self.tracer.active() {
                    self.trace(
                        &mbuf,
                        Class::Other,
                        Outcome::Dropped(Counter::DropUnknownVlan),
                    );
                }
                continue;
            };
            if interface != current && !run.is_empty() {
                self.handle_eid_burst(current, &mut run);
            }
            current = interface;
            let _ = run.push(mbuf);
        }
        if !run.is_empty() {
            self.handle_eid_burst(current, &mut run);
        }
    }

    /// The EID interface of the instance whose tables are `table` toward `destination`: the
    /// one whose prefix holds it, else the first with a gateway of its family, else the
    /// instance's first.
    #[inline]
    fn eid_interface_for(&self, table: usize, destination: IpAddr) -> usize {
        if self.eid.set.interfaces.len() == 1 {
            return 0;
        }
        let in_instance = || {
            self.eid
                .set
                .interfaces
                .iter()
                .enumerate()
                .filter(move |(_, p)| p.instance.table == table)
        };
        in_instance()
            .find(|(_, p)| {
                p.neighbours
                    .on_link
                    .iter()
                    .any(|net| covers(net, destination))
            })
            .or_else(|| {
                in_instance().find(|(_, p)| {
                    p.neighbours
                        .gateways
                        .iter()
                        .any(|g| g.is_ipv6() == destination.is_ipv6())
                })
            })
            .or_else(|| in_instance().next())
            .map_or(0, |(i, _)| i)
    }

    fn punt(&mut self, punt: &mut MbufBurst) {
        self.punt.enqueue_burst(punt);
        for _ in 0..punt.len() {
            self.counters.bump(Counter::DropPuntRingFull);
        }
        punt.free_all();
    }

    /// ITR direction: IP packets from EID interface `ingress` are encapsulated as one burst;
    /// control traffic is punted.
    fn handle_eid_burst(&mut self, ingress: usize, rx: &mut MbufBurst) {
        let mut itr = MbufBurst::new();
        let mut punt = MbufBurst::new();
        let mut sources = [[0u8; 6]; MAX_BURST];
        let mut offsets = [0usize; MAX_BURST];
        let tracing = self.tracer.active();
        let mut lengths = [0u16; MAX_BURST];
        for mut mbuf in rx.drain() {
            let (class, l3) = classify(mbuf.data(), &self.local);
            match class {
                Class::Ip => {
                    let at = itr.len();
                    sources[at].copy_from_slice(&mbuf.data()[6..12]);
                    offsets[at] = l3;
                    if tracing {
                        lengths[at] = mbuf.data().len() as u16;
                    }
                    PacketBuffer::trim_front(&mut mbuf, l3);
                    let _ = itr.push(mbuf);
                }
                Class::Arp
                | Class::NeighbourDiscovery
                | Class::LispControl
                | Class::LispData
                | Class::FragmentToUs => {
                    self.counters.bump(Counter::PuntControl);
                    if tracing {
                        self.trace(&mbuf, class, Outcome::Punted);
                    }
                    let _ = punt.push(mbuf);
                }
                Class::Other => {
                    self.counters.bump(Counter::DropUnknownFrame);
                    if tracing {
                        self.trace(&mbuf, class, Outcome::Dropped(Counter::DropUnknownFrame));
                    }
                }
            }
        }
        // The ingress interface as it is for this burst (sets change only between bursts).
        let (instance, eid_mac, eid_vlan, eid_port) = {
            let interface = &self.eid.set.interfaces[ingress];
            (
                interface.instance,
                interface.mac,
                interface.vlan,
                interface.port,
            )
        };
        let mut verdicts = [ItrVerdict::Drop(Counter::DropMalformed); MAX_BURST];
        let n = itr.len();
        let now = dpdk_bindings::time::tsc();
        {
            let mut ctx = ItrContext {
                ingress: instance,
                map_cache: self.map_cache.view(&self.reader),
                database: self.database.view(&self.reader),
                local: &self.local,
                config: &self.config,
                counters: &self.counters,
                nonces: &mut self.nonces,
                echo: &self.echo,
                misses: &mut self.misses,
            };
            encapsulate_burst(&mut ctx, itr.as_mut_slice(), &mut verdicts[..n]);
        }
        if self.misses.has_any() {
            self.report_misses(ingress, now, &mut punt);
        }
        let mut to_rloc = Outgoing::new(Direction::Rloc);
        let mut to_eid = Outgoing::new(Direction::Eid);
        let mut encapsulated = 0;
        for (i, mut mbuf) in itr.drain().enumerate() {
            if tracing {
                self.tracer.record(TraceRecord {
                    port: mbuf.input_port(),
                    length: lengths[i],
                    class: Class::Ip,
                    outcome: verdicts[i].into(),
                });
            }
            // Verdicts are matched where they lie: a copy of one written moments ago (an
            // `IpAddr` inside, stored byte-wise) stalls on store forwarding.
            if let ItrVerdict::Punt { destination } = verdicts[i] {
                self.punt_miss(
                    mbuf,
                    (instance.table, destination),
                    offsets[i],
                    now,
                    &mut punt,
                );
                continue;
            }
            match verdicts[i] {
                ItrVerdict::Encapsulated { rloc } => {
                    encapsulated += 1;
                    let uplink = self.local.uplink(rloc.is_ipv6()).port;
                    self.forward(mbuf, rloc, uplink, &mut to_rloc)
                }
                ItrVerdict::TooBig { .. } => {
                    if push_ethernet(&mut mbuf, sources[i], eid_mac, eid_vlan) {
                        to_eid.switch(eid_port, &mut self.eid.ports, &self.counters);
                        let _ = to_eid.burst.push(mbuf);
                    }
                }
                ItrVerdict::Local { destination } => {
                    let interface = self.eid_interface_for(instance.table, destination);
                    self.forward(mbuf, destination, interface, &mut to_eid)
                }
                ItrVerdict::NativeForward { destination } => {
                    let uplink = self.local.uplink(destination.is_ipv6()).port;
                    self.forward(mbuf, destination, uplink, &mut to_rloc)
                }
                ItrVerdict::Punt { .. } | ItrVerdict::Drop(_) => {}
            }
        }
        if encapsulated > 0 {
            self.instance_counters
                .add_encapsulated(instance.table, encapsulated);
        }
        to_rloc.transmit(&mut self.rloc.ports, &self.counters);
        to_eid.transmit(&mut self.eid.ports, &self.counters);
        self.punt(&mut punt);
    }

    /// A map-cache miss without a PETR: the whole frame (its Ethernet header is `l2_len` bytes
    /// before the data, still in the headroom) goes to the control core, at most once per
    /// destination prefix of the instance (table) per interval.
    fn punt_miss(
        &mut self,
        mut mbuf: Mbuf,
        (table, destination): (usize, IpAddr),
        l2_len: usize,
        now: u64,
        punt: &mut MbufBurst,
    ) {
        if !self.punt_limiter.allow(table, destination, now) {
            self.counters.bump(Counter::DropPuntRateLimited);
            return;
        }
        if PacketBuffer::prepend(&mut mbuf, l2_len).is_some() {
            let _ = punt.push(mbuf);
        }
    }

    /// Reports the misses the burst sent to the PETR, at most once per destination prefix per
    /// interval: a frame with just the IP header (source and destination are all the control
    /// core reads), marked as received on the EID interface (port and VLAN).
    #[cold]
    fn report_misses(&mut self, ingress: usize, now: u64, punt: &mut MbufBurst) {
        let interface = &self.eid.set.interfaces[ingress];
        let (vlan, table) = (interface.vlan, interface.instance.table);
        let eid_port = self.eid.ports[interface.port]
            .rx
            .first()
            .map(|q| q.port().raw());
        for (source, destination) in self.misses.drain() {
            if !self.punt_limiter.allow(table, destination, now) {
                self.counters.bump(Counter::DropPuntRateLimited);
                continue;
            }
            match (miss_report(&self.pool, vlan, source, destination), eid_port) {
                (Some(mut report), Some(port)) => {
                    report.set_input_port(port);
                    let _ = punt.push(report);
                }
                _ => self.counters.bump(Counter::DropPoolEmpty),
            }
        }
    }

    /// ETR direction: LISP data is decapsulated (and, by an RTR, encapsulated again); control
    /// traffic is punted; anything else dropped.
    fn handle_rloc_burst(&mut self, rx: &mut MbufBurst) {
        let mut punt = MbufBurst::new();
        let mut again = MbufBurst::new();
        let mut to_eid = Outgoing::new(Direction::Eid);
        let mut to_rloc = Outgoing::new(Direction::Rloc);
        let tracing = self.tracer.active();
        for mut mbuf in rx.drain() {
            let (class, l3) = classify(mbuf.data(), &self.local);
            let length = if tracing { mbuf.data().len() as u16 } else { 0 };
            match class {
                Class::LispData => {
                    PacketBuffer::trim_front(&mut mbuf, l3);
                    let verdict = {
                        let mut ctx = EtrContext {
                            database: self.database.view(&self.reader),
                            instances: &self.instances,
                            local: &self.local,
                            counters: &self.counters,
                            feedback: &mut self.feedback,
                            echo: &self.echo,
                            proxy_etr: self.config.proxy_etr,
                            proxy_etr_allowed: &self.config.proxy_etr_allowed,
                            reencapsulate: self.config.reencapsulate,
                        };
                        decapsulate(&mut ctx, &mut mbuf)
                    };
                    if tracing {
                        self.tracer.record(TraceRecord {
                            port: mbuf.input_port(),
                            length,
                            class,
                            outcome: verdict.into(),
                        });
                    }
                    match verdict {
                        EtrVerdict::Decapsulated { destination, table } => {
                            self.instance_counters.add_decapsulated(table, 1);
                            let interface = self.eid_interface_for(table, destination);
                            self.forward(mbuf, destination, interface, &mut to_eid);
                        }
                        EtrVerdict::NativeForward { destination } => {
                            let uplink = self.local.uplink(destination.is_ipv6()).port;
                            self.forward(mbuf, destination, uplink, &mut to_rloc);
                        }
                        EtrVerdict::Reencapsulate { .. } => {
                            let _ = again.push(mbuf);
                        }
                        EtrVerdict::ToControl => {
                            if push_ethernet(&mut mbuf, [0; 6], [0; 6], None) {
                                let _ = punt.push(mbuf);
                            }
                        }
                        EtrVerdict::Drop(_) => {}
                    }
                }
                Class::Arp
                | Class::NeighbourDiscovery
                | Class::LispControl
                | Class::FragmentToUs => {
                    self.counters.bump(Counter::PuntControl);
                    if tracing {
                        self.trace(&mbuf, class, Outcome::Punted);
                    }
                    let _ = punt.push(mbuf);
                }
                Class::Ip | Class::Other => {
                    self.counters.bump(Counter::DropUnknownFrame);
                    if tracing {
                        self.trace(&mbuf, class, Outcome::Dropped(Counter::DropUnknownFrame));
                    }
                }
            }
        }
        if !again.is_empty() {
            self.reencapsulate(&mut again, &mut to_rloc, &mut punt);
        }
        to_eid.transmit(&mut self.eid.ports, &self.counters);
        to_rloc.transmit(&mut self.rloc.ports, &self.counters);
        self.punt(&mut punt);
    }

    /// RTR: decapsulated packets for remote EIDs are encapsulated again as one burst, by the
    /// map-cache, from any source. A miss is punted for resolution (an RTR has no PETR to
    /// send it to meanwhile); what cannot be encapsulated again is dropped and counted.
    fn reencapsulate(
        &mut self,
        again: &mut MbufBurst,
        to_rloc: &mut Outgoing,
        punt: &mut MbufBurst,
    ) {
        let config = PathConfig {
            require_local_source: false,
            rtr: None,
            petr_for_misses: false,
            ..*self.config
        };
        let mut verdicts = [ItrVerdict::Drop(Counter::DropMalformed); MAX_BURST];
        let n = again.len();
        {
            let mut ctx = ItrContext {
                ingress: LocalEid::default(),
                map_cache: self.map_cache.view(&self.reader),
                database: self.database.view(&self.reader),
                local: &self.local,
                config: &config,
                counters: &self.counters,
                nonces: &mut self.nonces,
                echo: &self.echo,
                misses: &mut self.misses,
            };
            encapsulate_burst(&mut ctx, again.as_mut_slice(), &mut verdicts[..n]);
        }
        let now = time::tsc();
        for (i, mut mbuf) in again.drain().enumerate() {
            match verdicts[i] {
                ItrVerdict::Encapsulated { rloc } => {
                    self.counters.bump(Counter::RtrReencapsulated);
                    let uplink = self.local.uplink(rloc.is_ipv6()).port;
                    self.forward(mbuf, rloc, uplink, to_rloc);
                }
                ItrVerdict::NativeForward { destination } => {
                    let uplink = self.local.uplink(destination.is_ipv6()).port;
                    self.forward(mbuf, destination, uplink, to_rloc);
                }
                ItrVerdict::Punt { destination } => {
                    if push_ethernet(&mut mbuf, [0; 6], [0; 6], None) {
                        self.punt_miss(mbuf, (0, destination), 0, now, punt);
                    }
                }
                ItrVerdict::TooBig { .. } | ItrVerdict::Local { .. } => {
                    self.counters.bump(Counter::DropRtrNotForwarded);
                }
                ItrVerdict::Drop(_) => {}
            }
        }
    }

    /// Records a frame that is not forwarded (punted or dropped at classification).
    #[cold]
    fn trace(&self, mbuf: &Mbuf, class: Class, outcome: Outcome) {
        self.tracer.record(TraceRecord {
            port: mbuf.input_port(),
            length: mbuf.data().len() as u16,
            class,
            outcome,
        });
    }

    /// Adds the Ethernet header (and VLAN tag) toward `destination`'s next hop on `interface`
    /// of `out`'s side and queues the packet.
    /// Inlined: `destination` would otherwise be passed through a fresh stack copy and read back
    /// word-wise (a store-forwarding stall per packet).
    #[inline(always)]
    fn forward(
        &mut self,
        mut mbuf: dpdk_bindings::Mbuf,
        destination: IpAddr,
        interface: usize,
        out: &mut Outgoing,
    ) {
        let side = match out.side {
            Direction::Eid => &mut self.eid,
            Direction::Rloc => &mut self.rloc,
        };
        let Some(via) = side.set.interfaces.get(interface) else {
            self.counters.bump(Counter::DropNoNeighbour);
            return;
        };
        out.switch(via.port, &mut side.ports, &self.counters);
        let wanted = AddressWords::from(destination);
        let mac = match out.last_hop {
            Some((last_interface, last, mac)) if last == wanted && last_interface == interface => {
                mac
            }
            _ => match side.macs.resolve(interface, &via.neighbours, destination) {
                Ok(mac) => {
                    out.last_hop = Some((interface, wanted, mac));
                    mac
                }
                Err(missing) => {
                    if let NoMac::Unresolved(next_hop) = missing {
                        via.wanted.want(next_hop);
                    }
                    self.counters.bump(Counter::DropNoNeighbour);
                    return;
                }
            },
        };
        if push_ethernet(&mut mbuf, mac, via.mac, via.vlan) {
            let _ = out.burst.push(mbuf);
        } else {
            self.counters.bump(Counter::DropNoHeadroom);
        }
    }
}

/// Which side a packet leaves by.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Eid,
    Rloc,
}
