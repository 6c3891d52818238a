//! LISP addresses: AFI 0/1/2 and the LISP Canonical Address Format (RFC 8060) instance-id (type 2)
//! and AFI-list (type 1) types. Other LCAF types are kept as opaque bytes, skipped by their length.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dataplane::wire::{WireError, WireResult};

use super::reader::Reader;

pub const AFI_NONE: u16 = 0;
pub const AFI_IPV4: u16 = 1;
pub const AFI_IPV6: u16 = 2;
pub const AFI_LCAF: u16 = 16387;
pub const LCAF_AFI_LIST: u8 = 1;
pub const LCAF_INSTANCE_ID: u8 = 2;
/// Deepest LCAF nesting accepted (hostile nesting would otherwise recurse without bound).
pub const MAX_LCAF_DEPTH: usize = 4;

/// An address as carried in control messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// AFI 0: no address.
    None,
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// LCAF type 2: an address inside a 24-bit (carried as 32) instance-id.
    InstanceId {
        instance_id: u32,
        mask_len: u8,
        address: Box<Address>,
    },
    /// LCAF type 1: several addresses, e.g. an IPv4 and an IPv6 RLOC of one interface.
    AfiList(Vec<Address>),
    /// Any other LCAF type, kept verbatim so it can be skipped and re-emitted.
    UnknownLcaf {
        lcaf_type: u8,
        flags: u8,
        reserved: u8,
        body: Vec<u8>,
    },
}

impl Address {
    /// The IP address, looking through an instance-id.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Ipv4(a) => Some(IpAddr::V4(*a)),
            Self::Ipv6(a) => Some(IpAddr::V6(*a)),
            Self::InstanceId { address, .. } => address.ip(),
            _ => None,
        }
    }

    /// The instance-id of an instance-id LCAF.
    /// `address` in instance `instance_id` (an Instance-ID LCAF), plain for the default instance
    /// (`None` or 0).
    pub fn in_instance(address: Address, instance_id: Option<u32>) -> Self {
        match instance_id.filter(|&iid| iid != 0) {
            Some(instance_id) => Self::InstanceId {
                instance_id,
                mask_len: 32,
                address: Box::new(address),
            },
            None => address,
        }
    }

    pub fn instance_id(&self) -> Option<u32> {
        match self {
            Self::InstanceId { instance_id, .. } => Some(*instance_id),
            _ => None,
        }
    }

    /// Longest prefix length the address allows (32 for IPv4, 128 for IPv6).
    pub fn max_mask_len(&self) -> Option<u8> {
        match self.ip()? {
            IpAddr::V4(_) => Some(32),
            IpAddr::V6(_) => Some(128),
        }
    }

    /// Reads an AFI-prefixed address.
    pub fn parse(reader: &mut Reader<'_>) -> WireResult<Self> {
        Self::parse_nested(reader, 0)
    }

    fn parse_nested(reader: &mut Reader<'_>, depth: usize) -> WireResult<Self> {
        match reader.u16("AFI")? {
            AFI_NONE => Ok(Self::None),
            AFI_IPV4 => Ok(Self::Ipv4(reader.ipv4("IPv4 address")?)),
            AFI_IPV6 => Ok(Self::Ipv6(reader.ipv6("IPv6 address")?)),
            AFI_LCAF => {
                if depth >= MAX_LCAF_DEPTH {
                    return Err(WireError::Malformed {
                        field: "LCAF",
                        reason: "nested too deeply",
                    });
                }
                Self::parse_lcaf(reader, depth + 1)
            }
            _ => Err(WireError::Malformed {
                field: "AFI",
                reason: "unsupported address family",
            }),
        }
    }

    fn parse_lcaf(reader: &mut Reader<'_>, depth: usize) -> WireResult<Self> {
        let _rsvd1 = reader.u8("LCAF reserved")?;
        let flags = reader.u8("LCAF flags")?;
        let lcaf_type = reader.u8("LCAF type")?;
        let reserved = reader.u8("LCAF reserved 2")?;
        let length = usize::from(reader.u16("LCAF length")?);
        let mut body = Reader::new(reader.take(length, "LCAF body")?);
        let address = match lcaf_type {
            LCAF_INSTANCE_ID => {
                let instance_id = body.u32("instance-id")?;
                let address = Box::new(Self::parse_nested(&mut body, depth)?);
                Self::InstanceId {
                    instance_id,
                    mask_len: reserved,
                    address,
                }
            }
            LCAF_AFI_LIST => {
                let mut list = Vec::new();
                while body.remaining() > 0 {
                    list.push(Self::parse_nested(&mut body, depth)?);
                }
                Self::AfiList(list)
            }
            _ => {
                return Ok(Self::UnknownLcaf {
                    lcaf_type,
                    flags,
                    reserved,
                    body: body.rest().to_vec(),
                });
            }
        };
        if body.remaining() != 0 {
            return Err(WireError::Malformed {
                field: "LCAF length",
                reason: "does not match its content",
            });
        }
        Ok(address)
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::None => 2,
            Self::Ipv4(_) => 6,
            Self::Ipv6(_) => 18,
            _ => 8 + self.lcaf_body_len(),
        }
    }

    fn lcaf_body_len(&self) -> usize {
        match self {
            Self::InstanceId { address, .. } => 4 + address.buffer_len(),
            Self::AfiList(list) => list.iter().map(Self::buffer_len).sum(),
            Self::UnknownLcaf { body, .. } => body.len(),
            _ => 0,
        }
    }

    /// Appends the AFI-prefixed encoding.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let lcaf_header =
            |out: &mut Vec<u8>, flags: u8, lcaf_type: u8, reserved: u8, len: usize| {
                out.extend_from_slice(&AFI_LCAF.to_be_bytes());
                out.extend_from_slice(&[0, flags, lcaf_type, reserved]);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            };
        match self {
            Self::None => out.extend_from_slice(&AFI_NONE.to_be_bytes()),
            Self::Ipv4(a) => {
                out.extend_from_slice(&AFI_IPV4.to_be_bytes());
                out.extend_from_slice(&a.octets());
            }
            Self::Ipv6(a) => {
                out.extend_from_slice(&AFI_IPV6.to_be_bytes());
                out.extend_from_slice(&a.octets());
            }
            Self::InstanceId {
                instance_id,
                mask_len,
                address,
            } => {
                lcaf_header(out, 0, LCAF_INSTANCE_ID, *mask_len, self.lcaf_body_len());
                out.extend_from_slice(&instance_id.to_be_bytes());
                address.emit(out);
            }
            Self::AfiList(list) => {
                lcaf_header(out, 0, LCAF_AFI_LIST, 0, self.lcaf_body_len());
                list.iter().for_each(|a| a.emit(out));
            }
            Self::UnknownLcaf {
                lcaf_type,
                flags,
                reserved,
                body,
            } => {
                lcaf_header(out, *flags, *lcaf_type, *reserved, body.len());
                out.extend_from_slice(body);
            }
        }
    }
}

impl From<IpAddr> for Address {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Self::Ipv4(a),
            IpAddr::V6(a) => Self::Ipv6(a),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => write!(f, "(none)"),
            Self::Ipv4(a) => write!(f, "{a}"),
            Self::Ipv6(a) => write!(f, "{a}"),
            Self::InstanceId {
                instance_id,
                address,
                ..
            } => write!(f, "[{instance_id}]{address}"),
            Self::AfiList(list) => {
                let parts: Vec<String> = list.iter().map(ToString::to_string).collect();
                write!(f, "{{{}}}", parts.join(", "))
            }
            Self::UnknownLcaf {
                lcaf_type, body, ..
            } => {
                write!(f, "(LCAF type {lcaf_type}, {} bytes)", body.len())
            }
        }
    }
}
