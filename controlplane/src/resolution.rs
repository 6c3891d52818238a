//! Resolution of map-cache misses, as an I/O-free state machine with explicit time: a miss sends
//! an ECM-encapsulated Map-Request to a map-resolver (at most one outstanding request per
//! destination prefix), retries with exponential back-off, fails over to the next resolver, and
//! turns a Map-Reply for an outstanding nonce into map-cache installs with their TTL.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dataplane::mapcache::{Action, Locator, Mapping};
use ipnet::IpNet;

use crate::nonce::NonceSource;
use crate::registration::Transmit;
use crate::wire::address::Address;
use crate::wire::ecm::EcmRepr;
use crate::wire::map_reply::MapReplyRepr;
use crate::wire::map_request::MapRequestRepr;
use crate::wire::record::{self, EidRecord, RequestRecord};

/// Settings of the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Map-resolvers, tried in order.
    pub resolvers: Vec<SocketAddr>,
    /// Our RLOCs, offered as ITR-RLOCs (where replies may go).
    pub itr_rlocs: Vec<IpAddr>,
    /// Retransmissions to one resolver before the next one is tried.
    pub retries: u32,
    /// First retransmission timeout; doubles on each retry.
    pub timeout: Duration,
    /// At most this many new Map-Requests per second in total (retransmissions aside).
    pub rate_per_sec: u32,
}

/// A mapping to install (or, with `ttl_minutes == 0`, to use once and not cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    pub prefix: IpNet,
    pub mapping: Mapping,
    pub ttl_minutes: u32,
    /// The replying ETR echoes nonces (the Map-Reply's E bit).
    pub echo_nonce_capable: bool,
}

/// Why a Map-Reply was refused (counted; nothing changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyRefused {
    Malformed,
    UnknownNonce,
}

#[derive(Debug)]
struct Pending {
    key: RequestKey,
    eid: IpAddr,
    source_eid: IpAddr,
    /// The instance both are in (`None`: default).
    instance_id: Option<u32>,
    resolver: usize,
    attempts: u32,
    sent_at: Instant,
    /// Sent because the ETR solicited it (s bit).
    smr_invoked: bool,
}

/// The resolution machine.
#[derive(Debug)]
pub struct Resolver {
    config: ResolverConfig,
    pending: HashMap<u64, Pending>,
    outstanding: HashMap<RequestKey, u64>,
    nonces: NonceSource,
    outbox: VecDeque<Transmit>,
    unresolved: u64,
    /// New requests sent in the current one-second window, and when it started.
    window: (u32, Option<Instant>),
    rate_limited: u64,
}

/// Requests are deduplicated per instance and /24 (IPv4) or /64 (IPv6) of the destination.
type RequestKey = (Option<u32>, IpAddr, u8);

fn aggregate(instance_id: Option<u32>, destination: IpAddr) -> RequestKey {
    let len = if destination.is_ipv4() { 24 } else { 64 };
    (
        instance_id,
        IpNet::new(destination, len).map_or(destination, |n| n.network()),
        len,
    )
}

impl Resolver {
    pub fn new(config: ResolverConfig, nonces: NonceSource) -> Self {
        Self {
            config,
            pending: HashMap::new(),
            outstanding: HashMap::new(),
            nonces,
            outbox: VecDeque::new(),
            unresolved: 0,
            window: (0, None),
            rate_limited: 0,
        }
    }

    /// A packet from `source_eid` to `destination` missed the map-cache.
    /// Both are in instance `instance_id` (`None`: the default instance).
    pub fn handle_miss(
        &mut self,
        destination: IpAddr,
        source_eid: IpAddr,
        instance_id: Option<u32>,
        now: Instant,
    ) {
        self.request(destination, source_eid, instance_id, false, now);
    }

    /// An SMR from the ETR of `eid`: ask the mapping system again (s bit set), even though the
    /// entry is cached; `source_eid` is one of ours, for the reply's return path.
    pub fn handle_smr(
        &mut self,
        eid: IpAddr,
        source_eid: IpAddr,
        instance_id: Option<u32>,
        now: Instant,
    ) {
        self.request(eid, source_eid, instance_id, true, now);
    }

    fn request(
        &mut self,
        destination: IpAddr,
        source_eid: IpAddr,
        instance_id: Option<u32>,
        smr_invoked: bool,
        now: Instant,
    ) {
        let instance_id = instance_id.filter(|&iid| iid != 0);
        let key = aggregate(instance_id, destination);
        if self.outstanding.contains_key(&key) || self.config.resolvers.is_empty() {
            return;
        }
        let (sent, since) = self.window;
        let since = since.unwrap_or(now);
        let (sent, since) = if now.saturating_duration_since(since) >= Duration::from_secs(1) {
            (0, now)
        } else {
            (sent, since)
        };
        if sent >= self.config.rate_per_sec {
            self.window = (sent, Some(since));
            self.rate_limited += 1;
            return;
        }
        self.window = (sent + 1, Some(since));
        let nonce = self.nonces.next_u64();
        let pending = Pending {
            key,
            eid: destination,
            source_eid,
            instance_id,
            resolver: 0,
            attempts: 0,
            sent_at: now,
            smr_invoked,
        };
        self.send(nonce, &pending);
        self.outstanding.insert(key, nonce);
        self.pending.insert(nonce, pending);
    }

    fn send(&mut self, nonce: u64, pending: &Pending) {
        let resolver = self.config.resolvers[pending.resolver];
        let Some(&itr_source) = self
            .config
            .itr_rlocs
            .iter()
            .find(|r| r.is_ipv4() == resolver.is_ipv4())
        else {
            return;
        };
        let in_instance = |ip: IpAddr| Address::in_instance(Address::from(ip), pending.instance_id);
        let mut request = MapRequestRepr::query(
            nonce,
            in_instance(pending.source_eid),
            self.config
                .itr_rlocs
                .iter()
                .map(|&r| Address::from(r))
                .collect(),
            vec![RequestRecord {
                mask_len: if pending.eid.is_ipv4() { 32 } else { 128 },
                eid: in_instance(pending.eid),
            }],
        );
        request.smr_invoked = pending.smr_invoked;
        let mut message = Vec::new();
        if request.emit(&mut message).is_err() {
            return;
        }
        // The inner header goes from our RLOC to the EID looked up; families may differ from the
        // outer one, so the inner source is our RLOC of the EID's family when we have one.
        let inner_source = self
            .config
            .itr_rlocs
            .iter()
            .copied()
            .find(|r| r.is_ipv4() == pending.eid.is_ipv4())
            .unwrap_or(itr_source);
        if inner_source.is_ipv4() != pending.eid.is_ipv4() {
            return;
        }
        let ecm = EcmRepr {
            security: false,
            ddt: false,
            to_etr: false,
            to_map_server: false,
            inner_source,
            inner_destination: pending.eid,
            inner_ttl: 64,
            source_port: dataplane::wire::lisp::CONTROL_PORT,
            destination_port: dataplane::wire::lisp::CONTROL_PORT,
            message,
        };
        let mut payload = Vec::with_capacity(ecm.buffer_len());
        if ecm.emit(&mut payload).is_ok() {
            self.outbox.push_back(Transmit {
                destination: resolver,
                payload,
            });
        }
    }

    /// Retransmits overdue requests, failing over between resolvers; gives up after the last.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.sent_at + self.config.timeout * (1 << p.attempts.min(16)))
            .map(|(&nonce, _)| nonce)
            .collect();
        for nonce in due {
            let Some(mut pending) = self.pending.remove(&nonce) else {
                continue;
            };
            pending.attempts += 1;
            if pending.attempts > self.config.retries {
                pending.attempts = 0;
                pending.resolver += 1;
            }
            if pending.resolver >= self.config.resolvers.len() {
                self.outstanding.remove(&pending.key);
                self.unresolved += 1;
                continue;
            }
            pending.sent_at = now;
            let fresh = self.nonces.next_u64();
            self.send(fresh, &pending);
            self.outstanding.insert(pending.key, fresh);
            self.pending.insert(fresh, pending);
        }
    }

    /// A Map-Reply: accepted only for an outstanding nonce; returns what to install.
    pub fn handle_map_reply(&mut self, bytes: &[u8]) -> Result<Vec<Install>, ReplyRefused> {
        let reply = MapReplyRepr::parse(bytes).map_err(|_| ReplyRefused::Malformed)?;
        if reply.probe {
            return Err(ReplyRefused::UnknownNonce);
        }
        let pending = self
            .pending
            .remove(&reply.nonce)
            .ok_or(ReplyRefused::UnknownNonce)?;
        self.outstanding.remove(&pending.key);
        Ok(reply
            .records
            .iter()
            .filter_map(|r| {
                let (prefix, mapping) = mapping_of(r)?;
                Some(Install {
                    prefix,
                    mapping,
                    ttl_minutes: r.ttl,
                    echo_nonce_capable: reply.echo_nonce_capable,
                })
            })
            .collect())
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending
            .values()
            .map(|p| p.sent_at + self.config.timeout * (1 << p.attempts.min(16)))
            .min()
    }

    /// Requests given up after every resolver failed.
    pub fn unresolved(&self) -> u64 {
        self.unresolved
    }

    /// Misses not asked about because the global rate was reached.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited
    }

    /// Requests waiting for a reply.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }
}

/// The map-cache form of an EID record: its prefix and the mapping the data cores use (a record
/// without locators becomes the negative entry its action names).
pub fn mapping_of(record: &EidRecord) -> Option<(IpNet, Mapping)> {
    let prefix = IpNet::new(record.eid.ip()?, record.mask_len).ok()?.trunc();
    let locators: Vec<Locator> = record
        .locators
        .iter()
        .filter_map(|l| {
            Some(Locator {
                address: l.address.ip()?,
                priority: l.priority,
                weight: l.weight,
                up: l.reachable,
            })
        })
        .collect();
    let action = match (record.action, locators.is_empty()) {
        (_, false) => Action::Encapsulate,
        (record::Action::NativelyForward, true) => Action::NativeForward,
        (record::Action::SendMapRequest | record::Action::NoAction, true) => Action::SendMapRequest,
        _ => Action::Drop,
    };
    Some((
        prefix,
        Mapping {
            action,
            instance_id: record.eid.instance_id(),
            map_version: record.map_version,
            locators,
        },
    ))
}
