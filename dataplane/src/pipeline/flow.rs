//! The inner packet facts the ITR needs, and the flow hash that keeps a flow on one RLOC and one
//! outer UDP source port (so ECMP and RSS in the underlay spread tunnels, not packets).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::lpm::{ipv4_key, ipv6_key, Key};
use crate::wire::ipv4::{Ipv4Packet, PROTOCOL_TCP, PROTOCOL_UDP};
use crate::wire::ipv6::{Ipv6Packet, HEADER_LEN as IPV6_HEADER_LEN};
use crate::wire::{WireError, WireResult};

/// What the ITR reads from an inner IPv4 or IPv6 packet. The addresses are kept as LPM keys (whole
/// words) rather than `IpAddr`s: an `IpAddr` is written byte-wise, and reading one back from a
/// struct just built costs a store-forwarding stall per packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerPacket {
    source: Key,
    destination: Key,
    /// IPv6 inside (else IPv4).
    pub v6: bool,
    /// TTL or hop limit.
    pub ttl: u8,
    /// DSCP and ECN (IPv4 TOS / IPv6 traffic class).
    pub tos: u8,
    /// IPv4 DF (always true for IPv6, which routers never fragment).
    pub dont_fragment: bool,
    /// Bytes of the inner packet (IP total length).
    pub len: usize,
    pub hash: u32,
}

impl InnerPacket {
    #[inline(always)]
    pub fn source(&self) -> IpAddr {
        self.address(self.source)
    }

    #[inline(always)]
    pub fn destination(&self) -> IpAddr {
        self.address(self.destination)
    }

    /// The destination as the map-cache looks it up.
    #[inline(always)]
    pub fn destination_key(&self) -> Key {
        self.destination
    }

    #[inline(always)]
    fn address(&self, key: Key) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(key))
        } else {
            IpAddr::V4(Ipv4Addr::from((key >> 96) as u32))
        }
    }
}

/// An address held as whole words: a value that lives across calls on the fast path is spilled
/// to the stack, and an `IpAddr` (tag and octets, byte-aligned) is spilled byte-wise but read
/// back word-wise, a store-forwarding stall each time. The default is 0.0.0.0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressWords {
    bits: u128,
    v6: bool,
}

impl From<IpAddr> for AddressWords {
    #[inline(always)]
    fn from(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(a) => Self {
                bits: u128::from(u32::from(a)),
                v6: false,
            },
            IpAddr::V6(a) => Self {
                bits: u128::from(a),
                v6: true,
            },
        }
    }
}

impl AddressWords {
    /// The address's bits folded to 64, for the data path's direct-mapped tables to hash.
    #[inline(always)]
    pub fn folded(self) -> u64 {
        (self.bits as u64) ^ (self.bits >> 64) as u64
    }

    #[inline(always)]
    pub fn get(self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(self.bits))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.bits as u32))
        }
    }
}

#[inline]
fn mix(mut h: u64) -> u32 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h as u32
}

fn ports(protocol: u8, transport: &[u8]) -> u64 {
    match (protocol, transport.get(..4)) {
        (PROTOCOL_TCP | PROTOCOL_UDP, Some(p)) => {
            u64::from(u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
        }
        _ => 0,
    }
}

/// Parses the inner header and hashes the 5-tuple (addresses only for fragments and other
/// protocols, so every fragment of a datagram takes the same path).
#[inline]
pub fn inspect(packet: &[u8]) -> WireResult<InnerPacket> {
    inspect_with(packet, true)
}

/// As [`inspect`] without the hash (the ETR needs only addresses and length); `hash` is 0.
#[inline]
pub fn inspect_unhashed(packet: &[u8]) -> WireResult<InnerPacket> {
    inspect_with(packet, false)
}

#[inline(always)]
fn inspect_with(packet: &[u8], hashed: bool) -> WireResult<InnerPacket> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let ip = Ipv4Packet::new_checked(packet)?;
            let transport = if ip.fragment_offset() == 0 && !ip.more_fragments() {
                ip.payload()
            } else {
                &[]
            };
            let (src, dst) = (u32::from(ip.src_addr()), u32::from(ip.dst_addr()));
            let key = (u64::from(src) << 32 | u64::from(dst))
                ^ ports(ip.protocol(), transport).rotate_left(17)
                ^ u64::from(ip.protocol());
            Ok(InnerPacket {
                source: ipv4_key(ip.src_addr()),
                destination: ipv4_key(ip.dst_addr()),
                v6: false,
                ttl: ip.ttl(),
                tos: ip.tos(),
                dont_fragment: ip.dont_fragment(),
                len: usize::from(ip.total_len()),
                hash: if hashed { mix(key) } else { 0 },
            })
        }
        Some(6) => {
            let ip = Ipv6Packet::new_checked(packet)?;
            let upper = ip.upper_layer()?;
            let end = IPV6_HEADER_LEN + usize::from(ip.payload_len());
            let transport = if upper.later_fragment() {
                &[][..]
            } else {
                &packet[upper.offset..end]
            };
            let (src, dst) = (u128::from(ip.src_addr()), u128::from(ip.dst_addr()));
            let folded = (src as u64)
                ^ ((src >> 64) as u64).rotate_left(7)
                ^ (dst as u64).rotate_left(31)
                ^ ((dst >> 64) as u64).rotate_left(45);
            Ok(InnerPacket {
                source: ipv6_key(ip.src_addr()),
                destination: ipv6_key(ip.dst_addr()),
                v6: true,
                ttl: ip.hop_limit(),
                tos: ip.traffic_class(),
                dont_fragment: true,
                len: end,
                hash: mix(folded
                    ^ ports(upper.protocol, transport).rotate_left(17)
                    ^ u64::from(upper.protocol)),
            })
        }
        _ => Err(WireError::Malformed {
            field: "inner IP version",
            reason: "not 4 or 6",
        }),
    }
}
