//! The Change Priority Message (CPM) for VM mobility; the format is documented in `CPM.md`.
//!
//! A hypervisor tells an xTR that a VM's EID moved: the xTR sets the priority (and weight) of its
//! locators for that EID, re-registers, and sends SMRs to the correspondents listed.

use dataplane::wire::{WireError, WireResult};

use super::address::Address;
use super::auth::{self, AuthAlgorithm};
use super::reader::Reader;
use super::MessageType;

/// Our sub-type of the LISP Shared Extension message (experimental range).
pub const CPM_SUBTYPE: u16 = 4000;
/// Fixed bytes before the authentication data.
pub const HEADER_LEN: usize = 16;
/// Fixed bytes of the legacy layout before its 20-byte HMAC.
pub const LEGACY_HEADER_LEN: usize = 16;
const LEGACY_AUTH_LEN: usize = 20;

/// Who sent the CPM and what the receiving xTR is to the move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CpmRoles {
    /// H: sent by the hypervisor.
    pub hypervisor: bool,
    /// S: the receiver is the site the VM left.
    pub source_site: bool,
    /// D: the receiver is the site the VM arrived at.
    pub destination_site: bool,
}

impl CpmRoles {
    fn bits(self) -> u8 {
        u8::from(self.hypervisor) << 2
            | u8::from(self.source_site) << 1
            | u8::from(self.destination_site)
    }

    fn from_bits(bits: u8) -> Self {
        Self {
            hypervisor: bits & 4 != 0,
            source_site: bits & 2 != 0,
            destination_site: bits & 1 != 0,
        }
    }
}

/// Every field of a CPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpmRepr {
    pub roles: CpmRoles,
    pub nonce: u64,
    pub key_id: u8,
    pub algorithm_id: u8,
    pub auth_data: Vec<u8>,
    /// New priority and weight of the receiver's locators for the EID.
    pub priority: u8,
    pub weight: u8,
    pub mask_len: u8,
    pub eid: Address,
    /// Addresses the VM was talking to: they get SMRs.
    pub correspondents: Vec<Address>,
}

impl CpmRepr {
    /// Parses our type-15 layout.
    pub fn parse(bytes: &[u8]) -> WireResult<Self> {
        let mut r = Reader::new(bytes);
        let first = r.u16("CPM type/sub-type")?;
        if MessageType::of(bytes)? != MessageType::SharedExtension || first & 0x0fff != CPM_SUBTYPE
        {
            return Err(WireError::Malformed {
                field: "CPM sub-type",
                reason: "not a CPM",
            });
        }
        let roles = CpmRoles::from_bits(r.u8("CPM roles")? >> 5);
        let count = r.u8("CPM correspondent count")?;
        let nonce = r.u64("CPM nonce")?;
        let key_id = r.u8("CPM key ID")?;
        let algorithm_id = r.u8("CPM algorithm ID")?;
        let auth_len = usize::from(r.u16("CPM authentication data length")?);
        let auth_data = r.take(auth_len, "CPM authentication data")?.to_vec();
        let priority = r.u8("CPM priority")?;
        let weight = r.u8("CPM weight")?;
        let mask_len = r.u8("CPM EID mask-len")?;
        let _reserved = r.u8("CPM reserved")?;
        let eid = Address::parse(&mut r)?;
        if eid.max_mask_len().is_some_and(|max| mask_len > max) {
            return Err(WireError::Malformed {
                field: "CPM EID mask-len",
                reason: "longer than the address",
            });
        }
        let correspondents = parse_addresses(&mut r, count)?;
        Ok(Self {
            roles,
            nonce,
            key_id,
            algorithm_id,
            auth_data,
            priority,
            weight,
            mask_len,
            eid,
            correspondents,
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self.auth_data.len()
            + 4
            + self.eid.buffer_len()
            + self
                .correspondents
                .iter()
                .map(Address::buffer_len)
                .sum::<usize>()
    }

    pub fn emit(&self, out: &mut Vec<u8>) -> WireResult<()> {
        let count = u8::try_from(self.correspondents.len()).map_err(|_| WireError::Malformed {
            field: "CPM correspondents",
            reason: "more than 255",
        })?;
        let auth_len = u16::try_from(self.auth_data.len()).map_err(|_| WireError::Malformed {
            field: "CPM authentication data",
            reason: "too long",
        })?;
        out.reserve(self.buffer_len());
        let first = (u16::from(MessageType::SharedExtension as u8) << 12) | CPM_SUBTYPE;
        out.extend_from_slice(&first.to_be_bytes());
        out.extend_from_slice(&[self.roles.bits() << 5, count]);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&[self.key_id, self.algorithm_id]);
        out.extend_from_slice(&auth_len.to_be_bytes());
        out.extend_from_slice(&self.auth_data);
        out.extend_from_slice(&[self.priority, self.weight, self.mask_len, 0]);
        self.eid.emit(out);
        self.correspondents.iter().for_each(|a| a.emit(out));
        Ok(())
    }

    /// Emits the message signed with `key` (HMAC over the whole message, field zeroed).
    pub fn emit_signed(
        &self,
        algorithm: AuthAlgorithm,
        key: &[u8],
        out: &mut Vec<u8>,
    ) -> WireResult<()> {
        let mut unsigned = self.clone();
        unsigned.algorithm_id = algorithm.id();
        unsigned.auth_data = vec![0; algorithm.output_len()];
        let start = out.len();
        unsigned.emit(out)?;
        let field = HEADER_LEN..HEADER_LEN + algorithm.output_len();
        auth::sign(algorithm, key, &mut out[start..], field);
        Ok(())
    }
}

/// True when `bytes` (our layout) carries a valid HMAC for `key`.
pub fn verify(bytes: &[u8], key: &[u8]) -> bool {
    let Ok(cpm) = CpmRepr::parse(bytes) else {
        return false;
    };
    AuthAlgorithm::from_id(cpm.algorithm_id)
        .is_some_and(|a| auth::verify(a, key, bytes, HEADER_LEN..HEADER_LEN + cpm.auth_data.len()))
}

fn parse_addresses(r: &mut Reader<'_>, count: u8) -> WireResult<Vec<Address>> {
    if usize::from(count) * 2 > r.remaining() {
        return Err(WireError::Truncated {
            field: "CPM correspondents",
        });
    }
    (0..count).map(|_| Address::parse(r)).collect()
}

/// The seed's prototype layout (type 5, opt-in): same roles and fields, HMAC-SHA-1 over the first
/// 36 bytes only (header and zeroed HMAC), so the EID and correspondents are NOT authenticated.
///
/// ```text
/// |Type=5 |H|S|D|   Reserved      |   Priority    | Corr. Count   |
/// |                         Nonce (64)                            |
/// |          Key ID (16)          |  Auth Data Length (16) = 20   |
/// ~                  HMAC-SHA-1 (20 bytes)                        ~
/// | Weight        | EID mask-len  |   EID-AFI  |  EID ...         |
/// |   Correspondent AFI + address ...                             |
/// ```
pub mod legacy {
    use super::*;

    /// Parses the legacy layout into the common representation (key ID goes to `key_id`,
    /// algorithm is always HMAC-SHA-1).
    pub fn parse(bytes: &[u8]) -> WireResult<CpmRepr> {
        let mut r = Reader::new(bytes);
        let first = r.u8("legacy CPM type")?;
        if first >> 4 != 5 {
            return Err(WireError::Malformed {
                field: "legacy CPM type",
                reason: "not 5",
            });
        }
        let roles = CpmRoles::from_bits((first >> 1) & 0x07);
        let _reserved = r.u8("legacy CPM reserved")?;
        let priority = r.u8("legacy CPM priority")?;
        let count = r.u8("legacy CPM correspondent count")?;
        let nonce = r.u64("legacy CPM nonce")?;
        let key_id = r.u16("legacy CPM key ID")?;
        if usize::from(r.u16("legacy CPM auth length")?) != LEGACY_AUTH_LEN {
            return Err(WireError::Malformed {
                field: "legacy CPM auth length",
                reason: "not 20",
            });
        }
        let auth_data = r.take(LEGACY_AUTH_LEN, "legacy CPM HMAC")?.to_vec();
        let weight = r.u8("legacy CPM weight")?;
        let mask_len = r.u8("legacy CPM EID mask-len")?;
        let eid = Address::parse(&mut r)?;
        let correspondents = parse_addresses(&mut r, count)?;
        Ok(CpmRepr {
            roles,
            nonce,
            key_id: key_id as u8,
            algorithm_id: AuthAlgorithm::HmacSha1.id(),
            auth_data,
            priority,
            weight,
            mask_len,
            eid,
            correspondents,
        })
    }

    fn authenticated_range() -> std::ops::Range<usize> {
        LEGACY_HEADER_LEN..LEGACY_HEADER_LEN + LEGACY_AUTH_LEN
    }

    /// True when the legacy HMAC-SHA-1 (over header and zeroed HMAC only) is valid.
    pub fn verify(bytes: &[u8], key: &[u8]) -> bool {
        let end = LEGACY_HEADER_LEN + LEGACY_AUTH_LEN;
        bytes.len() >= end
            && auth::verify(
                AuthAlgorithm::HmacSha1,
                key,
                &bytes[..end],
                authenticated_range(),
            )
    }

    /// Emits the legacy layout, signed with `key`.
    pub fn emit_signed(cpm: &CpmRepr, key: &[u8], out: &mut Vec<u8>) -> WireResult<()> {
        let count = u8::try_from(cpm.correspondents.len()).map_err(|_| WireError::Malformed {
            field: "CPM correspondents",
            reason: "more than 255",
        })?;
        let start = out.len();
        out.push(5 << 4 | cpm.roles.bits() << 1);
        out.extend_from_slice(&[0, cpm.priority, count]);
        out.extend_from_slice(&cpm.nonce.to_be_bytes());
        out.extend_from_slice(&u16::from(cpm.key_id).to_be_bytes());
        out.extend_from_slice(&(LEGACY_AUTH_LEN as u16).to_be_bytes());
        out.extend_from_slice(&[0; LEGACY_AUTH_LEN]);
        out.extend_from_slice(&[cpm.weight, cpm.mask_len]);
        cpm.eid.emit(out);
        cpm.correspondents.iter().for_each(|a| a.emit(out));
        let end = start + LEGACY_HEADER_LEN + LEGACY_AUTH_LEN;
        auth::sign(
            AuthAlgorithm::HmacSha1,
            key,
            &mut out[start..end],
            authenticated_range(),
        );
        Ok(())
    }
}
