//! Map-Register (type 3), Map-Notify (type 4) and Map-Notify-Ack (type 5), RFC 9301 §5.6–5.7.
//! They share everything after the first word:
//!
//! ```text
//! |Type=3 |P|S|I|R|        Reserved               |M| Record Count  |   Map-Register
//! |Type=4 |I|R|          Reserved                 | Record Count  |     Map-Notify(-Ack: 5)
//! |                         Nonce . . .                           |
//! |                         . . . Nonce                           |
//! |    Key ID     | Algorithm ID  |  Authentication Data Length   |
//! ~                     Authentication Data                       ~
//! |                        EID records ...                        |
//! |                  xTR-ID (128 bits) | Site-ID (64 bits)        |   when I
//! ```
//!
//! The R and M positions follow deployed peers (Open Overlay Router, tcpdump): R is the last bit
//! of the first byte of a Map-Register, M the last bit of the third.

use std::ops::Range;

use dataplane::wire::{WireError, WireResult};

use super::auth::{self, AuthAlgorithm};
use super::map_reply::{parse_records, record_count};
use super::reader::Reader;
use super::record::EidRecord;
use super::MessageType;

/// Fixed bytes before the authentication data.
pub const HEADER_LEN: usize = 16;
const XTR_TRAILER_LEN: usize = 24;

/// The xTR-ID and site-ID trailer (I bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct XtrIdentity {
    pub xtr_id: [u8; 16],
    pub site_id: u64,
}

/// A checked view of any of the three authenticated registration messages.
#[derive(Debug, Clone)]
pub struct RegistrationPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> RegistrationPacket<T> {
    /// Checks the type and that the fixed header and the authentication data fit.
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        let b = buffer.as_ref();
        match MessageType::of(b)? {
            MessageType::MapRegister | MessageType::MapNotify | MessageType::MapNotifyAck => {}
            _ => {
                return Err(WireError::Malformed {
                    field: "type",
                    reason: "not a registration message",
                })
            }
        }
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                field: "registration header",
            });
        }
        let packet = Self { buffer };
        if packet.buffer.as_ref().len() < packet.auth_range().end {
            return Err(WireError::Truncated {
                field: "authentication data",
            });
        }
        Ok(packet)
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn message_type(&self) -> MessageType {
        MessageType::of(self.b()).unwrap_or(MessageType::MapRegister)
    }

    pub fn record_count(&self) -> u8 {
        self.b()[3]
    }

    pub fn nonce(&self) -> u64 {
        let mut n = [0u8; 8];
        n.copy_from_slice(&self.b()[4..12]);
        u64::from_be_bytes(n)
    }

    pub fn key_id(&self) -> u8 {
        self.b()[12]
    }

    pub fn algorithm_id(&self) -> u8 {
        self.b()[13]
    }

    /// Where the authentication data lies in the message.
    pub fn auth_range(&self) -> Range<usize> {
        auth::data_after_header(self.b())
    }

    pub fn auth_data(&self) -> &[u8] {
        &self.b()[self.auth_range()]
    }

    /// True when the message carries a valid HMAC for `key` with the algorithm it names.
    pub fn verify(&self, key: &[u8]) -> bool {
        AuthAlgorithm::from_id(self.algorithm_id())
            .is_some_and(|algorithm| auth::verify(algorithm, key, self.b(), self.auth_range()))
    }

    fn xtr_present(&self) -> bool {
        let flag = match self.message_type() {
            MessageType::MapRegister => 0x02,
            _ => 0x08,
        };
        self.b()[0] & flag != 0
    }
}

/// The parts common to the three messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub nonce: u64,
    pub key_id: u8,
    /// Algorithm ID (1 = HMAC-SHA-1, 2 = HMAC-SHA-256; others are carried but cannot verify).
    pub algorithm_id: u8,
    pub auth_data: Vec<u8>,
    pub records: Vec<EidRecord>,
    pub xtr: Option<XtrIdentity>,
}

impl Authenticated {
    fn parse<T: AsRef<[u8]>>(packet: &RegistrationPacket<T>) -> WireResult<Self> {
        let b = packet.b();
        let auth = packet.auth_range();
        let mut reader = Reader::new(&b[auth.end..]);
        let records = parse_records(&mut reader, packet.record_count())?;
        let xtr = if packet.xtr_present() {
            Some(XtrIdentity {
                xtr_id: reader.array("xTR-ID")?,
                site_id: reader.u64("site-ID")?,
            })
        } else {
            None
        };
        Ok(Self {
            nonce: packet.nonce(),
            key_id: packet.key_id(),
            algorithm_id: packet.algorithm_id(),
            auth_data: b[auth].to_vec(),
            records,
            xtr,
        })
    }

    fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self.auth_data.len()
            + self
                .records
                .iter()
                .map(EidRecord::buffer_len)
                .sum::<usize>()
            + if self.xtr.is_some() {
                XTR_TRAILER_LEN
            } else {
                0
            }
    }

    /// Appends everything after the first three bytes (record count onwards).
    fn emit_rest(&self, out: &mut Vec<u8>) -> WireResult<()> {
        out.push(record_count(&self.records)?);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&[self.key_id, self.algorithm_id]);
        let auth_len = u16::try_from(self.auth_data.len()).map_err(|_| WireError::Malformed {
            field: "authentication data",
            reason: "too long",
        })?;
        out.extend_from_slice(&auth_len.to_be_bytes());
        out.extend_from_slice(&self.auth_data);
        self.records.iter().for_each(|r| r.emit(out));
        if let Some(xtr) = &self.xtr {
            out.extend_from_slice(&xtr.xtr_id);
            out.extend_from_slice(&xtr.site_id.to_be_bytes());
        }
        Ok(())
    }

    /// Sizes the authentication field for `algorithm` (zeroed, to be signed after emitting).
    pub fn prepare_auth(&mut self, key_id: u8, algorithm: AuthAlgorithm) {
        self.key_id = key_id;
        self.algorithm_id = algorithm.id();
        self.auth_data = vec![0; algorithm.output_len()];
    }
}

/// Signs an emitted registration message in place with the algorithm it names.
pub fn sign(message: &mut [u8], key: &[u8]) -> WireResult<()> {
    let packet = RegistrationPacket::new_checked(&message[..])?;
    let algorithm = AuthAlgorithm::from_id(packet.algorithm_id()).ok_or(WireError::Malformed {
        field: "algorithm ID",
        reason: "unknown",
    })?;
    let range = packet.auth_range();
    if range.len() != algorithm.output_len() {
        return Err(WireError::Malformed {
            field: "authentication data",
            reason: "wrong length for the algorithm",
        });
    }
    auth::sign(algorithm, key, message, range);
    Ok(())
}

/// A message emitted by `emit` (at most `len` bytes), then signed with `key`.
fn emit_signed(
    key: &[u8],
    len: usize,
    emit: impl FnOnce(&mut Vec<u8>) -> WireResult<()>,
) -> WireResult<Vec<u8>> {
    let mut bytes = Vec::with_capacity(len);
    emit(&mut bytes)?;
    sign(&mut bytes, key)?;
    Ok(bytes)
}

/// Every field of a Map-Register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRegisterRepr {
    /// P: the map-server may answer Map-Requests for these EIDs.
    pub proxy_reply: bool,
    /// S: LISP-SEC capable.
    pub security: bool,
    /// R: built for an RTR.
    pub rtr: bool,
    /// M: send a Map-Notify back.
    pub want_map_notify: bool,
    pub body: Authenticated,
}

impl MapRegisterRepr {
    pub fn parse(bytes: &[u8]) -> WireResult<Self> {
        let packet = RegistrationPacket::new_checked(bytes)?;
        if packet.message_type() != MessageType::MapRegister {
            return Err(WireError::Malformed {
                field: "type",
                reason: "not a Map-Register",
            });
        }
        Ok(Self {
            proxy_reply: bytes[0] & 0x08 != 0,
            security: bytes[0] & 0x04 != 0,
            rtr: bytes[0] & 0x01 != 0,
            want_map_notify: bytes[2] & 0x01 != 0,
            body: Authenticated::parse(&packet)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        self.body.buffer_len()
    }

    pub fn emit(&self, out: &mut Vec<u8>) -> WireResult<()> {
        out.reserve(self.buffer_len());
        out.push(
            (MessageType::MapRegister as u8) << 4
                | u8::from(self.proxy_reply) << 3
                | u8::from(self.security) << 2
                | u8::from(self.body.xtr.is_some()) << 1
                | u8::from(self.rtr),
        );
        out.extend_from_slice(&[0, u8::from(self.want_map_notify)]);
        self.body.emit_rest(out)
    }

    /// The message authenticated with `key_id` and `algorithm`, emitted and signed with `key`.
    pub fn signed(
        mut self,
        key_id: u8,
        algorithm: AuthAlgorithm,
        key: &[u8],
    ) -> WireResult<Vec<u8>> {
        self.body.prepare_auth(key_id, algorithm);
        emit_signed(key, self.buffer_len(), |out| self.emit(out))
    }
}

/// Every field of a Map-Notify or Map-Notify-Ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapNotifyRepr {
    /// Map-Notify-Ack (type 5) rather than Map-Notify (type 4).
    pub ack: bool,
    /// R: built for an RTR.
    pub rtr: bool,
    pub body: Authenticated,
}

impl MapNotifyRepr {
    pub fn parse(bytes: &[u8]) -> WireResult<Self> {
        let packet = RegistrationPacket::new_checked(bytes)?;
        let ack = match packet.message_type() {
            MessageType::MapNotify => false,
            MessageType::MapNotifyAck => true,
            _ => {
                return Err(WireError::Malformed {
                    field: "type",
                    reason: "not a Map-Notify",
                })
            }
        };
        Ok(Self {
            ack,
            rtr: bytes[0] & 0x04 != 0,
            body: Authenticated::parse(&packet)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        self.body.buffer_len()
    }

    pub fn emit(&self, out: &mut Vec<u8>) -> WireResult<()> {
        let kind = if self.ack {
            MessageType::MapNotifyAck
        } else {
            MessageType::MapNotify
        };
        out.reserve(self.buffer_len());
        out.push(
            (kind as u8) << 4 | u8::from(self.body.xtr.is_some()) << 3 | u8::from(self.rtr) << 2,
        );
        out.extend_from_slice(&[0, 0]);
        self.body.emit_rest(out)
    }

    /// The message authenticated with `key_id` and `algorithm`, emitted and signed with `key`.
    pub fn signed(
        mut self,
        key_id: u8,
        algorithm: AuthAlgorithm,
        key: &[u8],
    ) -> WireResult<Vec<u8>> {
        self.body.prepare_auth(key_id, algorithm);
        emit_signed(key, self.buffer_len(), |out| self.emit(out))
    }
}
