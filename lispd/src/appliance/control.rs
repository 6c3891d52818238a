//! The control core's neighbour work: answer ARP requests and IPv6 neighbour solicitations for
//! our interfaces' addresses (so hosts and routers reach us), learn neighbours' MACs from ARP
//! and neighbour discovery, resolve the next hops the data path needs, and say when an
//! interface's neighbour table changed (the data cores then get new interface sets).

use std::net::{IpAddr, Ipv6Addr};
use std::time::Instant;

use dataplane::wire::arp::{self, ArpPacket, OP_REPLY, OP_REQUEST};
use dataplane::wire::ethernet::{
    self, EthernetRepr, ETHERTYPE_ARP, ETHERTYPE_IPV6, HEADER_LEN, TAGGED_LEN,
};
use dataplane::wire::ipv6::{Ipv6Repr, NEXT_ICMPV6};
use dataplane::wire::ndp::{self, NdpMessage, NdpRepr};

use controlplane::neighbour_resolution::{Learned, NeighbourResolution, NeighbourStats};
use controlplane::reassembly::ReassemblyStats;
use dpdk_bindings::{Mbuf, MbufBurst, Mempool};

use super::interfaces::{arrived_on, Arrival, ControlPort};

/// Asks `resolution` for the next hop toward underlay `destination` on every RLOC-side port of
/// its family, so traffic can move to another uplink without waiting for a resolution.
pub fn want_uplinks(
    ports: &[ControlPort],
    destination: IpAddr,
    persistent: bool,
    resolution: &mut NeighbourResolution,
    now: Instant,
) {
    let uplinks = ports.iter().filter(|p| {
        p.role == config::PortRole::Rloc
            && p.addresses
                .iter()
                .any(|a| a.is_ipv6() == destination.is_ipv6())
    });
    for port in uplinks {
        port.want(destination, persistent, resolution, now);
    }
}

/// What the control core did with punted packets.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ControlStats {
    pub arp_replies: u64,
    pub arp_ignored: u64,
    pub neighbour_advertisements: u64,
    pub resolutions_sent: u64,
    /// Port links that went down or came back.
    pub link_transitions: u64,
    /// Questions to uplink gateways, and gateways that stopped or resumed answering.
    pub gateway_probes_sent: u64,
    pub gateway_transitions: u64,
    pub control_messages_sent: u64,
    pub control_messages_unsent: u64,
    pub other: u64,
    /// Configuration reloads applied, and refused (the file did not check out).
    pub reloads: u64,
    pub reloads_refused: u64,
    /// Reassembled datagrams that were not LISP control messages.
    pub reassembled_not_control: u64,
    /// The resolution machine's counters, copied in each turn.
    #[serde(flatten)]
    pub neighbours: NeighbourStats,
    /// Fragment reassembly's counters, copied in each turn.
    #[serde(flatten)]
    pub reassembly: ReassemblyStats,
}

/// A punted ARP or neighbour discovery frame, already parsed.
#[derive(Debug, Clone)]
pub enum NeighbourFrame<'a> {
    Arp {
        packet: ArpPacket<&'a [u8]>,
        sender_mac: [u8; 6],
    },
    Discovery {
        source: Ipv6Addr,
        message: NdpRepr,
        sender_mac: [u8; 6],
    },
}

/// Handles one punted neighbour frame that arrived on `arrival` (a port and VLAN, an interface):
/// learns what it reveals and answers for our addresses on the control core's TX queue of the
/// port. Returns the address the frame came from (a gateway that speaks is alive).
pub fn handle(
    frame: NeighbourFrame<'_>,
    arrival: Arrival,
    ports: &mut [ControlPort],
    pool: &Mempool,
    resolution: &mut NeighbourResolution,
    now: Instant,
    stats: &mut ControlStats,
) -> Option<IpAddr> {
    let Some(port) = arrived_on(ports, arrival).map(|i| &mut ports[i]) else {
        stats.other += 1;
        return None;
    };
    match frame {
        NeighbourFrame::Arp { packet, sender_mac } => {
            let to_us = packet.operation() == OP_REQUEST
                && port.addresses.contains(&IpAddr::V4(packet.target_ip()));
            let how = if to_us {
                Learned::RequestToUs
            } else {
                Learned::Answer
            };
            port.learn(
                (IpAddr::V4(packet.sender_ip()), packet.sender_mac()),
                how,
                resolution,
                now,
            );
            match answer_arp(&packet, sender_mac, port, pool) {
                Some(reply) => stats.arp_replies += u64::from(send(port, reply)),
                None => stats.arp_ignored += 1,
            }
            Some(IpAddr::V4(packet.sender_ip()))
        }
        NeighbourFrame::Discovery {
            source,
            message,
            sender_mac,
        } => {
            if let Some((seen, to_us)) = learned_from_discovery(source, &message, &port.addresses) {
                let how = if to_us {
                    Learned::RequestToUs
                } else {
                    Learned::Answer
                };
                port.learn(seen, how, resolution, now);
            }
            if let Some(reply) = answer_solicitation(source, &message, sender_mac, port, pool) {
                stats.neighbour_advertisements += u64::from(send(port, reply));
            }
            match message.message {
                NdpMessage::Advertisement { .. } => Some(IpAddr::V6(message.target)),
                NdpMessage::Solicitation => Some(IpAddr::V6(source)),
            }
        }
    }
}

/// Runs `resolution`'s timers, sends the ARP requests and neighbour solicitations it asks for,
/// and updates the tables of interfaces whose learned MACs changed; true if any did (the data
/// cores need new interface sets).
#[must_use]
pub fn resolve(
    ports: &mut [ControlPort],
    pool: &Mempool,
    resolution: &mut NeighbourResolution,
    now: Instant,
    stats: &mut ControlStats,
) -> bool {
    if resolution.poll_timeout().is_some_and(|due| due <= now) {
        resolution.handle_timeout(now);
    }
    while let Some((key, next_hop)) = resolution.poll_solicitation() {
        if let Some(port) = ports.iter_mut().find(|p| p.key() == key) {
            stats.resolutions_sent += u64::from(ask(port, next_hop, pool));
        }
    }
    let mut changed = false;
    for key in resolution.take_changed() {
        if let Some(port) = ports.iter_mut().find(|p| p.key() == key) {
            port.publish(resolution);
            changed = true;
        }
    }
    stats.neighbours = resolution.stats();
    changed
}

/// Sends an ARP request or neighbour solicitation for `next_hop` out of `port`; false when it
/// could not be built or sent.
pub fn ask(port: &mut ControlPort, next_hop: IpAddr, pool: &Mempool) -> bool {
    let request = match (next_hop, port.address_for(next_hop)) {
        (IpAddr::V4(target), Some(IpAddr::V4(source))) => {
            arp_request(port.mac, source, target, pool)
        }
        (IpAddr::V6(target), Some(IpAddr::V6(source))) => {
            solicitation(port.mac, source, target, pool)
        }
        _ => None,
    };
    request.is_some_and(|request| send(port, request))
}

fn arp_request(
    mac: [u8; 6],
    source: std::net::Ipv4Addr,
    target: std::net::Ipv4Addr,
    pool: &Mempool,
) -> Option<Mbuf> {
    let mut request = pool.alloc()?;
    let bytes = request.append(HEADER_LEN + arp::LEN)?;
    EthernetRepr {
        destination: [0xff; 6],
        source: mac,
        vlan: None,
        ethertype: ETHERTYPE_ARP,
    }
    .emit(bytes);
    arp::emit(
        &mut bytes[HEADER_LEN..],
        OP_REQUEST,
        (mac, source),
        ([0; 6], target),
    );
    Some(request)
}

/// A neighbour solicitation to `target`'s solicited-node multicast address (RFC 4861 7.2.2).
fn solicitation(mac: [u8; 6], source: Ipv6Addr, target: Ipv6Addr, pool: &Mempool) -> Option<Mbuf> {
    let (group, group_mac) = ndp::solicited_node(target);
    let message = NdpRepr {
        message: NdpMessage::Solicitation,
        target,
        link_layer: Some(mac),
    };
    discovery_frame(pool, (mac, group_mac), (source, group), &message)
}

/// An Ethernet frame carrying `message` from `addresses.0` to `addresses.1` with hop limit 255
/// (RFC 4861), between `macs.0` and `macs.1`.
fn discovery_frame(
    pool: &Mempool,
    (mac, destination_mac): ([u8; 6], [u8; 6]),
    (source, destination): (Ipv6Addr, Ipv6Addr),
    message: &NdpRepr,
) -> Option<Mbuf> {
    let len = message.buffer_len();
    let mut mbuf = pool.alloc()?;
    let frame = mbuf.append(HEADER_LEN + 40 + len)?;
    EthernetRepr {
        destination: destination_mac,
        source: mac,
        vlan: None,
        ethertype: ETHERTYPE_IPV6,
    }
    .emit(frame);
    Ipv6Repr {
        src: source,
        dst: destination,
        next_header: NEXT_ICMPV6,
        payload_len: u16::try_from(len).ok()?,
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut frame[HEADER_LEN..]);
    message.emit(source, destination, &mut frame[HEADER_LEN + 40..]);
    Some(mbuf)
}

/// The (address, MAC) a solicitation (its sender) or advertisement (its target) reveals, and
/// whether it is a solicitation for one of `ours`.
fn learned_from_discovery(
    source: Ipv6Addr,
    message: &NdpRepr,
    ours: &[IpAddr],
) -> Option<((IpAddr, [u8; 6]), bool)> {
    let mac = message.link_layer?;
    match message.message {
        NdpMessage::Solicitation if !source.is_unspecified() => Some((
            (IpAddr::V6(source), mac),
            ours.contains(&IpAddr::V6(message.target)),
        )),
        NdpMessage::Solicitation => None,
        NdpMessage::Advertisement { .. } => Some(((IpAddr::V6(message.target), mac), false)),
    }
}

/// Transmits one untagged frame on the port's control queue, tagged with the interface's VLAN
/// if it has one; false if it could not be tagged or the queue refused it.
pub fn send(port: &mut ControlPort, mut frame: Mbuf) -> bool {
    if let Some(vlan) = port.vlan {
        let Some(bytes) = frame.prepend(TAGGED_LEN - HEADER_LEN) else {
            return false;
        };
        if !ethernet::insert_tag(bytes, vlan) {
            return false;
        }
    }
    let mut burst = MbufBurst::new();
    let _ = burst.push(frame);
    port.tx.borrow_mut().tx_burst(&mut burst);
    burst.is_empty()
}

/// A neighbour advertisement frame when `solicitation` asks for one of our IPv6 addresses
/// (RFC 4861 7.2.4).
fn answer_solicitation(
    source: Ipv6Addr,
    solicitation: &NdpRepr,
    requester_mac: [u8; 6],
    port: &ControlPort,
    pool: &Mempool,
) -> Option<Mbuf> {
    if solicitation.message != NdpMessage::Solicitation
        || !port.addresses.contains(&IpAddr::V6(solicitation.target))
    {
        return None;
    }
    let destination = if source.is_unspecified() {
        Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1)
    } else {
        source
    };
    let advertisement = NdpRepr {
        message: NdpMessage::Advertisement {
            solicited: true,
            override_: true,
        },
        target: solicitation.target,
        link_layer: Some(port.mac),
    };
    discovery_frame(
        pool,
        (port.mac, requester_mac),
        (solicitation.target, destination),
        &advertisement,
    )
}

/// An ARP reply frame when `request` asks for one of our addresses.
fn answer_arp(
    request: &ArpPacket<&[u8]>,
    requester_mac: [u8; 6],
    port: &ControlPort,
    pool: &Mempool,
) -> Option<Mbuf> {
    let target = request.target_ip();
    if request.operation() != OP_REQUEST || !port.addresses.contains(&IpAddr::V4(target)) {
        return None;
    }
    let mut reply = pool.alloc()?;
    let bytes = reply.append(HEADER_LEN + arp::LEN)?;
    EthernetRepr {
        destination: requester_mac,
        source: port.mac,
        vlan: None,
        ethertype: ETHERTYPE_ARP,
    }
    .emit(bytes);
    arp::emit(
        &mut bytes[HEADER_LEN..],
        OP_REPLY,
        (port.mac, target),
        (request.sender_mac(), request.sender_ip()),
    );
    Some(reply)
}
