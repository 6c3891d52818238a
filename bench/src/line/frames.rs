//! The generator's frames: 64-byte IPv4/UDP EID frames for the ITR direction and the same inner
//! packets LISP-encapsulated toward the DUT's RLOC for the ETR direction. The last 12 bytes of
//! every frame are a magic word and a TSC timestamp: they survive encapsulation,
//! decapsulation and testpmd's 5-tuple swap, so every frame that comes back says when it left.

use std::net::Ipv4Addr;

use dataplane::wire::ethernet::{ETHERTYPE_IPV4, HEADER_LEN as ETHERNET_LEN};
use dataplane::wire::ipv4::{Ipv4Repr, HEADER_LEN as IPV4_LEN, PROTOCOL_UDP};
use dataplane::wire::lisp::{LispRepr, DATA_PORT, HEADER_LEN as LISP_LEN};
use dataplane::wire::udp::{self, HEADER_LEN as UDP_LEN};

/// The smallest Ethernet frame (without FCS), as line-rate figures are quoted.
pub const EID_FRAME_LEN: usize = 64;
/// An EID frame after encapsulation: outer IPv4, UDP and LISP headers added.
pub const LISP_FRAME_LEN: usize = EID_FRAME_LEN + IPV4_LEN + UDP_LEN + LISP_LEN;
const INNER_UDP_PAYLOAD: u16 = (EID_FRAME_LEN - ETHERNET_LEN - IPV4_LEN - UDP_LEN) as u16;
const MAGIC: u32 = 0x4c49_5350;
const STAMP_LEN: usize = 12;
/// The UDP port of the inner flows.
pub const EID_UDP_PORT: u16 = 5000;

/// MAC addresses of one link between the generator and the DUT.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub generator: [u8; 6],
    pub dut: [u8; 6],
}

/// One inner flow: addresses and source port.
#[derive(Debug, Clone, Copy)]
pub struct Flow {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
}

fn ethernet(frame: &mut [u8], link: Link) {
    frame[0..6].copy_from_slice(&link.dut);
    frame[6..12].copy_from_slice(&link.generator);
    frame[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
}

/// An IPv4/UDP packet of `flow` with room for the stamp (no Ethernet header).
fn inner_packet(flow: Flow, packet: &mut [u8]) {
    Ipv4Repr {
        src: flow.src,
        dst: flow.dst,
        protocol: PROTOCOL_UDP,
        payload_len: UDP_LEN as u16 + INNER_UDP_PAYLOAD,
        ttl: 64,
        tos: 0,
    }
    .emit(packet);
    udp::write_header(
        &mut packet[IPV4_LEN..],
        flow.src_port,
        EID_UDP_PORT,
        INNER_UDP_PAYLOAD,
    );
}

/// A 64-byte frame from a host behind the DUT (ITR input).
pub fn eid_frame(link: Link, flow: Flow) -> Vec<u8> {
    let mut frame = vec![0u8; EID_FRAME_LEN];
    ethernet(&mut frame, link);
    inner_packet(flow, &mut frame[ETHERNET_LEN..]);
    frame
}

/// `flow` encapsulated by a remote xTR at `outer_src` toward the DUT's RLOC `outer_dst` (ETR
/// input).
pub fn lisp_frame(link: Link, outer_src: Ipv4Addr, outer_dst: Ipv4Addr, flow: Flow) -> Vec<u8> {
    let mut frame = vec![0u8; LISP_FRAME_LEN];
    ethernet(&mut frame, link);
    let udp_payload = (LISP_LEN + EID_FRAME_LEN - ETHERNET_LEN) as u16;
    Ipv4Repr {
        src: outer_src,
        dst: outer_dst,
        protocol: PROTOCOL_UDP,
        payload_len: UDP_LEN as u16 + udp_payload,
        ttl: 64,
        tos: 0,
    }
    .emit(&mut frame[ETHERNET_LEN..]);
    let udp_at = ETHERNET_LEN + IPV4_LEN;
    udp::write_header(
        &mut frame[udp_at..],
        0xc000 | (flow.src_port & 0x3fff),
        DATA_PORT,
        udp_payload,
    );
    let lisp_at = udp_at + UDP_LEN;
    LispRepr {
        nonce: Some(u32::from(flow.src_port)),
        locator_status_bits: Some(1),
        ..LispRepr::default()
    }
    .emit(&mut frame[lisp_at..]);
    inner_packet(flow, &mut frame[lisp_at + LISP_LEN..]);
    frame
}

/// Writes the magic word and `tsc` into the end of `frame`.
#[inline]
pub fn stamp(frame: &mut [u8], tsc: u64) {
    let at = frame.len() - STAMP_LEN;
    frame[at..at + 4].copy_from_slice(&MAGIC.to_be_bytes());
    frame[at + 4..].copy_from_slice(&tsc.to_le_bytes());
}

/// The timestamp of one of our frames, if `frame` is one.
#[inline]
pub fn read_stamp(frame: &[u8]) -> Option<u64> {
    let at = frame.len().checked_sub(STAMP_LEN)?;
    if frame[at..at + 4] != MAGIC.to_be_bytes() {
        return None;
    }
    Some(u64::from_le_bytes(frame[at + 4..].try_into().ok()?))
}

/// What a frame coming back must look like to count.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    pub len: usize,
    /// The outer UDP destination port, when the DUT does not swap ports (`None` for testpmd).
    pub udp_port: Option<u16>,
}

impl Expect {
    #[inline]
    pub fn matches(&self, frame: &[u8]) -> bool {
        let udp_at = ETHERNET_LEN + IPV4_LEN;
        frame.len() == self.len
            && frame[12..14] == ETHERTYPE_IPV4.to_be_bytes()
            && frame[ETHERNET_LEN + 9] == PROTOCOL_UDP
            && self
                .udp_port
                .is_none_or(|port| frame[udp_at + 2..udp_at + 4] == port.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::wire::ipv4::Ipv4Packet;

    const LINK: Link = Link {
        generator: [2, 0, 0, 0, 0, 1],
        dut: [2, 0, 0, 0, 0, 2],
    };
    const FLOW: Flow = Flow {
        src: Ipv4Addr::new(10, 1, 0, 10),
        dst: Ipv4Addr::new(11, 2, 3, 4),
        src_port: 1234,
    };

    #[test]
    fn stamps_survive_at_the_end_of_both_frame_kinds() {
        for mut frame in [
            eid_frame(LINK, FLOW),
            lisp_frame(
                LINK,
                Ipv4Addr::new(192, 0, 2, 2),
                Ipv4Addr::new(192, 0, 2, 1),
                FLOW,
            ),
        ] {
            assert_eq!(read_stamp(&frame), None);
            stamp(&mut frame, 0x0102_0304_0506_0708);
            assert_eq!(read_stamp(&frame), Some(0x0102_0304_0506_0708));
            let ip = Ipv4Packet::new_checked(&frame[ETHERNET_LEN..]).expect("valid IPv4");
            assert!(ip.verify_checksum());
            assert_eq!(usize::from(ip.total_len()), frame.len() - ETHERNET_LEN);
        }
    }

    #[test]
    fn the_lisp_frame_carries_the_eid_frame_after_its_outer_headers() {
        let inner = eid_frame(LINK, FLOW);
        let outer = lisp_frame(
            LINK,
            Ipv4Addr::new(192, 0, 2, 2),
            Ipv4Addr::new(192, 0, 2, 1),
            FLOW,
        );
        assert_eq!(outer.len(), LISP_FRAME_LEN);
        assert_eq!(
            outer[LISP_FRAME_LEN - (EID_FRAME_LEN - ETHERNET_LEN)..],
            inner[ETHERNET_LEN..]
        );
        let lisp = Expect {
            len: LISP_FRAME_LEN,
            udp_port: Some(DATA_PORT),
        };
        assert!(lisp.matches(&outer));
        assert!(!lisp.matches(&inner));
    }
}
