//! ICMP and ICMPv6 error messages (they share a layout: type, code, checksum, 4 bytes, then as much
//! of the invoking packet as fits).

use std::net::Ipv6Addr;

use super::checksum::{checksum, finish, pseudo_header_v6, sum};
use super::ipv6::NEXT_ICMPV6;
use super::{be16, be32, need, put16, WireResult};

pub const HEADER_LEN: usize = 8;
/// ICMPv4 Destination Unreachable; code 4 is "fragmentation needed and DF set".
pub const V4_DEST_UNREACHABLE: u8 = 3;
pub const V4_FRAG_NEEDED: u8 = 4;
/// ICMPv6 Packet Too Big.
pub const V6_PACKET_TOO_BIG: u8 = 2;

/// A view of an ICMP or ICMPv6 message.
#[derive(Debug, Clone)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        need(buffer.as_ref(), HEADER_LEN, "ICMP header")?;
        Ok(Self { buffer })
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// The next-hop MTU of an ICMPv4 "fragmentation needed".
    pub fn mtu_v4(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// The MTU of an ICMPv6 "packet too big".
    pub fn mtu_v6(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    /// The quoted invoking packet.
    pub fn invoking_packet(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    pub fn verify_checksum_v4(&self) -> bool {
        checksum(self.buffer.as_ref()) == 0
    }

    pub fn verify_checksum_v6(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        finish(pseudo_header_v6(src, dst, NEXT_ICMPV6, b.len() as u32) + sum(b)) == 0
    }
}

/// Fills in the ICMPv4 "fragmentation needed" header (MTU `mtu`) and checksum of `msg`, whose
/// bytes after the 8-byte header already hold the quoted packet (the pipeline rewrites a packet
/// in place into the error that quotes it).
pub fn fill_frag_needed_v4(msg: &mut [u8], mtu: u16) {
    msg[0] = V4_DEST_UNREACHABLE;
    msg[1] = V4_FRAG_NEEDED;
    msg[2..6].fill(0);
    put16(msg, 6, mtu);
    let value = checksum(msg);
    put16(msg, 2, value);
}

/// Fills in the ICMPv6 "packet too big" header (MTU `mtu`) and checksum of `msg`, from `src` to
/// `dst`, whose bytes after the 8-byte header already hold the quoted packet.
pub fn fill_packet_too_big_v6(msg: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr, mtu: u32) {
    msg[0] = V6_PACKET_TOO_BIG;
    msg[1] = 0;
    msg[2..4].fill(0);
    msg[4..8].copy_from_slice(&mtu.to_be_bytes());
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    let value = finish(pseudo_header_v6(src, dst, NEXT_ICMPV6, len) + sum(msg));
    put16(msg, 2, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frag_needed_and_too_big_verify() {
        let invoking = [0x45u8; 28];
        let mut buf = [0u8; HEADER_LEN + 28];
        buf[HEADER_LEN..].copy_from_slice(&invoking);
        fill_frag_needed_v4(&mut buf, 1400);
        let msg = IcmpPacket::new_checked(&buf[..]).expect("fits");
        assert_eq!((msg.msg_type(), msg.code(), msg.mtu_v4()), (3, 4, 1400));
        assert!(msg.verify_checksum_v4());
        assert_eq!(msg.invoking_packet(), &invoking);

        let (src, dst): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        fill_packet_too_big_v6(&mut buf, src, dst, 1280);
        let msg = IcmpPacket::new_checked(&buf[..]).expect("fits");
        assert_eq!((msg.msg_type(), msg.mtu_v6()), (2, 1280));
        assert!(msg.verify_checksum_v6(src, dst));
        assert!(!msg.verify_checksum_v6(dst, dst));
        assert!(IcmpPacket::new_checked(&buf[..7]).is_err());
    }
}
