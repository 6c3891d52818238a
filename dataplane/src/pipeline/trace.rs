//! Packet trace (`lispctl trace N`, like VPP's `trace add`): the next N packets the data cores
//! handle are recorded with what became of them, for the control core to report. Off, it costs
//! a data core one relaxed load per burst; on, one record per packet in a bounded lock-free
//! queue (records that do not fit are lost, never waited for).

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};

use crossbeam::queue::ArrayQueue;

use super::{Class, Counter, EtrVerdict, ItrVerdict};

/// Records that wait for the control core, at most.
const CAPACITY: usize = 4096;

/// What became of a traced packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Encapsulated {
        rloc: IpAddr,
    },
    Decapsulated {
        destination: IpAddr,
    },
    NativeForward {
        destination: IpAddr,
    },
    /// Decapsulated by an RTR, to be encapsulated again toward `destination`'s locator.
    Reencapsulate {
        destination: IpAddr,
    },
    /// To one of our own EIDs, without encapsulation.
    Local {
        destination: IpAddr,
    },
    /// Answered with ICMP too-big.
    TooBig,
    /// Handed to the control core (control traffic, a miss to resolve).
    Punted,
    Dropped(Counter),
}

impl Outcome {
    /// The outcome's name, and the address it went to if any.
    pub fn describe(self) -> (&'static str, Option<IpAddr>) {
        match self {
            Self::Encapsulated { rloc } => ("encapsulated", Some(rloc)),
            Self::Decapsulated { destination } => ("decapsulated", Some(destination)),
            Self::NativeForward { destination } => ("native-forward", Some(destination)),
            Self::Reencapsulate { destination } => ("re-encapsulate", Some(destination)),
            Self::Local { destination } => ("local", Some(destination)),
            Self::TooBig => ("icmp-too-big", None),
            Self::Punted => ("punted", None),
            Self::Dropped(counter) => (counter.name(), None),
        }
    }
}

impl From<ItrVerdict> for Outcome {
    fn from(verdict: ItrVerdict) -> Self {
        match verdict {
            ItrVerdict::Encapsulated { rloc } => Self::Encapsulated { rloc },
            ItrVerdict::TooBig { .. } => Self::TooBig,
            ItrVerdict::NativeForward { destination } => Self::NativeForward { destination },
            ItrVerdict::Local { destination } => Self::Local { destination },
            ItrVerdict::Punt { .. } => Self::Punted,
            ItrVerdict::Drop(counter) => Self::Dropped(counter),
        }
    }
}

impl From<EtrVerdict> for Outcome {
    fn from(verdict: EtrVerdict) -> Self {
        match verdict {
            EtrVerdict::Decapsulated { destination, .. } => Self::Decapsulated { destination },
            EtrVerdict::NativeForward { destination } => Self::NativeForward { destination },
            EtrVerdict::Reencapsulate { destination } => Self::Reencapsulate { destination },
            EtrVerdict::ToControl => Self::Punted,
            EtrVerdict::Drop(counter) => Self::Dropped(counter),
        }
    }
}

/// One traced packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRecord {
    /// The DPDK port it arrived on.
    pub port: u16,
    /// Its length as received.
    pub length: u16,
    pub class: Class,
    pub outcome: Outcome,
}

/// The trace shared by the control core and every data core.
#[derive(Debug)]
pub struct Tracer {
    /// Packets still to trace (may go below zero while cores race for the last ones).
    remaining: AtomicI64,
    records: ArrayQueue<TraceRecord>,
}

impl Default for Tracer {
    fn default() -> Self {
        Self {
            remaining: AtomicI64::new(0),
            records: ArrayQueue::new(CAPACITY),
        }
    }
}

impl Tracer {
    /// Whether packets are being traced: read once per burst.
    #[inline]
    pub fn active(&self) -> bool {
        self.remaining.load(Ordering::Relaxed) > 0
    }

    /// Records `record` if the trace still wants packets.
    #[cold]
    pub fn record(&self, record: TraceRecord) {
        if self.remaining.fetch_sub(1, Ordering::Relaxed) > 0 {
            let _ = self.records.push(record);
        }
    }

    /// Traces the next `count` packets, forgetting an earlier trace's records.
    pub fn start(&self, count: u32) {
        while self.records.pop().is_some() {}
        self.remaining.store(i64::from(count), Ordering::Relaxed);
    }

    /// Stops tracing.
    pub fn stop(&self) {
        self.remaining.store(0, Ordering::Relaxed);
    }

    /// The next record, oldest first.
    pub fn take(&self) -> Option<TraceRecord> {
        self.records.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(port: u16) -> TraceRecord {
        TraceRecord {
            port,
            length: 64,
            class: Class::Ip,
            outcome: Outcome::Punted,
        }
    }

    #[test]
    fn records_exactly_the_packets_asked_for() {
        let tracer = Tracer::default();
        assert!(!tracer.active());
        tracer.record(record(9));
        assert_eq!(tracer.take(), None, "nothing while off");
        tracer.start(3);
        for port in 0..5 {
            if tracer.active() {
                tracer.record(record(port));
            }
        }
        assert!(!tracer.active());
        let ports: Vec<u16> = std::iter::from_fn(|| tracer.take())
            .map(|r| r.port)
            .collect();
        assert_eq!(ports, [0, 1, 2]);
        tracer.start(1);
        tracer.stop();
        assert!(!tracer.active());
    }
}
