//! The xTR's control plane as one I/O-free machine: it owns the registration, resolution,
//! responder and mobility machines, our database and the map-cache writer; it takes received
//! control datagrams, punted misses and time, and yields datagrams to send and events to log.
//! The appliance's control loop only moves bytes between it and the ports; tests drive it with a
//! fake clock.
//!
//! Our own database prefixes are installed in the map-cache too, with our locators: traffic
//! between our EIDs, or toward a VM that moved here, selects a locator of ours and is routed
//! locally by the data cores instead of being encapsulated.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dataplane::mapcache::{Action, Instances, Locator, MapCacheWriter, Mapping, MAX_LOCATORS};
use ipnet::IpNet;

use crate::clock::WallClock;
use crate::echo_nonce::{EchoEvent, EchoNonce};
use crate::learned::{CacheKey, Installed, LearnedMappings};
use crate::mobility::{self, Mobility, MobilityState};
use crate::nat_discovery::{NatDiscovery, NatState, NatTimers};
use crate::nonce::NonceSource;
use crate::prefix_map::PrefixMap;
use crate::probing::Prober;
use crate::rate_limit::SenderLimit;
use crate::registration::ViaRtr;
use crate::registration::{Notified, Registration, State};
use crate::resolution::{mapping_of, Install, RequestKind, Resolver};
use crate::responder::{Received, RequestRefused, Responder, ResponderLimits};
use crate::rtr::{Relay, RelayChange, RelayConfig};
use crate::wire::address::Address;
use crate::wire::cpm::{CpmRepr, CpmRoles};
use crate::wire::map_reply::MapReplyPacket;
use crate::wire::map_request::MapRequestRepr;
use crate::wire::record::EidRecord;
use crate::wire::registration::XtrIdentity;
use crate::wire::MessageType;
use crate::Transmit;

/// SMR messages taken from one sender per second.
pub const SMRS_PER_SENDER_PER_SEC: u32 = 10;
/// EID records of one SMR acted on (an SMR names the mappings that changed: a handful).
pub const SMR_RECORDS_PER_MESSAGE: usize = 16;
/// Senders whose SMR budget is tracked at once.
const SMR_SENDERS_TRACKED: usize = 4096;
/// A miss this soon after its mapping expired is traffic still using it: a refresh.
pub const REFRESH_WINDOW: Duration = Duration::from_secs(120);
/// Expired mappings remembered for refreshes (when it is full, more are not remembered).
const RECENTLY_EXPIRED_KEPT: usize = 65_536;

/// What the control plane did, for the stop report and management.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct XtrStats {
    pub map_notifies_accepted: u64,
    /// Map-Notifies the map-servers sent on their own (acknowledged).
    pub map_notifies_unsolicited: u64,
    pub map_notifies_refused: u64,
    pub map_replies_accepted: u64,
    pub map_replies_refused: u64,
    /// Map-Reply records that did not cover the EID asked for, or would have taken over our own
    /// EID space (never installed).
    pub map_reply_records_refused: u64,
    pub mappings_installed: u64,
    pub mappings_expired: u64,
    pub mappings_not_installed: u64,
    /// Mappings with more locators than a map-cache entry holds: the data cores use the best
    /// eight (usable first, by priority); all are probed.
    pub mappings_with_locators_truncated: u64,
    pub map_requests_answered: u64,
    pub map_requests_refused: u64,
    /// Map-Requests not answered because the ITR-RLOC's or the overall answer budget was spent.
    pub map_requests_rate_limited: u64,
    pub smrs_received: u64,
    /// SMRs ignored because their sender exceeded its budget.
    pub smrs_rate_limited_received: u64,
    pub probes_sent: u64,
    pub probe_replies: u64,
    pub locators_down: u64,
    pub locators_up: u64,
    /// Mappings whose locator states changed with the locator-status bits of received traffic.
    pub locator_status_changes: u64,
    /// Times our own usable locators changed (an uplink or its gateway went down or came back).
    pub locator_set_changes: u64,
    pub smrs_sent: u64,
    pub smrs_rate_limited: u64,
    /// Echo-nonce: peers' requests to echo, and our requests answered or not in time.
    pub echo_requests_received: u64,
    pub echoes_answered: u64,
    pub echoes_unanswered: u64,
    pub cpms_applied: u64,
    pub cpms_refused: u64,
    pub cpms_relayed: u64,
    /// RTR: registrations from behind NATs relayed to a map-server, and refused (malformed,
    /// to a map-server we do not relay to, too many waiting).
    pub rtr_registers_relayed: u64,
    pub rtr_registers_refused: u64,
    /// RTR: relayed registrations the map-server confirmed (Map-Notify forwarded as a
    /// Data-Map-Notify), never confirmed (refused there), and Map-Notifies refused (no
    /// registration of ours has their nonce, or not from its map-server).
    pub rtr_notifies_forwarded: u64,
    pub rtr_registers_unconfirmed: u64,
    pub rtr_notifies_refused: u64,
    /// RTR: prefixes behind NATs not registered again in time, and those that did not fit in
    /// the map-cache.
    pub rtr_prefixes_lapsed: u64,
    pub rtr_installs_failed: u64,
    pub misses: u64,
    /// RLOC probes postponed because `rloc_probe_rate_per_sec` was spent.
    pub rloc_probes_deferred: u64,
    /// Misses for a mapping whose TTL ran out lately, asked for with a refresh's priority.
    pub misses_refreshing: u64,
    /// Map-Requests not sent, or retransmissions delayed, because their budget
    /// (`map_request_rate_per_sec`, split between new misses, refreshes and SMR-invoked ones)
    /// was spent.
    pub misses_rate_limited: u64,
    /// Control messages of a type this xTR does not take, or unparseable.
    pub messages_refused: u64,
    /// Info-Replies (NAT discovery) taken, and refused (malformed, unknown nonce, bad HMAC).
    pub info_replies_accepted: u64,
    pub info_replies_refused: u64,
}

/// One EID record of our database and whether it is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMapping {
    pub record: EidRecord,
    pub register: bool,
}

/// Something an operator wants in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A CPM changed the priorities of one of our EID records.
    CpmApplied {
        prefix: IpNet,
        roles: CpmRoles,
        locators: Vec<(IpAddr, u8)>,
    },
    /// Records a previous run's CPMs had moved start where they left them.
    MovesRestored(Vec<IpNet>),
    /// A mapping learned from a Map-Reply was installed.
    Installed {
        prefix: IpNet,
        locators: Vec<IpAddr>,
    },
    /// Registration with a map-server changed state (registered, failing, ...).
    Registration { server: SocketAddr, state: State },
    /// RLOC probing found a locator unreachable, or reachable again.
    Locator { address: IpAddr, up: bool },
    /// NAT discovery learned what the path to a map-server looks like.
    Nat { server: SocketAddr, state: NatState },
    /// RTR: a map-server confirmed that `prefix` is reached through a NAT at `xtr`.
    ReachedBehindNat {
        instance_id: Option<u32>,
        prefix: IpNet,
        xtr: SocketAddr,
    },
    /// RTR: `prefix` behind a NAT was not registered again in time.
    LapsedBehindNat {
        instance_id: Option<u32>,
        prefix: IpNet,
    },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CpmApplied {
                prefix,
                roles,
                locators,
            } => {
                let role = match (roles.destination_site, roles.source_site) {
                    (true, _) => "VM arrived here",
                    (_, true) => "VM left",
                    _ => "priority change",
                };
                write!(f, "CPM applied to {prefix} ({role}): locators")?;
                for (address, priority) in locators {
                    write!(f, " {address} priority {priority}")?;
                }
                Ok(())
            }
            Self::MovesRestored(prefixes) => {
                write!(f, "CPM moves restored from the state file: {prefixes:?}")
            }
            Self::Installed { prefix, locators } => {
                write!(f, "map-cache: {prefix} -> {locators:?}")
            }
            Self::Locator { address, up: true } => write!(f, "locator {address} up"),
            Self::Locator { address, up: false } => {
                write!(f, "locator {address} down: RLOC probes unanswered")
            }
            Self::Nat { server, state } => write!(f, "path to map-server {server}: {state}"),
            Self::ReachedBehindNat {
                instance_id,
                prefix,
                xtr,
            } => write!(
                f,
                "{prefix} (instance {}) is reached through a NAT at {xtr}",
                instance_id.unwrap_or(0)
            ),
            Self::LapsedBehindNat {
                instance_id,
                prefix,
            } => write!(
                f,
                "{prefix} (instance {}) behind a NAT was not registered again: no longer reached",
                instance_id.unwrap_or(0)
            ),
            Self::Registration { server, state } => match state {
                State::Registered => write!(f, "registered with map-server {server}"),
                State::Failing { failures } => write!(
                    f,
                    "map-server {server} down: {failures} Map-Register(s) unanswered, retrying"
                ),
                other => write!(f, "map-server {server}: {other:?}"),
            },
        }
    }
}

/// Everything the machine is made of.
#[derive(Debug)]
struct XtrParts {
    registration: Registration,
    resolver: Resolver,
    responder: Responder,
    map_cache: MapCacheWriter,
    learned: LearnedMappings,
    mobility: Mobility,
    prober: Prober,
    echo: EchoNonce,
    /// Our database (the responder and registration start from the same records).
    database: Vec<LocalMapping>,
    /// Our RLOCs.
    rlocs: Vec<IpAddr>,
    /// Proxy-ITRs, signalled with SMRs on every change to a local mapping.
    pitrs: Vec<IpAddr>,
    /// At most one SMR per correspondent in this interval.
    smr_interval: Duration,
    /// Nonces for the SMRs this machine sends itself.
    nonces: NonceSource,
    nat: Option<NatDiscovery>,
    relay: Option<Relay>,
    /// Start time (first probes).
    now: Instant,
}

/// The xTR control plane.
#[derive(Debug)]
pub struct Xtr {
    pub registration: Registration,
    pub resolver: Resolver,
    pub responder: Responder,
    pub map_cache: MapCacheWriter,
    pub learned: LearnedMappings,
    mobility: Mobility,
    prober: Prober,
    echo: EchoNonce,
    database: Vec<LocalMapping>,
    rlocs: Vec<IpAddr>,
    /// Our locators whose port or gateway is down: registered and answered with priority 255,
    /// never a source.
    unusable: Vec<IpAddr>,
    /// NAT discovery toward the map-servers, when enabled.
    pub nat: Option<NatDiscovery>,
    /// The RTR role's relaying of registrations from behind NATs, when we are one.
    pub relay: Option<Relay>,
    pitrs: Vec<IpAddr>,
    smr_interval: Duration,
    last_smr: HashMap<IpAddr, Instant>,
    smr_senders: SenderLimit,
    /// Mappings whose TTL ran out lately, and when.
    recently_expired: PrefixMap<Instant>,
    nonces: NonceSource,
    /// Each map-server's state when last looked at, to log changes.
    server_states: Vec<State>,
    stats: XtrStats,
    /// Locators of mappings installed since the last [`take_new_locators`](Self::take_new_locators).
    new_locators: Vec<IpAddr>,
    outbox: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Xtr {
    /// The machine, with our database installed in the map-cache; records a previous run's CPMs
    /// moved (restored into `parts.mobility`) start where those CPMs left them.
    fn new(mut parts: XtrParts) -> Self {
        let mut restored = Vec::new();
        for mapping in &mut parts.database {
            if parts.mobility.apply_saved(&mut mapping.record) {
                restored.extend(mapping_of(&mapping.record).map(|(prefix, _)| prefix));
            }
        }
        if !restored.is_empty() {
            parts
                .responder
                .set_database(parts.database.iter().map(|m| m.record.clone()).collect());
            parts.registration.set_records(
                parts
                    .database
                    .iter()
                    .filter(|m| m.register)
                    .map(|m| m.record.clone())
                    .collect(),
                parts.now,
            );
        }
        let mut xtr = Self {
            registration: parts.registration,
            resolver: parts.resolver,
            responder: parts.responder,
            map_cache: parts.map_cache,
            learned: parts.learned,
            mobility: parts.mobility,
            prober: parts.prober,
            echo: parts.echo,
            database: parts.database,
            rlocs: parts.rlocs,
            unusable: Vec::new(),
            nat: parts.nat,
            relay: parts.relay,
            pitrs: parts.pitrs,
            smr_interval: parts.smr_interval,
            last_smr: HashMap::new(),
            smr_senders: SenderLimit::new(SMRS_PER_SENDER_PER_SEC, SMR_SENDERS_TRACKED),
            recently_expired: PrefixMap::new(),
            nonces: parts.nonces,
            server_states: Vec::new(),
            stats: XtrStats::default(),
            new_locators: Vec::new(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        };
        for i in 0..xtr.database.len() {
            xtr.install_own(i);
        }
        xtr.map_cache.publish();
        xtr.track_all_locators(parts.now);
        if !restored.is_empty() {
            xtr.events.push_back(Event::MovesRestored(restored));
        }
        xtr
    }

    /// The mobility state to save, when a CPM changed it since the last call.
    pub fn take_mobility_state(&mut self) -> Option<MobilityState> {
        self.mobility.take_state()
    }

    /// Our database as it stands (after CPMs).
    pub fn database(&self) -> &[LocalMapping] {
        &self.database
    }

    /// A record as we announce it: our unusable locators at priority 255 (RFC 9301: not used for
    /// unicast forwarding). They stay in the locator set, so the positions the locator-status
    /// bits refer to do not shift, and they come back by priority alone.
    fn announced(&self, record: &EidRecord) -> EidRecord {
        let mut record = record.clone();
        for locator in &mut record.locators {
            if locator
                .address
                .ip()
                .is_some_and(|ip| self.unusable.contains(&ip))
            {
                locator.priority = 255;
                locator.reachable = false;
            }
        }
        record
    }

    /// Our records as announced, all or only the registered ones.
    fn announced_records(&self, registered_only: bool) -> Vec<EidRecord> {
        self.database
            .iter()
            .filter(|m| m.register || !registered_only)
            .map(|m| self.announced(&m.record))
            .collect()
    }

    /// Our locators a message may leave from: the usable ones.
    fn usable_rlocs(&self) -> Vec<IpAddr> {
        self.rlocs
            .iter()
            .copied()
            .filter(|r| !self.unusable.contains(r))
            .collect()
    }

    /// Our locators in `unusable` lost their port or gateway (the others work): the records
    /// that changed are installed, answered and registered at once with those locators at
    /// priority 255, and the ITRs that asked us lately, the PITRs and correspondents get SMRs,
    /// so remote ITRs move to our other locators. Only usable locators are sources from then on.
    pub fn set_unusable_locators(&mut self, mut unusable: Vec<IpAddr>, now: Instant) {
        unusable.sort_unstable();
        unusable.dedup();
        if unusable == self.unusable {
            return;
        }
        let before: Vec<EidRecord> = self.announced_records(false);
        self.unusable = unusable;
        self.stats.locator_set_changes += 1;
        let usable = self.usable_rlocs();
        self.resolver.set_itr_rlocs(usable.clone());
        self.prober.set_sources(usable.clone());
        if let Some(nat) = &mut self.nat {
            nat.set_own(usable.clone(), now);
        }
        self.responder.set_local_rlocs(usable);
        let after = self.announced_records(false);
        for i in 0..self.database.len() {
            self.install_own(i);
        }
        self.map_cache.publish();
        self.responder.set_database(after.clone());
        self.register_now(now);
        for (old, new) in before.iter().zip(&after) {
            if old != new {
                self.solicit(new, &[], now);
            }
        }
        self.collect(now);
    }

    fn install_own(&mut self, index: usize) {
        let record = self.announced(&self.database[index].record);
        if let Some((prefix, mapping)) = mapping_of(&record) {
            // A full map-cache keeps serving; the record is still answered and registered.
            let _ = self.map_cache.insert(prefix, mapping);
        }
    }

    pub fn stats(&self) -> XtrStats {
        let relay = self.relay.as_ref().map(Relay::stats).unwrap_or_default();
        XtrStats {
            rtr_registers_relayed: relay.registers_relayed,
            rtr_registers_refused: relay.registers_refused,
            rtr_notifies_forwarded: relay.notifies_forwarded,
            rtr_registers_unconfirmed: relay.registers_unconfirmed,
            rtr_notifies_refused: relay.notifies_refused,
            rtr_prefixes_lapsed: relay.prefixes_lapsed,
            misses_rate_limited: self.resolver.rate_limited(),
            rloc_probes_deferred: self.prober.deferred(),
            map_reply_records_refused: self.stats.map_reply_records_refused
                + self.resolver.records_refused(),
            ..self.stats
        }
    }

    /// One of our EIDs of `destination`'s family, for the return path of a Map-Request.
    fn source_eid_for(&self, destination: IpAddr) -> IpAddr {
        self.database
            .iter()
            .filter_map(|m| m.record.eid.ip())
            .find(|e| e.is_ipv4() == destination.is_ipv4())
            .unwrap_or(destination)
    }

    /// A packet from `source` to `destination` in `instance_id` (its EID-side port's) missed
    /// the map-cache (already rate-limited per destination prefix by the data core).
    pub fn handle_miss(
        &mut self,
        instance_id: Option<u32>,
        source: IpAddr,
        destination: IpAddr,
        now: Instant,
    ) {
        self.stats.misses += 1;
        let expired_recently = self
            .recently_expired
            .longest(instance_id, destination)
            .is_some_and(|(_, at)| now.saturating_duration_since(*at) <= REFRESH_WINDOW);
        let kind = if expired_recently {
            self.stats.misses_refreshing += 1;
            RequestKind::Refresh
        } else {
            RequestKind::Miss
        };
        self.resolver
            .request(kind, destination, source, instance_id, now);
        self.collect(now);
    }

    /// Whether a learned mapping would take over one of our own EID prefixes (it equals or
    /// covers one in the same instance): no genuine reply does that, an attacker's would
    /// capture our own traffic.
    fn covers_our_space(&self, install: &Install) -> bool {
        self.database.iter().any(|m| {
            mapping_of(&m.record).is_some_and(|(own, mapping)| {
                mapping.instance_id == install.mapping.instance_id
                    && install.prefix.contains(&own.network())
                    && install.prefix.prefix_len() <= own.prefix_len()
            })
        })
    }

    /// A LISP control datagram received from `from`.
    pub fn handle_datagram(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        match MessageType::of(bytes) {
            Ok(MessageType::MapNotify) => match self.registration.handle_notify(from, bytes, now) {
                Ok(Notified::Registered) => self.stats.map_notifies_accepted += 1,
                Ok(Notified::Unsolicited) => self.stats.map_notifies_unsolicited += 1,
                Err(_) => self.stats.map_notifies_refused += 1,
            },
            Ok(MessageType::MapReply) => self.handle_map_reply(bytes, now),
            Ok(MessageType::Ecm) if self.relay.is_some() && Relay::wants(bytes) => {
                if let Some(relay) = &mut self.relay {
                    let _ = relay.handle_ecm(from, bytes, now);
                }
            }
            Ok(MessageType::MapRequest | MessageType::Ecm) => match Received::parse(from, bytes) {
                Ok(received) if received.request.smr => self.handle_smr(from.ip(), &received, now),
                Ok(received) => match self.responder.handle_request(&received, now) {
                    Ok(reply) => {
                        self.stats.map_requests_answered += 1;
                        self.outbox.push_back(reply);
                    }
                    Err(RequestRefused::RateLimited) => self.stats.map_requests_rate_limited += 1,
                    Err(_) => self.stats.map_requests_refused += 1,
                },
                Err(_) => self.stats.map_requests_refused += 1,
            },
            Ok(MessageType::Info) => match &mut self.nat {
                Some(nat) => match nat.handle_reply(from, bytes, now) {
                    Ok(()) => self.stats.info_replies_accepted += 1,
                    Err(_) => self.stats.info_replies_refused += 1,
                },
                None => self.stats.messages_refused += 1,
            },
            Ok(MessageType::SharedExtension | MessageType::MapNotifyAck) => {
                self.handle_cpm(from, bytes, now)
            }
            _ => self.stats.messages_refused += 1,
        }
        self.collect(now);
    }

    /// A Change Priority Message: see [`mobility`].
    fn handle_cpm(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        let Ok(cpm) = self.mobility.accept(from.ip(), bytes) else {
            self.stats.cpms_refused += 1;
            return;
        };
        let Some(index) = self.record_index(&cpm.eid) else {
            self.stats.cpms_refused += 1;
            return;
        };
        let before = self.database[index].record.clone();
        let rlocs = self.rlocs.clone();
        let ours = |a: &Address| a.ip().is_some_and(|ip| rlocs.contains(&ip));
        let after = mobility::apply(&before, cpm.roles, cpm.priority, cpm.weight, ours);
        self.database[index].record = after.clone();
        self.mobility.record_moved(&after);
        self.install_own(index);
        self.map_cache.publish();
        self.responder.set_database(self.announced_records(false));
        self.register_now(now);
        self.stats.cpms_applied += 1;
        if let Some((prefix, _)) = mapping_of(&after) {
            self.events.push_back(Event::CpmApplied {
                prefix,
                roles: cpm.roles,
                locators: after
                    .locators
                    .iter()
                    .filter_map(|l| Some((l.address.ip()?, l.priority)))
                    .collect(),
            });
        }
        if cpm.roles.hypervisor && cpm.roles.destination_site {
            self.relay_to_old_site(&cpm, &before);
        }
        self.solicit(&after, &cpm.correspondents, now);
    }

    /// Our most specific record covering the CPM's EID (same instance-id).
    fn record_index(&self, eid: &Address) -> Option<usize> {
        let (ip, iid) = (eid.ip()?, eid.instance_id());
        self.database
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                m.record.eid.instance_id() == iid
                    && mapping_of(&m.record).is_some_and(|(p, _)| p.contains(&ip))
            })
            .max_by_key(|(_, m)| m.record.mask_len)
            .map(|(i, _)| i)
    }

    /// Tells the xTRs of the site the VM left (the other locators it was reachable through) to
    /// step down, with a CPM signed with the key we share with each.
    fn relay_to_old_site(&mut self, cpm: &CpmRepr, before: &EidRecord) {
        let old: Vec<IpAddr> = before
            .locators
            .iter()
            .filter(|l| l.priority < 255)
            .filter_map(|l| l.address.ip())
            .filter(|ip| !self.rlocs.contains(ip))
            .collect();
        for xtr in old {
            let Some(peer) = self.mobility.peer(xtr).cloned() else {
                continue;
            };
            let relay = CpmRepr {
                roles: CpmRoles {
                    hypervisor: false,
                    source_site: true,
                    destination_site: false,
                },
                nonce: self.nonces.next_u64(),
                key_id: 0,
                algorithm_id: peer.algorithm.id(),
                auth_data: Vec::new(),
                priority: 255,
                weight: 0,
                ..cpm.clone()
            };
            let mut payload = Vec::new();
            if relay
                .emit_signed(peer.algorithm, &peer.key, &mut payload)
                .is_ok()
            {
                self.stats.cpms_relayed += 1;
                self.outbox.push_back(Transmit::control(
                    SocketAddr::new(xtr, dataplane::wire::lisp::CONTROL_PORT),
                    payload,
                ));
            }
        }
    }

    /// SMRs for `record` to the ITRs that asked us recently, the RLOCs of the listed
    /// correspondents, and the PITRs; at most one per target per interval.
    fn solicit(&mut self, record: &EidRecord, correspondents: &[Address], now: Instant) {
        let mut targets = self.responder.recent_correspondents(now);
        for correspondent in correspondents.iter().filter_map(Address::ip) {
            if let Some((_, mapping)) = self
                .map_cache
                .lookup(record.eid.instance_id(), correspondent)
            {
                targets.extend(mapping.locators.iter().map(|l| l.address));
            }
        }
        targets.extend(self.pitrs.iter().copied());
        targets.sort_unstable();
        targets.dedup();
        targets.retain(|t| !self.rlocs.contains(t));
        for target in targets {
            let recent = self
                .last_smr
                .get(&target)
                .is_some_and(|at| now.saturating_duration_since(*at) < self.smr_interval);
            if recent {
                self.stats.smrs_rate_limited += 1;
                continue;
            }
            let Some(source) = self
                .usable_rlocs()
                .into_iter()
                .find(|r| r.is_ipv4() == target.is_ipv4())
            else {
                continue;
            };
            let mut smr = MapRequestRepr::about_prefix(
                self.nonces.next_u64(),
                record.eid.clone(),
                record.mask_len,
                Address::from(source),
            );
            smr.smr = true;
            let mut payload = Vec::new();
            if smr.emit(&mut payload).is_ok() {
                self.last_smr.insert(target, now);
                self.stats.smrs_sent += 1;
                self.outbox.push_back(Transmit::control(
                    SocketAddr::new(target, dataplane::wire::lisp::CONTROL_PORT),
                    payload,
                ));
            }
        }
    }

    /// An SMR names EIDs of the sender's site: only those we have cached are asked again.
    /// An SMR: an SMR-invoked Map-Request for each of its EIDs we have cached, within limits
    /// an unauthenticated sender cannot stretch: [`SMRS_PER_SENDER_PER_SEC`] messages per
    /// sender, [`SMR_RECORDS_PER_MESSAGE`] records per message, and the resolver's own SMR
    /// budget and per-prefix deduplication.
    fn handle_smr(&mut self, sender: IpAddr, received: &Received, now: Instant) {
        self.stats.smrs_received += 1;
        if !self.smr_senders.admit(sender, now) {
            self.stats.smrs_rate_limited_received += 1;
            return;
        }
        for record in received
            .request
            .records
            .iter()
            .take(SMR_RECORDS_PER_MESSAGE)
        {
            let Some(eid) = record.eid.ip() else { continue };
            if self
                .map_cache
                .lookup(record.eid.instance_id(), eid)
                .is_some()
            {
                let source = self.source_eid_for(eid);
                self.resolver.request(
                    RequestKind::Solicited,
                    eid,
                    source,
                    record.eid.instance_id(),
                    now,
                );
            }
        }
    }

    fn handle_map_reply(&mut self, bytes: &[u8], now: Instant) {
        if let Ok(reply) = MapReplyPacket::new_checked(bytes) {
            if reply.probe() {
                if self.prober.handle_reply(reply.nonce()) {
                    self.stats.probe_replies += 1;
                } else {
                    self.stats.map_replies_refused += 1;
                }
                return;
            }
        }
        let installs = match self.resolver.handle_map_reply(bytes) {
            Ok(installs) => installs,
            Err(_) => {
                self.stats.map_replies_refused += 1;
                return;
            }
        };
        self.stats.map_replies_accepted += 1;
        for mut install in installs {
            if self.covers_our_space(&install) {
                self.stats.map_reply_records_refused += 1;
                continue;
            }
            if install.mapping.locators.len() > MAX_LOCATORS {
                self.stats.mappings_with_locators_truncated += 1;
            }
            for locator in &mut install.mapping.locators {
                locator.up &= self.prober.is_up(locator.address);
            }
            let locators: Vec<IpAddr> =
                install.mapping.locators.iter().map(|l| l.address).collect();
            let prefix = install.prefix;
            let eid =
                Address::in_instance(Address::from(prefix.network()), install.mapping.instance_id);
            let echo_nonce_capable = install.echo_nonce_capable;
            match self.learned.install(&mut self.map_cache, install, now) {
                Ok(Installed::Cached(_)) => {
                    self.stats.mappings_installed += 1;
                    for &locator in &locators {
                        self.prober
                            .track(locator, eid.clone(), prefix.prefix_len(), now);
                        if echo_nonce_capable && !self.rlocs.contains(&locator) {
                            self.echo.add_capable(locator, now);
                        }
                    }
                    self.new_locators.extend(locators.iter().copied());
                    self.events.push_back(Event::Installed { prefix, locators });
                }
                Ok(Installed::NotCached | Installed::StaticKept) | Err(_) => {
                    self.stats.mappings_not_installed += 1
                }
            }
        }
        self.map_cache.publish();
    }

    /// Marks `locator` up or down in every mapping that has it; selection follows.
    fn set_reachability(&mut self, locator: IpAddr, up: bool) {
        let changed: Vec<(IpNet, Mapping)> = self
            .map_cache
            .iter()
            .filter(|(_, m)| {
                m.locators
                    .iter()
                    .any(|l| l.address == locator && l.up != up)
            })
            .map(|(p, m)| {
                let mut m = m.clone();
                for l in m.locators.iter_mut().filter(|l| l.address == locator) {
                    l.up = up;
                }
                (*p, m)
            })
            .collect();
        for (prefix, mapping) in changed {
            // The prefix was just read from the map-cache: replacing it needs no new LPM node.
            let _ = self.map_cache.insert(prefix, mapping);
        }
        self.map_cache.publish();
        if up {
            self.stats.locators_up += 1;
        } else {
            self.stats.locators_down += 1;
        }
        self.events.push_back(Event::Locator {
            address: locator,
            up,
        });
    }

    /// Locator-status bits seen by our ETR on traffic from `rloc`: the sending site's view of
    /// its own locators, bit i for the i-th locator of its mapping (RFC 9300 section 10). Applied
    /// to every mapping that lists `rloc`, only when the sender's own bit is set (a multi-xTR site
    /// whose xTRs number locators differently must not take itself down), and never raising a
    /// locator that RLOC probing found dead.
    pub fn handle_locator_status(&mut self, rloc: IpAddr, bits: u32) {
        let changed: Vec<(IpNet, Mapping)> = self
            .map_cache
            .iter()
            .filter_map(|(prefix, mapping)| {
                let own = mapping.locators.iter().position(|l| l.address == rloc)?;
                if own >= 32 || bits & (1 << own) == 0 {
                    return None;
                }
                let mut updated = mapping.clone();
                for (i, locator) in updated.locators.iter_mut().enumerate().take(32) {
                    locator.up = bits & (1 << i) != 0 && self.prober.is_up(locator.address);
                }
                (updated != *mapping).then_some((*prefix, updated))
            })
            .collect();
        if changed.is_empty() {
            return;
        }
        self.stats.locator_status_changes += changed.len() as u64;
        for (prefix, mapping) in changed {
            let _ = self.map_cache.insert(prefix, mapping);
        }
        self.map_cache.publish();
    }

    /// Traffic from `rloc` asked us to echo `nonce` (the E bit).
    pub fn handle_echo_request(&mut self, rloc: IpAddr, nonce: u32, now: Instant) {
        self.stats.echo_requests_received += 1;
        self.echo.handle_request(rloc, nonce, now);
    }

    /// Traffic from `rloc` carried back the nonce we asked it to echo.
    pub fn handle_echo(&mut self, rloc: IpAddr, now: Instant) {
        self.echo.handle_echo(rloc);
        self.take_echo_events(now);
    }

    /// An echoed nonce stands in for the next probe; a missing one calls for a probe now.
    fn take_echo_events(&mut self, now: Instant) {
        while let Some(event) = self.echo.poll_event() {
            match event {
                EchoEvent::Answered(rloc) => {
                    self.stats.echoes_answered += 1;
                    self.prober.confirmed(rloc, now);
                }
                EchoEvent::Unanswered(rloc) => {
                    self.stats.echoes_unanswered += 1;
                    self.prober.probe_soon(rloc, now);
                }
            }
        }
    }

    /// The echo-nonce table for the data cores, when it changed since the last call.
    pub fn take_echo_table(&mut self) -> Option<dataplane::pipeline::EchoNonces> {
        self.echo.take_table()
    }

    /// Probes every remote locator of the map-cache (our database's other-site locators and
    /// static entries included).
    fn track_all_locators(&mut self, now: Instant) {
        let all: Vec<(IpAddr, Address, u8)> = self
            .map_cache
            .iter()
            .flat_map(|(p, m)| {
                let eid = Address::in_instance(Address::from(p.network()), m.instance_id);
                m.locators
                    .iter()
                    .map(move |l| (l.address, eid.clone(), p.prefix_len()))
            })
            .collect();
        for (locator, eid, mask_len) in all {
            self.prober.track(locator, eid, mask_len, now);
        }
    }

    /// The path to map-server `server` changed: behind a NAT, it is registered with through the
    /// first RTR of our family it offered (and at once, so the RTR learns where the NAT maps us
    /// now), and data goes to that RTR ([`Self::data_rtr`]); otherwise directly again.
    fn follow_nat(&mut self, server: SocketAddr, state: &NatState, now: Instant) {
        let Some(index) = self
            .registration
            .status()
            .iter()
            .position(|s| s.address == server)
        else {
            return;
        };
        let via = match state {
            NatState::BehindNat { rtrs, .. } => rtrs.iter().find_map(|&rtr| {
                let private = self
                    .usable_rlocs()
                    .into_iter()
                    .find(|r| r.is_ipv4() == rtr.is_ipv4())?;
                Some(ViaRtr { rtr, private })
            }),
            _ => None,
        };
        self.registration.set_via_rtr(index, via, now);
        self.registration.handle_timeout(now);
    }

    /// Behind a NAT, the RTR every encapsulated packet goes to: the one we register through.
    pub fn data_rtr(&self) -> Option<IpAddr> {
        self.registration.rtr()
    }

    /// What the RTR role learned or let lapse, applied to the map-cache: a prefix behind a NAT
    /// is reached at the address and port its NAT translated to (never probed: the NAT would
    /// drop the probes).
    fn apply_relay_changes(&mut self) {
        let Some(relay) = &mut self.relay else {
            return;
        };
        let mut changed = false;
        while let Some(change) = relay.poll_change() {
            changed = true;
            match change {
                RelayChange::Learned {
                    key: (instance_id, prefix),
                    xtr,
                } => {
                    self.learned.forget(instance_id, &prefix);
                    let mapping = Mapping {
                        action: Action::Encapsulate,
                        instance_id,
                        map_version: 0,
                        locators: vec![Locator {
                            nat_port: Some(xtr.port()),
                            ..Locator::new(xtr.ip(), 1, 100, true)
                        }],
                    };
                    if self.map_cache.insert(prefix, mapping).is_err() {
                        self.stats.rtr_installs_failed += 1;
                    }
                    self.events.push_back(Event::ReachedBehindNat {
                        instance_id,
                        prefix,
                        xtr,
                    });
                }
                RelayChange::Lapsed {
                    key: (instance_id, prefix),
                } => {
                    let _ = self.map_cache.remove(instance_id, &prefix);
                    self.events.push_back(Event::LapsedBehindNat {
                        instance_id,
                        prefix,
                    });
                }
            }
        }
        while let Some(t) = relay.poll_transmit() {
            self.outbox.push_back(t);
        }
        if changed {
            self.map_cache.publish();
        }
    }

    /// Advances time: registrations, retransmissions and expiries that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.registration.poll_timeout().is_some_and(|t| t <= now) {
            self.registration.handle_timeout(now);
        }
        if let Some(nat) = self
            .nat
            .as_mut()
            .filter(|nat| nat.poll_timeout().is_some_and(|t| t <= now))
        {
            nat.handle_timeout(now);
        }
        if let Some(relay) = self
            .relay
            .as_mut()
            .filter(|relay| relay.poll_timeout().is_some_and(|t| t <= now))
        {
            relay.handle_timeout(now);
        }
        if self.resolver.poll_timeout().is_some_and(|t| t <= now) {
            self.resolver.handle_timeout(now);
        }
        if self.learned.next_expiry().is_some_and(|t| t <= now) {
            let expired = self
                .learned
                .expire(&mut self.map_cache, now)
                .unwrap_or_default();
            if !expired.is_empty() {
                self.stats.mappings_expired += expired.len() as u64;
                self.remember_expired(&expired, now);
                self.map_cache.publish();
                self.forget_absent_locators(true);
            }
        }
        if self.echo.poll_timeout().is_some_and(|t| t <= now) {
            self.echo.handle_timeout(now);
        }
        self.take_echo_events(now);
        if self.prober.poll_timeout().is_some_and(|t| t <= now) {
            self.prober.handle_timeout(now);
        }
        for (locator, up) in self.prober.take_changes() {
            self.set_reachability(locator, up);
        }
        self.collect(now);
    }

    /// Remembers `expired` mappings for [`REFRESH_WINDOW`], so traffic still using one asks for
    /// it again with a refresh's priority; the memory is bounded.
    fn remember_expired(&mut self, expired: &[CacheKey], now: Instant) {
        self.recently_expired
            .retain(|_, at| now.saturating_duration_since(*at) <= REFRESH_WINDOW);
        for &(instance_id, prefix) in expired {
            if self.recently_expired.len() >= RECENTLY_EXPIRED_KEPT {
                break;
            }
            self.recently_expired.insert(instance_id, prefix, now);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.registration.poll_timeout(),
            self.resolver.poll_timeout(),
            self.learned.next_expiry(),
            self.prober.poll_timeout(),
            self.echo.poll_timeout(),
            self.nat.as_ref().and_then(NatDiscovery::poll_timeout),
            self.relay.as_ref().and_then(Relay::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn collect(&mut self, now: Instant) {
        let mut nat_changes = Vec::new();
        if let Some(nat) = &mut self.nat {
            while let Some(t) = nat.poll_transmit() {
                self.outbox.push_back(t);
            }
            while let Some(change) = nat.poll_change() {
                nat_changes.push(change);
            }
        }
        for (server, state) in nat_changes {
            self.follow_nat(server, &state, now);
            self.events.push_back(Event::Nat { server, state });
        }
        self.apply_relay_changes();
        let states: Vec<(SocketAddr, State)> = self
            .registration
            .status()
            .iter()
            .map(|s| (s.address, s.state))
            .collect();
        for (i, (server, state)) in states.iter().enumerate() {
            let before = self.server_states.get(i).copied();
            let worth_logging = matches!(state, State::Registered | State::Failing { failures: 1 });
            if before != Some(*state) && worth_logging {
                self.events.push_back(Event::Registration {
                    server: *server,
                    state: *state,
                });
            }
        }
        self.server_states = states.into_iter().map(|(_, s)| s).collect();
        while let Some(t) = self.registration.poll_transmit() {
            self.outbox.push_back(t);
        }
        while let Some(t) = self.resolver.poll_transmit() {
            self.outbox.push_back(t);
        }
        while let Some(t) = self.prober.poll_transmit() {
            self.stats.probes_sent += 1;
            self.outbox.push_back(t);
        }
    }

    /// The next datagram to send (from our RLOC of the destination's family, port 4342).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    /// Installs an operator's static mapping (it does not expire); its locators are probed from
    /// `now` on.
    pub fn add_static(
        &mut self,
        prefix: IpNet,
        mapping: Mapping,
        now: Instant,
    ) -> Result<(), String> {
        self.learned.forget(mapping.instance_id, &prefix);
        for locator in &mapping.locators {
            self.prober.track(
                locator.address,
                Address::in_instance(Address::from(prefix.network()), mapping.instance_id),
                prefix.prefix_len(),
                now,
            );
        }
        self.map_cache
            .insert(prefix, mapping)
            .map_err(|e| e.to_string())?;
        self.map_cache.publish();
        Ok(())
    }

    /// Removes the mapping of exactly `prefix` in `instance_id`, learned or static; returns
    /// whether there was one.
    pub fn remove_mapping(
        &mut self,
        instance_id: Option<u32>,
        prefix: &IpNet,
    ) -> Result<bool, String> {
        self.learned.forget(instance_id, prefix);
        let removed = self
            .map_cache
            .remove(instance_id, prefix)
            .map_err(|e| e.to_string())?;
        self.map_cache.publish();
        Ok(removed)
    }

    /// Each instance served and how many of our EID prefixes are in it.
    pub fn database_per_instance(&self) -> std::collections::BTreeMap<u32, usize> {
        let mut counts: std::collections::BTreeMap<u32, usize> = self
            .map_cache
            .instances()
            .ids()
            .map(|instance| (instance, 0))
            .collect();
        for local in &self.database {
            *counts
                .entry(local.record.eid.instance_id().unwrap_or(0))
                .or_default() += 1;
        }
        counts
    }

    /// Serves `instances` from now on (a reload added or removed tenants; see
    /// [`dataplane::mapcache::InstanceTables`]).
    pub fn set_instances(&mut self, instances: dataplane::mapcache::Instances) {
        self.map_cache.set_instances(instances);
    }

    /// Drops every mapping of `instance_id`, learned or static (the instance is no longer
    /// served), and stops probing locators no other mapping names; returns how many.
    pub fn clear_instance(&mut self, instance_id: u32) -> Result<usize, String> {
        let instance = (instance_id != 0).then_some(instance_id);
        let prefixes = self.map_cache.prefixes_in(instance);
        for prefix in &prefixes {
            self.learned.forget(instance, prefix);
            self.map_cache
                .remove(instance, prefix)
                .map_err(|e| e.to_string())?;
        }
        self.map_cache.publish();
        self.forget_absent_locators(false);
        Ok(prefixes.len())
    }

    /// Drops every learned mapping, and stops probing their locators; returns how many.
    pub fn flush_learned(&mut self) -> Result<usize, String> {
        let flushed = self
            .learned
            .flush(&mut self.map_cache)
            .map_err(|e| e.to_string())?;
        self.map_cache.publish();
        self.forget_absent_locators(false);
        Ok(flushed)
    }

    /// Stops probing and echo-nonce tracking of locators no mapping names any more (keeping
    /// those found down when `keep_down`, see [`Prober::retain`]).
    fn forget_absent_locators(&mut self, keep_down: bool) {
        let present: HashSet<IpAddr> = self
            .map_cache
            .iter()
            .flat_map(|(_, m)| m.locators.iter().map(|l| l.address))
            .collect();
        self.prober.retain(&present, keep_down);
        self.echo.retain_capable(|rloc| present.contains(&rloc));
    }

    /// How many remote locators are being probed.
    pub fn probed_locators(&self) -> usize {
        self.prober.len()
    }

    /// Sends Map-Registers to every map-server now.
    pub fn register_now(&mut self, now: Instant) {
        self.registration
            .set_records(self.announced_records(true), now);
        self.registration.handle_timeout(now);
        self.collect(now);
    }

    /// Applies a reloaded configuration: timers, map-servers and keys, map-resolvers, PITRs, CPM
    /// senders and our database. Learned mappings, outstanding state and what CPMs moved stay;
    /// what changed is registered at once, and changed or new records are signalled with SMRs.
    pub fn reconfigure(&mut self, new: Reconfiguration, now: Instant) {
        let timers = new.timers;
        if let Some(nat) = &mut self.nat {
            nat.set_servers(new.map_servers.clone(), now);
        }
        self.registration
            .reconfigure(new.map_servers, timers.registration, now);
        self.resolver
            .reconfigure(crate::resolution::ResolverConfig {
                resolvers: new.map_resolvers,
                itr_rlocs: Vec::new(),
                retries: timers.request_retries,
                timeout: timers.request_timeout,
                rate_per_sec: timers.request_rate_per_sec.max(1),
            });
        self.responder
            .set_limits(timers.responder, timers.correspondent_memory);
        self.prober.set_timers(crate::probing::ProbeConfig {
            interval: timers.probe_interval,
            count: timers.probe_count,
            retry: timers.probe_retry,
            rlocs: Vec::new(),
            rate_per_sec: timers.probe_rate_per_sec,
        });
        self.smr_interval = timers.smr_interval;
        self.pitrs = new.pitrs;
        self.mobility.set_peers(new.cpm_peers);
        self.set_database(new.database, now);
        self.collect(now);
    }

    /// Replaces our database: prefixes that left are removed from the map-cache, the rest
    /// installed (as CPMs left them), answered and registered, and new or changed records
    /// signalled.
    fn set_database(&mut self, mut database: Vec<LocalMapping>, now: Instant) {
        let before = self.announced_records(false);
        for mapping in &mut database {
            self.mobility.apply_saved(&mut mapping.record);
        }
        let kept = |record: &EidRecord| {
            database
                .iter()
                .any(|m| m.record.eid == record.eid && m.record.mask_len == record.mask_len)
        };
        let gone: Vec<(IpNet, Option<u32>)> = self
            .database
            .iter()
            .filter(|m| !kept(&m.record))
            .filter_map(|m| mapping_of(&m.record).map(|(p, mapping)| (p, mapping.instance_id)))
            .collect();
        for (prefix, instance_id) in gone {
            let _ = self.map_cache.remove(instance_id, &prefix);
        }
        self.database = database;
        for i in 0..self.database.len() {
            self.install_own(i);
        }
        self.map_cache.publish();
        let after = self.announced_records(false);
        self.responder.set_database(after.clone());
        self.register_now(now);
        for record in &after {
            if !before.contains(record) {
                self.solicit(record, &[], now);
            }
        }
    }

    /// The PITRs our SMRs go to, at the addresses in use.
    pub fn pitrs(&self) -> &[IpAddr] {
        &self.pitrs
    }

    /// Map-server `index`'s name now resolves to `address`: registration and NAT discovery
    /// start over there.
    pub fn set_map_server_address(&mut self, index: usize, address: SocketAddr, now: Instant) {
        self.registration.set_address(index, address, now);
        if let Some(nat) = &mut self.nat {
            nat.set_server_address(index, address, now);
        }
    }

    /// PITR `index`'s name now resolves to `address`: later SMRs go there.
    pub fn set_pitr_address(&mut self, index: usize, address: IpAddr) {
        if let Some(pitr) = self.pitrs.get_mut(index) {
            *pitr = address;
        }
    }

    /// The next event to log.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Locators of newly installed mappings, whose next hops the runner must resolve.
    pub fn take_new_locators(&mut self) -> Vec<IpAddr> {
        std::mem::take(&mut self.new_locators)
    }
}

/// What a reload changes in a running [`Xtr`] (see [`Xtr::reconfigure`]).
#[derive(Debug, Clone, Default)]
pub struct Reconfiguration {
    pub database: Vec<LocalMapping>,
    pub map_servers: Vec<crate::registration::MapServerPeer>,
    pub map_resolvers: Vec<SocketAddr>,
    pub pitrs: Vec<IpAddr>,
    pub cpm_peers: Vec<crate::mobility::CpmPeer>,
    pub timers: XtrTimers,
}

/// The Unix time at which an [`XtrSetup`] machine without a clock of its own starts.
pub const SETUP_UNIX_SECS: u64 = 1_800_000_000;

/// The timers and limits of every machine an [`Xtr`] combines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XtrTimers {
    pub registration: crate::registration::Timers,
    /// Retransmissions to one map-resolver, the first timeout (doubling), requests per second.
    pub request_retries: u32,
    pub request_timeout: Duration,
    pub request_rate_per_sec: u32,
    pub responder: ResponderLimits,
    /// How long an ITR that asked us counts as a correspondent to signal with SMRs.
    pub correspondent_memory: Duration,
    /// RLOC probing: period, unanswered probes before down, retry gap, probes per second.
    pub probe_interval: Duration,
    pub probe_count: u32,
    pub probe_retry: Duration,
    pub probe_rate_per_sec: u32,
    pub echo: crate::echo_nonce::EchoConfig,
    /// At most one SMR per correspondent in this interval.
    pub smr_interval: Duration,
}

impl Default for XtrTimers {
    /// RFC 9301's intervals where it gives them, 3 probes with 1 s retries.
    fn default() -> Self {
        Self {
            registration: crate::registration::Timers::default(),
            request_retries: 2,
            request_timeout: Duration::from_secs(1),
            request_rate_per_sec: 1000,
            responder: ResponderLimits::default(),
            correspondent_memory: Duration::from_secs(600),
            probe_interval: Duration::from_secs(30),
            probe_count: 3,
            probe_retry: Duration::from_secs(1),
            probe_rate_per_sec: 200,
            echo: crate::echo_nonce::EchoConfig::default(),
            smr_interval: Duration::from_secs(1),
        }
    }
}

/// Everything an [`Xtr`] is built from, and the one way to build one: `lispd` fills it from
/// its configuration; tests, benchmarks and embedders start from [`XtrSetup::default`].
#[derive(Debug, Default)]
pub struct XtrSetup {
    /// Our registered database records.
    pub database: Vec<EidRecord>,
    /// Our records that are answered for and used as sources but not registered.
    pub unregistered: Vec<EidRecord>,
    pub rlocs: Vec<IpAddr>,
    pub map_servers: Vec<crate::registration::MapServerPeer>,
    pub map_resolvers: Vec<SocketAddr>,
    pub mobility: Mobility,
    /// The most map-cache entries (static and learned).
    pub map_cache_limit: u32,
    /// The map-cache the data cores read; `None` builds a private one of `map_cache_limit`.
    pub map_cache: Option<MapCacheWriter>,
    /// The xTR-ID and site-ID our Map-Registers carry.
    pub identity: Option<XtrIdentity>,
    /// Proxy-ITRs, signalled with SMRs on every change to a local mapping.
    pub pitrs: Vec<IpAddr>,
    pub timers: XtrTimers,
    /// `None`: a reproducible nonce stream (tests); `lispd` gives one from OS entropy.
    pub nonces: Option<NonceSource>,
    /// `None`: Unix time [`SETUP_UNIX_SECS`] at the start (tests); `lispd` gives the system's.
    pub clock: Option<WallClock>,
    /// Discover NATs toward the map-servers (Info-Request/Reply), every `nat_timers.keepalive`.
    pub nat_discovery: bool,
    pub nat_timers: NatTimers,
    /// Act as an RTR: relay registrations from behind NATs as configured.
    pub relay: Option<RelayConfig>,
}

impl XtrSetup {
    /// The machine, started at `now`.
    pub fn build(self, now: Instant) -> Xtr {
        let rlocs = self.rlocs;
        let timers = self.timers;
        let mut nonces = self.nonces.unwrap_or_else(|| NonceSource::seeded(7));
        let clock = self
            .clock
            .unwrap_or_else(|| WallClock::new(now, Duration::from_secs(SETUP_UNIX_SECS)));
        let database: Vec<LocalMapping> = self
            .database
            .into_iter()
            .map(|record| LocalMapping {
                record,
                register: true,
            })
            .chain(self.unregistered.into_iter().map(|record| LocalMapping {
                record,
                register: false,
            }))
            .collect();
        let records = |registered_only: bool| -> Vec<EidRecord> {
            database
                .iter()
                .filter(|m| m.register || !registered_only)
                .map(|m| m.record.clone())
                .collect()
        };
        let map_cache = self.map_cache.unwrap_or_else(|| {
            MapCacheWriter::new(
                self.map_cache_limit,
                // More instances than an xTR serves leaves only the default one: their mappings
                // are then refused one by one with a clear error.
                Instances::new(database.iter().filter_map(|m| m.record.eid.instance_id()))
                    .unwrap_or_default(),
                dataplane::rcu::Qsbr::new(2),
            )
        });
        let nat = self.nat_discovery.then(|| {
            let eid = database
                .iter()
                .find(|m| m.register)
                .map_or((Address::None, 0), |m| {
                    (m.record.eid.clone(), m.record.mask_len)
                });
            NatDiscovery::new(
                self.map_servers.clone(),
                eid,
                rlocs.clone(),
                self.nat_timers,
                nonces.fork(),
                now,
            )
        });
        let relay = self.relay.map(|config| Relay::new(config, nonces.fork()));
        Xtr::new(XtrParts {
            nat,
            relay,
            registration: Registration::new(
                self.map_servers,
                records(true),
                self.identity,
                timers.registration,
                nonces.fork(),
                clock,
                now,
            ),
            resolver: Resolver::new(
                crate::resolution::ResolverConfig {
                    resolvers: self.map_resolvers,
                    itr_rlocs: rlocs.clone(),
                    retries: timers.request_retries,
                    timeout: timers.request_timeout,
                    rate_per_sec: timers.request_rate_per_sec.max(1),
                },
                nonces.fork(),
            ),
            responder: Responder::new(
                records(false),
                rlocs.clone(),
                timers.correspondent_memory,
                timers.responder,
            ),
            map_cache,
            learned: LearnedMappings::new(self.map_cache_limit as usize),
            mobility: self.mobility,
            echo: EchoNonce::new(timers.echo, nonces.fork()),
            prober: Prober::new(
                crate::probing::ProbeConfig {
                    interval: timers.probe_interval,
                    count: timers.probe_count,
                    retry: timers.probe_retry,
                    rlocs: rlocs.clone(),
                    rate_per_sec: timers.probe_rate_per_sec,
                },
                nonces.fork(),
            ),
            database,
            rlocs,
            pitrs: self.pitrs,
            smr_interval: timers.smr_interval,
            nonces,
            now,
        })
    }
}
