//! Sorts received Ethernet frames into what the data core does with them.

use std::net::IpAddr;

use crate::wire::ethernet::{EthernetFrame, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::wire::ipv4::{Ipv4Packet, PROTOCOL_UDP};
use crate::wire::ipv6::{Ipv6Packet, NEXT_ICMPV6};
use crate::wire::lisp::{CONTROL_PORT, DATA_PORT};
use crate::wire::udp::UdpPacket;

use super::LocalRlocs;

/// What a frame is, for the data core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// ARP: to the control core (it answers for our addresses, learns neighbours).
    Arp,
    /// ICMPv6 neighbour discovery: to the control core.
    NeighbourDiscovery,
    /// LISP control (UDP 4342) for one of our RLOCs: to the control core.
    LispControl,
    /// LISP data (UDP 4341) for one of our RLOCs: decapsulate.
    LispData,
    /// A fragment of a UDP datagram for one of our addresses: to the control core, which
    /// reassembles control messages (large SMRs and Map-Replies).
    FragmentToUs,
    /// Other IP traffic: encapsulate (ITR) when it arrives on an EID-side port.
    Ip,
    /// Anything else: drop.
    Other,
}

impl Class {
    /// The class's name, as traces and logs give it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Arp => "arp",
            Self::NeighbourDiscovery => "neighbour-discovery",
            Self::LispControl => "lisp-control",
            Self::LispData => "lisp-data",
            Self::FragmentToUs => "fragment-to-us",
            Self::Ip => "ip",
            Self::Other => "other",
        }
    }
}

/// Classifies `frame`; `l3` is where the IP header starts (after Ethernet and any VLAN tag).
pub fn classify(frame: &[u8], local: &LocalRlocs) -> (Class, usize) {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return (Class::Other, 0);
    };
    let l3 = eth.header_len();
    let class = match eth.ethertype() {
        ETHERTYPE_ARP => Class::Arp,
        ETHERTYPE_IPV4 => ipv4(eth.payload(), local),
        ETHERTYPE_IPV6 => ipv6(eth.payload(), local),
        _ => Class::Other,
    };
    (class, l3)
}

/// UDP for one of our addresses on a LISP port is ours to handle; any other is IP to forward.
/// The address is checked once, first: most UDP an ITR sees is for somewhere else.
fn udp_class(destination: IpAddr, udp: &[u8], local: &LocalRlocs) -> Class {
    if !local.is_ours(destination) {
        return Class::Ip;
    }
    match UdpPacket::new_checked(udp) {
        Ok(u) if u.dst_port() == DATA_PORT => Class::LispData,
        Ok(u) if u.dst_port() == CONTROL_PORT || u.src_port() == CONTROL_PORT => Class::LispControl,
        _ => Class::Ip,
    }
}

fn ipv4(packet: &[u8], local: &LocalRlocs) -> Class {
    let Ok(ip) = Ipv4Packet::new_checked(packet) else {
        return Class::Other;
    };
    let destination = IpAddr::V4(ip.dst_addr());
    if ip.protocol() != PROTOCOL_UDP {
        return Class::Ip;
    }
    if ip.more_fragments() || ip.fragment_offset() != 0 {
        return if local.is_ours(destination) {
            Class::FragmentToUs
        } else {
            Class::Ip
        };
    }
    udp_class(destination, ip.payload(), local)
}

fn ipv6(packet: &[u8], local: &LocalRlocs) -> Class {
    let Ok(ip) = Ipv6Packet::new_checked(packet) else {
        return Class::Other;
    };
    let Ok(upper) = ip.upper_layer() else {
        return Class::Other;
    };
    let end = 40 + usize::from(ip.payload_len());
    let transport = &packet[upper.offset.min(end)..end];
    match upper.protocol {
        NEXT_ICMPV6 if matches!(transport.first(), Some(133..=137)) => Class::NeighbourDiscovery,
        PROTOCOL_UDP
            if upper.fragment.is_some_and(|f| f.more || f.offset != 0)
                && local.is_ours(IpAddr::V6(ip.dst_addr())) =>
        {
            Class::FragmentToUs
        }
        PROTOCOL_UDP if !upper.later_fragment() => {
            udp_class(IpAddr::V6(ip.dst_addr()), transport, local)
        }
        _ => Class::Ip,
    }
}
