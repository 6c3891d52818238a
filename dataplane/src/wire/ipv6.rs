//! IPv6 headers, with extension headers walked safely to the upper-layer protocol.

use std::net::Ipv6Addr;

use super::{be16, need, put16, WireError, WireResult};

pub const HEADER_LEN: usize = 40;
pub const NEXT_HOP_BY_HOP: u8 = 0;
pub const NEXT_ROUTING: u8 = 43;
pub const NEXT_FRAGMENT: u8 = 44;
pub const NEXT_AUTH: u8 = 51;
pub const NEXT_NONE: u8 = 59;
pub const NEXT_DEST_OPTS: u8 = 60;
pub const NEXT_ICMPV6: u8 = 58;
/// Most extension headers walked before giving up (a chain longer than this is an attack).
pub const MAX_EXTENSION_HEADERS: usize = 8;

/// A view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// Where the upper-layer header starts, after any extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer {
    pub protocol: u8,
    /// Offset from the start of the IPv6 header.
    pub offset: usize,
    /// The fragment header, when the packet is a fragment.
    pub fragment: Option<Ipv6Fragment>,
}

impl UpperLayer {
    /// A non-first fragment: there is no upper-layer header in this packet.
    #[inline]
    pub fn later_fragment(&self) -> bool {
        self.fragment.is_some_and(|f| f.offset != 0)
    }
}

/// What a fragment header says (RFC 8200 section 4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Fragment {
    /// Where this fragment's data goes in the reassembled payload, in bytes.
    pub offset: usize,
    pub more: bool,
    pub ident: u32,
    /// Where the fragment's data starts, from the start of the IPv6 header.
    pub data_offset: usize,
    /// The first header of the fragmentable part.
    pub next_header: u8,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Checks version and payload length against the buffer (trailing padding is allowed).
    #[inline]
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        let b = buffer.as_ref();
        need(b, HEADER_LEN, "IPv6 header")?;
        if b[0] >> 4 != 6 {
            return Err(WireError::Malformed {
                field: "IPv6 version",
                reason: "not 6",
            });
        }
        need(b, HEADER_LEN + usize::from(be16(b, 4)), "IPv6 payload")?;
        Ok(Self { buffer })
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    #[inline]
    pub fn traffic_class(&self) -> u8 {
        let b = self.b();
        (b[0] << 4) | (b[1] >> 4)
    }

    #[inline]
    pub fn flow_label(&self) -> u32 {
        let b = self.b();
        (u32::from(b[1] & 0x0f) << 16) | u32::from(be16(b, 2))
    }

    #[inline]
    pub fn payload_len(&self) -> u16 {
        be16(self.b(), 4)
    }

    #[inline]
    pub fn next_header(&self) -> u8 {
        self.b()[6]
    }

    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.b()[7]
    }

    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[8..24]);
        Ipv6Addr::from(a)
    }

    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[24..40]);
        Ipv6Addr::from(a)
    }

    /// The payload (extension headers included), up to the payload length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }

    /// Walks hop-by-hop, routing, fragment, destination-options and AH headers; every length is
    /// checked against the payload and the chain is bounded.
    #[inline]
    pub fn upper_layer(&self) -> WireResult<UpperLayer> {
        let end = HEADER_LEN + usize::from(self.payload_len());
        let b = &self.b()[..end];
        let mut protocol = self.next_header();
        let mut offset = HEADER_LEN;
        let mut fragment = None;
        for _ in 0..MAX_EXTENSION_HEADERS {
            let len = match protocol {
                NEXT_HOP_BY_HOP | NEXT_ROUTING | NEXT_DEST_OPTS => {
                    need(b, offset + 2, "IPv6 extension header")?;
                    (usize::from(b[offset + 1]) + 1) * 8
                }
                NEXT_AUTH => {
                    need(b, offset + 2, "IPv6 AH header")?;
                    (usize::from(b[offset + 1]) + 2) * 4
                }
                NEXT_FRAGMENT => {
                    need(b, offset + 8, "IPv6 fragment header")?;
                    let word = be16(b, offset + 2);
                    let this = Ipv6Fragment {
                        offset: usize::from(word & 0xfff8),
                        more: word & 1 != 0,
                        ident: u32::from_be_bytes([
                            b[offset + 4],
                            b[offset + 5],
                            b[offset + 6],
                            b[offset + 7],
                        ]),
                        data_offset: offset + 8,
                        next_header: b[offset],
                    };
                    if this.offset != 0 {
                        return Ok(UpperLayer {
                            protocol: b[offset],
                            offset: offset + 8,
                            fragment: Some(this),
                        });
                    }
                    fragment = Some(this);
                    8
                }
                _ => {
                    return Ok(UpperLayer {
                        protocol,
                        offset,
                        fragment,
                    })
                }
            };
            need(b, offset + len, "IPv6 extension header body")?;
            protocol = b[offset];
            offset += len;
        }
        Err(WireError::Malformed {
            field: "IPv6 extension headers",
            reason: "chain too long",
        })
    }

    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    #[inline]
    pub fn set_traffic_class(&mut self, tc: u8) {
        let b = self.buffer.as_mut();
        b[0] = 0x60 | (tc >> 4);
        b[1] = (tc << 4) | (b[1] & 0x0f);
    }

    #[inline]
    pub fn set_payload_len(&mut self, len: u16) {
        put16(self.buffer.as_mut(), 4, len);
    }

    #[inline]
    pub fn set_next_header(&mut self, next: u8) {
        self.buffer.as_mut()[6] = next;
    }

    #[inline]
    pub fn set_hop_limit(&mut self, hops: u8) {
        self.buffer.as_mut()[7] = hops;
    }

    #[inline]
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[8..24].copy_from_slice(&addr.octets());
    }

    #[inline]
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[24..40].copy_from_slice(&addr.octets());
    }

    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The fields of an IPv6 header without extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub payload_len: u16,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Writes the 40-byte header at the start of `buffer` (which must hold [`HEADER_LEN`] bytes).
    #[inline]
    pub fn emit(&self, buffer: &mut [u8]) {
        let header = &mut buffer[..HEADER_LEN];
        let first =
            (6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0x000f_ffff);
        header[0..4].copy_from_slice(&first.to_be_bytes());
        put16(header, 4, self.payload_len);
        header[6] = self.next_header;
        header[7] = self.hop_limit;
        header[8..24].copy_from_slice(&self.src.octets());
        header[24..40].copy_from_slice(&self.dst.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; HEADER_LEN + payload.len()];
        Ipv6Repr {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: next,
            payload_len: payload.len() as u16,
            hop_limit: 64,
            traffic_class: 0xb8,
            flow_label: 0x12345,
        }
        .emit(&mut p);
        p[HEADER_LEN..].copy_from_slice(payload);
        p
    }

    #[test]
    fn fields_read_back() {
        let bytes = packet(17, &[0; 8]);
        let p = Ipv6Packet::new_checked(&bytes[..]).expect("valid");
        assert_eq!(
            (
                p.traffic_class(),
                p.flow_label(),
                p.hop_limit(),
                p.next_header()
            ),
            (0xb8, 0x12345, 64, 17)
        );
        assert_eq!(p.src_addr(), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            p.upper_layer().expect("walk"),
            UpperLayer {
                protocol: 17,
                offset: 40,
                fragment: None
            }
        );
    }

    #[test]
    fn extension_headers_are_skipped() {
        // Hop-by-hop (8 bytes) -> destination options (16 bytes) -> fragment (first) -> UDP.
        let mut ext = vec![NEXT_DEST_OPTS, 0, 0, 0, 0, 0, 0, 0];
        ext.extend_from_slice(&[NEXT_FRAGMENT, 1]);
        ext.extend_from_slice(&[0; 14]);
        ext.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 1]);
        ext.extend_from_slice(&[0; 8]);
        let bytes = packet(NEXT_HOP_BY_HOP, &ext);
        let up = Ipv6Packet::new_checked(&bytes[..])
            .expect("valid")
            .upper_layer()
            .expect("walk");
        assert_eq!((up.protocol, up.offset), (17, 40 + 32));
        assert_eq!(
            up.fragment,
            Some(Ipv6Fragment {
                offset: 0,
                more: false,
                ident: 1,
                data_offset: 40 + 32,
                next_header: 17
            }),
            "an atomic fragment (offset 0, no more)"
        );
    }

    #[test]
    fn later_fragments_and_hostile_chains() {
        let bytes = packet(NEXT_FRAGMENT, &[17, 0, 0x00, 0x08, 0, 0, 0, 1]);
        let up = Ipv6Packet::new_checked(&bytes[..])
            .expect("valid")
            .upper_layer()
            .expect("walk");
        assert!(up.later_fragment());
        assert_eq!(
            up.fragment.map(|f| (f.offset, f.more, f.ident)),
            Some((8, false, 1))
        );

        let truncated = packet(NEXT_HOP_BY_HOP, &[17, 5, 0, 0]);
        assert!(Ipv6Packet::new_checked(&truncated[..])
            .expect("valid")
            .upper_layer()
            .is_err());

        let looping: Vec<u8> = std::iter::repeat_n([NEXT_DEST_OPTS, 0, 0, 0, 0, 0, 0, 0], 12)
            .flatten()
            .collect();
        let bytes = packet(NEXT_DEST_OPTS, &looping);
        assert!(Ipv6Packet::new_checked(&bytes[..])
            .expect("valid")
            .upper_layer()
            .is_err());
    }

    #[test]
    fn rejects_bad_version_and_length() {
        let mut bytes = packet(17, &[0; 8]);
        assert!(Ipv6Packet::new_checked(&bytes[..47]).is_err());
        bytes[0] = 0x45;
        assert!(Ipv6Packet::new_checked(&bytes[..]).is_err());
    }
}
