//! Zero-copy header views over packet bytes (smoltcp style): `new_checked` validates lengths and
//! the fields the rest of the view relies on, so accessors cannot panic afterwards; setters work in
//! place. Every parser here takes untrusted bytes.

pub mod arp;
pub mod checksum;
pub mod datagram;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod lisp;
pub mod ndp;
pub mod udp;

/// Why bytes were rejected. `field` names what was missing or wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer ends before `field`.
    Truncated { field: &'static str },
    /// `field` holds a value the format does not allow.
    Malformed {
        field: &'static str,
        reason: &'static str,
    },
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Truncated { field } => write!(f, "truncated before {field}"),
            Self::Malformed { field, reason } => write!(f, "malformed {field}: {reason}"),
        }
    }
}

impl std::error::Error for WireError {}

/// Result of parsing untrusted bytes.
pub type WireResult<T> = Result<T, WireError>;

/// Fails with `Truncated { field }` unless `buffer` holds at least `len` bytes.
#[inline]
pub(crate) fn need(buffer: &[u8], len: usize, field: &'static str) -> WireResult<()> {
    if buffer.len() < len {
        Err(WireError::Truncated { field })
    } else {
        Ok(())
    }
}

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
pub(crate) fn put16(b: &mut [u8], at: usize, value: u16) {
    b[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

#[inline]
pub(crate) fn put32(b: &mut [u8], at: usize, value: u32) {
    b[at..at + 4].copy_from_slice(&value.to_be_bytes());
}
