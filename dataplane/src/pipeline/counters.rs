//! Per-core counters: one cache-line-aligned block per data core, written only by that core
//! (load + store, no read-modify-write), summed when read.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam::utils::CachePadded;

/// Declares the counters once: the enum, the list, each one's metric name and help text.
macro_rules! counters {
    ($($variant:ident => $name:literal, $help:literal;)*) => {
        /// Everything a data core counts: every verdict and every drop reason.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum Counter {
            $(#[doc = $help] $variant,)*
        }

        impl Counter {
            pub const ALL: [Counter; [$($name),*].len()] = [$(Counter::$variant),*];

            /// The name used in metrics and `lispctl show stats`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// What it counts, for metric help and documentation.
            pub fn help(self) -> &'static str {
                match self {
                    $(Self::$variant => $help,)*
                }
            }
        }
    };
}

counters! {
    Encapsulated => "encapsulated",
        "Packets encapsulated toward a remote locator (ITR).";
    Decapsulated => "decapsulated",
        "LISP data packets decapsulated for our EIDs (ETR).";
    ProxyEtrForwarded => "proxy_etr_forwarded",
        "LISP data packets decapsulated for non-LISP destinations and forwarded natively (PETR).";
    RtrDecapsulated => "rtr_decapsulated",
        "LISP data packets decapsulated to be encapsulated again toward their EID's locator (RTR).";
    RtrReencapsulated => "rtr_reencapsulated",
        "Packets an RTR encapsulated again (after rtr_decapsulated).";
    DropProxyEtrNotAllowed => "drop_proxy_etr_not_allowed",
        "Dropped by a proxy-ETR: the ITR (outer source) is not in roles.proxy_etr_allowed.";
    DropRtrNotForwarded => "drop_rtr_not_forwarded",
        "Dropped by an RTR: too big for the uplink, or mapped back to one of our locators.";
    DecapsulatedControl => "decapsulated_control",
        "LISP data packets to our own RLOC (a Data-Map-Notify through an RTR), punted to the control core.";
    TooBigSent => "icmp_too_big_sent",
        "ICMP too-big / packet-too-big messages sent for packets that would exceed the RLOC MTU.";
    NativeForward => "native_forward",
        "Packets forwarded natively by a native-forward map-cache entry.";
    PuntMapCacheMiss => "punt_map_cache_miss",
        "Misses punted to the control core for resolution.";
    PuntSendMapRequest => "punt_send_map_request",
        "Packets hitting a send-map-request entry, punted for resolution.";
    DropMalformed => "drop_malformed",
        "Dropped: headers that do not parse.";
    DropNotLocalSource => "drop_not_local_source",
        "Dropped: inner source outside our database.";
    DropNegativeEntry => "drop_negative_entry",
        "Dropped by a negative (drop) map-cache entry.";
    DropNoReachableLocator => "drop_no_reachable_locator",
        "Dropped: every locator of the mapping is down.";
    DropNoLocalRloc => "drop_no_local_rloc",
        "Dropped: no local RLOC of the destination locator's family.";
    DropTooBigNoDf => "drop_too_big_no_df",
        "Dropped: too big for the RLOC MTU (ICMP rate-limited or not possible).";
    DropNoHeadroom => "drop_no_headroom",
        "Dropped: no mbuf headroom for the outer headers.";
    DropBadOuterChecksum => "drop_bad_outer_checksum",
        "Dropped: bad outer UDP checksum.";
    DropNotOurRloc => "drop_not_our_rloc",
        "Dropped: LISP data to an address that is not our RLOC.";
    DropNotLispData => "drop_not_lisp_data",
        "Dropped: not LISP data where LISP data was expected.";
    DropBadLispHeader => "drop_bad_lisp_header",
        "Dropped: LISP header with reserved or inconsistent bits.";
    DropNotOurEid => "drop_not_our_eid",
        "Dropped: decapsulated destination outside our database.";
    DropInstanceMismatch => "drop_instance_mismatch",
        "Dropped: an RTR or proxy-ETR got traffic of an instance other than the default one.";
    DropUnknownInstance => "drop_unknown_instance",
        "Dropped: LISP data with an instance-id we do not serve.";
    PuntControl => "punt_control",
        "Frames punted to the control core (ARP, ND, control messages, fragments to us).";
    DropUnknownFrame => "drop_unknown_frame",
        "Dropped: frames that are none of the above on their port.";
    DropUnknownVlan => "drop_unknown_vlan",
        "Dropped: frames tagged with a VLAN their EID port does not carry.";
    DropNoNeighbour => "drop_no_neighbour",
        "Dropped: next hop's MAC not known yet (resolution asked).";
    DropTxFull => "drop_tx_full",
        "Dropped: the TX queue was full.";
    DropPuntRingFull => "drop_punt_ring_full",
        "Dropped: the punt ring to the control core was full.";
    DropPuntRateLimited => "drop_punt_rate_limited",
        "Misses not punted: the destination was punted within the interval.";
    DeliveredLocally => "delivered_locally",
        "Packets for our own EIDs delivered without encapsulation.";
    DropTtlExpired => "drop_ttl_expired",
        "Dropped: TTL/hop limit expired.";
    MissToPetr => "miss_to_petr",
        "Misses sent to the PETR while resolution runs.";
    DropPoolEmpty => "drop_pool_empty",
        "Dropped: no mbuf for a copy or an ICMP message.";
    Received => "received",
        "Packets received from every port.";
    BusyCycles => "busy_cycles",
        "TSC cycles spent in polls that received something (testpmd's `--record-core-cycles`): with `received` it gives cycles per packet, however idle the core is.";
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
