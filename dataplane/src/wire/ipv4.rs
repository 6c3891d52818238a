//! IPv4 headers (options tolerated and skipped).

use std::net::Ipv4Addr;

use super::checksum;
use super::{be16, need, put16, WireError, WireResult};

/// Header length without options.
pub const HEADER_LEN: usize = 20;
pub const PROTOCOL_ICMP: u8 = 1;
pub const PROTOCOL_TCP: u8 = 6;
pub const PROTOCOL_UDP: u8 = 17;

/// A view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Checks version, header length and total length against the buffer. Bytes after the total
    /// length (Ethernet padding) are allowed and ignored by [`payload`](Self::payload).
    #[inline]
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        let b = buffer.as_ref();
        need(b, HEADER_LEN, "IPv4 header")?;
        if b[0] >> 4 != 4 {
            return Err(WireError::Malformed {
                field: "IPv4 version",
                reason: "not 4",
            });
        }
        let header_len = usize::from(b[0] & 0x0f) * 4;
        if header_len < HEADER_LEN {
            return Err(WireError::Malformed {
                field: "IPv4 IHL",
                reason: "below 5 words",
            });
        }
        need(b, header_len, "IPv4 options")?;
        let total = usize::from(be16(b, 2));
        if total < header_len {
            return Err(WireError::Malformed {
                field: "IPv4 total length",
                reason: "shorter than the header",
            });
        }
        need(b, total, "IPv4 payload")?;
        Ok(Self { buffer })
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[0] & 0x0f) * 4
    }

    /// DSCP (upper 6 bits) and ECN (lower 2 bits).
    #[inline]
    pub fn tos(&self) -> u8 {
        self.b()[1]
    }

    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(self.b(), 2)
    }

    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.b(), 4)
    }

    #[inline]
    pub fn dont_fragment(&self) -> bool {
        self.b()[6] & 0x40 != 0
    }

    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.b()[6] & 0x20 != 0
    }

    /// Fragment offset in 8-byte units.
    #[inline]
    pub fn fragment_offset(&self) -> u16 {
        be16(self.b(), 6) & 0x1fff
    }

    #[inline]
    pub fn ttl(&self) -> u8 {
        self.b()[8]
    }

    #[inline]
    pub fn protocol(&self) -> u8 {
        self.b()[9]
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.b(), 10)
    }

    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }

    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }

    /// True when the header checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(&self.b()[..self.header_len()]) == 0
    }

    /// The payload, up to the total length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..usize::from(self.total_len())]
    }

    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    #[inline]
    fn m(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    #[inline]
    pub fn set_tos(&mut self, tos: u8) {
        self.m()[1] = tos;
    }

    #[inline]
    pub fn set_total_len(&mut self, len: u16) {
        put16(self.m(), 2, len);
    }

    #[inline]
    pub fn set_ident(&mut self, ident: u16) {
        put16(self.m(), 4, ident);
    }

    /// Sets DF and clears MF and the fragment offset.
    #[inline]
    pub fn set_dont_fragment(&mut self, df: bool) {
        put16(self.m(), 6, if df { 0x4000 } else { 0 });
    }

    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        self.m()[8] = ttl;
    }

    #[inline]
    pub fn set_protocol(&mut self, protocol: u8) {
        self.m()[9] = protocol;
    }

    #[inline]
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.m()[12..16].copy_from_slice(&addr.octets());
    }

    #[inline]
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.m()[16..20].copy_from_slice(&addr.octets());
    }

    /// Recomputes the header checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        put16(self.m(), 10, 0);
        let len = self.header_len();
        let sum = checksum::checksum(&self.b()[..len]);
        put16(self.m(), 10, sum);
    }

    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), usize::from(self.total_len()));
        &mut self.m()[start..end]
    }
}

/// The fields of an option-less IPv4 header we emit (DF set, id 0: tunnels never fragment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub payload_len: u16,
    pub ttl: u8,
    pub tos: u8,
}

impl Ipv4Repr {
    /// Writes the 20-byte header with its checksum at the start of `buffer`
    /// (which must hold [`HEADER_LEN`] bytes). The checksum is summed from the field values
    /// rather than re-read from the written bytes: this runs once per encapsulated packet.
    #[inline]
    pub fn emit(&self, buffer: &mut [u8]) {
        const FLAGS_DF: u16 = 0x4000;
        let total_len = HEADER_LEN as u16 + self.payload_len;
        let (src, dst) = (u32::from(self.src), u32::from(self.dst));
        let first = u16::from_be_bytes([0x45, self.tos]);
        let ttl_protocol = u16::from_be_bytes([self.ttl, self.protocol]);
        let sum = u64::from(first)
            + u64::from(total_len)
            + u64::from(FLAGS_DF)
            + u64::from(ttl_protocol)
            + u64::from(src)
            + u64::from(dst);
        let header = &mut buffer[..HEADER_LEN];
        put16(header, 0, first);
        put16(header, 2, total_len);
        header[4..6].fill(0);
        put16(header, 6, FLAGS_DF);
        put16(header, 8, ttl_protocol);
        put16(header, 10, checksum::finish(sum));
        header[12..16].copy_from_slice(&self.src.octets());
        header[16..20].copy_from_slice(&self.dst.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet() -> Vec<u8> {
        let mut p = vec![0u8; 28];
        Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: PROTOCOL_UDP,
            payload_len: 8,
            ttl: 64,
            tos: 0xb8,
        }
        .emit(&mut p);
        p
    }

    #[test]
    fn written_header_reads_back() {
        let bytes = packet();
        let p = Ipv4Packet::new_checked(&bytes[..]).expect("valid");
        assert_eq!(p.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(
            (p.protocol(), p.ttl(), p.tos(), p.total_len()),
            (PROTOCOL_UDP, 64, 0xb8, 28)
        );
        assert!(p.dont_fragment() && !p.more_fragments() && p.fragment_offset() == 0);
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 8);
    }

    #[test]
    fn options_are_skipped_and_padding_ignored() {
        let mut bytes = [0u8; 40];
        bytes[0] = 0x46; // IHL 6: 4 bytes of options
        bytes[2..4].copy_from_slice(&30u16.to_be_bytes());
        let mut p = Ipv4Packet::new_checked(&mut bytes[..]).expect("valid");
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.header_len(), 24);
        assert_eq!(
            p.payload().len(),
            6,
            "total length bounds the payload, not the buffer"
        );
    }

    #[test]
    fn rejects_what_would_mislead_accessors() {
        let good = packet();
        let mut v6 = good.clone();
        v6[0] = 0x65;
        let mut short_ihl = good.clone();
        short_ihl[0] = 0x44;
        let mut long_ihl = good.clone();
        long_ihl[0] = 0x4f;
        let mut total_small = good.clone();
        total_small[2..4].copy_from_slice(&19u16.to_be_bytes());
        let mut total_big = good.clone();
        total_big[2..4].copy_from_slice(&29u16.to_be_bytes());
        for bad in [
            &good[..19],
            &v6[..],
            &short_ihl[..],
            &long_ihl[..],
            &total_small[..],
            &total_big[..],
        ] {
            assert!(Ipv4Packet::new_checked(bad).is_err());
        }
        let mut corrupt = good;
        corrupt[8] = 63;
        assert!(!Ipv4Packet::new_checked(&corrupt[..])
            .expect("parses")
            .verify_checksum());
    }

    proptest::proptest! {
        #[test]
        fn emitted_headers_read_back_with_a_valid_checksum(
            src: u32, dst: u32, protocol: u8, ttl: u8, tos: u8, payload_len in 0u16..=65515,
        ) {
            let mut bytes = vec![0u8; HEADER_LEN + usize::from(payload_len)];
            let repr = Ipv4Repr {
                src: Ipv4Addr::from(src),
                dst: Ipv4Addr::from(dst),
                protocol,
                payload_len,
                ttl,
                tos,
            };
            repr.emit(&mut bytes);
            let p = Ipv4Packet::new_checked(&bytes[..]).expect("valid");
            proptest::prop_assert!(p.verify_checksum());
            proptest::prop_assert_eq!(
                (p.src_addr(), p.dst_addr(), p.protocol(), p.ttl(), p.tos()),
                (repr.src, repr.dst, protocol, ttl, tos)
            );
            proptest::prop_assert_eq!(p.total_len(), HEADER_LEN as u16 + payload_len);
        }
    }
}
