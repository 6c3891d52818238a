//! The per-packet work of a data core, over any [`PacketBuffer`]: ITR encapsulation and ETR
//! decapsulation at layer 3 (the DPDK loop strips and adds Ethernet around it). No allocation,
//! lock or panic: every packet gets a verdict ([`ItrVerdict`], [`EtrVerdict`]) and a counter.

mod allowed;
mod buffer;
mod classify;
mod counters;
mod echo;
mod etr;
mod feedback;
mod flow;
mod instance_counters;
mod itr;
mod neighbours;
mod ratelimit;
mod trace;

pub use allowed::{AllowedSources, MAX_ALLOWED_SOURCES};
pub use buffer::{PacketBuffer, VecBuffer};
pub use classify::{classify, Class};
pub use counters::{total, CoreCounters, Counter};
pub use echo::EchoNonces;
pub use etr::{decapsulate, EtrContext};
pub use feedback::{feedback_channel, FeedbackReceiver, FeedbackSender, LocatorFeedback};
pub use flow::{inspect, inspect_unhashed, AddressWords, InnerPacket};
pub use instance_counters::InstanceCounters;
pub use itr::{encapsulate, encapsulate_burst, ItrContext, MissLog};
pub use neighbours::{covers, Neighbours, NoMac, WantedNeighbours};
pub use ratelimit::PuntLimiter;
pub use trace::{Outcome, TraceRecord, Tracer};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bytes an ITR prepends: outer IPv4 or IPv6, UDP, LISP.
pub const fn overhead(outer_v6: bool) -> usize {
    if outer_v6 {
        40 + 8 + 8
    } else {
        20 + 8 + 8
    }
}

/// What the ITR decided for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItrVerdict {
    /// Encapsulated toward `rloc`: send on the RLOC side.
    Encapsulated { rloc: IpAddr },
    /// Rewritten in place into an ICMP/ICMPv6 "too big" for its source: send on the EID side.
    TooBig { destination: IpAddr },
    /// Forward without encapsulation (or to the PETR).
    NativeForward { destination: IpAddr },
    /// The selected locator is ours (the EID is in our site, e.g. a VM that moved here): routed
    /// back out of the EID side, TTL decremented, no encapsulation.
    Local { destination: IpAddr },
    /// The control core must act (map-cache miss, send-map-request entry); the packet itself
    /// follows the negative action (dropped, or sent to the PETR).
    Punt { destination: IpAddr },
    /// Dropped; the counter says why.
    Drop(Counter),
}

/// What the ETR decided for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtrVerdict {
    /// Decapsulated for a local EID of the instance whose tables are `table`: send on that
    /// instance's EID side.
    Decapsulated { destination: IpAddr, table: usize },
    /// Proxy-ETR: decapsulated for a destination outside our EIDs (non-LISP space): forward it
    /// natively on the RLOC side.
    NativeForward { destination: IpAddr },
    /// RTR: decapsulated for a destination outside our EIDs: encapsulate it again by the
    /// map-cache.
    Reencapsulate { destination: IpAddr },
    /// Decapsulated for our own RLOC: a control message sent as data (a Data-Map-Notify through
    /// an RTR), for the control core.
    ToControl,
    /// Dropped; the counter says why.
    Drop(Counter),
}

/// The RLOC-side port an outer family leaves by: the one that owns its source RLOC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uplink {
    /// Index among the data core's RLOC-side ports.
    pub port: usize,
    /// The port's MTU: outer packets larger than this are not sent.
    pub mtu: u16,
}

impl Default for Uplink {
    fn default() -> Self {
        Self { port: 0, mtu: 1500 }
    }
}

/// Our RLOCs, the ports they live on, and the addresses we send ICMP errors from. The control
/// core republishes it when an uplink goes down or comes back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalRlocs {
    /// Source of IPv4 outer headers: our best usable IPv4 locator.
    pub v4: Option<Ipv4Addr>,
    /// Source of IPv6 outer headers.
    pub v6: Option<Ipv6Addr>,
    /// Where IPv4 and IPv6 outer packets leave.
    pub uplink_v4: Uplink,
    pub uplink_v6: Uplink,
    /// Every address the ETR accepts LISP data for.
    pub all: Vec<IpAddr>,
    /// Locator-status bits we send (bit i = our locator i is up).
    pub status_bits: u32,
    /// Source of ICMP errors toward IPv4 EIDs (an EID-side port address).
    pub icmp_v4: Option<Ipv4Addr>,
    /// Source of ICMPv6 errors toward IPv6 EIDs.
    pub icmp_v6: Option<Ipv6Addr>,
}

impl LocalRlocs {
    /// True when `address` is one of our RLOCs.
    #[inline]
    pub fn is_ours(&self, address: IpAddr) -> bool {
        self.all.contains(&address)
    }

    /// The uplink outer packets of a family leave by.
    #[inline]
    pub fn uplink(&self, outer_v6: bool) -> Uplink {
        if outer_v6 {
            self.uplink_v6
        } else {
            self.uplink_v4
        }
    }
}

/// Data-path settings from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathConfig {
    /// Send IPv6 outer UDP with checksum 0 (RFC 6935/6936) instead of computing it.
    pub ipv6_zero_checksum: bool,
    /// Encapsulate only packets whose source is one of our EIDs.
    pub require_local_source: bool,
    /// Proxy-ETR: natively-forwarded traffic is encapsulated to it instead (RFC 6832), for
    /// underlays that do not route EID space.
    pub petr: Option<IpAddr>,
    /// Map-cache misses are also encapsulated to the PETR while they resolve.
    pub petr_for_misses: bool,
    /// Behind a NAT (draft-ietf-lisp-nat-traversal): every encapsulated packet, misses
    /// included, goes to this RTR, the only locator the NAT lets answers come back from.
    pub rtr: Option<IpAddr>,
    /// Act as an RTR: LISP data for EIDs that are not ours is decapsulated and encapsulated
    /// again by our map-cache (toward an xTR behind a NAT at its translated port).
    pub reencapsulate: bool,
    /// Act as a proxy-ETR (RFC 6832): LISP data for destinations outside our EIDs is
    /// decapsulated and forwarded natively instead of dropped.
    pub proxy_etr: bool,
    /// The ITRs (outer sources) a proxy-ETR forwards for; empty: any.
    pub proxy_etr_allowed: AllowedSources,
}

impl PathConfig {
    /// Where map-cache misses go while the control core resolves them, if anywhere: the RTR
    /// behind a NAT, else the PETR when it takes misses.
    #[inline]
    pub fn miss_target(&self) -> Option<IpAddr> {
        self.rtr.or(self.petr.filter(|_| self.petr_for_misses))
    }
}

impl Default for PathConfig {
    fn default() -> Self {
        Self {
            ipv6_zero_checksum: false,
            require_local_source: true,
            petr: None,
            petr_for_misses: false,
            rtr: None,
            reencapsulate: false,
            proxy_etr: false,
            proxy_etr_allowed: AllowedSources::default(),
        }
    }
}

/// A per-core source of 24-bit nonces (xorshift; not for cryptography, only for echo-nonce).
#[derive(Debug, Clone)]
pub struct Nonces(u32);

impl Nonces {
    pub fn new(seed: u32) -> Self {
        Self(seed | 1)
    }

    #[inline]
    pub fn next_nonce(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x & 0x00ff_ffff
    }
}
