//! Map-Request (type 1, RFC 9301 §5.2).
//!
//! ```text
//! |Type=1 |A|M|P|S|p|s|R|R|  Rsvd   |L|D|   IRC   | Record Count  |
//! |                         Nonce . . .                           |
//! |                         . . . Nonce                           |
//! |         Source-EID-AFI        |   Source EID Address  ...     |
//! |         ITR-RLOC-AFI n        |    ITR-RLOC Address n  ...    |  IRC + 1 times
//! |   Reserved    | EID mask-len  |        EID-Prefix-AFI         |  Record Count times
//! |                       EID-Prefix  ...                         |
//! |                   Map-Reply Record  ...                       |  when M
//! ```

use dataplane::wire::{WireError, WireResult};

use super::address::Address;
use super::reader::Reader;
use super::record::{EidRecord, RequestRecord};
use super::{check_type, MessageType};

pub const HEADER_LEN: usize = 12;

/// A checked view of the fixed part of a Map-Request.
#[derive(Debug, Clone)]
pub struct MapRequestPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MapRequestPacket<T> {
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        check_type(
            buffer.as_ref(),
            MessageType::MapRequest,
            HEADER_LEN,
            "Map-Request header",
        )?;
        Ok(Self { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn probe(&self) -> bool {
        self.b()[0] & 0x02 != 0
    }

    pub fn smr(&self) -> bool {
        self.b()[0] & 0x01 != 0
    }

    pub fn smr_invoked(&self) -> bool {
        self.b()[1] & 0x40 != 0
    }

    /// Number of ITR-RLOCs (the IRC field plus one).
    pub fn itr_rloc_count(&self) -> usize {
        usize::from(self.b()[2] & 0x1f) + 1
    }

    pub fn record_count(&self) -> u8 {
        self.b()[3]
    }

    pub fn nonce(&self) -> u64 {
        let mut n = [0u8; 8];
        n.copy_from_slice(&self.b()[4..12]);
        u64::from_be_bytes(n)
    }
}

/// Every field of a Map-Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRequestRepr {
    /// A: the requester wants an authoritative answer.
    pub authoritative: bool,
    /// P: an RLOC probe.
    pub probe: bool,
    /// S: a Solicit-Map-Request.
    pub smr: bool,
    /// p: sent by a PITR.
    pub pitr: bool,
    /// s: sent because an SMR was received.
    pub smr_invoked: bool,
    /// L: sent to a local xTR.
    pub local_xtr: bool,
    /// D: the receiver must not send a Map-Reply.
    pub dont_map_reply: bool,
    pub nonce: u64,
    pub source_eid: Address,
    /// Where the reply may go: 1 to 32 addresses.
    pub itr_rlocs: Vec<Address>,
    /// The EID prefixes asked for: 1 to 255.
    pub records: Vec<RequestRecord>,
    /// The requester's own mapping (M bit), e.g. in an SMR-invoked request.
    pub map_reply: Option<EidRecord>,
}

impl MapRequestRepr {
    /// A plain request (every flag clear, no Map-Reply record): what an ITR sends on a miss.
    pub fn query(
        nonce: u64,
        source_eid: Address,
        itr_rlocs: Vec<Address>,
        records: Vec<RequestRecord>,
    ) -> Self {
        Self {
            authoritative: false,
            probe: false,
            smr: false,
            pitr: false,
            smr_invoked: false,
            local_xtr: false,
            dont_map_reply: false,
            nonce,
            source_eid,
            itr_rlocs,
            records,
            map_reply: None,
        }
    }

    /// A query about one of our prefixes that also names it as the source EID, with one
    /// ITR-RLOC: the shape of RLOC probes and SMRs.
    pub fn about_prefix(nonce: u64, eid: Address, mask_len: u8, itr_rloc: Address) -> Self {
        Self::query(
            nonce,
            eid.clone(),
            vec![itr_rloc],
            vec![RequestRecord { mask_len, eid }],
        )
    }

    pub fn parse(bytes: &[u8]) -> WireResult<Self> {
        let packet = MapRequestPacket::new_checked(bytes)?;
        let b = packet.b();
        let mut reader = Reader::new(&b[HEADER_LEN..]);
        let source_eid = Address::parse(&mut reader)?;
        let itr_count = packet.itr_rloc_count();
        // Each ITR-RLOC and each record holds at least an AFI: no allocation beyond what fits.
        if itr_count * 2 > reader.remaining() {
            return Err(WireError::Truncated { field: "ITR-RLOCs" });
        }
        let mut itr_rlocs = Vec::with_capacity(itr_count);
        for _ in 0..itr_count {
            itr_rlocs.push(Address::parse(&mut reader)?);
        }
        let record_count = usize::from(packet.record_count());
        if record_count == 0 {
            return Err(WireError::Malformed {
                field: "Map-Request record count",
                reason: "zero",
            });
        }
        if record_count * 4 > reader.remaining() {
            return Err(WireError::Truncated {
                field: "Map-Request records",
            });
        }
        let mut records = Vec::with_capacity(record_count);
        for _ in 0..record_count {
            records.push(RequestRecord::parse(&mut reader)?);
        }
        let map_reply = if b[0] & 0x04 != 0 {
            Some(EidRecord::parse(&mut reader)?)
        } else {
            None
        };
        Ok(Self {
            authoritative: b[0] & 0x08 != 0,
            probe: packet.probe(),
            smr: packet.smr(),
            pitr: b[1] & 0x80 != 0,
            smr_invoked: packet.smr_invoked(),
            local_xtr: b[2] & 0x40 != 0,
            dont_map_reply: b[2] & 0x20 != 0,
            nonce: packet.nonce(),
            source_eid,
            itr_rlocs,
            records,
            map_reply,
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self.source_eid.buffer_len()
            + self
                .itr_rlocs
                .iter()
                .map(Address::buffer_len)
                .sum::<usize>()
            + self
                .records
                .iter()
                .map(RequestRecord::buffer_len)
                .sum::<usize>()
            + self.map_reply.as_ref().map_or(0, EidRecord::buffer_len)
    }

    /// Appends the message. Fails when the counts do not fit their fields.
    pub fn emit(&self, out: &mut Vec<u8>) -> WireResult<()> {
        if !(1..=32).contains(&self.itr_rlocs.len()) {
            return Err(WireError::Malformed {
                field: "ITR-RLOCs",
                reason: "need 1 to 32",
            });
        }
        if !(1..=255).contains(&self.records.len()) {
            return Err(WireError::Malformed {
                field: "Map-Request records",
                reason: "need 1 to 255",
            });
        }
        out.reserve(self.buffer_len());
        out.push(
            (MessageType::MapRequest as u8) << 4
                | u8::from(self.authoritative) << 3
                | u8::from(self.map_reply.is_some()) << 2
                | u8::from(self.probe) << 1
                | u8::from(self.smr),
        );
        out.push(u8::from(self.pitr) << 7 | u8::from(self.smr_invoked) << 6);
        out.push(
            u8::from(self.local_xtr) << 6
                | u8::from(self.dont_map_reply) << 5
                | (self.itr_rlocs.len() - 1) as u8,
        );
        out.push(self.records.len() as u8);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        self.source_eid.emit(out);
        self.itr_rlocs.iter().for_each(|a| a.emit(out));
        self.records.iter().for_each(|r| r.emit(out));
        if let Some(record) = &self.map_reply {
            record.emit(out);
        }
        Ok(())
    }
}
