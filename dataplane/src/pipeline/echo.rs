//! Echo-nonce state per remote RLOC (RFC 9300 §10.1), decided by the control core and read by
//! data cores. An ITR that wants proof that an ETR hears it sets the E bit with a nonce; the ETR's
//! own ITR puts that nonce in its next packets back (N set, E clear); seeing it come back shows
//! both directions work. Empty tables cost one branch per packet.

use std::net::IpAddr;

use hashbrown::HashMap;

/// The nonces data cores put in, and look for in, packets to and from each RLOC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EchoNonces {
    /// Nonces remote ITRs asked us to echo.
    echo: HashMap<IpAddr, u32>,
    /// Nonces we asked remote ETRs to echo.
    request: HashMap<IpAddr, u32>,
}

impl EchoNonces {
    /// `echo`: nonces to send back to RLOCs that asked; `request`: nonces we ask RLOCs to echo.
    pub fn new(
        echo: impl IntoIterator<Item = (IpAddr, u32)>,
        request: impl IntoIterator<Item = (IpAddr, u32)>,
    ) -> Self {
        Self {
            echo: echo.into_iter().collect(),
            request: request.into_iter().collect(),
        }
    }

    /// The nonce for the next packet to `rloc` and whether it asks for an echo (answering a
    /// request comes first); `None`: a fresh nonce, no request.
    /// Inlined is only the emptiness check: the look-ups take the address by reference, and
    /// inlined they have the caller store it to memory byte-wise on every packet (which the
    /// compiler then reuses for word-wise reads: a store-forwarding stall).
    #[inline]
    pub fn outgoing(&self, rloc: IpAddr) -> Option<(u32, bool)> {
        if self.echo.is_empty() && self.request.is_empty() {
            return None;
        }
        self.outgoing_to(rloc)
    }

    #[inline(never)]
    fn outgoing_to(&self, rloc: IpAddr) -> Option<(u32, bool)> {
        if let Some(&nonce) = self.echo.get(&rloc) {
            return Some((nonce, false));
        }
        self.request.get(&rloc).map(|&nonce| (nonce, true))
    }

    /// Whether a packet from `rloc` carrying `nonce` without the E bit echoes our request.
    /// Inlined is only the emptiness check, as in [`Self::outgoing`].
    #[inline]
    pub fn echoes(&self, rloc: IpAddr, nonce: u32) -> bool {
        !self.request.is_empty() && self.requested_of(rloc) == Some(nonce)
    }

    #[inline(never)]
    fn requested_of(&self, rloc: IpAddr) -> Option<u32> {
        self.request.get(&rloc).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn answering_comes_before_asking() {
        let table = EchoNonces::new(
            [(ip("192.0.2.1"), 0x111)],
            [(ip("192.0.2.1"), 0x222), (ip("2001:db8::2"), 0x333)],
        );
        assert_eq!(table.outgoing(ip("192.0.2.1")), Some((0x111, false)));
        assert_eq!(table.outgoing(ip("2001:db8::2")), Some((0x333, true)));
        assert_eq!(table.outgoing(ip("192.0.2.9")), None);
        assert!(table.echoes(ip("2001:db8::2"), 0x333));
        assert!(!table.echoes(ip("2001:db8::2"), 0x334));
        assert!(!table.echoes(ip("192.0.2.9"), 0x333));
        assert_eq!(EchoNonces::default().outgoing(ip("192.0.2.1")), None);
    }
}
