//! VM mobility with the Change Priority Message: which CPMs are accepted (allowed sender, HMAC
//! with that sender's key, fresh nonce) and how one changes a database record. The [`Xtr`]
//! machine applies the result (re-registration, SMRs, map-cache) and relays the move to the old
//! site.
//!
//! Roles (`CPM.md`): with D (the VM arrived here) our locators take the message's priority and
//! weight and the other site's locators go to 255; with S (the VM left) ours take the message's
//! priority (255) and the other site's take the best priority ours had; with neither, only ours
//! change, as in the seed's prototype.
//!
//! [`Xtr`]: crate::xtr::Xtr

use std::collections::HashSet;
use std::net::IpAddr;

use crate::wire::auth::AuthAlgorithm;
use crate::wire::cpm::{self, CpmRepr, CpmRoles};
use crate::wire::record::EidRecord;
use crate::wire::MessageType;

/// A host allowed to send CPMs (a hypervisor, or the other site's xTR relaying a move).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpmPeer {
    pub address: IpAddr,
    pub key: Vec<u8>,
    pub algorithm: AuthAlgorithm,
}

/// Why a CPM was refused (counted; nothing changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpmRefused {
    Disabled,
    UnknownSender,
    Malformed,
    BadAuthentication,
    Replay,
    NotOurEid,
}

/// CPM acceptance.
#[derive(Debug)]
pub struct Mobility {
    enabled: bool,
    legacy: bool,
    peers: Vec<CpmPeer>,
    seen: HashSet<(IpAddr, u64)>,
}

/// Nonces remembered per sender before the oldest are forgotten (a replay must be recent to
/// matter: it can only re-assert a move that already happened).
const REMEMBERED_NONCES: usize = 4096;

impl Mobility {
    pub fn new(enabled: bool, legacy: bool, peers: Vec<CpmPeer>) -> Self {
        Self {
            enabled,
            legacy,
            peers,
            seen: HashSet::new(),
        }
    }

    /// The peer at `address`, for signing relayed CPMs.
    pub fn peer(&self, address: IpAddr) -> Option<&CpmPeer> {
        self.peers.iter().find(|p| p.address == address)
    }

    /// Accepts `bytes` from `from` when every check passes.
    pub fn accept(&mut self, from: IpAddr, bytes: &[u8]) -> Result<CpmRepr, CpmRefused> {
        if !self.enabled {
            return Err(CpmRefused::Disabled);
        }
        let peer = self.peer(from).ok_or(CpmRefused::UnknownSender)?;
        let legacy = MessageType::of(bytes) == Ok(MessageType::MapNotifyAck);
        let (message, authentic) = if legacy {
            if !self.legacy || peer.algorithm != AuthAlgorithm::HmacSha1 {
                return Err(CpmRefused::Malformed);
            }
            let message = cpm::legacy::parse(bytes).map_err(|_| CpmRefused::Malformed)?;
            (message, cpm::legacy::verify(bytes, &peer.key))
        } else {
            let message = CpmRepr::parse(bytes).map_err(|_| CpmRefused::Malformed)?;
            let algorithm_matches = message.algorithm_id == peer.algorithm.id();
            (message, algorithm_matches && cpm::verify(bytes, &peer.key))
        };
        if !authentic {
            return Err(CpmRefused::BadAuthentication);
        }
        if !self.seen.insert((from, message.nonce)) {
            return Err(CpmRefused::Replay);
        }
        if self.seen.len() > REMEMBERED_NONCES {
            self.seen.clear();
            self.seen.insert((from, message.nonce));
        }
        Ok(message)
    }
}

/// `record` after `roles` with `priority` and `weight`; `ours` tells our locators apart.
pub fn apply(
    record: &EidRecord,
    roles: CpmRoles,
    priority: u8,
    weight: u8,
    ours: impl Fn(&crate::wire::address::Address) -> bool,
) -> EidRecord {
    let best_ours = record
        .locators
        .iter()
        .filter(|l| ours(&l.address))
        .map(|l| l.priority)
        .min()
        .unwrap_or(1);
    let mut changed = record.clone();
    for locator in &mut changed.locators {
        if ours(&locator.address) {
            locator.priority = priority;
            locator.weight = weight;
        } else if roles.destination_site {
            locator.priority = 255;
        } else if roles.source_site {
            locator.priority = best_ours.min(254);
        }
    }
    changed.map_version = record.map_version.wrapping_add(1) & 0x0fff;
    changed
}
