//! Map-Reply (type 2, RFC 9301 §5.4).
//!
//! ```text
//! |Type=2 |P|E|S|          Reserved               | Record Count  |
//! |                         Nonce . . .                           |
//! |                         . . . Nonce                           |
//! |                          EID records ...                      |
//! ```

use dataplane::wire::{WireError, WireResult};

use super::reader::Reader;
use super::record::EidRecord;
use super::{check_type, MessageType};

pub const HEADER_LEN: usize = 12;
/// Smallest EID record: fixed part (10) and an AFI-0 EID.
pub(crate) const MIN_RECORD_LEN: usize = 12;

/// A checked view of the fixed part of a Map-Reply.
#[derive(Debug, Clone)]
pub struct MapReplyPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MapReplyPacket<T> {
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        check_type(
            buffer.as_ref(),
            MessageType::MapReply,
            HEADER_LEN,
            "Map-Reply header",
        )?;
        Ok(Self { buffer })
    }

    pub fn probe(&self) -> bool {
        self.buffer.as_ref()[0] & 0x08 != 0
    }

    pub fn record_count(&self) -> u8 {
        self.buffer.as_ref()[3]
    }

    pub fn nonce(&self) -> u64 {
        let mut n = [0u8; 8];
        n.copy_from_slice(&self.buffer.as_ref()[4..12]);
        u64::from_be_bytes(n)
    }
}

/// Every field of a Map-Reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapReplyRepr {
    /// P: the answer to an RLOC probe.
    pub probe: bool,
    /// E: the sender can echo nonces.
    pub echo_nonce_capable: bool,
    /// S: LISP-SEC information follows.
    pub security: bool,
    pub nonce: u64,
    pub records: Vec<EidRecord>,
}

impl MapReplyRepr {
    pub fn parse(bytes: &[u8]) -> WireResult<Self> {
        let packet = MapReplyPacket::new_checked(bytes)?;
        let mut reader = Reader::new(&bytes[HEADER_LEN..]);
        let records = parse_records(&mut reader, packet.record_count())?;
        Ok(Self {
            probe: packet.probe(),
            echo_nonce_capable: bytes[0] & 0x04 != 0,
            security: bytes[0] & 0x02 != 0,
            nonce: packet.nonce(),
            records,
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self
                .records
                .iter()
                .map(EidRecord::buffer_len)
                .sum::<usize>()
    }

    pub fn emit(&self, out: &mut Vec<u8>) -> WireResult<()> {
        let count = record_count(&self.records)?;
        out.reserve(self.buffer_len());
        out.push(
            (MessageType::MapReply as u8) << 4
                | u8::from(self.probe) << 3
                | u8::from(self.echo_nonce_capable) << 2
                | u8::from(self.security) << 1,
        );
        out.extend_from_slice(&[0, 0, count]);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        self.records.iter().for_each(|r| r.emit(out));
        Ok(())
    }
}

/// Reads `count` EID records, refusing counts the remaining bytes cannot hold.
pub(crate) fn parse_records(reader: &mut Reader<'_>, count: u8) -> WireResult<Vec<EidRecord>> {
    if usize::from(count) * MIN_RECORD_LEN > reader.remaining() {
        return Err(WireError::Truncated {
            field: "EID records",
        });
    }
    let mut records = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        records.push(EidRecord::parse(reader)?);
    }
    Ok(records)
}

/// The record count as its 8-bit field.
pub(crate) fn record_count(records: &[EidRecord]) -> WireResult<u8> {
    u8::try_from(records.len()).map_err(|_| WireError::Malformed {
        field: "record count",
        reason: "more than 255 records",
    })
}
