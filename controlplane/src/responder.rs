//! The ETR's answers to Map-Requests, as an I/O-free machine: a request for one of our EIDs,
//! received directly or inside an ECM (any mix of IPv4/IPv6 inner and outer headers), is answered
//! with an authoritative Map-Reply carrying our locators and their current priorities, sent to
//! the first ITR-RLOC of a family we can send from. RLOC probes (P bit) are answered the same way
//! with the probe bit echoed. Every requester is remembered with the time it last asked, so a
//! change to a local mapping can be signalled to it with an SMR.
//!
//! Map-Requests are unauthenticated and the ITR-RLOC can be forged, so the responder must not be
//! a reflector: answers are rate-limited per ITR-RLOC (the address the reply would hit) and
//! overall, each distinct record is answered once, and a reply grows beyond its first record
//! only while it stays within [`AMPLIFICATION`] times the request's size. The correspondents
//! remembered for SMRs are bounded and forgotten after the memory window.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::prefix_map::PrefixMap;
use crate::rate_limit::{Budget, SenderLimit};
use crate::wire::ecm::EcmRepr;
use crate::wire::map_reply::MapReplyRepr;
use crate::wire::map_request::MapRequestRepr;
use crate::wire::record::EidRecord;
use crate::wire::MessageType;
use crate::Transmit;

/// Why a Map-Request got no answer (counted; nothing changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestRefused {
    #[error("not a well-formed Map-Request or ECM carrying one")]
    Malformed,
    #[error("none of the EIDs asked for is in our database")]
    NotOurs,
    #[error("no ITR-RLOC of a family we have an RLOC in")]
    NoUsableItrRloc,
    #[error("no reply wanted (D bit)")]
    NoReplyWanted,
    #[error("the ITR-RLOC's or the overall answer budget is spent")]
    RateLimited,
}

/// A reply carries more than its first record only while it is at most this many times the size
/// of the request it answers.
pub const AMPLIFICATION: usize = 3;

/// How many answers the responder sends, and how many correspondents it remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponderLimits {
    /// Answers per second to one ITR-RLOC (RLOC probes at one per locator per interval stay far
    /// below it).
    pub per_itr_rloc_per_sec: u32,
    /// Answers per second in all.
    pub overall_per_sec: u32,
    /// ITR-RLOCs with a live budget, and correspondents remembered.
    pub max_requesters: usize,
}

impl Default for ResponderLimits {
    fn default() -> Self {
        Self {
            per_itr_rloc_per_sec: 20,
            overall_per_sec: 10_000,
            max_requesters: 4096,
        }
    }
}

/// A Map-Request as received, with where its answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub request: MapRequestRepr,
    /// The UDP port to answer to: the outer source port, or the inner one of an ECM.
    pub reply_port: u16,
    /// Whether it came inside an ECM (through the mapping system).
    pub encapsulated: bool,
    /// The received message's length in bytes, which bounds the reply's.
    pub size: usize,
}

impl Received {
    /// A Map-Request received directly (type 1) or inside an ECM (type 8).
    pub fn parse(from: SocketAddr, bytes: &[u8]) -> Result<Self, RequestRefused> {
        match MessageType::of(bytes) {
            Ok(MessageType::MapRequest) => Ok(Self {
                request: MapRequestRepr::parse(bytes).map_err(|_| RequestRefused::Malformed)?,
                reply_port: from.port(),
                encapsulated: false,
                size: bytes.len(),
            }),
            Ok(MessageType::Ecm) => {
                let ecm = EcmRepr::parse(bytes).map_err(|_| RequestRefused::Malformed)?;
                Ok(Self {
                    request: MapRequestRepr::parse(&ecm.message)
                        .map_err(|_| RequestRefused::Malformed)?,
                    reply_port: ecm.source_port,
                    encapsulated: true,
                    size: bytes.len(),
                })
            }
            _ => Err(RequestRefused::Malformed),
        }
    }
}

/// The responder.
#[derive(Debug)]
pub struct Responder {
    database: PrefixMap<EidRecord>,
    local_rlocs: Vec<IpAddr>,
    correspondents: HashMap<IpAddr, Instant>,
    memory: Duration,
    limits: ResponderLimits,
    per_itr_rloc: SenderLimit,
    overall: Budget,
}

impl Responder {
    /// `database`: our EID records as registered; `local_rlocs`: the addresses we send from;
    /// `memory`: how long a requester counts as a recent correspondent.
    pub fn new(
        database: Vec<EidRecord>,
        local_rlocs: Vec<IpAddr>,
        memory: Duration,
        limits: ResponderLimits,
    ) -> Self {
        let mut responder = Self {
            database: PrefixMap::new(),
            local_rlocs,
            correspondents: HashMap::new(),
            memory,
            limits,
            per_itr_rloc: SenderLimit::new(limits.per_itr_rloc_per_sec, limits.max_requesters),
            overall: Budget::new(limits.overall_per_sec),
        };
        responder.set_database(database);
        responder
    }

    /// The addresses replies leave from (our usable locators).
    pub fn set_local_rlocs(&mut self, local_rlocs: Vec<IpAddr>) {
        self.local_rlocs = local_rlocs;
    }

    /// New limits and correspondent memory (a reload); the budgets start afresh.
    pub fn set_limits(&mut self, limits: ResponderLimits, memory: Duration) {
        self.limits = limits;
        self.memory = memory;
        self.per_itr_rloc = SenderLimit::new(limits.per_itr_rloc_per_sec, limits.max_requesters);
        self.overall = Budget::new(limits.overall_per_sec);
    }

    /// Replaces our records (after a priority change, for instance).
    pub fn set_database(&mut self, database: Vec<EidRecord>) {
        self.database = PrefixMap::new();
        for record in database {
            let Some(address) = record.eid.ip() else {
                continue;
            };
            if let Ok(prefix) = IpNet::new(address, record.mask_len) {
                self.database
                    .insert(record.eid.instance_id(), prefix, record);
            }
        }
    }

    /// Answers `received` (already known not to be an SMR).
    pub fn handle_request(
        &mut self,
        received: &Received,
        now: Instant,
    ) -> Result<Transmit, RequestRefused> {
        let request = &received.request;
        if request.dont_map_reply {
            return Err(RequestRefused::NoReplyWanted);
        }
        let mut records: Vec<&EidRecord> = Vec::new();
        for asked in &request.records {
            let Some((_, record)) = asked
                .eid
                .ip()
                .and_then(|eid| self.database.longest(asked.eid.instance_id(), eid))
            else {
                continue;
            };
            if !records.iter().any(|r| std::ptr::eq(*r, record)) {
                records.push(record);
            }
        }
        if records.is_empty() {
            return Err(RequestRefused::NotOurs);
        }
        let itr_rloc = request
            .itr_rlocs
            .iter()
            .filter_map(|a| a.ip())
            .find(|a| self.local_rlocs.iter().any(|l| l.is_ipv4() == a.is_ipv4()))
            .ok_or(RequestRefused::NoUsableItrRloc)?;
        if !self.per_itr_rloc.admit(itr_rloc, now) || !self.overall.take(now) {
            return Err(RequestRefused::RateLimited);
        }
        let mut reply = MapReplyRepr {
            probe: request.probe,
            echo_nonce_capable: true,
            security: false,
            nonce: request.nonce,
            records: Vec::with_capacity(records.len()),
        };
        let allowed = AMPLIFICATION * received.size;
        for record in records {
            let record = EidRecord {
                authoritative: true,
                ..record.clone()
            };
            if !reply.records.is_empty() && reply.buffer_len() + record.buffer_len() > allowed {
                break;
            }
            reply.records.push(record);
        }
        let mut payload = Vec::with_capacity(reply.buffer_len());
        reply
            .emit(&mut payload)
            .map_err(|_| RequestRefused::Malformed)?;
        self.remember(itr_rloc, now);
        Ok(Transmit::control(
            SocketAddr::new(itr_rloc, received.reply_port),
            payload,
        ))
    }

    /// Remembers `itr_rloc` as a correspondent; when the table is full the expired ones go, and
    /// a new one that still finds no room is not remembered.
    fn remember(&mut self, itr_rloc: IpAddr, now: Instant) {
        if !self.correspondents.contains_key(&itr_rloc)
            && self.correspondents.len() >= self.limits.max_requesters
        {
            self.forget_old(now);
            if self.correspondents.len() >= self.limits.max_requesters {
                return;
            }
        }
        self.correspondents.insert(itr_rloc, now);
    }

    fn forget_old(&mut self, now: Instant) {
        let memory = self.memory;
        self.correspondents
            .retain(|_, asked| now.saturating_duration_since(*asked) <= memory);
    }

    /// ITRs that asked within the memory window (and forgets the older ones).
    pub fn recent_correspondents(&mut self, now: Instant) -> Vec<IpAddr> {
        self.forget_old(now);
        let mut recent: Vec<IpAddr> = self.correspondents.keys().copied().collect();
        recent.sort_unstable();
        recent
    }
}
