//! Resolution of map-cache misses, as an I/O-free state machine with explicit time: a miss sends
//! an ECM-encapsulated Map-Request to a map-resolver (at most one outstanding request per
//! destination prefix), retries with exponential back-off, fails over to the next resolver, and
//! turns a Map-Reply for an outstanding nonce into map-cache installs with their TTL.
//!
//! Every Map-Request sent, first or retransmitted, is paid from a per-second budget that splits
//! `rate_per_sec` by [`RequestKind`]: a quarter for refreshes of mappings in use, a quarter for
//! SMR-invoked requests, the rest for new misses. So a flood of misses cannot delay the refresh
//! of a mapping traffic is using, a flood of SMRs cannot stop resolution of new destinations,
//! and retries cannot exceed the rate. A retransmission that finds its budget spent waits for
//! the next second. A Map-Reply is taken
//! only with the nonce of an outstanding request, and only its records that cover the EID asked
//! for (in its instance) are installed.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dataplane::mapcache::{Action, Locator, Mapping};
use ipnet::IpNet;

use crate::nonce::NonceSource;
use crate::rate_limit::Budget;
use crate::wire::address::Address;
use crate::wire::ecm::EcmRepr;
use crate::wire::map_reply::MapReplyRepr;
use crate::wire::map_request::MapRequestRepr;
use crate::wire::record::{self, EidRecord, RequestRecord};
use crate::Transmit;

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
    /// At most this many Map-Requests per second, retransmissions included (split by kind).
    pub rate_per_sec: u32,
}

/// Why a Map-Request is sent, which decides the budget it is paid from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A destination we have no mapping for.
    Miss,
    /// A destination whose mapping traffic was using ran out (its TTL ended recently).
    Refresh,
    /// The destination's ETR solicited it (SMR): the request carries the s bit.
    Solicited,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplyRefused {
    #[error("malformed")]
    Malformed,
    #[error("no outstanding request has its nonce")]
    UnknownNonce,
    /// The request stays outstanding.
    #[error("no record covers the EID that was asked for")]
    Uncovered,
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
    /// A retransmission that found its budget spent waits until then.
    not_before: Option<Instant>,
    kind: RequestKind,
}

impl Pending {
    /// When the next retransmission is due.
    fn due(&self, timeout: Duration) -> Instant {
        let backoff = self.sent_at + timeout * (1 << self.attempts.min(16));
        self.not_before.map_or(backoff, |at| at.max(backoff))
    }
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
    misses: Budget,
    refreshes: Budget,
    solicited: Budget,
    rate_limited: u64,
    records_refused: u64,
}

/// The per-second budgets of new misses, refreshes and SMR-invoked requests out of `rate`: a
/// quarter each for the last two, the rest for misses.
fn budgets(rate: u32) -> [Budget; 3] {
    let quarter = rate / 4;
    [
        Budget::new((rate - 2 * quarter).max(1)),
        Budget::new(quarter.max(1)),
        Budget::new(quarter.max(1)),
    ]
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
        let [misses, refreshes, solicited] = budgets(config.rate_per_sec);
        Self {
            misses,
            refreshes,
            solicited,
            config,
            pending: HashMap::new(),
            outstanding: HashMap::new(),
            nonces,
            outbox: VecDeque::new(),
            unresolved: 0,
            rate_limited: 0,
            records_refused: 0,
        }
    }

    /// Asks the mapping system for `destination` (a miss, a refresh, or an SMR's EID, asked even
    /// though it is cached), unless a request for its /24 or /64 is outstanding. `source_eid` is
    /// the packet's source or one of ours, in instance `instance_id` (`None`: the default).
    pub fn request(
        &mut self,
        kind: RequestKind,
        destination: IpAddr,
        source_eid: IpAddr,
        instance_id: Option<u32>,
        now: Instant,
    ) {
        let instance_id = instance_id.filter(|&iid| iid != 0);
        let key = aggregate(instance_id, destination);
        if self.outstanding.contains_key(&key) || self.config.resolvers.is_empty() {
            return;
        }
        if !self.budget(kind).take(now) {
            self.rate_limited += 1;
            return;
        }
        let nonce = self.nonces.next_u64();
        let pending = Pending {
            key,
            eid: destination,
            source_eid,
            instance_id,
            resolver: 0,
            attempts: 0,
            sent_at: now,
            not_before: None,
            kind,
        };
        self.send(nonce, &pending);
        self.outstanding.insert(key, nonce);
        self.pending.insert(nonce, pending);
    }

    /// New resolvers, retries, timeout and rate (a reload; the ITR-RLOCs stay). With other
    /// resolvers, outstanding requests are dropped: the next miss asks the new ones.
    pub fn reconfigure(&mut self, config: ResolverConfig) {
        if config.resolvers != self.config.resolvers {
            self.pending.clear();
            self.outstanding.clear();
        }
        [self.misses, self.refreshes, self.solicited] = budgets(config.rate_per_sec);
        self.config = ResolverConfig {
            itr_rlocs: std::mem::take(&mut self.config.itr_rlocs),
            ..config
        };
    }

    /// The map-resolvers, in the order they are tried, at the addresses in use.
    pub fn resolvers(&self) -> &[SocketAddr] {
        &self.config.resolvers
    }

    /// Map-resolver `index`'s name now resolves to `address`.
    pub fn set_resolver_address(&mut self, index: usize, address: SocketAddr) {
        if let Some(resolver) = self.config.resolvers.get_mut(index) {
            *resolver = address;
        }
    }

    /// Our locators requests leave from and ask replies to (the usable ones).
    pub fn set_itr_rlocs(&mut self, itr_rlocs: Vec<IpAddr>) {
        self.config.itr_rlocs = itr_rlocs;
    }

    fn budget(&mut self, kind: RequestKind) -> &mut Budget {
        match kind {
            RequestKind::Miss => &mut self.misses,
            RequestKind::Refresh => &mut self.refreshes,
            RequestKind::Solicited => &mut self.solicited,
        }
    }

    fn send(&mut self, nonce: u64, pending: &Pending) {
        let resolver = self.config.resolvers[pending.resolver];
        if !self
            .config
            .itr_rlocs
            .iter()
            .any(|r| r.is_ipv4() == resolver.is_ipv4())
        {
            return;
        }
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
        request.smr_invoked = pending.kind == RequestKind::Solicited;
        let mut message = Vec::new();
        if request.emit(&mut message).is_err() {
            return;
        }
        // The inner header goes from the source EID to the EID looked up, as deployed ITRs send
        // it (RFC 9301 leaves the inner source open): an xTR with only IPv4 RLOCs still resolves
        // IPv6 EIDs.
        let inner_source = pending.source_eid;
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
            self.outbox.push_back(Transmit::control(resolver, payload));
        }
    }

    /// Retransmits overdue requests, failing over between resolvers; gives up after the last.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.due(self.config.timeout))
            .map(|(&nonce, _)| nonce)
            .collect();
        for nonce in due {
            let Some(mut pending) = self.pending.remove(&nonce) else {
                continue;
            };
            let budget = self.budget(pending.kind);
            if !budget.take(now) {
                pending.not_before = Some(budget.refill(now));
                self.rate_limited += 1;
                self.pending.insert(nonce, pending);
                continue;
            }
            pending.not_before = None;
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

    /// A Map-Reply: accepted only for an outstanding nonce, and only its records covering the
    /// EID asked for in its instance (others are counted in
    /// [`records_refused`](Self::records_refused)); returns what to install.
    pub fn handle_map_reply(&mut self, bytes: &[u8]) -> Result<Vec<Install>, ReplyRefused> {
        let reply = MapReplyRepr::parse(bytes).map_err(|_| ReplyRefused::Malformed)?;
        if reply.probe {
            return Err(ReplyRefused::UnknownNonce);
        }
        let pending = self
            .pending
            .get(&reply.nonce)
            .ok_or(ReplyRefused::UnknownNonce)?;
        let (eid, instance_id) = (pending.eid, pending.instance_id);
        let installs: Vec<Install> = reply
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
            .filter(|i| {
                i.prefix.contains(&eid) && i.mapping.instance_id.filter(|&n| n != 0) == instance_id
            })
            .collect();
        self.records_refused += (reply.records.len() - installs.len()) as u64;
        if installs.is_empty() {
            return Err(ReplyRefused::Uncovered);
        }
        if let Some(pending) = self.pending.remove(&reply.nonce) {
            self.outstanding.remove(&pending.key);
        }
        Ok(installs)
    }

    /// Map-Reply records refused because they did not cover the EID asked for.
    pub fn records_refused(&self) -> u64 {
        self.records_refused
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending
            .values()
            .map(|p| p.due(self.config.timeout))
            .min()
    }

    /// Requests given up after every resolver failed.
    pub fn unresolved(&self) -> u64 {
        self.unresolved
    }

    /// Map-Requests not sent (or retransmissions delayed) because their budget was spent.
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
            Some(Locator::new(
                l.address.ip()?,
                l.priority,
                l.weight,
                l.reachable,
            ))
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
