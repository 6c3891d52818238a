//! A whole IPv4 or IPv6 UDP datagram (header, UDP header with checksum, payload), for control
//! messages the appliance originates and for tests.

use std::net::{IpAddr, SocketAddr};

use super::ipv4::{Ipv4Repr, PROTOCOL_UDP};
use super::ipv6::Ipv6Repr;
use super::udp::{self, UdpPacket};

/// Bytes of the datagram for `payload_len` bytes of payload.
pub fn len(v6: bool, payload_len: usize) -> usize {
    (if v6 { 40 } else { 20 }) + 8 + payload_len
}

/// Writes the datagram with TTL/hop limit `hop_limit` into the start of `buffer`; `None` when the
/// families differ, the payload is too long, or `buffer` is shorter than [`len`].
pub fn write(
    buffer: &mut [u8],
    source: SocketAddr,
    destination: SocketAddr,
    payload: &[u8],
    hop_limit: u8,
) -> Option<usize> {
    let v6 = source.is_ipv6();
    let total = len(v6, payload.len());
    let udp_len = u16::try_from(8 + payload.len()).ok()?;
    let (ip, rest) = buffer
        .get_mut(..total)?
        .split_at_mut(if v6 { 40 } else { 20 });
    udp::write_header(
        rest,
        source.port(),
        destination.port(),
        payload.len() as u16,
    );
    rest[8..].copy_from_slice(payload);
    let mut datagram = UdpPacket::new_checked(rest).ok()?;
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            Ipv4Repr {
                src,
                dst,
                protocol: PROTOCOL_UDP,
                payload_len: udp_len,
                ttl: hop_limit,
                tos: 0,
            }
            .emit(ip);
            datagram.fill_checksum_v4(src, dst);
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            Ipv6Repr {
                src,
                dst,
                next_header: PROTOCOL_UDP,
                payload_len: udp_len,
                hop_limit,
                traffic_class: 0,
                flow_label: 0,
            }
            .emit(ip);
            datagram.fill_checksum_v6(src, dst);
        }
        _ => return None,
    }
    Some(total)
}

/// The datagram as a new vector, with hop limit 64.
pub fn build(source: SocketAddr, destination: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = vec![0u8; len(source.is_ipv6(), payload.len())];
    write(&mut bytes, source, destination, payload, 64)?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::Ipv4Packet;
    use crate::wire::ipv6::Ipv6Packet;

    #[test]
    fn both_families_verify() {
        let (s4, d4): (SocketAddr, SocketAddr) = (
            "10.0.0.1:4342".parse().unwrap(),
            "10.0.0.2:4342".parse().unwrap(),
        );
        let v4 = build(s4, d4, b"hello").unwrap();
        let ip = Ipv4Packet::new_checked(&v4[..]).unwrap();
        assert!(ip.verify_checksum());
        assert!(UdpPacket::new_checked(ip.payload())
            .unwrap()
            .verify_checksum_v4(ip.src_addr(), ip.dst_addr()));

        let (s6, d6): (SocketAddr, SocketAddr) = (
            "[2001:db8::1]:1".parse().unwrap(),
            "[2001:db8::2]:2".parse().unwrap(),
        );
        let v6 = build(s6, d6, b"hello").unwrap();
        let ip = Ipv6Packet::new_checked(&v6[..]).unwrap();
        assert!(UdpPacket::new_checked(ip.payload())
            .unwrap()
            .verify_checksum_v6(ip.src_addr(), ip.dst_addr(), false));
        assert!(build(s4, d6, b"x").is_none(), "mixed families");
    }
}
