//! EID records and locator records (RFC 9301 §5.4), shared by Map-Reply, Map-Register and
//! Map-Notify, and the EID-prefix records of a Map-Request.
//!
//! ```text
//! |                          Record TTL                           |
//! | Locator Count | EID mask-len  | ACT |A|      Reserved         |
//! | Rsvd  |  Map-Version Number   |       EID-Prefix-AFI          |
//! |                          EID-Prefix                           |
//! |    Priority   |    Weight     |  M Priority   |   M Weight    |  \
//! |        Unused Flags     |L|p|R|           Loc-AFI             |   > per locator
//! |                             Locator                           |  /
//! ```

use dataplane::wire::{WireError, WireResult};

use super::address::Address;
use super::reader::Reader;

/// What to do with packets that match a (usually negative) record: the ACT field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    NoAction,
    NativelyForward,
    SendMapRequest,
    Drop,
    DropPolicyDenied,
    DropAuthFailure,
    /// 6 and 7 are unassigned; kept so a record re-emits unchanged.
    Unassigned(u8),
}

impl Action {
    pub fn from_bits(bits: u8) -> Self {
        match bits & 0x07 {
            0 => Self::NoAction,
            1 => Self::NativelyForward,
            2 => Self::SendMapRequest,
            3 => Self::Drop,
            4 => Self::DropPolicyDenied,
            5 => Self::DropAuthFailure,
            other => Self::Unassigned(other),
        }
    }

    pub fn bits(self) -> u8 {
        match self {
            Self::NoAction => 0,
            Self::NativelyForward => 1,
            Self::SendMapRequest => 2,
            Self::Drop => 3,
            Self::DropPolicyDenied => 4,
            Self::DropAuthFailure => 5,
            Self::Unassigned(bits) => bits & 0x07,
        }
    }
}

/// One locator of a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocatorRecord {
    pub priority: u8,
    pub weight: u8,
    pub multicast_priority: u8,
    pub multicast_weight: u8,
    /// L: the locator is local to the sender.
    pub local: bool,
    /// p: the locator is the one the RLOC-probe reply is sent from.
    pub probed: bool,
    /// R: the sender considers the locator reachable.
    pub reachable: bool,
    pub address: Address,
}

/// Fixed bytes of a locator record before its address.
const LOCATOR_FIXED: usize = 6;

impl LocatorRecord {
    /// A reachable unicast locator (no multicast priority: 255), not the probed one; `local`
    /// when it is the sender's own.
    pub fn unicast(address: Address, priority: u8, weight: u8, local: bool) -> Self {
        Self {
            priority,
            weight,
            multicast_priority: 255,
            multicast_weight: 0,
            local,
            probed: false,
            reachable: true,
            address,
        }
    }

    pub fn parse(reader: &mut Reader<'_>) -> WireResult<Self> {
        let priority = reader.u8("locator priority")?;
        let weight = reader.u8("locator weight")?;
        let multicast_priority = reader.u8("locator M priority")?;
        let multicast_weight = reader.u8("locator M weight")?;
        let flags = reader.u16("locator flags")?;
        Ok(Self {
            priority,
            weight,
            multicast_priority,
            multicast_weight,
            local: flags & 0x4 != 0,
            probed: flags & 0x2 != 0,
            reachable: flags & 0x1 != 0,
            address: Address::parse(reader)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        LOCATOR_FIXED + self.address.buffer_len()
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        let flags =
            u16::from(self.local) << 2 | u16::from(self.probed) << 1 | u16::from(self.reachable);
        out.extend_from_slice(&[
            self.priority,
            self.weight,
            self.multicast_priority,
            self.multicast_weight,
        ]);
        out.extend_from_slice(&flags.to_be_bytes());
        self.address.emit(out);
    }
}

/// A mapping: an EID prefix and its locators (empty for a negative record).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EidRecord {
    /// Minutes; 0 means "do not cache", 0xffffffff "forever".
    pub ttl: u32,
    pub mask_len: u8,
    pub action: Action,
    /// A: sent by an authoritative source (the ETR or a proxy map-server).
    pub authoritative: bool,
    /// 12-bit map-version.
    pub map_version: u16,
    pub eid: Address,
    pub locators: Vec<LocatorRecord>,
}

impl EidRecord {
    pub fn parse(reader: &mut Reader<'_>) -> WireResult<Self> {
        let ttl = reader.u32("record TTL")?;
        let locator_count = reader.u8("record locator count")?;
        let mask_len = reader.u8("record EID mask-len")?;
        let flags = reader.u8("record ACT/A")?;
        let _reserved = reader.u8("record reserved")?;
        let map_version = reader.u16("record map-version")? & 0x0fff;
        let eid = Address::parse(reader)?;
        check_mask_len(&eid, mask_len, "record EID mask-len")?;
        // Each locator needs at least its fixed part and an AFI: no allocation beyond what fits.
        if usize::from(locator_count) * (LOCATOR_FIXED + 2) > reader.remaining() {
            return Err(WireError::Truncated {
                field: "record locators",
            });
        }
        let mut locators = Vec::with_capacity(usize::from(locator_count));
        for _ in 0..locator_count {
            locators.push(LocatorRecord::parse(reader)?);
        }
        Ok(Self {
            ttl,
            mask_len,
            action: Action::from_bits(flags >> 5),
            authoritative: flags & 0x10 != 0,
            map_version,
            eid,
            locators,
        })
    }

    pub fn buffer_len(&self) -> usize {
        10 + self.eid.buffer_len()
            + self
                .locators
                .iter()
                .map(LocatorRecord::buffer_len)
                .sum::<usize>()
    }

    /// Appends the record. At most 255 locators are written (the count is 8 bits).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let count = self.locators.len().min(255);
        out.extend_from_slice(&self.ttl.to_be_bytes());
        out.push(count as u8);
        out.push(self.mask_len);
        out.push(self.action.bits() << 5 | u8::from(self.authoritative) << 4);
        out.push(0);
        out.extend_from_slice(&(self.map_version & 0x0fff).to_be_bytes());
        self.eid.emit(out);
        self.locators[..count].iter().for_each(|l| l.emit(out));
    }
}

/// An EID prefix asked for in a Map-Request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestRecord {
    pub mask_len: u8,
    pub eid: Address,
}

impl RequestRecord {
    pub fn parse(reader: &mut Reader<'_>) -> WireResult<Self> {
        let _reserved = reader.u8("request record reserved")?;
        let mask_len = reader.u8("request record EID mask-len")?;
        let eid = Address::parse(reader)?;
        check_mask_len(&eid, mask_len, "request record EID mask-len")?;
        Ok(Self { mask_len, eid })
    }

    pub fn buffer_len(&self) -> usize {
        2 + self.eid.buffer_len()
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0, self.mask_len]);
        self.eid.emit(out);
    }
}

fn check_mask_len(eid: &Address, mask_len: u8, field: &'static str) -> WireResult<()> {
    match eid.max_mask_len() {
        Some(max) if mask_len > max => Err(WireError::Malformed {
            field,
            reason: "longer than the address",
        }),
        _ => Ok(()),
    }
}
