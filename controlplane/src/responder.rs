//! The ETR's answers to Map-Requests, as an I/O-free machine: a request for one of our EIDs,
//! received directly or inside an ECM (any mix of IPv4/IPv6 inner and outer headers), is answered
//! with an authoritative Map-Reply carrying our locators and their current priorities, sent to
//! the first ITR-RLOC of a family we can send from. RLOC probes (P bit) are answered the same way
//! with the probe bit echoed. Every requester is remembered with the time it last asked, so a
//! change to a local mapping can be signalled to it with an SMR.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::prefix_map::PrefixMap;
use crate::registration::Transmit;
use crate::wire::ecm::EcmRepr;
use crate::wire::map_reply::MapReplyRepr;
use crate::wire::map_request::MapRequestRepr;
use crate::wire::record::EidRecord;
use crate::wire::MessageType;

/// Why a Map-Request got no answer (counted; nothing changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestRefused {
    /// Not a well-formed Map-Request or ECM carrying one.
    Malformed,
    /// None of the EIDs asked for is in our database.
    NotOurs,
    /// The requester offered no ITR-RLOC of a family we have an RLOC in.
    NoUsableItrRloc,
    /// The requester asked for no reply (D bit).
    NoReplyWanted,
}

/// A Map-Request as received, with where its answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub request: MapRequestRepr,
    /// The UDP port to answer to: the outer source port, or the inner one of an ECM.
    pub reply_port: u16,
    /// Whether it came inside an ECM (through the mapping system).
    pub encapsulated: bool,
}

impl Received {
    /// A Map-Request received directly (type 1) or inside an ECM (type 8).
    pub fn parse(from: SocketAddr, bytes: &[u8]) -> Result<Self, RequestRefused> {
        match MessageType::of(bytes) {
            Ok(MessageType::MapRequest) => Ok(Self {
                request: MapRequestRepr::parse(bytes).map_err(|_| RequestRefused::Malformed)?,
                reply_port: from.port(),
                encapsulated: false,
            }),
            Ok(MessageType::Ecm) => {
                let ecm = EcmRepr::parse(bytes).map_err(|_| RequestRefused::Malformed)?;
                Ok(Self {
                    request: MapRequestRepr::parse(&ecm.message)
                        .map_err(|_| RequestRefused::Malformed)?,
                    reply_port: ecm.source_port,
                    encapsulated: true,
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
}

impl Responder {
    /// `database`: our EID records as registered; `local_rlocs`: the addresses we send from;
    /// `memory`: how long a requester counts as a recent correspondent.
    pub fn new(database: Vec<EidRecord>, local_rlocs: Vec<IpAddr>, memory: Duration) -> Self {
        let mut responder = Self {
            database: PrefixMap::new(),
            local_rlocs,
            correspondents: HashMap::new(),
            memory,
        };
        responder.set_database(database);
        responder
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

    /// Our most specific record covering `eid` in `instance_id`.
    pub fn record_for(&self, eid: IpAddr, instance_id: Option<u32>) -> Option<&EidRecord> {
        self.database
            .longest(instance_id, eid)
            .map(|(_, record)| record)
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
        let records: Vec<EidRecord> = request
            .records
            .iter()
            .filter_map(|asked| {
                let record = self.record_for(asked.eid.ip()?, asked.eid.instance_id())?;
                Some(EidRecord {
                    authoritative: true,
                    ..record.clone()
                })
            })
            .collect();
        if records.is_empty() {
            return Err(RequestRefused::NotOurs);
        }
        let itr_rloc = request
            .itr_rlocs
            .iter()
            .filter_map(|a| a.ip())
            .find(|a| self.local_rlocs.iter().any(|l| l.is_ipv4() == a.is_ipv4()))
            .ok_or(RequestRefused::NoUsableItrRloc)?;
        self.correspondents.insert(itr_rloc, now);
        let reply = MapReplyRepr {
            probe: request.probe,
            echo_nonce_capable: true,
            security: false,
            nonce: request.nonce,
            records,
        };
        let mut payload = Vec::with_capacity(reply.buffer_len());
        reply
            .emit(&mut payload)
            .map_err(|_| RequestRefused::Malformed)?;
        Ok(Transmit {
            destination: SocketAddr::new(itr_rloc, received.reply_port),
            payload,
        })
    }

    /// ITRs that asked within the memory window (and forgets the older ones).
    pub fn recent_correspondents(&mut self, now: Instant) -> Vec<IpAddr> {
        let memory = self.memory;
        self.correspondents
            .retain(|_, asked| now.saturating_duration_since(*asked) <= memory);
        let mut recent: Vec<IpAddr> = self.correspondents.keys().copied().collect();
        recent.sort_unstable();
        recent
    }
}
