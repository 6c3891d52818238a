//! Control messages over the RLOC port: UDP 4342 datagrams wrapped into IPv4/IPv6 and Ethernet
//! toward a resolved next hop, and the payload of punted LISP control frames.

use std::net::{IpAddr, SocketAddr};

use dataplane::wire::datagram;
use dataplane::wire::ethernet::{EthernetFrame, ETHERTYPE_IPV4, ETHERTYPE_IPV6, HEADER_LEN};
use dataplane::wire::ipv4::Ipv4Packet;
use dataplane::wire::ipv6::Ipv6Packet;
use dataplane::wire::lisp::CONTROL_PORT;
use dataplane::wire::udp::UdpPacket;
use dpdk_bindings::{Mbuf, Mempool};

/// A frame carrying `payload` from `source`:4342 to `destination`, or `None` when the families
/// differ or the pool or mbuf has no room.
pub fn frame(
    pool: &Mempool,
    macs: ([u8; 6], [u8; 6]),
    source: IpAddr,
    destination: SocketAddr,
    payload: &[u8],
) -> Option<Mbuf> {
    let ethertype = if source.is_ipv6() {
        ETHERTYPE_IPV6
    } else {
        ETHERTYPE_IPV4
    };
    let mut mbuf = pool.alloc()?;
    let bytes = mbuf.append(HEADER_LEN + datagram::len(source.is_ipv6(), payload.len()))?;
    bytes[0..6].copy_from_slice(&macs.1);
    bytes[6..12].copy_from_slice(&macs.0);
    bytes[12..14].copy_from_slice(&ethertype.to_be_bytes());
    datagram::write(
        &mut bytes[HEADER_LEN..],
        SocketAddr::new(source, CONTROL_PORT),
        destination,
        payload,
        64,
    )?;
    Some(mbuf)
}

/// The sender and UDP payload of a punted LISP control frame.
pub fn payload(frame: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let l3 = &frame[eth.header_len()..];
    let (source, transport) = match eth.ethertype() {
        ETHERTYPE_IPV4 => {
            let ip = Ipv4Packet::new_checked(l3).ok()?;
            (
                IpAddr::V4(ip.src_addr()),
                &l3[ip.header_len()..usize::from(ip.total_len())],
            )
        }
        ETHERTYPE_IPV6 => {
            let ip = Ipv6Packet::new_checked(l3).ok()?;
            let upper = ip.upper_layer().ok()?;
            (
                IpAddr::V6(ip.src_addr()),
                l3.get(upper.offset..40 + usize::from(ip.payload_len()))?,
            )
        }
        _ => return None,
    };
    let udp = UdpPacket::new_checked(transport).ok()?;
    let start = 8;
    let end = usize::from(udp.len());
    Some((
        SocketAddr::new(source, udp.src_port()),
        transport.get(start..end)?,
    ))
}
