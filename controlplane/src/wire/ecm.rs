//! Encapsulated Control Message (type 8, RFC 9301 §5.8): a LISP control message inside an inner
//! IPv4 or IPv6 + UDP header, in any mix with the outer header.
//!
//! NAT traversal gives E and M a second meaning, in the bit positions Open Overlay Router uses:
//! R (the ECM is for an RTR to process: a Map-Register an xTR behind a NAT sends through it,
//! or the Map-Notify a map-server sends back) is E's bit, and N (an RTR relays this
//! Map-Register to a map-server) is M's. The receiver's role tells which meaning applies.
//!
//! ```text
//! |Type=8 |S|D|E|M|            Reserved                           |
//! |                     IPv4 or IPv6 Header (inner)               |
//! |                     UDP Header (inner)                        |
//! |                     LISP Control Message                      |
//! ```

use std::net::{IpAddr, SocketAddr};

use dataplane::wire::datagram;
use dataplane::wire::ipv4::{Ipv4Packet, PROTOCOL_UDP};
use dataplane::wire::ipv6::Ipv6Packet;
use dataplane::wire::udp::{self, UdpPacket};
use dataplane::wire::{ipv4, ipv6, WireError, WireResult};

use super::{check_type, MessageType};

pub const HEADER_LEN: usize = 4;

/// A control message inside its own IPv4 or IPv6 + UDP header, as an ECM and a Data-Map-Notify
/// carry one; checked, borrowed from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerDatagram<'a> {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub ttl: u8,
    pub message: &'a [u8],
}

impl<'a> InnerDatagram<'a> {
    /// Parses the IP and UDP headers at the start of `bytes`; `what` names the carrier in errors.
    pub fn parse(bytes: &'a [u8], what: &'static str) -> WireResult<Self> {
        let not_udp = WireError::Malformed {
            field: what,
            reason: "inner packet is not UDP",
        };
        let version = bytes.first().ok_or(WireError::Truncated { field: what })? >> 4;
        let (source, destination, ttl, udp_bytes) = match version {
            4 => {
                let ip = Ipv4Packet::new_checked(bytes)?;
                if ip.protocol() != PROTOCOL_UDP || ip.more_fragments() || ip.fragment_offset() != 0
                {
                    return Err(not_udp);
                }
                let payload = &bytes[ip.header_len()..usize::from(ip.total_len())];
                (
                    IpAddr::V4(ip.src_addr()),
                    IpAddr::V4(ip.dst_addr()),
                    ip.ttl(),
                    payload,
                )
            }
            6 => {
                let ip = Ipv6Packet::new_checked(bytes)?;
                let upper = ip.upper_layer()?;
                if upper.protocol != PROTOCOL_UDP || upper.later_fragment() {
                    return Err(not_udp);
                }
                let end = ipv6::HEADER_LEN + usize::from(ip.payload_len());
                (
                    IpAddr::V6(ip.src_addr()),
                    IpAddr::V6(ip.dst_addr()),
                    ip.hop_limit(),
                    &bytes[upper.offset..end],
                )
            }
            _ => {
                return Err(WireError::Malformed {
                    field: what,
                    reason: "inner IP version is not 4 or 6",
                })
            }
        };
        let udp = UdpPacket::new_checked(udp_bytes)?;
        let message = &udp_bytes[udp::HEADER_LEN..usize::from(udp.len())];
        Ok(Self {
            source: SocketAddr::new(source, udp.src_port()),
            destination: SocketAddr::new(destination, udp.dst_port()),
            ttl,
            message,
        })
    }
}

/// Every field of an ECM and its inner headers; `message` is the encapsulated control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcmRepr {
    /// S: LISP-SEC.
    pub security: bool,
    /// D: DDT-originated.
    pub ddt: bool,
    /// E: forwarded by a map-server to an ETR (NAT traversal's R: for an RTR to process).
    pub to_etr: bool,
    /// M: sent to a map-server (NAT traversal's N: relayed by an RTR).
    pub to_map_server: bool,
    pub inner_source: IpAddr,
    pub inner_destination: IpAddr,
    pub inner_ttl: u8,
    pub source_port: u16,
    pub destination_port: u16,
    pub message: Vec<u8>,
}

impl EcmRepr {
    /// Parses the ECM header and the inner IP/UDP headers; the inner message is not interpreted.
    pub fn parse(bytes: &[u8]) -> WireResult<Self> {
        check_type(bytes, MessageType::Ecm, HEADER_LEN, "ECM header")?;
        let inner = InnerDatagram::parse(&bytes[HEADER_LEN..], "ECM")?;
        Ok(Self {
            security: bytes[0] & 0x08 != 0,
            ddt: bytes[0] & 0x04 != 0,
            to_etr: bytes[0] & 0x02 != 0,
            to_map_server: bytes[0] & 0x01 != 0,
            inner_source: inner.source.ip(),
            inner_destination: inner.destination.ip(),
            inner_ttl: inner.ttl,
            source_port: inner.source.port(),
            destination_port: inner.destination.port(),
            message: inner.message.to_vec(),
        })
    }

    fn ip_header_len(&self) -> usize {
        match self.inner_source {
            IpAddr::V4(_) => ipv4::HEADER_LEN,
            IpAddr::V6(_) => ipv6::HEADER_LEN,
        }
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.ip_header_len() + udp::HEADER_LEN + self.message.len()
    }

    /// Appends the ECM with inner headers (inner UDP checksum computed).
    pub fn emit(&self, out: &mut Vec<u8>) -> WireResult<()> {
        let udp_len = udp::HEADER_LEN + self.message.len();
        if udp_len + self.ip_header_len() > usize::from(u16::MAX) {
            return Err(WireError::Malformed {
                field: "ECM message",
                reason: "too long",
            });
        }
        let start = out.len();
        out.resize(start + self.buffer_len(), 0);
        let buf = &mut out[start..];
        buf[0] = (MessageType::Ecm as u8) << 4
            | u8::from(self.security) << 3
            | u8::from(self.ddt) << 2
            | u8::from(self.to_etr) << 1
            | u8::from(self.to_map_server);
        let source = SocketAddr::new(self.inner_source, self.source_port);
        let destination = SocketAddr::new(self.inner_destination, self.destination_port);
        if datagram::write(
            &mut buf[HEADER_LEN..],
            source,
            destination,
            &self.message,
            self.inner_ttl,
        )
        .is_none()
        {
            out.truncate(start);
            return Err(WireError::Malformed {
                field: "ECM inner addresses",
                reason: "mixed families",
            });
        }
        Ok(())
    }
}
