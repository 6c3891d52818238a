//! The control core's packet work in this version: answer ARP requests for our port addresses
//! (so hosts and routers reach us) and account for everything else punted to it.

use std::net::IpAddr;

use dataplane::wire::arp::{self, ArpPacket, OP_REPLY, OP_REQUEST};
use dataplane::wire::ethernet::{EthernetFrame, ETHERTYPE_ARP, HEADER_LEN};
use dpdk_bindings::{Mbuf, MbufBurst, Mempool, TxQueue};

/// One port as the control core sees it.
#[derive(Debug)]
pub struct ControlPort {
    pub port_id: u16,
    pub mac: [u8; 6],
    pub addresses: Vec<IpAddr>,
    pub tx: TxQueue,
}

/// What the control core did with punted packets.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ControlStats {
    pub arp_replies: u64,
    pub arp_ignored: u64,
    pub map_cache_misses: u64,
    pub other: u64,
}

/// Handles one punted frame; replies go out on the control core's TX queue of the port.
pub fn handle(mbuf: Mbuf, ports: &mut [ControlPort], pool: &Mempool, stats: &mut ControlStats) {
    let Some(port) = ports.iter_mut().find(|p| p.port_id == mbuf.input_port()) else {
        stats.other += 1;
        return;
    };
    let Ok(frame) = EthernetFrame::new_checked(mbuf.data()) else {
        stats.other += 1;
        return;
    };
    match frame.ethertype() {
        ETHERTYPE_ARP => match answer_arp(frame.payload(), port, pool) {
            Some(reply) => {
                let mut burst = MbufBurst::new();
                let _ = burst.push(reply);
                port.tx.tx_burst(&mut burst);
                stats.arp_replies += u64::from(burst.is_empty());
            }
            None => stats.arp_ignored += 1,
        },
        0x0800 | 0x86dd => stats.map_cache_misses += 1,
        _ => stats.other += 1,
    }
}

/// An ARP reply frame when `payload` asks for one of our addresses.
fn answer_arp(payload: &[u8], port: &ControlPort, pool: &Mempool) -> Option<Mbuf> {
    let request = ArpPacket::new_checked(payload).ok()?;
    let target = request.target_ip();
    if request.operation() != OP_REQUEST || !port.addresses.contains(&IpAddr::V4(target)) {
        return None;
    }
    let mut reply = pool.alloc()?;
    let bytes = reply.append(HEADER_LEN + arp::LEN)?;
    bytes[0..6].copy_from_slice(&request.sender_mac());
    bytes[6..12].copy_from_slice(&port.mac);
    bytes[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    arp::emit(
        &mut bytes[HEADER_LEN..],
        OP_REPLY,
        (port.mac, target),
        (request.sender_mac(), request.sender_ip()),
    );
    Some(reply)
}
