//! A Map-Server and Map-Resolver (RFC 9301) as an I/O-free machine with explicit time.
//!
//! Map-Server: a Map-Register is accepted when its HMAC verifies with the key of the site that
//! owns every prefix it registers (with the site's algorithm), and its nonce was not seen before;
//! registrations of several xTRs of a site for one prefix are merged (union of locators) and each
//! expires on its own after the registration TTL; a Map-Notify goes back when asked for.
//! Map-Resolver: an ECM Map-Request is forwarded in a new ECM to an ETR that registered the EID,
//! or answered here when the registration asked for proxy replies; unregistered space gets a
//! negative Map-Reply for the least specific prefix that covers the hole.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use config::{MapServerConfig, NegativeAction};
use ipnet::IpNet;

use crate::prefix_map::PrefixMap;
use crate::registration::Transmit;
use crate::wire::address::Address;
use crate::wire::auth::AuthAlgorithm;
use crate::wire::ecm::EcmRepr;
use crate::wire::map_reply::MapReplyRepr;
use crate::wire::map_request::MapRequestRepr;
use crate::wire::record::{Action, EidRecord};
use crate::wire::registration::{self, MapNotifyRepr, MapRegisterRepr, RegistrationPacket};
use crate::wire::MessageType;

/// TTL of negative replies for space a site owns but nobody registered: short, since the site may
/// register any moment.
const UNREGISTERED_SITE_TTL_MINUTES: u32 = 1;

/// What the machine did and refused (each refusal changes nothing).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MapServerStats {
    pub registers_accepted: u64,
    pub map_notifies_sent: u64,
    pub map_notify_acks: u64,
    pub registrations_expired: u64,
    pub requests_forwarded: u64,
    pub requests_proxied: u64,
    pub negative_replies: u64,
    pub refused_malformed: u64,
    pub refused_unknown_site: u64,
    pub refused_bad_authentication: u64,
    pub refused_outside_site: u64,
    pub refused_replay: u64,
    pub refused_no_usable_itr_rloc: u64,
    pub refused_other: u64,
}

/// Something an operator wants to see in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Registered {
        site: String,
        prefix: IpNet,
        by: IpAddr,
    },
    Expired {
        site: String,
        prefix: IpNet,
        by: IpAddr,
    },
}

/// Who registered: the xTR-ID when the message carries one, else the source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Registrant {
    XtrId([u8; 16]),
    Source(IpAddr),
}

#[derive(Debug, Clone)]
struct Registered {
    record: EidRecord,
    proxy_reply: bool,
    /// Where Map-Requests for the prefix are forwarded (the registering ETR, port 4342).
    etr: IpAddr,
    expires: Instant,
}

#[derive(Debug)]
struct Entry {
    site: usize,
    by: HashMap<Registrant, Registered>,
}

/// Map-Register nonces seen within the last one to two windows (two generations swapped once per
/// window: O(1) per registration, memory bounded by two windows of registrations). An older
/// replay can only re-assert a registration its site has refreshed since.
#[derive(Debug)]
struct RecentNonces {
    current: HashSet<(usize, u64)>,
    previous: HashSet<(usize, u64)>,
    since: Option<Instant>,
    window: Duration,
}

impl RecentNonces {
    fn new(window: Duration) -> Self {
        Self {
            current: HashSet::new(),
            previous: HashSet::new(),
            since: None,
            window,
        }
    }

    /// Whether `nonce` was seen for `site`; remembers it when not.
    fn seen(&mut self, site: usize, nonce: u64, now: Instant) -> bool {
        let since = *self.since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.window {
            self.previous = std::mem::take(&mut self.current);
            self.since = Some(now);
        }
        let key = (site, nonce);
        if self.previous.contains(&key) {
            return true;
        }
        !self.current.insert(key)
    }
}

/// A registration as management shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationView {
    pub site: String,
    pub prefix: IpNet,
    pub instance_id: Option<u32>,
    pub locators: Vec<IpAddr>,
    pub registrants: usize,
}

/// The Map-Server/Map-Resolver.
#[derive(Debug)]
pub struct MapServer {
    config: MapServerConfig,
    /// Every site prefix: the sites holding it and whether it is shared mobility space.
    site_space: PrefixMap<Vec<(usize, bool)>>,
    entries: PrefixMap<Entry>,
    nonces: RecentNonces,
    stats: MapServerStats,
    outbox: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Malformed,
    UnknownSite,
    BadAuthentication,
    OutsideSite,
    Replay,
    NoUsableItrRloc,
    Other,
}

impl MapServer {
    pub fn new(config: MapServerConfig) -> Self {
        let window = Duration::from_secs(u64::from(config.registration_ttl_secs));
        let mut site_space = PrefixMap::new();
        for (i, site) in config.site.iter().enumerate() {
            let owned = site.prefixes.iter().map(|p| (p, false));
            for (prefix, mobile) in owned.chain(site.mobile_prefixes.iter().map(|p| (p, true))) {
                site_space
                    .get_or_insert_with(None, *prefix, Vec::new)
                    .push((i, mobile));
            }
        }
        Self {
            config,
            site_space,
            entries: PrefixMap::new(),
            nonces: RecentNonces::new(window),
            stats: MapServerStats::default(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn stats(&self) -> MapServerStats {
        self.stats
    }

    /// A datagram received on a listening socket.
    pub fn handle_datagram(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        let outcome = match MessageType::of(bytes) {
            Ok(MessageType::MapRegister) => self.handle_register(from, bytes, now),
            Ok(MessageType::MapNotifyAck) => self.handle_notify_ack(bytes),
            Ok(MessageType::Ecm) => self.handle_request(from, bytes),
            Ok(_) => Err(Refusal::Other),
            Err(_) => Err(Refusal::Malformed),
        };
        if let Err(refusal) = outcome {
            let s = &mut self.stats;
            match refusal {
                Refusal::Malformed => s.refused_malformed += 1,
                Refusal::UnknownSite => s.refused_unknown_site += 1,
                Refusal::BadAuthentication => s.refused_bad_authentication += 1,
                Refusal::OutsideSite => s.refused_outside_site += 1,
                Refusal::Replay => s.refused_replay += 1,
                Refusal::NoUsableItrRloc => s.refused_no_usable_itr_rloc += 1,
                Refusal::Other => s.refused_other += 1,
            }
        }
    }

    /// Whether `site` may register `prefix` (one of its prefixes covers it, more-specifics only
    /// where allowed; shared mobility space always).
    fn may_register(&self, site: usize, prefix: &IpNet) -> bool {
        let Some(((_, owned), holders)) = self.site_space.longest(None, prefix.network()) else {
            return false;
        };
        owned.contains(prefix)
            && holders.iter().any(|&(s, mobile)| {
                s == site
                    && (owned == prefix || mobile || self.config.site[site].accept_more_specifics)
            })
    }

    fn record_prefix(record: &EidRecord) -> Option<IpNet> {
        Some(IpNet::new(record.eid.ip()?, record.mask_len).ok()?.trunc())
    }

    /// The site a registration message is for: among the sites whose space holds its first
    /// record (several for shared mobility space), the one whose key and algorithm verify it.
    fn site_of(
        &self,
        packet: &RegistrationPacket<&[u8]>,
        records: &[EidRecord],
    ) -> Result<usize, Refusal> {
        let first = records.first().ok_or(Refusal::Malformed)?;
        let address = Self::record_prefix(first)
            .ok_or(Refusal::Malformed)?
            .network();
        let (_, candidates) = self
            .site_space
            .longest(None, address)
            .ok_or(Refusal::UnknownSite)?;
        candidates
            .iter()
            .map(|&(site, _)| site)
            .find(|&site| {
                let config = &self.config.site[site];
                packet.algorithm_id() == AuthAlgorithm::from(config.algorithm).id()
                    && packet.verify(config.key.as_bytes())
            })
            .ok_or(Refusal::BadAuthentication)
    }

    fn handle_register(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), Refusal> {
        let packet = RegistrationPacket::new_checked(bytes).map_err(|_| Refusal::Malformed)?;
        let register = MapRegisterRepr::parse(bytes).map_err(|_| Refusal::Malformed)?;
        let site = self.site_of(&packet, &register.body.records)?;
        let prefixes: Vec<IpNet> = register
            .body
            .records
            .iter()
            .map(|r| Self::record_prefix(r).ok_or(Refusal::Malformed))
            .collect::<Result<_, _>>()?;
        if prefixes.iter().any(|p| !self.may_register(site, p)) {
            return Err(Refusal::OutsideSite);
        }
        let nonce = register.body.nonce;
        if nonce != 0 && self.nonces.seen(site, nonce, now) {
            return Err(Refusal::Replay);
        }
        let registrant = match register.body.xtr {
            Some(xtr) => Registrant::XtrId(xtr.xtr_id),
            None => Registrant::Source(from.ip()),
        };
        let expires = now + Duration::from_secs(u64::from(self.config.registration_ttl_secs));
        for (record, prefix) in register.body.records.iter().zip(prefixes) {
            let entry = self
                .entries
                .get_or_insert_with(record.eid.instance_id(), prefix, || Entry {
                    site,
                    by: HashMap::new(),
                });
            let fresh = entry
                .by
                .insert(
                    registrant,
                    Registered {
                        record: record.clone(),
                        proxy_reply: register.proxy_reply,
                        etr: from.ip(),
                        expires,
                    },
                )
                .is_none();
            if fresh {
                self.events.push_back(Event::Registered {
                    site: self.config.site[site].name.clone(),
                    prefix,
                    by: from.ip(),
                });
            }
        }
        self.stats.registers_accepted += 1;
        if register.want_map_notify {
            self.notify(from, site, register);
        }
        Ok(())
    }

    fn notify(&mut self, to: SocketAddr, site: usize, register: MapRegisterRepr) {
        let config = &self.config.site[site];
        let mut notify = MapNotifyRepr {
            ack: false,
            rtr: false,
            body: register.body,
        };
        notify
            .body
            .prepare_auth(notify.body.key_id, config.algorithm.into());
        let mut payload = Vec::with_capacity(notify.buffer_len());
        if notify.emit(&mut payload).is_ok()
            && registration::sign(&mut payload, config.key.as_bytes()).is_ok()
        {
            self.stats.map_notifies_sent += 1;
            self.outbox.push_back(Transmit {
                destination: to,
                payload,
            });
        }
    }

    fn handle_notify_ack(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        let packet = RegistrationPacket::new_checked(bytes).map_err(|_| Refusal::Malformed)?;
        let ack = MapNotifyRepr::parse(bytes).map_err(|_| Refusal::Malformed)?;
        self.site_of(&packet, &ack.body.records)?;
        self.stats.map_notify_acks += 1;
        Ok(())
    }

    fn handle_request(&mut self, from: SocketAddr, bytes: &[u8]) -> Result<(), Refusal> {
        let ecm = EcmRepr::parse(bytes).map_err(|_| Refusal::Malformed)?;
        let request = MapRequestRepr::parse(&ecm.message).map_err(|_| Refusal::Malformed)?;
        let asked = request.records.first().ok_or(Refusal::Malformed)?;
        let eid = asked.eid.ip().ok_or(Refusal::Malformed)?;
        let instance_id = asked.eid.instance_id();
        let itr_rloc = request
            .itr_rlocs
            .iter()
            .filter_map(Address::ip)
            .find(|a| a.is_ipv4() == from.is_ipv4())
            .ok_or(Refusal::NoUsableItrRloc)?;
        let reply_to = SocketAddr::new(itr_rloc, ecm.source_port);
        let found = self
            .entries
            .longest(instance_id, eid)
            .and_then(|(_, entry)| {
                let proxy = entry.by.values().any(|r| r.proxy_reply);
                let etr = entry.by.values().map(|r| r.etr).min()?;
                Some((proxy, etr, merged(entry)?))
            });
        match found {
            Some((true, _, record)) => {
                self.stats.requests_proxied += 1;
                self.reply(reply_to, request.nonce, record);
            }
            Some((false, etr, _)) => {
                let forward = EcmRepr {
                    to_etr: true,
                    ..ecm
                };
                let mut payload = Vec::with_capacity(forward.buffer_len());
                forward.emit(&mut payload).map_err(|_| Refusal::Malformed)?;
                self.stats.requests_forwarded += 1;
                self.outbox.push_back(Transmit {
                    destination: SocketAddr::new(etr, dataplane::wire::lisp::CONTROL_PORT),
                    payload,
                });
            }
            None => {
                let record = self.negative(eid, instance_id, &asked.eid);
                self.stats.negative_replies += 1;
                self.reply(reply_to, request.nonce, record);
            }
        }
        Ok(())
    }

    /// A negative record for the widest prefix around `eid` that holds no registration: inside a
    /// site's space (unregistered, drop briefly) or outside every site (the configured action).
    fn negative(&self, eid: IpAddr, instance_id: Option<u32>, address: &Address) -> EidRecord {
        let site = self
            .site_space
            .longest(None, eid)
            .map(|((_, owned), _)| *owned);
        let (prefix, ttl, action) = match site {
            Some(owned) => {
                let registered = self
                    .entries
                    .iter()
                    .map(|(key, _)| *key)
                    .filter(|(iid, p)| *iid == instance_id && owned.contains(p))
                    .map(|(_, p)| p);
                (
                    hole(eid, owned.prefix_len(), registered),
                    UNREGISTERED_SITE_TTL_MINUTES,
                    Action::Drop,
                )
            }
            None => (
                hole(eid, 0, self.site_space.iter().map(|((_, p), _)| *p)),
                self.config.negative_ttl_minutes,
                match self.config.negative_action {
                    NegativeAction::NativelyForward => Action::NativelyForward,
                    NegativeAction::Drop => Action::Drop,
                    NegativeAction::SendMapRequest => Action::SendMapRequest,
                },
            ),
        };
        let network = prefix.network();
        let eid = match address {
            Address::InstanceId {
                instance_id,
                mask_len,
                ..
            } => Address::InstanceId {
                instance_id: *instance_id,
                mask_len: *mask_len,
                address: Box::new(Address::from(network)),
            },
            _ => Address::from(network),
        };
        EidRecord {
            ttl,
            mask_len: prefix.prefix_len(),
            action,
            authoritative: true,
            map_version: 0,
            eid,
            locators: Vec::new(),
        }
    }

    fn reply(&mut self, to: SocketAddr, nonce: u64, record: EidRecord) {
        let reply = MapReplyRepr {
            probe: false,
            echo_nonce_capable: false,
            security: false,
            nonce,
            records: vec![record],
        };
        let mut payload = Vec::with_capacity(reply.buffer_len());
        if reply.emit(&mut payload).is_ok() {
            self.outbox.push_back(Transmit {
                destination: to,
                payload,
            });
        }
    }

    /// Drops registrations not refreshed within the TTL.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut expired = Vec::new();
        self.entries.retain(|(_, prefix), entry| {
            entry.by.retain(|_, registered| {
                let live = registered.expires > now;
                if !live {
                    expired.push((entry.site, *prefix, registered.etr));
                }
                live
            });
            !entry.by.is_empty()
        });
        for (site, prefix, by) in expired {
            self.stats.registrations_expired += 1;
            self.events.push_back(Event::Expired {
                site: self.config.site[site].name.clone(),
                prefix,
                by,
            });
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .iter()
            .flat_map(|(_, e)| e.by.values().map(|r| r.expires))
            .min()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Every registration, merged per prefix, sorted by prefix.
    pub fn registrations(&self) -> Vec<RegistrationView> {
        let mut views: Vec<RegistrationView> = self
            .entries
            .iter()
            .map(|((instance_id, prefix), entry)| RegistrationView {
                site: self.config.site[entry.site].name.clone(),
                prefix: *prefix,
                instance_id: *instance_id,
                locators: merged(entry)
                    .map(|r| r.locators.iter().filter_map(|l| l.address.ip()).collect())
                    .unwrap_or_default(),
                registrants: entry.by.len(),
            })
            .collect();
        views.sort_by_key(|v| (v.instance_id, v.prefix));
        views
    }
}

/// The record of a prefix registered by several xTRs: the first one's (by ETR address) with the
/// union of every registrant's locators; `None` for an entry with no registrant left.
fn merged(entry: &Entry) -> Option<EidRecord> {
    let mut registrations: Vec<&Registered> = entry.by.values().collect();
    registrations.sort_by_key(|r| r.etr);
    let (first, others) = registrations.split_first()?;
    let mut record = first.record.clone();
    record.authoritative = true;
    for locator in others.iter().flat_map(|r| &r.record.locators) {
        if !record.locators.iter().any(|l| l.address == locator.address) {
            record.locators.push(locator.clone());
        }
    }
    Some(record)
}

/// The shortest prefix of at least `min_len` around `eid` that contains none of `occupied`
/// (none of which covers `eid`): a prefix of length L holds an occupied prefix exactly when L is
/// at most the bits they share, so L is one more than the longest such share. One pass, no
/// allocation.
fn hole(eid: IpAddr, min_len: u8, occupied: impl Iterator<Item = IpNet>) -> IpNet {
    let shared_bits = |other: IpAddr| -> Option<u8> {
        match (eid, other) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                Some((u32::from(a) ^ u32::from(b)).leading_zeros() as u8)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                Some((u128::from(a) ^ u128::from(b)).leading_zeros() as u8)
            }
            _ => None,
        }
    };
    let len = occupied
        .filter_map(|o| {
            let shared = shared_bits(o.network())?;
            (shared < o.prefix_len()).then_some(shared + 1)
        })
        .fold(min_len, u8::max);
    IpNet::new(eid, len)
        .map(|p| p.trunc())
        .unwrap_or_else(|_| IpNet::from(eid))
}
