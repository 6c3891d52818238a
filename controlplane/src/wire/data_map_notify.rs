//! Data-Map-Notify (draft-ietf-lisp-nat-traversal): the Map-Notify that answers a Map-Register
//! sent through an RTR, which the RTR sends on to the xTR behind the NAT as LISP data, so that
//! the NAT lets it in on the port the xTR's registration opened.
//!
//! ```text
//! |                 LISP data header (8 bytes)                    |
//! |            IPv4 or IPv6 header: map-server → xTR's RLOC       |
//! |            UDP header: 4342 → 4342                            |
//! |            Map-Notify                                         |
//! ```
//! This is the UDP payload of the outer packet (RTR:4342 → the xTR's translated address and
//! port).

use std::net::SocketAddr;

use dataplane::wire::datagram;
use dataplane::wire::lisp::{LispHeader, LispRepr, HEADER_LEN as LISP_HEADER_LEN};
use dataplane::wire::{WireError, WireResult};

use super::ecm::InnerDatagram;
use super::MessageType;

/// Every field of a Data-Map-Notify; `notify` is the Map-Notify, not interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMapNotifyRepr {
    pub lisp: LispRepr,
    /// Where the map-server sent the Map-Notify from.
    pub inner_source: SocketAddr,
    /// The xTR's own (private) RLOC and control port.
    pub inner_destination: SocketAddr,
    pub inner_ttl: u8,
    pub notify: Vec<u8>,
}

impl DataMapNotifyRepr {
    /// Parses the LISP header and the inner IP/UDP headers of a LISP data payload whose inner
    /// datagram carries a Map-Notify.
    pub fn parse(bytes: &[u8]) -> WireResult<Self> {
        let header = LispHeader::new_checked(bytes)?;
        let inner = InnerDatagram::parse(&bytes[LISP_HEADER_LEN..], "Data-Map-Notify")?;
        if MessageType::of(inner.message)? != MessageType::MapNotify {
            return Err(WireError::Malformed {
                field: "Data-Map-Notify message",
                reason: "not a Map-Notify",
            });
        }
        Ok(Self {
            lisp: LispRepr::parse(&header),
            inner_source: inner.source,
            inner_destination: inner.destination,
            inner_ttl: inner.ttl,
            notify: inner.message.to_vec(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        LISP_HEADER_LEN + datagram::len(self.inner_source.is_ipv6(), self.notify.len())
    }

    /// Appends the LISP header and the inner datagram (its UDP checksum computed).
    pub fn emit(&self, out: &mut Vec<u8>) -> WireResult<()> {
        let start = out.len();
        out.resize(start + self.buffer_len(), 0);
        self.lisp.emit(&mut out[start..]);
        if datagram::write(
            &mut out[start + LISP_HEADER_LEN..],
            self.inner_source,
            self.inner_destination,
            &self.notify,
            self.inner_ttl,
        )
        .is_none()
        {
            out.truncate(start);
            return Err(WireError::Malformed {
                field: "Data-Map-Notify inner addresses",
                reason: "mixed families or too long",
            });
        }
        Ok(())
    }
}
