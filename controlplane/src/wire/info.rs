//! Info-Request and Info-Reply (type 7, draft-ietf-lisp-nat-traversal): how an xTR behind a NAT
//! learns the address and port its messages leave the NAT with, and which RTRs to use. The
//! authentication fields are laid out as in a Map-Register (key ID, algorithm ID, length), which
//! reads the same as the older 16-bit key ID deployed implementations (Open Overlay Router,
//! lispers.net) send.
//!
//! ```text
//! |Type=7 |R|               Reserved                              |
//! |                         Nonce . . .                           |
//! |                         . . . Nonce                           |
//! |    Key ID     | Algorithm ID  |  Authentication Data Length   |
//! ~                     Authentication Data                       ~
//! |                              TTL                              |
//! |   Reserved    | EID mask-len  |        EID-prefix-AFI         |
//! |                          EID-prefix                           |
//! | AFI = 0 (Info-Request)  or  NAT-Traversal LCAF (Info-Reply)   |
//! ```
//!
//! The NAT-Traversal LCAF (type 7) body: MS UDP port, ETR UDP port (the translated one), then
//! the global ETR RLOC, the MS RLOC, the private ETR RLOC and any number of RTR RLOCs, each an
//! AFI-encoded address (AFI 0 where unknown).

use std::ops::Range;

use dataplane::wire::{WireError, WireResult};

use super::address::{Address, AFI_LCAF};
use super::auth::{self, AuthAlgorithm};
use super::reader::Reader;
use super::{check_type, MessageType};

/// Fixed bytes before the authentication data.
pub const HEADER_LEN: usize = 16;
/// The NAT-Traversal LCAF type.
pub const LCAF_NAT_TRAVERSAL: u8 = 7;
/// Most RTRs an Info-Reply lists that are kept (more are a malformed reply).
pub const MAX_RTRS: usize = 64;

/// A checked view of an Info-Request or Info-Reply: type, fixed header and authentication data.
#[derive(Debug, Clone)]
pub struct InfoPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> InfoPacket<T> {
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        check_type(
            buffer.as_ref(),
            MessageType::Info,
            HEADER_LEN,
            "Info header",
        )?;
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

    /// R: an Info-Reply.
    pub fn reply(&self) -> bool {
        self.b()[0] & 0x08 != 0
    }

    pub fn nonce(&self) -> u64 {
        let mut n = [0u8; 8];
        n.copy_from_slice(&self.b()[4..12]);
        u64::from_be_bytes(n)
    }

    pub fn algorithm_id(&self) -> u8 {
        self.b()[13]
    }

    /// Where the authentication data lies in the message.
    pub fn auth_range(&self) -> Range<usize> {
        auth::data_after_header(self.b())
    }

    /// True when the message carries a valid HMAC for `key` with the algorithm it names.
    pub fn verify(&self, key: &[u8]) -> bool {
        AuthAlgorithm::from_id(self.algorithm_id())
            .is_some_and(|algorithm| auth::verify(algorithm, key, self.b(), self.auth_range()))
    }
}

/// What the map-server saw of an xTR behind a NAT, and the RTRs it offers (an Info-Reply's
/// NAT-Traversal LCAF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatTraversal {
    pub ms_port: u16,
    /// The source port the Info-Request arrived from: the NAT's translated port.
    pub etr_port: u16,
    /// The source address the Info-Request arrived from: the NAT's public address.
    pub global_etr_rloc: Address,
    pub ms_rloc: Address,
    /// The xTR's own (private) address, as it sent the Info-Request from.
    pub private_etr_rloc: Address,
    pub rtr_rlocs: Vec<Address>,
}

impl NatTraversal {
    fn parse(body: &[u8]) -> WireResult<Self> {
        let mut reader = Reader::new(body);
        let ms_port = reader.u16("MS UDP port")?;
        let etr_port = reader.u16("ETR UDP port")?;
        let global_etr_rloc = Address::parse(&mut reader)?;
        let ms_rloc = Address::parse(&mut reader)?;
        let private_etr_rloc = Address::parse(&mut reader)?;
        let mut rtr_rlocs = Vec::new();
        while reader.remaining() > 0 {
            if rtr_rlocs.len() == MAX_RTRS {
                return Err(WireError::Malformed {
                    field: "RTR RLOCs",
                    reason: "too many",
                });
            }
            rtr_rlocs.push(Address::parse(&mut reader)?);
        }
        Ok(Self {
            ms_port,
            etr_port,
            global_etr_rloc,
            ms_rloc,
            private_etr_rloc,
            rtr_rlocs,
        })
    }

    fn body_len(&self) -> usize {
        4 + [&self.global_etr_rloc, &self.ms_rloc, &self.private_etr_rloc]
            .into_iter()
            .chain(&self.rtr_rlocs)
            .map(Address::buffer_len)
            .sum::<usize>()
    }

    fn emit(&self, out: &mut Vec<u8>) -> WireResult<()> {
        let len = u16::try_from(self.body_len()).map_err(|_| WireError::Malformed {
            field: "NAT-Traversal LCAF",
            reason: "longer than 65535 bytes",
        })?;
        out.extend_from_slice(&AFI_LCAF.to_be_bytes());
        out.extend_from_slice(&[0, 0, LCAF_NAT_TRAVERSAL, 0]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.ms_port.to_be_bytes());
        out.extend_from_slice(&self.etr_port.to_be_bytes());
        for address in [&self.global_etr_rloc, &self.ms_rloc, &self.private_etr_rloc]
            .into_iter()
            .chain(&self.rtr_rlocs)
        {
            address.emit(out);
        }
        Ok(())
    }
}

/// Every field of an Info-Request (`nat` is `None`) or Info-Reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRepr {
    pub reply: bool,
    pub nonce: u64,
    pub key_id: u8,
    pub algorithm_id: u8,
    /// Zeros before signing.
    pub auth_data: Vec<u8>,
    /// How long the answer may be cached, in minutes (0 in a request).
    pub ttl: u32,
    pub eid_mask_len: u8,
    pub eid: Address,
    /// An Info-Reply's NAT-Traversal LCAF.
    pub nat: Option<NatTraversal>,
}

impl InfoRepr {
    /// Parses a whole Info-Request or Info-Reply.
    pub fn parse(bytes: &[u8]) -> WireResult<Self> {
        let packet = InfoPacket::new_checked(bytes)?;
        let mut reader = Reader::new(bytes);
        reader.take(4, "Info header")?;
        let nonce = reader.u64("nonce")?;
        let key_id = reader.u8("key ID")?;
        let algorithm_id = reader.u8("algorithm ID")?;
        let auth_len = usize::from(reader.u16("authentication data length")?);
        let auth_data = reader.take(auth_len, "authentication data")?.to_vec();
        let ttl = reader.u32("TTL")?;
        reader.u8("reserved")?;
        let eid_mask_len = reader.u8("EID mask-len")?;
        let eid = Address::parse(&mut reader)?;
        if eid.max_mask_len().is_some_and(|max| eid_mask_len > max) {
            return Err(WireError::Malformed {
                field: "EID mask-len",
                reason: "longer than the address",
            });
        }
        let nat = match Address::parse(&mut reader)? {
            Address::None if !packet.reply() => None,
            Address::UnknownLcaf {
                lcaf_type: LCAF_NAT_TRAVERSAL,
                body,
                ..
            } if packet.reply() => Some(NatTraversal::parse(&body)?),
            _ => {
                return Err(WireError::Malformed {
                    field: "Info trailer",
                    reason: "expected AFI 0 in a request, a NAT-Traversal LCAF in a reply",
                })
            }
        };
        if reader.remaining() > 0 {
            return Err(WireError::Malformed {
                field: "Info",
                reason: "bytes after the message",
            });
        }
        Ok(Self {
            reply: packet.reply(),
            nonce,
            key_id,
            algorithm_id,
            auth_data,
            ttl,
            eid_mask_len,
            eid,
            nat,
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self.auth_data.len()
            + 4
            + 2
            + self.eid.buffer_len()
            + self.nat.as_ref().map_or(2, |nat| 8 + nat.body_len())
    }

    /// Appends the message (unsigned: `auth_data` as it is).
    pub fn emit(&self, out: &mut Vec<u8>) -> WireResult<()> {
        let auth_len = u16::try_from(self.auth_data.len()).map_err(|_| WireError::Malformed {
            field: "authentication data",
            reason: "longer than 65535 bytes",
        })?;
        let first = (MessageType::Info as u8) << 4 | if self.reply { 0x08 } else { 0 };
        out.extend_from_slice(&[first, 0, 0, 0]);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&[self.key_id, self.algorithm_id]);
        out.extend_from_slice(&auth_len.to_be_bytes());
        out.extend_from_slice(&self.auth_data);
        out.extend_from_slice(&self.ttl.to_be_bytes());
        out.extend_from_slice(&[0, self.eid_mask_len]);
        self.eid.emit(out);
        match &self.nat {
            None => out.extend_from_slice(&0u16.to_be_bytes()),
            Some(nat) => nat.emit(out)?,
        }
        Ok(())
    }

    /// The message signed with `key` by `algorithm` (the authentication fields are set here).
    pub fn emit_signed(&self, algorithm: AuthAlgorithm, key: &[u8]) -> WireResult<Vec<u8>> {
        let unsigned = Self {
            key_id: 0,
            algorithm_id: algorithm.id(),
            auth_data: vec![0; algorithm.output_len()],
            ..self.clone()
        };
        let mut bytes = Vec::with_capacity(unsigned.buffer_len());
        unsigned.emit(&mut bytes)?;
        let range = InfoPacket::new_checked(&bytes[..])?.auth_range();
        auth::sign(algorithm, key, &mut bytes, range);
        Ok(bytes)
    }
}
