//! Control messages over the RLOC port: UDP 4342 datagrams wrapped into IPv4/IPv6 and Ethernet
//! toward a resolved next hop, and the sorting of punted frames (control datagrams, fragments of
//! them, misses).

use std::net::{IpAddr, SocketAddr};

use dataplane::wire::datagram;
use dataplane::wire::ethernet::{
    EthernetFrame, EthernetRepr, ETHERTYPE_IPV4, ETHERTYPE_IPV6, HEADER_LEN,
};
use dataplane::wire::ipv4::{Ipv4Packet, PROTOCOL_UDP};
use dataplane::wire::ipv6::Ipv6Packet;
use dataplane::wire::lisp::CONTROL_PORT;
use dataplane::wire::udp::UdpPacket;
use dpdk_bindings::{Mbuf, Mempool};

use controlplane::reassembly::{DatagramKey, Fragment};

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
    EthernetRepr {
        destination: macs.1,
        source: macs.0,
        ethertype,
    }
    .emit(bytes);
    datagram::write(
        &mut bytes[HEADER_LEN..],
        SocketAddr::new(source, CONTROL_PORT),
        destination,
        payload,
        64,
    )?;
    Some(mbuf)
}

/// What a frame punted by a data core is for the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Punted<'a> {
    /// A LISP control datagram (UDP 4342) to one of our addresses.
    Control { from: SocketAddr, message: &'a [u8] },
    /// A fragment of a datagram to one of our addresses, for reassembly.
    Fragment(Fragment<'a>),
    /// An IP packet toward a destination outside our addresses: a map-cache miss.
    Miss { source: IpAddr, destination: IpAddr },
    /// ARP, neighbour discovery, or anything else for the neighbour code.
    Other,
}

/// Sorts a punted frame; `ours` are the addresses of our ports.
pub fn punted<'a>(frame: &'a [u8], ours: &[IpAddr]) -> Punted<'a> {
    if let Some(fragment) = fragment(frame).filter(|f| ours.contains(&f.key.destination)) {
        return Punted::Fragment(fragment);
    }
    let Some((source, destination, protocol, transport)) = ip_parts(frame) else {
        return Punted::Other;
    };
    if !ours.contains(&destination) {
        let unicast = match destination {
            IpAddr::V4(d) => !d.is_multicast() && !d.is_broadcast(),
            IpAddr::V6(d) => !d.is_multicast(),
        };
        return if unicast {
            Punted::Miss {
                source,
                destination,
            }
        } else {
            Punted::Other
        };
    }
    let control = (protocol == PROTOCOL_UDP)
        .then(|| control_message(source, transport))
        .flatten();
    match control {
        Some((from, message)) => Punted::Control { from, message },
        None => Punted::Other,
    }
}

/// The sender and message of a UDP datagram (header included) to the LISP control port.
pub fn control_message(source: IpAddr, datagram: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let udp = UdpPacket::new_checked(datagram).ok()?;
    if udp.dst_port() != CONTROL_PORT {
        return None;
    }
    let message = datagram.get(8..usize::from(udp.len()))?;
    Some((SocketAddr::new(source, udp.src_port()), message))
}

/// The fragment an IPv4 or IPv6 frame carries, if it is one.
fn fragment(frame: &[u8]) -> Option<Fragment<'_>> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let l3 = &frame[eth.header_len()..];
    match eth.ethertype() {
        ETHERTYPE_IPV4 => {
            let ip = Ipv4Packet::new_checked(l3).ok()?;
            if !ip.more_fragments() && ip.fragment_offset() == 0 {
                return None;
            }
            Some(Fragment {
                key: DatagramKey {
                    source: IpAddr::V4(ip.src_addr()),
                    destination: IpAddr::V4(ip.dst_addr()),
                    ident: u32::from(ip.ident()),
                    protocol: ip.protocol(),
                },
                offset: usize::from(ip.fragment_offset()) * 8,
                more: ip.more_fragments(),
                data: l3.get(ip.header_len()..usize::from(ip.total_len()))?,
            })
        }
        ETHERTYPE_IPV6 => {
            let ip = Ipv6Packet::new_checked(l3).ok()?;
            let header = ip.upper_layer().ok()?.fragment?;
            if !header.more && header.offset == 0 {
                return None;
            }
            Some(Fragment {
                key: DatagramKey {
                    source: IpAddr::V6(ip.src_addr()),
                    destination: IpAddr::V6(ip.dst_addr()),
                    ident: header.ident,
                    protocol: header.next_header,
                },
                offset: header.offset,
                more: header.more,
                data: l3.get(header.data_offset..40 + usize::from(ip.payload_len()))?,
            })
        }
        _ => None,
    }
}

/// Source, destination, upper-layer protocol and transport bytes of an IP frame.
fn ip_parts(frame: &[u8]) -> Option<(IpAddr, IpAddr, u8, &[u8])> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let l3 = &frame[eth.header_len()..];
    match eth.ethertype() {
        ETHERTYPE_IPV4 => {
            let ip = Ipv4Packet::new_checked(l3).ok()?;
            Some((
                IpAddr::V4(ip.src_addr()),
                IpAddr::V4(ip.dst_addr()),
                ip.protocol(),
                l3.get(ip.header_len()..usize::from(ip.total_len()))?,
            ))
        }
        ETHERTYPE_IPV6 => {
            let ip = Ipv6Packet::new_checked(l3).ok()?;
            let upper = ip.upper_layer().ok()?;
            Some((
                IpAddr::V6(ip.src_addr()),
                IpAddr::V6(ip.dst_addr()),
                upper.protocol,
                l3.get(upper.offset..40 + usize::from(ip.payload_len()))?,
            ))
        }
        _ => None,
    }
}
