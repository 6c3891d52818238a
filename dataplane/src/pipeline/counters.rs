//! Per-core counters: one cache-line-aligned block per data core, written only by that core
//! (load + store, no read-modify-write), summed when read.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam::utils::CachePadded;

/// Everything a data core counts: every verdict and every drop reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Counter {
    Encapsulated,
    Decapsulated,
    TooBigSent,
    NativeForward,
    PuntMapCacheMiss,
    PuntSendMapRequest,
    DropMalformed,
    DropNotLocalSource,
    DropNegativeEntry,
    DropNoReachableLocator,
    DropNoLocalRloc,
    DropTooBigNoDf,
    DropNoHeadroom,
    DropBadOuterChecksum,
    DropNotOurRloc,
    DropNotLispData,
    DropBadLispHeader,
    DropNotOurEid,
    DropInstanceMismatch,
    PuntControl,
    DropUnknownFrame,
    DropNoNeighbour,
    DropTxFull,
    DropPuntRingFull,
    DropPuntRateLimited,
    DeliveredLocally,
    DropTtlExpired,
    MissToPetr,
    DropPoolEmpty,
    /// Packets received from both ports.
    Received,
    /// TSC cycles spent in polls that received something (testpmd's `--record-core-cycles`):
    /// with `Received` it gives cycles per packet, however idle the core is.
    BusyCycles,
}

impl Counter {
    pub const ALL: [Counter; 31] = [
        Counter::Encapsulated,
        Counter::Decapsulated,
        Counter::TooBigSent,
        Counter::NativeForward,
        Counter::PuntMapCacheMiss,
        Counter::PuntSendMapRequest,
        Counter::DropMalformed,
        Counter::DropNotLocalSource,
        Counter::DropNegativeEntry,
        Counter::DropNoReachableLocator,
        Counter::DropNoLocalRloc,
        Counter::DropTooBigNoDf,
        Counter::DropNoHeadroom,
        Counter::DropBadOuterChecksum,
        Counter::DropNotOurRloc,
        Counter::DropNotLispData,
        Counter::DropBadLispHeader,
        Counter::DropNotOurEid,
        Counter::DropInstanceMismatch,
        Counter::PuntControl,
        Counter::DropUnknownFrame,
        Counter::DropNoNeighbour,
        Counter::DropTxFull,
        Counter::DropPuntRingFull,
        Counter::DropPuntRateLimited,
        Counter::DeliveredLocally,
        Counter::DropTtlExpired,
        Counter::MissToPetr,
        Counter::DropPoolEmpty,
        Counter::Received,
        Counter::BusyCycles,
    ];

    /// The name used in metrics and `lispctl show stats`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Encapsulated => "encapsulated",
            Self::Decapsulated => "decapsulated",
            Self::TooBigSent => "icmp_too_big_sent",
            Self::NativeForward => "native_forward",
            Self::PuntMapCacheMiss => "punt_map_cache_miss",
            Self::PuntSendMapRequest => "punt_send_map_request",
            Self::DropMalformed => "drop_malformed",
            Self::DropNotLocalSource => "drop_not_local_source",
            Self::DropNegativeEntry => "drop_negative_entry",
            Self::DropNoReachableLocator => "drop_no_reachable_locator",
            Self::DropNoLocalRloc => "drop_no_local_rloc",
            Self::DropTooBigNoDf => "drop_too_big_no_df",
            Self::DropNoHeadroom => "drop_no_headroom",
            Self::DropBadOuterChecksum => "drop_bad_outer_checksum",
            Self::DropNotOurRloc => "drop_not_our_rloc",
            Self::DropNotLispData => "drop_not_lisp_data",
            Self::DropBadLispHeader => "drop_bad_lisp_header",
            Self::DropNotOurEid => "drop_not_our_eid",
            Self::DropInstanceMismatch => "drop_instance_mismatch",
            Self::PuntControl => "punt_control",
            Self::DropUnknownFrame => "drop_unknown_frame",
            Self::DropNoNeighbour => "drop_no_neighbour",
            Self::DropTxFull => "drop_tx_full",
            Self::DropPuntRingFull => "drop_punt_ring_full",
            Self::DropPuntRateLimited => "drop_punt_rate_limited",
            Self::DeliveredLocally => "delivered_locally",
            Self::DropTtlExpired => "drop_ttl_expired",
            Self::MissToPetr => "miss_to_petr",
            Self::DropPoolEmpty => "drop_pool_empty",
            Self::Received => "received",
            Self::BusyCycles => "busy_cycles",
        }
    }
}

const COUNT: usize = Counter::ALL.len();

/// One data core's counters.
#[derive(Debug)]
pub struct CoreCounters(CachePadded<[AtomicU64; COUNT]>);

impl Default for CoreCounters {
    fn default() -> Self {
        Self(CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
    }
}

impl CoreCounters {
    /// Adds one; only the owning core calls this.
    #[inline]
    pub fn bump(&self, counter: Counter) {
        self.add(counter, 1);
    }

    /// Adds `n`; only the owning core calls this.
    #[inline]
    pub fn add(&self, counter: Counter, n: u64) {
        let slot = &self.0[counter as usize];
        slot.store(slot.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    pub fn get(&self, counter: Counter) -> u64 {
        self.0[counter as usize].load(Ordering::Relaxed)
    }
}

/// The sum of `counter` over every core.
pub fn total<'a>(cores: impl IntoIterator<Item = &'a CoreCounters>, counter: Counter) -> u64 {
    cores.into_iter().map(|c| c.get(counter)).sum()
}
