//! Data-plane header views and the decoder on arbitrary frames: every accessor is called after a
//! successful check and must not panic.
#![no_main]

use controlplane::decode::{decode, Input};
use dataplane::wire::ethernet::EthernetFrame;
use dataplane::wire::ipv4::Ipv4Packet;
use dataplane::wire::ipv6::Ipv6Packet;
use dataplane::wire::lisp::{LispHeader, LispRepr};
use dataplane::wire::ndp::{NdpPacket, NdpRepr};
use dataplane::wire::udp::UdpPacket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(eth) = EthernetFrame::new_checked(data) {
        let _ = (eth.vlan_id(), eth.ethertype(), eth.payload().len());
    }
    if let Ok(ip) = Ipv4Packet::new_checked(data) {
        let _ = (
            ip.verify_checksum(),
            ip.payload().len(),
            ip.src_addr(),
            ip.fragment_offset(),
        );
        if let Ok(udp) = UdpPacket::new_checked(ip.payload()) {
            let _ = udp.verify_checksum_v4(ip.src_addr(), ip.dst_addr());
        }
    }
    if let Ok(ip) = Ipv6Packet::new_checked(data) {
        let _ = (
            ip.flow_label(),
            ip.traffic_class(),
            ip.payload().len(),
            ip.upper_layer(),
        );
    }
    if let Ok(lisp) = LispHeader::new_checked(data) {
        let _ = LispRepr::parse(&lisp);
    }
    if let Ok(ndp) = NdpPacket::new_checked(data) {
        let _ = (ndp.flags(), ndp.target(), ndp.link_layer_address());
        let _ = NdpRepr::parse(data);
    }
    let _ = decode(data, Input::Ethernet);
    let _ = decode(data, Input::Ip);
});
