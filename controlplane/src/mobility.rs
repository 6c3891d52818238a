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
//! A restart must lose neither a move nor the replay protection, or the VM's old location comes
//! back from the configuration file and a captured CPM moves it again. So the records CPMs
//! changed and the nonces accepted are [`MobilityState`], which the runner writes to a state
//! file after every change and hands back at start. Replay protection is by remembered nonces
//! (the hypervisor picks them, so there is no timestamp to check): the last
//! [`REMEMBERED_NONCES`] accepted, oldest forgotten first.
//!
//! [`Xtr`]: crate::xtr::Xtr

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CpmRefused {
    #[error("CPMs are not enabled")]
    Disabled,
    #[error("not from a configured CPM sender")]
    UnknownSender,
    #[error("malformed")]
    Malformed,
    #[error("HMAC does not verify with the sender's key")]
    BadAuthentication,
    #[error("replay: nonce already accepted")]
    Replay,
    #[error("no record of ours holds its EID")]
    NotOurEid,
}

/// A database record as a CPM left it: the priority and weight of each of its locators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedRecord {
    pub instance_id: Option<u32>,
    pub prefix: IpNet,
    pub map_version: u16,
    pub locators: Vec<MovedLocator>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedLocator {
    pub address: IpAddr,
    pub priority: u8,
    pub weight: u8,
}

/// What survives a restart: moved records and accepted nonces (oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobilityState {
    pub records: Vec<MovedRecord>,
    pub nonces: Vec<(IpAddr, u64)>,
}

/// CPM acceptance (the default accepts none).
#[derive(Debug, Default)]
pub struct Mobility {
    enabled: bool,
    legacy: bool,
    peers: Vec<CpmPeer>,
    seen: HashSet<(IpAddr, u64)>,
    /// `seen` in the order accepted, to forget the oldest.
    seen_order: VecDeque<(IpAddr, u64)>,
    moved: Vec<MovedRecord>,
    /// Whether the state changed since it was last taken.
    changed: bool,
}

/// Accepted nonces remembered (over all senders) before the oldest is forgotten.
pub const REMEMBERED_NONCES: usize = 4096;

impl Mobility {
    pub fn new(enabled: bool, legacy: bool, peers: Vec<CpmPeer>) -> Self {
        Self {
            enabled,
            legacy,
            peers,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            moved: Vec::new(),
            changed: false,
        }
    }

    /// Takes up the state a previous run saved.
    pub fn restore(&mut self, state: MobilityState) {
        for nonce in state.nonces {
            self.remember(nonce);
        }
        self.moved = state.records;
    }

    /// Gives `record` the priorities and weights a CPM left it with in a previous run, when
    /// that run moved it and its locators are still the configured ones; true when it did.
    pub fn apply_saved(&self, record: &mut EidRecord) -> bool {
        let Some(moved) = self.moved.iter().find(|m| is_record(m, record)) else {
            return false;
        };
        let same_locators = moved.locators.len() == record.locators.len()
            && record.locators.iter().all(|l| {
                moved
                    .locators
                    .iter()
                    .any(|m| l.address.ip() == Some(m.address))
            });
        if !same_locators {
            return false;
        }
        for locator in &mut record.locators {
            if let Some(m) = moved
                .locators
                .iter()
                .find(|m| locator.address.ip() == Some(m.address))
            {
                locator.priority = m.priority;
                locator.weight = m.weight;
            }
        }
        record.map_version = moved.map_version;
        true
    }

    /// Records that a CPM changed `record` to what it is now.
    pub fn record_moved(&mut self, record: &EidRecord) {
        let (Some(address), instance_id) = (record.eid.ip(), record.eid.instance_id()) else {
            return;
        };
        let Ok(prefix) = IpNet::new(address, record.mask_len) else {
            return;
        };
        let moved = MovedRecord {
            instance_id,
            prefix: prefix.trunc(),
            map_version: record.map_version,
            locators: record
                .locators
                .iter()
                .filter_map(|l| {
                    Some(MovedLocator {
                        address: l.address.ip()?,
                        priority: l.priority,
                        weight: l.weight,
                    })
                })
                .collect(),
        };
        self.moved.retain(|m| !is_record(m, record));
        self.moved.push(moved);
        self.changed = true;
    }

    /// The state to save, when it changed since the last call.
    pub fn take_state(&mut self) -> Option<MobilityState> {
        if !std::mem::take(&mut self.changed) {
            return None;
        }
        Some(MobilityState {
            records: self.moved.clone(),
            nonces: self.seen_order.iter().copied().collect(),
        })
    }

    fn remember(&mut self, nonce: (IpAddr, u64)) -> bool {
        if !self.seen.insert(nonce) {
            return false;
        }
        self.seen_order.push_back(nonce);
        if self.seen_order.len() > REMEMBERED_NONCES {
            if let Some(oldest) = self.seen_order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.changed = true;
        true
    }

    /// The peer at `address`, for signing relayed CPMs.
    /// New senders and keys (a reload); nonces already seen stay refused.
    pub fn set_peers(&mut self, peers: Vec<CpmPeer>) {
        self.peers = peers;
    }

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
        if !self.remember((from, message.nonce)) {
            return Err(CpmRefused::Replay);
        }
        Ok(message)
    }
}

/// Whether `moved` is `record` (same instance and prefix).
fn is_record(moved: &MovedRecord, record: &EidRecord) -> bool {
    moved.instance_id == record.eid.instance_id()
        && record
            .eid
            .ip()
            .and_then(|a| IpNet::new(a, record.mask_len).ok())
            .is_some_and(|p| p.trunc() == moved.prefix)
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
