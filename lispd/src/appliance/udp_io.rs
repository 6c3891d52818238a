//! Control messages over the RLOC port: UDP 4342 datagrams wrapped into IPv4/IPv6 and Ethernet
//! toward a resolved next hop, and the sorting of punted frames (control datagrams, fragments of
//! them, misses).

use std::net::{IpAddr, SocketAddr};

use dataplane::wire::arp::ArpPacket;
use dataplane::wire::datagram;
use dataplane::wire::ethernet::{
    EthernetFrame, EthernetRepr, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, HEADER_LEN,
};
use dataplane::wire::ipv4::{Ipv4Packet, PROTOCOL_UDP};
use dataplane::wire::ipv6::{Ipv6Packet, NEXT_ICMPV6};
use dataplane::wire::lisp::CONTROL_PORT;
use dataplane::wire::ndp::NdpRepr;
use dataplane::wire::udp::UdpPacket;
use dpdk_bindings::{Mbuf, Mempool};

use controlplane::reassembly::{DatagramKey, Fragment};

use super::control::NeighbourFrame;

/// A frame carrying `payload` from `source` to `destination`, or `None` when the families
/// differ or the pool or mbuf has no room.
pub fn frame(
    pool: &Mempool,
    macs: ([u8; 6], [u8; 6]),
    source: SocketAddr,
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
        vlan: None,
        ethertype,
    }
    .emit(bytes);
    datagram::write(&mut bytes[HEADER_LEN..], source, destination, payload, 64)?;
    Some(mbuf)
}

/// What a frame punted by a data core is for the control plane, parsed once.
#[derive(Debug, Clone)]
pub enum Punted<'a> {
    /// A LISP control datagram (UDP 4342) to one of our addresses.
    Control { from: SocketAddr, message: &'a [u8] },
    /// A fragment of a datagram to one of our addresses, for reassembly.
    Fragment(Fragment<'a>),
    /// An IP packet toward a destination outside our addresses: a map-cache miss.
    Miss { source: IpAddr, destination: IpAddr },
    /// ARP or neighbour discovery, for the neighbour code.
    Neighbour(NeighbourFrame<'a>),
    /// Anything else.
    Other,
}

/// The VLAN a punted frame carries (the interface it came from, with its port).
pub fn vlan(frame: &[u8]) -> Option<u16> {
    EthernetFrame::new_checked(frame)
        .ok()
        .and_then(|f| f.vlan_id())
        .filter(|&id| id != 0)
}

/// Sorts a punted frame; `ours` are the addresses of our ports.
pub fn punted<'a>(frame: &'a [u8], ours: &[IpAddr]) -> Punted<'a> {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return Punted::Other;
    };
    let l3 = &frame[eth.header_len()..];
    let sender_mac = eth.source();
    let parsed = match eth.ethertype() {
        ETHERTYPE_ARP => {
            return ArpPacket::new_checked(l3).map_or(Punted::Other, |packet| {
                Punted::Neighbour(NeighbourFrame::Arp { packet, sender_mac })
            })
        }
        ETHERTYPE_IPV4 => ipv4(l3),
        ETHERTYPE_IPV6 => ipv6(l3, sender_mac),
        _ => None,
    };
    let Some(ip) = parsed else {
        return Punted::Other;
    };
    match ip {
        Ip::Sorted(punted) => punted,
        Ip::Fragment(fragment) if ours.contains(&fragment.key.destination) => {
            Punted::Fragment(fragment)
        }
        Ip::Fragment(fragment) => miss(fragment.key.source, fragment.key.destination),
        Ip::Packet {
            source,
            destination,
            protocol,
            transport,
        } if ours.contains(&destination) => {
            match (protocol == PROTOCOL_UDP)
                .then(|| control_message(source, transport))
                .flatten()
            {
                Some((from, message)) => Punted::Control { from, message },
                None => Punted::Other,
            }
        }
        Ip::Packet {
            source,
            destination,
            ..
        } => miss(source, destination),
    }
}

/// A packet toward someone else: a map-cache miss when unicast.
fn miss<'a>(source: IpAddr, destination: IpAddr) -> Punted<'a> {
    let unicast = match destination {
        IpAddr::V4(d) => !d.is_multicast() && !d.is_broadcast(),
        IpAddr::V6(d) => !d.is_multicast(),
    };
    if unicast {
        Punted::Miss {
            source,
            destination,
        }
    } else {
        Punted::Other
    }
}

/// What the IP layer of a punted frame is.
enum Ip<'a> {
    Fragment(Fragment<'a>),
    Packet {
        source: IpAddr,
        destination: IpAddr,
        protocol: u8,
        transport: &'a [u8],
    },
    /// Already sorted (neighbour discovery).
    Sorted(Punted<'a>),
}

fn ipv4(l3: &[u8]) -> Option<Ip<'_>> {
    let ip = Ipv4Packet::new_checked(l3).ok()?;
    let (source, destination) = (IpAddr::V4(ip.src_addr()), IpAddr::V4(ip.dst_addr()));
    let payload = l3.get(ip.header_len()..usize::from(ip.total_len()))?;
    if ip.more_fragments() || ip.fragment_offset() != 0 {
        return Some(Ip::Fragment(Fragment {
            key: DatagramKey {
                source,
                destination,
                ident: u32::from(ip.ident()),
                protocol: ip.protocol(),
            },
            offset: usize::from(ip.fragment_offset()) * 8,
            more: ip.more_fragments(),
            data: payload,
        }));
    }
    Some(Ip::Packet {
        source,
        destination,
        protocol: ip.protocol(),
        transport: payload,
    })
}

fn ipv6(l3: &[u8], sender_mac: [u8; 6]) -> Option<Ip<'_>> {
    let ip = Ipv6Packet::new_checked(l3).ok()?;
    let upper = ip.upper_layer().ok()?;
    let end = 40 + usize::from(ip.payload_len());
    let (source, destination) = (ip.src_addr(), ip.dst_addr());
    if let Some(header) = upper.fragment.filter(|f| f.more || f.offset != 0) {
        return Some(Ip::Fragment(Fragment {
            key: DatagramKey {
                source: IpAddr::V6(source),
                destination: IpAddr::V6(destination),
                ident: header.ident,
                protocol: header.next_header,
            },
            offset: header.offset,
            more: header.more,
            data: l3.get(header.data_offset..end)?,
        }));
    }
    let transport = l3.get(upper.offset..end)?;
    if upper.protocol == NEXT_ICMPV6 && matches!(transport.first(), Some(135 | 136)) {
        // RFC 4861: neighbour discovery is only taken with a hop limit of 255.
        let message = (ip.hop_limit() == 255)
            .then(|| NdpRepr::parse(transport).ok())
            .flatten();
        return Some(Ip::Sorted(message.map_or(Punted::Other, |message| {
            Punted::Neighbour(NeighbourFrame::Discovery {
                source,
                message,
                sender_mac,
            })
        })));
    }
    Some(Ip::Packet {
        source: IpAddr::V6(source),
        destination: IpAddr::V6(destination),
        protocol: upper.protocol,
        transport,
    })
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
