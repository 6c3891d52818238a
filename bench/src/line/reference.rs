//! The reference forwarder: a minimal ITR and ETR written the way a DPDK engineer writes one
//! from DPDK's parts (l3fwd-style), in the same ring harness as lispd's data core. ITR: rx
//! burst, `rte_fib` bulk lookups of the sources in the database and of the destinations in the
//! map-cache, a precomputed Ethernet+IPv4+UDP+LISP template for the next hop prepended, lengths
//! and the IPv4 checksum patched, tx burst. ETR: check the outer IPv4/UDP/LISP, bulk lookup of the
//! inner destinations in the database, strip the outer headers, rewrite Ethernet, tx burst.
//! lispd does more per packet (flow hash and weighted RLOC choice, nonce, TTL/DSCP copy,
//! locator-status bits, echo-nonce, counters); the goal is that it costs no more.

use dataplane::wire::checksum::{finish, sum};
use dpdk_bindings::{Eal, Fib4, MbufBurst, RxQueue, TxQueue, MAX_BURST};
use ipnet::Ipv4Net;

use super::frames::Link;
use super::World;

const ETHERNET: usize = 14;
/// Ethernet, IPv4, UDP and LISP headers of an encapsulated frame.
const OUTER: usize = ETHERNET + 20 + 8 + 8;
const LISP_DATA_PORT: u16 = 4341;

/// The outer headers toward one next hop, and the IPv4 header's checksum sum without its
/// length (added per packet).
struct Template {
    headers: [u8; OUTER],
    partial_sum: u64,
}

impl Template {
    fn new(world: &World<'_>, link: Link) -> Self {
        let mut headers = [0u8; OUTER];
        headers[..6].copy_from_slice(&link.generator);
        headers[6..12].copy_from_slice(&link.dut);
        headers[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut headers[ETHERNET..ETHERNET + 20];
        ip[0] = 0x45;
        ip[6] = 0x40; // don't fragment
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&world.rloc.octets());
        ip[16..20].copy_from_slice(&world.remote_rloc.octets());
        let partial_sum = sum(ip);
        let udp = &mut headers[ETHERNET + 20..ETHERNET + 28];
        udp[..2].copy_from_slice(&0xc000u16.to_be_bytes());
        udp[2..4].copy_from_slice(&LISP_DATA_PORT.to_be_bytes());
        headers[ETHERNET + 28] = 0x80; // N bit: a nonce follows (zero here)
        Self {
            headers,
            partial_sum,
        }
    }
}

/// A FIB named `name` with room for `tbl8_groups` second-level groups, routing each of
/// `prefixes` to next hop 1 (the references have one next hop; 0 is a miss).
fn fib(eal: &Eal, name: &str, prefixes: &[Ipv4Net], tbl8_groups: u32) -> Result<Fib4, String> {
    let mut fib =
        Fib4::new(eal, name, prefixes.len() as i32 + 16, tbl8_groups).map_err(|e| e.to_string())?;
    for prefix in prefixes {
        fib.add(u32::from(prefix.network()), prefix.prefix_len(), 1)
            .map_err(|e| e.to_string())?;
    }
    Ok(fib)
}

/// A pair of queues a forwarder receives from and transmits to.
pub struct Queues {
    pub rx: RxQueue,
    pub tx: TxQueue,
}

/// The reference ITR.
pub struct ReferenceItr {
    database: Fib4,
    map_cache: Fib4,
    /// Next hop `n` (FIB value `n + 1`; 0 is a miss) is `templates[n]`.
    templates: Vec<Template>,
    /// Each pair polled in turn (a memif port has one per generator queue).
    queues: Vec<Queues>,
    burst: MbufBurst,
}

impl ReferenceItr {
    pub fn new(
        eal: &Eal,
        world: &World<'_>,
        link: Link,
        queues: Vec<Queues>,
    ) -> Result<Self, String> {
        let database = fib(eal, "reference_db", &[world.eid_prefix], 1 << 15)?;
        let map_cache = fib(eal, "reference_map_cache", world.map_cache, 1 << 15)?;
        Ok(Self {
            database,
            map_cache,
            templates: vec![Template::new(world, link)],
            queues,
            burst: MbufBurst::new(),
        })
    }

    /// Cycles per key of the map-cache FIB's bulk lookup alone, over the destinations of
    /// `frames` in bursts of 32: the floor under the ITR's figure, for a reader to check.
    pub fn lookup_cycles(&self, frames: &[Vec<u8>]) -> f64 {
        let keys: Vec<u32> = frames
            .iter()
            .filter_map(|f| f.get(ETHERNET + 16..ETHERNET + 20))
            .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
            .collect();
        let mut next_hops = [0u64; MAX_BURST];
        let rounds = 2000;
        let start = dpdk_bindings::time::tsc();
        for _ in 0..rounds {
            for chunk in keys.chunks(MAX_BURST) {
                let _ = self
                    .map_cache
                    .lookup_bulk(chunk, &mut next_hops[..chunk.len()]);
            }
        }
        (dpdk_bindings::time::tsc() - start) as f64 / (rounds * keys.len().max(1)) as f64
    }

    /// One burst from each queue pair; returns how many frames arrived.
    pub fn poll(&mut self) -> usize {
        (0..self.queues.len()).map(|q| self.poll_queue(q)).sum()
    }

    fn poll_queue(&mut self, q: usize) -> usize {
        let burst = &mut self.burst;
        let n = self.queues[q].rx.rx_burst(burst);
        if n == 0 {
            return 0;
        }
        let (mut sources, mut destinations) = ([0u32; MAX_BURST], [0u32; MAX_BURST]);
        for (i, mbuf) in burst.as_mut_slice().iter().enumerate() {
            let ip = mbuf.data().get(ETHERNET..ETHERNET + 20).unwrap_or(&[0; 20]);
            sources[i] = u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]);
            destinations[i] = u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]);
        }
        let (mut local, mut next_hops) = ([0u64; MAX_BURST], [0u64; MAX_BURST]);
        let looked_up = self
            .database
            .lookup_bulk(&sources[..n], &mut local[..n])
            .and_then(|()| {
                self.map_cache
                    .lookup_bulk(&destinations[..n], &mut next_hops[..n])
            });
        if looked_up.is_err() {
            burst.free_all();
            return n;
        }
        let templates = &self.templates;
        let mut i = 0;
        burst.retain(
            |mbuf| {
                let (is_local, next_hop) = (local[i], next_hops[i]);
                i += 1;
                let Some(template) = templates.get((next_hop as usize).wrapping_sub(1)) else {
                    return false;
                };
                if is_local == 0 {
                    return false;
                }
                let inner = mbuf.data().len() - ETHERNET;
                let Some(frame) = mbuf.prepend(OUTER - ETHERNET) else {
                    return false;
                };
                frame[..OUTER].copy_from_slice(&template.headers);
                let total = (20 + 8 + 8 + inner) as u16;
                frame[ETHERNET + 2..ETHERNET + 4].copy_from_slice(&total.to_be_bytes());
                let checksum = finish(template.partial_sum + u64::from(total));
                frame[ETHERNET + 10..ETHERNET + 12].copy_from_slice(&checksum.to_be_bytes());
                frame[ETHERNET + 24..ETHERNET + 26].copy_from_slice(&(total - 20).to_be_bytes());
                true
            },
            drop,
        );
        self.queues[q].tx.tx_burst(burst);
        burst.free_all();
        n
    }
}

/// The reference ETR.
pub struct ReferenceEtr {
    database: Fib4,
    rloc: [u8; 4],
    /// Next hop `n` (FIB value `n + 1`) is reached at `macs[n]`, from `our_mac`.
    macs: Vec<[u8; 6]>,
    our_mac: [u8; 6],
    /// Each pair polled in turn.
    queues: Vec<Queues>,
    burst: MbufBurst,
}

impl ReferenceEtr {
    pub fn new(
        eal: &Eal,
        world: &World<'_>,
        link: Link,
        queues: Vec<Queues>,
    ) -> Result<Self, String> {
        let database = fib(eal, "reference_etr_db", &[world.eid_prefix], 16)?;
        Ok(Self {
            database,
            rloc: world.rloc.octets(),
            macs: vec![link.generator],
            our_mac: link.dut,
            queues,
            burst: MbufBurst::new(),
        })
    }

    /// One burst from each queue pair; returns how many frames arrived.
    pub fn poll(&mut self) -> usize {
        (0..self.queues.len()).map(|q| self.poll_queue(q)).sum()
    }

    fn poll_queue(&mut self, q: usize) -> usize {
        let burst = &mut self.burst;
        let n = self.queues[q].rx.rx_burst(burst);
        if n == 0 {
            return 0;
        }
        let rloc = self.rloc;
        let mut destinations = [0u32; MAX_BURST];
        let mut lisp = [false; MAX_BURST];
        for (i, mbuf) in burst.as_mut_slice().iter().enumerate() {
            let Some(frame) = mbuf.data().get(..OUTER + 20) else {
                continue;
            };
            let ip = &frame[ETHERNET..];
            lisp[i] = frame[12..14] == [0x08, 0x00]
                && ip[0] == 0x45
                && ip[9] == 17
                && ip[16..20] == rloc
                && ip[22..24] == LISP_DATA_PORT.to_be_bytes();
            let inner = &frame[OUTER..];
            destinations[i] = u32::from_be_bytes([inner[16], inner[17], inner[18], inner[19]]);
        }
        let mut next_hops = [0u64; MAX_BURST];
        if self
            .database
            .lookup_bulk(&destinations[..n], &mut next_hops[..n])
            .is_err()
        {
            burst.free_all();
            return n;
        }
        let (macs, our_mac) = (&self.macs, self.our_mac);
        let mut i = 0;
        burst.retain(
            |mbuf| {
                let (is_lisp, next_hop) = (lisp[i], next_hops[i]);
                i += 1;
                let Some(mac) = macs.get((next_hop as usize).wrapping_sub(1)) else {
                    return false;
                };
                if !is_lisp {
                    return false;
                }
                let Some(frame) = mbuf.trim_front(OUTER - ETHERNET) else {
                    return false;
                };
                frame[..6].copy_from_slice(mac);
                frame[6..12].copy_from_slice(&our_mac);
                frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
                true
            },
            drop,
        );
        self.queues[q].tx.tx_burst(burst);
        burst.free_all();
        n
    }
}
