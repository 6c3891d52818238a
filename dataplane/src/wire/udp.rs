//! UDP headers and their checksums over IPv4 and IPv6.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::checksum::{finish, pseudo_header_v4, pseudo_header_v6, sum};
use super::ipv4::PROTOCOL_UDP;
use super::{be16, need, put16, WireError, WireResult};

pub const HEADER_LEN: usize = 8;

/// A view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Checks that the header fits and the length field is within 8..=buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        let b = buffer.as_ref();
        need(b, HEADER_LEN, "UDP header")?;
        let len = usize::from(be16(b, 4));
        if len < HEADER_LEN {
            return Err(WireError::Malformed {
                field: "UDP length",
                reason: "below 8",
            });
        }
        need(b, len, "UDP payload")?;
        Ok(Self { buffer })
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    #[inline]
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// Always false after `new_checked` (the header counts); here for API completeness.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    #[inline]
    fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.len())]
    }

    /// True when the checksum is right or absent (0 is allowed over IPv4).
    #[inline]
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        self.checksum() == 0
            || finish(pseudo_header_v4(src, dst, PROTOCOL_UDP, self.len()) + sum(self.datagram()))
                == 0
    }

    /// True when the checksum is right; a zero checksum passes only if `allow_zero` (RFC 6935/6936
    /// tunnel exception).
    #[inline]
    pub fn verify_checksum_v6(&self, src: Ipv6Addr, dst: Ipv6Addr, allow_zero: bool) -> bool {
        if self.checksum() == 0 {
            return allow_zero;
        }
        finish(
            pseudo_header_v6(src, dst, PROTOCOL_UDP, u32::from(self.len())) + sum(self.datagram()),
        ) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    #[inline]
    pub fn set_src_port(&mut self, port: u16) {
        put16(self.buffer.as_mut(), 0, port);
    }

    #[inline]
    pub fn set_dst_port(&mut self, port: u16) {
        put16(self.buffer.as_mut(), 2, port);
    }

    #[inline]
    pub fn set_checksum(&mut self, checksum: u16) {
        put16(self.buffer.as_mut(), 6, checksum);
    }

    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Computes and stores the checksum over IPv4 (0 is sent as 0xffff).
    #[inline]
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let value =
            finish(pseudo_header_v4(src, dst, PROTOCOL_UDP, self.len()) + sum(self.datagram()));
        self.set_checksum(if value == 0 { 0xffff } else { value });
    }

    /// Computes and stores the checksum over IPv6 (0 is sent as 0xffff).
    #[inline]
    pub fn fill_checksum_v6(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let value = finish(
            pseudo_header_v6(src, dst, PROTOCOL_UDP, u32::from(self.len())) + sum(self.datagram()),
        );
        self.set_checksum(if value == 0 { 0xffff } else { value });
    }
}

/// Writes a UDP header (checksum 0) at the start of `buffer` (which must hold 8 bytes).
pub fn write_header(buffer: &mut [u8], src_port: u16, dst_port: u16, payload_len: u16) {
    put16(buffer, 0, src_port);
    put16(buffer, 2, dst_port);
    put16(buffer, 4, HEADER_LEN as u16 + payload_len);
    put16(buffer, 6, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_round_trip_over_both_families() {
        let mut datagram = vec![0u8; 8 + 13];
        write_header(&mut datagram, 4341, 4342, 13);
        datagram[8..].copy_from_slice(b"hello, world!");
        let (s4, d4) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
        let mut udp = UdpPacket::new_checked(&mut datagram[..]).expect("valid");
        assert!(udp.verify_checksum_v4(s4, d4), "zero means none over IPv4");
        udp.fill_checksum_v4(s4, d4);
        assert!(udp.verify_checksum_v4(s4, d4));
        assert!(!udp.verify_checksum_v4(s4, Ipv4Addr::new(192, 0, 2, 3)));

        let (s6, d6): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        udp.set_checksum(0);
        assert!(
            !udp.verify_checksum_v6(s6, d6, false),
            "zero is invalid over IPv6 by default"
        );
        assert!(udp.verify_checksum_v6(s6, d6, true));
        udp.fill_checksum_v6(s6, d6);
        assert!(udp.verify_checksum_v6(s6, d6, false));
        assert_eq!(
            (udp.src_port(), udp.dst_port(), udp.len()),
            (4341, 4342, 21)
        );
        assert_eq!(udp.payload(), b"hello, world!");
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut d = [0u8; 12];
        write_header(&mut d, 1, 2, 4);
        assert!(UdpPacket::new_checked(&d[..11]).is_err());
        d[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert!(UdpPacket::new_checked(&d[..]).is_err());
        assert!(UdpPacket::new_checked(&d[..7]).is_err());
    }
}
