//! HMAC authentication of Map-Register, Map-Notify(-Ack) and CPM: computed over the whole message
//! with the authentication-data field zeroed, compared in constant time.
//!
//! Deployed peers carry the full HMAC output (20 bytes for SHA-1, 32 for SHA-256); we emit that and
//! also accept the truncated lengths RFC 9301 names (HMAC-SHA-1-96, HMAC-SHA-256-128).

use std::ops::Range;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// The Algorithm ID of the authentication field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthAlgorithm {
    HmacSha1,
    HmacSha256,
}

impl AuthAlgorithm {
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::HmacSha1),
            2 => Some(Self::HmacSha256),
            _ => None,
        }
    }

    pub fn id(self) -> u8 {
        match self {
            Self::HmacSha1 => 1,
            Self::HmacSha256 => 2,
        }
    }

    /// Bytes of authentication data we emit (the full HMAC).
    pub fn output_len(self) -> usize {
        match self {
            Self::HmacSha1 => 20,
            Self::HmacSha256 => 32,
        }
    }

    fn truncated_len(self) -> usize {
        match self {
            Self::HmacSha1 => 12,
            Self::HmacSha256 => 16,
        }
    }
}

/// Where the authentication data lies in a Map-Register, Map-Notify(-Ack) or Info message: all
/// share a 16-byte header ending in the Authentication Data Length, with the data right after it.
/// `message` must hold at least that header.
pub fn data_after_header(message: &[u8]) -> Range<usize> {
    const HEADER_LEN: usize = 16;
    let len = usize::from(u16::from_be_bytes([message[14], message[15]]));
    HEADER_LEN..HEADER_LEN + len
}

impl From<config::AuthAlgorithm> for AuthAlgorithm {
    fn from(algorithm: config::AuthAlgorithm) -> Self {
        match algorithm {
            config::AuthAlgorithm::HmacSha1 => Self::HmacSha1,
            config::AuthAlgorithm::HmacSha256 => Self::HmacSha256,
        }
    }
}

/// Feeds `message` with `field` replaced by zeros.
fn feed(mac: &mut impl Mac, message: &[u8], field: &Range<usize>) {
    const ZEROS: [u8; 64] = [0; 64];
    mac.update(&message[..field.start]);
    let mut left = field.len();
    while left > 0 {
        let n = left.min(ZEROS.len());
        mac.update(&ZEROS[..n]);
        left -= n;
    }
    mac.update(&message[field.end..]);
}

/// Computes the HMAC of `message` (with `field` zeroed) into `field`. `field` must lie inside
/// `message` and be `algorithm.output_len()` bytes long.
pub fn sign(algorithm: AuthAlgorithm, key: &[u8], message: &mut [u8], field: Range<usize>) {
    match algorithm {
        AuthAlgorithm::HmacSha1 => {
            let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts any key length");
            feed(&mut mac, message, &field);
            message[field].copy_from_slice(&mac.finalize().into_bytes());
        }
        AuthAlgorithm::HmacSha256 => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
            feed(&mut mac, message, &field);
            message[field].copy_from_slice(&mac.finalize().into_bytes());
        }
    }
}

/// True when `field` of `message` holds the HMAC of the message with that field zeroed.
/// The comparison is constant-time; the field may be the full or the RFC-truncated length.
pub fn verify(algorithm: AuthAlgorithm, key: &[u8], message: &[u8], field: Range<usize>) -> bool {
    if field.end > message.len() || field.start > field.end {
        return false;
    }
    let len = field.len();
    if len != algorithm.output_len() && len != algorithm.truncated_len() {
        return false;
    }
    let tag = &message[field.clone()];
    match algorithm {
        AuthAlgorithm::HmacSha1 => {
            let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts any key length");
            feed(&mut mac, message, &field);
            mac.verify_truncated_left(tag).is_ok()
        }
        AuthAlgorithm::HmacSha256 => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
            feed(&mut mac, message, &field);
            mac.verify_truncated_left(tag).is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2202_and_4231_vectors() {
        // RFC 2202 test case 2 (HMAC-SHA-1) and RFC 4231 test case 2 (HMAC-SHA-256): key "Jefe".
        let data = b"what do ya want for nothing?";
        let mut msg = data.to_vec();
        msg.extend_from_slice(&[0u8; 20]);
        let field = data.len()..data.len() + 20;
        let mut mac = Hmac::<Sha1>::new_from_slice(b"Jefe").unwrap();
        mac.update(data);
        mac.update(&[0u8; 20]);
        let expected = mac.finalize().into_bytes();
        sign(AuthAlgorithm::HmacSha1, b"Jefe", &mut msg, field.clone());
        assert_eq!(&msg[field.clone()], expected.as_slice());
        assert!(verify(
            AuthAlgorithm::HmacSha1,
            b"Jefe",
            &msg,
            field.clone()
        ));

        let mut plain = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        plain.update(data);
        assert_eq!(
            hex(&plain.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn tampering_and_wrong_keys_fail() {
        let mut msg = vec![7u8; 100];
        let field = 16..48;
        sign(AuthAlgorithm::HmacSha256, b"key", &mut msg, field.clone());
        assert!(verify(
            AuthAlgorithm::HmacSha256,
            b"key",
            &msg,
            field.clone()
        ));
        assert!(!verify(
            AuthAlgorithm::HmacSha256,
            b"other",
            &msg,
            field.clone()
        ));
        assert!(
            !verify(AuthAlgorithm::HmacSha1, b"key", &msg, field.clone()),
            "wrong length for SHA-1"
        );
        msg[80] ^= 1;
        assert!(!verify(AuthAlgorithm::HmacSha256, b"key", &msg, field));
        assert!(
            !verify(AuthAlgorithm::HmacSha256, b"key", &msg, 90..130),
            "out of bounds"
        );
    }

    #[test]
    fn truncated_tags_are_accepted() {
        // A peer sending HMAC-SHA-256-128 zeroes a 16-byte field and keeps the left half.
        let mut msg = vec![3u8; 48];
        msg[8..24].fill(0);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
        mac.update(&msg);
        let full = mac.finalize().into_bytes();
        msg[8..24].copy_from_slice(&full[..16]);
        assert!(verify(AuthAlgorithm::HmacSha256, b"k", &msg, 8..24));
        msg[8] ^= 1;
        assert!(!verify(AuthAlgorithm::HmacSha256, b"k", &msg, 8..24));
    }
}
