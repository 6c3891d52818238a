//! The 8-byte LISP data header (RFC 9300 §5.3).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |N|L|E|V|I|R|K|K|            Nonce/Map-Version                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Instance ID/Locator-Status-Bits               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::{be32, need, put32, WireError, WireResult};

pub const HEADER_LEN: usize = 8;
/// UDP port of LISP data packets.
pub const DATA_PORT: u16 = 4341;
/// UDP port of LISP control messages.
pub const CONTROL_PORT: u16 = 4342;

const N: u8 = 0x80;
const L: u8 = 0x40;
const E: u8 = 0x20;
const V: u8 = 0x10;
const I: u8 = 0x08;

/// A view of a LISP data header.
#[derive(Debug, Clone)]
pub struct LispHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LispHeader<T> {
    /// Checks the length and rejects N and V together, which RFC 9300 forbids (the 24 bits cannot
    /// be both a nonce and map-versions).
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        let b = buffer.as_ref();
        need(b, HEADER_LEN, "LISP header")?;
        if b[0] & (N | V) == N | V {
            return Err(WireError::Malformed {
                field: "LISP flags",
                reason: "N and V both set",
            });
        }
        Ok(Self { buffer })
    }

    #[inline]
    fn flags(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    #[inline]
    pub fn nonce_present(&self) -> bool {
        self.flags() & N != 0
    }

    #[inline]
    pub fn lsb_enabled(&self) -> bool {
        self.flags() & L != 0
    }

    /// Echo-nonce request; meaningful only with N.
    #[inline]
    pub fn echo_nonce_request(&self) -> bool {
        self.nonce_present() && self.flags() & E != 0
    }

    #[inline]
    pub fn map_version_present(&self) -> bool {
        self.flags() & V != 0
    }

    #[inline]
    pub fn instance_id_present(&self) -> bool {
        self.flags() & I != 0
    }

    /// The 24-bit nonce, when N is set.
    #[inline]
    pub fn nonce(&self) -> Option<u32> {
        self.nonce_present()
            .then(|| be32(self.buffer.as_ref(), 0) & 0x00ff_ffff)
    }

    /// Source and destination map-versions (12 bits each), when V is set.
    #[inline]
    pub fn map_versions(&self) -> Option<(u16, u16)> {
        self.map_version_present().then(|| {
            let bits = be32(self.buffer.as_ref(), 0);
            (((bits >> 12) & 0x0fff) as u16, (bits & 0x0fff) as u16)
        })
    }

    /// The 24-bit instance-id, when I is set.
    #[inline]
    pub fn instance_id(&self) -> Option<u32> {
        self.instance_id_present()
            .then(|| be32(self.buffer.as_ref(), 4) >> 8)
    }

    /// Locator-status bits: 8 with an instance-id, 32 without; `None` unless L is set.
    #[inline]
    pub fn locator_status_bits(&self) -> Option<u32> {
        let word = be32(self.buffer.as_ref(), 4);
        self.lsb_enabled().then(|| {
            if self.instance_id_present() {
                word & 0xff
            } else {
                word
            }
        })
    }
}

/// The fields of a data header to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LispRepr {
    /// 24-bit nonce (N bit), or none.
    pub nonce: Option<u32>,
    pub echo_nonce_request: bool,
    /// Source/destination map-versions (V bit); never together with a nonce.
    pub map_versions: Option<(u16, u16)>,
    /// 24-bit instance-id (I bit).
    pub instance_id: Option<u32>,
    /// Locator-status bits (L bit); 8 bits are kept when an instance-id is present.
    pub locator_status_bits: Option<u32>,
}

impl LispRepr {
    /// Reads every field of a checked header.
    pub fn parse<T: AsRef<[u8]>>(header: &LispHeader<T>) -> Self {
        Self {
            nonce: header.nonce(),
            echo_nonce_request: header.echo_nonce_request(),
            map_versions: header.map_versions(),
            instance_id: header.instance_id(),
            locator_status_bits: header.locator_status_bits(),
        }
    }

    /// Writes the 8 bytes at the start of `buffer` (which must hold [`HEADER_LEN`] bytes).
    /// A nonce wins over map-versions if both are set, keeping the header valid.
    #[inline]
    pub fn emit(&self, buffer: &mut [u8]) {
        let mut flags = 0u8;
        let mut first = 0u32;
        if let Some(nonce) = self.nonce {
            flags |= N;
            if self.echo_nonce_request {
                flags |= E;
            }
            first = nonce & 0x00ff_ffff;
        } else if let Some((source, destination)) = self.map_versions {
            flags |= V;
            first = (u32::from(source & 0x0fff) << 12) | u32::from(destination & 0x0fff);
        }
        let lsb = self.locator_status_bits.unwrap_or(0);
        if self.locator_status_bits.is_some() {
            flags |= L;
        }
        let second = match self.instance_id {
            Some(iid) => {
                flags |= I;
                ((iid & 0x00ff_ffff) << 8) | (lsb & 0xff)
            }
            None => lsb,
        };
        put32(buffer, 0, (u32::from(flags) << 24) | first);
        put32(buffer, 4, second);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_nonce_with_map_versions() {
        let bytes = [N | V, 0, 0, 0, 0, 0, 0, 0];
        assert!(LispHeader::new_checked(&bytes[..]).is_err());
        assert!(LispHeader::new_checked(&bytes[..7]).is_err());
    }

    #[test]
    fn echo_bit_means_nothing_without_nonce() {
        let bytes = [E, 0, 0, 0, 0, 0, 0, 0];
        assert!(!LispHeader::new_checked(&bytes[..])
            .expect("valid")
            .echo_nonce_request());
    }

    #[test]
    fn instance_id_and_lsb_share_the_second_word() {
        let repr = LispRepr {
            nonce: Some(0xabcdef),
            instance_id: Some(0x123456),
            locator_status_bits: Some(0x3),
            ..LispRepr::default()
        };
        let mut b = [0u8; 8];
        repr.emit(&mut b);
        assert_eq!(b, [0xc8, 0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x03]);
    }

    fn arb_repr() -> impl Strategy<Value = LispRepr> {
        (
            prop_oneof![Just(None), (0u32..1 << 24).prop_map(Some)],
            any::<bool>(),
            prop_oneof![Just(None), (0u16..4096, 0u16..4096).prop_map(Some)],
            prop_oneof![Just(None), (0u32..1 << 24).prop_map(Some)],
            prop_oneof![Just(None), any::<u32>().prop_map(Some)],
        )
            .prop_map(|(nonce, echo, versions, iid, lsb)| LispRepr {
                nonce,
                echo_nonce_request: echo && nonce.is_some(),
                map_versions: if nonce.is_some() { None } else { versions },
                instance_id: iid,
                locator_status_bits: match (iid, lsb) {
                    (Some(_), Some(bits)) => Some(bits & 0xff),
                    (_, bits) => bits,
                },
            })
    }

    proptest! {
        #[test]
        fn round_trip(repr in arb_repr()) {
            let mut b = [0u8; 8];
            repr.emit(&mut b);
            let parsed = LispRepr::parse(&LispHeader::new_checked(&b[..]).expect("emitted headers are valid"));
            prop_assert_eq!(parsed, repr);
        }

        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            if let Ok(header) = LispHeader::new_checked(&bytes[..]) {
                let _ = LispRepr::parse(&header);
            }
        }
    }
}
