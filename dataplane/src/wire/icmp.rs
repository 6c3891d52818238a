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

/// Writes an ICMPv4 "fragmentation needed" (MTU `mtu`) quoting `invoking` into `buffer`, which must
/// hold `HEADER_LEN + invoking.len()` bytes. Returns the message length.
pub fn write_frag_needed_v4(buffer: &mut [u8], mtu: u16, invoking: &[u8]) -> usize {
    let len = HEADER_LEN + invoking.len();
    let msg = &mut buffer[..len];
    msg[0] = V4_DEST_UNREACHABLE;
    msg[1] = V4_FRAG_NEEDED;
    msg[2..6].fill(0);
    put16(msg, 6, mtu);
    msg[HEADER_LEN..].copy_from_slice(invoking);
    let value = checksum(msg);
    put16(msg, 2, value);
    len
}

/// Writes an ICMPv6 "packet too big" (MTU `mtu`) from `src` to `dst` quoting `invoking`.
pub fn write_packet_too_big_v6(
    buffer: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    mtu: u32,
    invoking: &[u8],
) -> usize {
    let len = HEADER_LEN + invoking.len();
    let msg = &mut buffer[..len];
    msg[0] = V6_PACKET_TOO_BIG;
    msg[1] = 0;
    msg[2..4].fill(0);
    msg[4..8].copy_from_slice(&mtu.to_be_bytes());
    msg[HEADER_LEN..].copy_from_slice(invoking);
    let value = finish(pseudo_header_v6(src, dst, NEXT_ICMPV6, len as u32) + sum(msg));
    put16(msg, 2, value);
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frag_needed_and_too_big_verify() {
        let invoking = [0x45u8; 28];
        let mut buf = [0u8; 64];
        let n = write_frag_needed_v4(&mut buf, 1400, &invoking);
        let msg = IcmpPacket::new_checked(&buf[..n]).expect("fits");
        assert_eq!((msg.msg_type(), msg.code(), msg.mtu_v4()), (3, 4, 1400));
        assert!(msg.verify_checksum_v4());
        assert_eq!(msg.invoking_packet(), &invoking);

        let (src, dst): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        let n = write_packet_too_big_v6(&mut buf, src, dst, 1280, &invoking);
        let msg = IcmpPacket::new_checked(&buf[..n]).expect("fits");
        assert_eq!((msg.msg_type(), msg.mtu_v6()), (2, 1280));
        assert!(msg.verify_checksum_v6(src, dst));
        assert!(!msg.verify_checksum_v6(dst, dst));
        assert!(IcmpPacket::new_checked(&buf[..7]).is_err());
    }
}
