//! The traffic generator: two `net_memif` server ports (the DUT's EID side and RLOC side), one
//! lcore that transmits stamped frames on one side and receives on the other, either as fast as
//! the DUT takes them or paced, and counts what comes back and how late.

use std::path::Path;
use std::time::{Duration, Instant};

use dpdk_bindings::{
    attach_vdev, time, Eal, MbufBurst, Mempool, MempoolConfig, Port, PortConfig, RxQueue, TxQueue,
    MAX_BURST,
};
use hdrhistogram::Histogram;

use super::frames::{read_stamp, stamp, Expect, Link};
use super::memif_devargs;

/// Queues the generator opens per port: at least as many as the DUT transmits on (lispd has one
/// TX queue per data core plus the control core's), since a memif client's TX queues are the
/// server's RX queues.
pub const QUEUES: u16 = 2;

/// One memif link to the DUT, seen from the generator.
struct Side {
    port: Port,
    tx: TxQueue,
    rx: Vec<RxQueue>,
}

/// Which port the traffic enters the DUT on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// EID frames into the EID port, encapsulated frames out of the RLOC port.
    Itr,
    /// Encapsulated frames into the RLOC port, EID frames out of the EID port.
    Etr,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Self::Itr => "itr",
            Self::Etr => "etr",
        }
    }
}

/// Frames to send in one direction and what must come back.
pub struct Traffic<'a> {
    pub direction: Direction,
    pub templates: &'a [Vec<u8>],
    pub expect: Expect,
}

/// What one run of the generator saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub sent: u64,
    pub received: u64,
    /// Frames that came back without our stamp or in the wrong shape.
    pub unexpected: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.sent += other.sent;
        self.received += other.received;
        self.unexpected += other.unexpected;
    }
}

pub struct Generator {
    pool: Mempool,
    eid: Side,
    rloc: Side,
    hz: u64,
    next_template: usize,
}

impl Generator {
    /// Opens the EID-side (`memif` id 0) and RLOC-side (id 1) server ports on `socket`.
    pub fn new(eal: &Eal, socket: &Path, eid: Link, rloc: Link) -> Result<Self, String> {
        let pool = Mempool::new(eal, "line_generator", MempoolConfig::default())
            .map_err(|e| e.to_string())?;
        let open = |id: u8, link: Link| -> Result<Side, String> {
            let port_id = attach_vdev(eal, &memif_devargs(socket, id, "server", link.generator))
                .map_err(|e| e.to_string())?;
            let config = PortConfig {
                rx_queues: QUEUES,
                tx_queues: QUEUES,
                ..PortConfig::default()
            };
            let mut port =
                Port::configure(eal, port_id, &pool, config).map_err(|e| e.to_string())?;
            port.start().map_err(|e| e.to_string())?;
            let tx = port.tx_queue(0).map_err(|e| e.to_string())?;
            let rx = (0..QUEUES)
                .map(|q| port.rx_queue(q))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            Ok(Side { port, tx, rx })
        };
        let eid = open(0, eid)?;
        let rloc = open(1, rloc)?;
        Ok(Self {
            pool,
            eid,
            rloc,
            hz: time::tsc_hz(eal),
            next_template: 0,
        })
    }

    /// Waits until a DUT has connected to both ports.
    pub fn wait_for_links(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let up = |side: &Side| side.port.link_status().is_ok_and(|l| l.up);
            if up(&self.eid) && up(&self.rloc) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the DUT did not connect to both memif ports within {timeout:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn tsc_hz(&self) -> u64 {
        self.hz
    }

    /// Sends `traffic` for `duration`, a burst every `burst_gap` TSC cycles (as fast as the DUT
    /// takes them when `None`), then listens a little longer for what is still in flight.
    /// Latencies of matching frames go into `latency` (nanoseconds) when given.
    pub fn drive(
        &mut self,
        traffic: &Traffic<'_>,
        duration: Duration,
        burst_gap: Option<u64>,
        mut latency: Option<&mut Histogram<u64>>,
    ) -> Result<Counts, String> {
        let (input, output) = match traffic.direction {
            Direction::Itr => (&mut self.eid, &mut self.rloc),
            Direction::Etr => (&mut self.rloc, &mut self.eid),
        };
        let mut counts = Counts::default();
        let mut pending = MbufBurst::new();
        let mut received = MbufBurst::new();
        let start = time::tsc();
        let send_until = start + cycles(self.hz, duration);
        let listen_until = send_until + cycles(self.hz, Duration::from_millis(50));
        let mut next_send = start;
        loop {
            let now = time::tsc();
            if now >= listen_until {
                break;
            }
            let sending = now < send_until;
            if sending && pending.is_empty() && burst_gap.is_none_or(|_| now >= next_send) {
                self.pool
                    .alloc_bulk(&mut pending, MAX_BURST)
                    .map_err(|e| e.to_string())?;
                for mbuf in pending.as_mut_slice() {
                    let template = &traffic.templates[self.next_template];
                    self.next_template = (self.next_template + 1) % traffic.templates.len();
                    mbuf.write_packet(template)
                        .ok_or("a template does not fit an mbuf")?;
                    stamp(mbuf.data_mut(), now);
                }
                if let Some(gap) = burst_gap {
                    next_send += gap;
                }
            }
            if sending {
                counts.sent += input.tx.tx_burst(&mut pending) as u64;
            }
            for rx in output.rx.iter_mut().chain(input.rx.iter_mut()) {
                if rx.rx_burst(&mut received) == 0 {
                    continue;
                }
                let arrived = time::tsc();
                for mbuf in received.as_slice() {
                    let frame = mbuf.data();
                    let stamped = read_stamp(frame).filter(|_| traffic.expect.matches(frame));
                    let (Some(sent_at), true) = (stamped, rx.port() == output.port.id()) else {
                        counts.unexpected += 1;
                        continue;
                    };
                    counts.received += 1;
                    if let Some(histogram) = latency.as_deref_mut() {
                        let nanos = arrived.saturating_sub(sent_at) as u128 * 1_000_000_000
                            / u128::from(self.hz);
                        histogram.saturating_record(nanos as u64);
                    }
                }
                received.free_all();
            }
        }
        pending.free_all();
        Ok(counts)
    }
}

fn cycles(hz: u64, duration: Duration) -> u64 {
    (duration.as_secs_f64() * hz as f64) as u64
}
