//! IPv6 neighbour discovery (RFC 4861): neighbour solicitations and advertisements with their
//! link-layer address option, which is what resolving next hops and answering for our addresses
//! needs. The view covers the ICMPv6 message (type to the end of the options); the IPv6 header
//! and its hop limit of 255 are the caller's to check.

use std::net::Ipv6Addr;

use super::checksum::{finish, pseudo_header_v6, sum};
use super::ipv6::NEXT_ICMPV6;
use super::{need, WireError, WireResult};

pub const SOLICITATION: u8 = 135;
pub const ADVERTISEMENT: u8 = 136;
/// Type, code, checksum, flags/reserved and target.
pub const HEADER_LEN: usize = 24;
const OPTION_SOURCE_LINK_LAYER: u8 = 1;
const OPTION_TARGET_LINK_LAYER: u8 = 2;
const FLAG_SOLICITED: u32 = 0x4000_0000;
const FLAG_OVERRIDE: u32 = 0x2000_0000;

/// A checked view of a neighbour solicitation or advertisement.
#[derive(Debug, Clone)]
pub struct NdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NdpPacket<T> {
    /// Checks the type (135 or 136), code 0, the fixed part and every option's length.
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        let b = buffer.as_ref();
        need(b, HEADER_LEN, "neighbour discovery message")?;
        if !matches!(b[0], SOLICITATION | ADVERTISEMENT) || b[1] != 0 {
            return Err(WireError::Malformed {
                field: "ICMPv6 type/code",
                reason: "not a neighbour solicitation or advertisement",
            });
        }
        let mut options = &b[HEADER_LEN..];
        while !options.is_empty() {
            need(options, 2, "neighbour discovery option")?;
            let len = usize::from(options[1]) * 8;
            if len == 0 {
                return Err(WireError::Malformed {
                    field: "neighbour discovery option length",
                    reason: "zero",
                });
            }
            need(options, len, "neighbour discovery option body")?;
            options = &options[len..];
        }
        Ok(Self { buffer })
    }

    pub fn message_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    pub fn flags(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }

    pub fn target(&self) -> Ipv6Addr {
        let mut target = [0u8; 16];
        target.copy_from_slice(&self.buffer.as_ref()[8..24]);
        Ipv6Addr::from(target)
    }

    /// The sender's MAC (source option of a solicitation) or the target's (target option of
    /// an advertisement).
    pub fn link_layer_address(&self) -> Option<[u8; 6]> {
        let wanted = match self.message_type() {
            SOLICITATION => OPTION_SOURCE_LINK_LAYER,
            _ => OPTION_TARGET_LINK_LAYER,
        };
        let mut options = &self.buffer.as_ref()[HEADER_LEN..];
        while options.len() >= 8 {
            let len = usize::from(options[1]) * 8;
            if options[0] == wanted {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&options[2..8]);
                return Some(mac);
            }
            options = &options[len..];
        }
        None
    }
}

/// What a neighbour discovery message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdpMessage {
    Solicitation,
    Advertisement { solicited: bool, override_: bool },
}

/// A neighbour solicitation or advertisement, parsed or to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdpRepr {
    pub message: NdpMessage,
    pub target: Ipv6Addr,
    /// Our MAC in the link-layer option (source for a solicitation, target for an
    /// advertisement).
    pub link_layer: Option<[u8; 6]>,
}

impl NdpRepr {
    pub fn parse(bytes: &[u8]) -> WireResult<Self> {
        let packet = NdpPacket::new_checked(bytes)?;
        let message = match packet.message_type() {
            SOLICITATION => NdpMessage::Solicitation,
            _ => NdpMessage::Advertisement {
                solicited: packet.flags() & FLAG_SOLICITED != 0,
                override_: packet.flags() & FLAG_OVERRIDE != 0,
            },
        };
        Ok(Self {
            message,
            target: packet.target(),
            link_layer: packet.link_layer_address(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + if self.link_layer.is_some() { 8 } else { 0 }
    }

    /// Writes the message into `out` (at least [`buffer_len`](Self::buffer_len) bytes) with its
    /// ICMPv6 checksum for an IPv6 header from `source` to `destination`.
    pub fn emit(&self, source: Ipv6Addr, destination: Ipv6Addr, out: &mut [u8]) {
        let out = &mut out[..self.buffer_len()];
        let (message_type, flags, option) = match self.message {
            NdpMessage::Solicitation => (SOLICITATION, 0, OPTION_SOURCE_LINK_LAYER),
            NdpMessage::Advertisement {
                solicited,
                override_,
            } => (
                ADVERTISEMENT,
                if solicited { FLAG_SOLICITED } else { 0 }
                    | if override_ { FLAG_OVERRIDE } else { 0 },
                OPTION_TARGET_LINK_LAYER,
            ),
        };
        out[..4].copy_from_slice(&[message_type, 0, 0, 0]);
        out[4..8].copy_from_slice(&flags.to_be_bytes());
        out[8..24].copy_from_slice(&self.target.octets());
        if let Some(mac) = self.link_layer {
            out[24..26].copy_from_slice(&[option, 1]);
            out[26..32].copy_from_slice(&mac);
        }
        let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let checksum = finish(pseudo_header_v6(source, destination, NEXT_ICMPV6, len) + sum(out));
        out[2..4].copy_from_slice(&checksum.to_be_bytes());
    }
}

/// The solicited-node multicast group of `target` and its Ethernet address (RFC 4291 2.7.1,
/// RFC 2464 7).
pub fn solicited_node(target: Ipv6Addr) -> (Ipv6Addr, [u8; 6]) {
    let t = target.octets();
    let group = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    (group, [0x33, 0x33, 0xff, t[13], t[14], t[15]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn repr() -> impl Strategy<Value = NdpRepr> {
        (
            any::<bool>(),
            any::<(bool, bool)>(),
            any::<u128>(),
            proptest::option::of(any::<[u8; 6]>()),
        )
            .prop_map(
                |(solicitation, (solicited, override_), target, link_layer)| NdpRepr {
                    message: if solicitation {
                        NdpMessage::Solicitation
                    } else {
                        NdpMessage::Advertisement {
                            solicited,
                            override_,
                        }
                    },
                    target: Ipv6Addr::from(target),
                    link_layer,
                },
            )
    }

    proptest! {
        #[test]
        fn emitted_messages_parse_back(repr in repr()) {
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED, &mut out);
            prop_assert_eq!(NdpRepr::parse(&out), Ok(repr));
        }

        #[test]
        fn truncations_are_refused_not_panics(repr in repr(), cut in 0usize..32) {
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED, &mut out);
            let cut = cut.min(out.len());
            let parsed = NdpRepr::parse(&out[..cut]);
            if cut == HEADER_LEN {
                prop_assert_eq!(parsed.map(|r| r.link_layer), Ok(None), "no option: still valid");
            } else if cut < out.len() {
                prop_assert!(parsed.is_err(), "{} of {} bytes", cut, out.len());
            }
        }
    }

    #[test]
    fn a_zero_length_option_is_malformed() {
        let mut bytes = [0u8; 32];
        bytes[0] = SOLICITATION;
        bytes[24] = OPTION_SOURCE_LINK_LAYER;
        assert!(NdpPacket::new_checked(&bytes[..]).is_err());
    }

    #[test]
    fn solicited_node_group_of_an_address() {
        let (group, mac) = solicited_node("2001:db8::12:3456".parse().unwrap());
        assert_eq!(group, "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap());
        assert_eq!(mac, [0x33, 0x33, 0xff, 0x12, 0x34, 0x56]);
    }
}
