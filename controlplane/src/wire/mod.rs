//! LISP control messages (RFC 9301): a checked view and a `Repr` that parses and emits, one module
//! per message, plus addresses, records, HMAC authentication and the CPM.

pub mod address;
pub mod auth;
pub mod cpm;
pub mod data_map_notify;
pub mod ecm;
pub mod info;
pub mod map_reply;
pub mod map_request;
pub mod reader;
pub mod record;
pub mod registration;

use dataplane::wire::{WireError, WireResult};

/// The 4-bit message type of every control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    MapRequest = 1,
    MapReply = 2,
    MapRegister = 3,
    MapNotify = 4,
    MapNotifyAck = 5,
    /// Info-Request and Info-Reply (NAT traversal).
    Info = 7,
    Ecm = 8,
    SharedExtension = 15,
}

impl MessageType {
    /// The type of the message in `bytes`.
    pub fn of(bytes: &[u8]) -> WireResult<Self> {
        let first = bytes.first().ok_or(WireError::Truncated {
            field: "message type",
        })?;
        Ok(match first >> 4 {
            1 => Self::MapRequest,
            2 => Self::MapReply,
            3 => Self::MapRegister,
            4 => Self::MapNotify,
            5 => Self::MapNotifyAck,
            7 => Self::Info,
            8 => Self::Ecm,
            15 => Self::SharedExtension,
            _ => {
                return Err(WireError::Malformed {
                    field: "message type",
                    reason: "unknown",
                })
            }
        })
    }
}

/// Checks the type and the fixed header length of a message.
pub(crate) fn check_type(
    bytes: &[u8],
    expected: MessageType,
    header_len: usize,
    field: &'static str,
) -> WireResult<()> {
    if MessageType::of(bytes)? != expected {
        return Err(WireError::Malformed {
            field: "message type",
            reason: "unexpected type",
        });
    }
    if bytes.len() < header_len {
        return Err(WireError::Truncated { field });
    }
    Ok(())
}
