//! A Map-Server and Map-Resolver (RFC 9301) as an I/O-free machine with explicit time.
//!
//! Map-Server: a Map-Register is accepted when its HMAC verifies with the key of the site that
//! owns every prefix it registers (with the site's algorithm), it is not a replay (see
//! [`replay`]), and it stays within the site's limits; registrations of several xTRs of a site
//! for one prefix are merged (union of locators) and each expires on its own after the
//! registration TTL; a Map-Notify goes back when asked for.
//! Map-Resolver: an ECM Map-Request is forwarded once, in a new ECM, to an ETR that registered
//! the EID, or answered here when the registration asked for proxy replies; unregistered space
//! gets a negative Map-Reply for the least specific prefix that covers the hole.
//! Nothing is ever sent to one of our own listening addresses: registrations from them, requests
//! whose ITR-RLOC is one of them, and ECMs already forwarded by a map-server are refused.

mod expiry;
mod nat;
pub mod replay;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use config::{MapServerConfig, NegativeAction};
use ipnet::IpNet;

use crate::clock::WallClock;
use crate::prefix_map::{Key, PrefixMap};
use crate::wire::address::Address;
use crate::wire::auth::AuthAlgorithm;
use crate::wire::ecm::EcmRepr;
use crate::wire::map_reply::MapReplyRepr;
use crate::wire::map_request::MapRequestRepr;
use crate::wire::record::{Action, EidRecord};
use crate::wire::registration::{MapNotifyRepr, MapRegisterRepr, RegistrationPacket};
use crate::wire::MessageType;
use crate::Transmit;

use expiry::Expiry;
use replay::{Check, ReplayMemory, Stale};

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
    /// Negative replies that said "ask again" (TTL 0) during the start-up grace period.
    pub negative_replies_in_grace: u64,
    pub refused_malformed: u64,
    pub refused_unknown_site: u64,
    pub refused_bad_authentication: u64,
    pub refused_outside_site: u64,
    pub refused_replay: u64,
    pub refused_no_usable_itr_rloc: u64,
    /// Would have sent to one of our own addresses (registration from it, ITR-RLOC, ETR).
    pub refused_to_self: u64,
    /// An ECM already forwarded by a map-server, or whose inner TTL ran out.
    pub refused_forwarding_loop: u64,
    pub refused_prefix_limit: u64,
    pub refused_more_specific_limit: u64,
    pub refused_locator_limit: u64,
    pub refused_registrant_limit: u64,
    pub refused_duplicate_locator: u64,
    pub refused_other: u64,
    /// Info-Requests answered with the address and port they arrived from (NAT traversal).
    pub info_requests_answered: u64,
    /// Map-Registers an RTR relayed for an xTR behind a NAT, accepted.
    pub registers_relayed: u64,
}

/// Something an operator wants to see in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Registered {
        site: String,
        prefix: IpNet,
        by: IpAddr,
    },
    /// A registration renewed with other locators or priorities (an uplink of the site went down
    /// or came back, a CPM moved a VM).
    LocatorsChanged {
        site: String,
        prefix: IpNet,
        by: IpAddr,
        /// Each locator's address and priority.
        locators: Vec<(IpAddr, u8)>,
    },
    Expired {
        site: String,
        prefix: IpNet,
        by: IpAddr,
    },
    /// A message was refused; `site` when it authenticated as one.
    Refused {
        from: SocketAddr,
        site: Option<String>,
        reason: MapServerRefused,
    },
}

/// Who registered: the xTR-ID when the message carries one, else the source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// What one site holds.
#[derive(Debug, Default)]
struct SiteState {
    /// Registered prefixes, and how many registrants hold each.
    prefixes: hashbrown::HashMap<Key, u32>,
    more_specifics: u32,
    /// Live registrations per registrant.
    registrants: hashbrown::HashMap<Registrant, u32>,
    /// Replay memory per xTR-ID (`None`: xTRs that send none).
    replay: hashbrown::HashMap<Option<[u8; 16]>, (ReplayMemory, Instant)>,
}

/// A registration as management shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistrationView {
    pub site: String,
    pub prefix: IpNet,
    pub instance_id: Option<u32>,
    pub locators: Vec<IpAddr>,
    pub registrants: usize,
}

/// A configured site, for management.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SiteView {
    pub name: String,
    pub prefixes: Vec<IpNet>,
    pub mobile_prefixes: Vec<IpNet>,
    /// Prefixes of the site registered now.
    pub registered_prefixes: usize,
}

/// The Map-Server/Map-Resolver.
#[derive(Debug)]
pub struct MapServer {
    config: MapServerConfig,
    /// Every site prefix: the sites holding it and whether it is shared mobility space.
    site_space: PrefixMap<Vec<(usize, bool)>>,
    entries: PrefixMap<Entry>,
    sites: Vec<SiteState>,
    expiry: Expiry,
    clock: WallClock,
    /// Until then, unregistered site space is answered "ask again" (see `startup_grace_secs`).
    grace_until: Instant,
    /// Addresses of our host, for listeners on an unspecified address.
    host_addresses: Vec<IpAddr>,
    stats: MapServerStats,
    outbox: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

/// Why lisp-ms refused a message (counted, logged; nothing changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MapServerRefused {
    #[error("malformed")]
    Malformed,
    #[error("no site holds its first EID")]
    UnknownSite,
    #[error("HMAC does not verify with the site's key and algorithm")]
    BadAuthentication,
    #[error("a prefix outside the site's space")]
    OutsideSite,
    #[error("{0}")]
    Replay(Stale),
    #[error("no ITR-RLOC of the source's family")]
    NoUsableItrRloc,
    #[error("would send to one of our own addresses")]
    ToSelf,
    #[error("already forwarded by a map-server, or inner TTL expired")]
    ForwardingLoop,
    #[error("the site's max_prefixes reached")]
    PrefixLimit,
    #[error("the site's max_more_specifics reached")]
    MoreSpecificLimit,
    #[error("more locators than the site's max_locators")]
    LocatorLimit,
    #[error("the site's max_registrants reached")]
    RegistrantLimit,
    #[error("the same locator twice in a record")]
    DuplicateLocator,
    #[error("not a message a map-server takes")]
    Other,
}

impl MapServer {
    /// The machine, started at `now`; `clock` gives Unix time for timestamped nonces.
    pub fn new(config: MapServerConfig, clock: WallClock, now: Instant) -> Self {
        let mut site_space = PrefixMap::new();
        for (i, site) in config.site.iter().enumerate() {
            let owned = site.prefixes.iter().map(|p| (p, false));
            for (prefix, mobile) in owned.chain(site.mobile_prefixes.iter().map(|p| (p, true))) {
                site_space
                    .get_or_insert_with(instance(Some(site.instance_id)), *prefix, Vec::new)
                    .push((i, mobile));
            }
        }
        Self {
            grace_until: now + Duration::from_secs(u64::from(config.startup_grace_secs)),
            sites: config.site.iter().map(|_| SiteState::default()).collect(),
            config,
            site_space,
            entries: PrefixMap::new(),
            expiry: Expiry::new(now),
            clock,
            host_addresses: Vec::new(),
            stats: MapServerStats::default(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The host's addresses, which listeners on an unspecified address answer on.
    pub fn set_host_addresses(&mut self, addresses: Vec<IpAddr>) {
        self.host_addresses = addresses;
    }

    pub fn stats(&self) -> MapServerStats {
        self.stats
    }

    /// Whether a datagram to `to` would reach one of our own listeners.
    pub fn is_own(&self, to: SocketAddr) -> bool {
        let ip = to.ip();
        self.config.listen.iter().any(|listen| {
            listen.port() == to.port()
                && (listen.ip() == ip
                    || ip.is_unspecified()
                    || (listen.ip().is_unspecified()
                        && listen.is_ipv4() == to.is_ipv4()
                        && (ip.is_loopback() || self.host_addresses.contains(&ip))))
        })
    }

    /// A datagram received on a listening socket.
    pub fn handle_datagram(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        let outcome = match MessageType::of(bytes) {
            Ok(MessageType::MapRegister) => self.handle_register(from, bytes, now),
            Ok(MessageType::MapNotifyAck) => self.handle_notify_ack(bytes),
            Ok(MessageType::Ecm) => self.handle_ecm(from, bytes, now),
            Ok(MessageType::Info) => self.answer_info(from, bytes),
            Ok(_) => Err((MapServerRefused::Other, None)),
            Err(_) => Err((MapServerRefused::Malformed, None)),
        };
        if let Err((reason, site)) = outcome {
            self.count(reason);
            self.events.push_back(Event::Refused {
                from,
                site: site.map(|s: usize| self.config.site[s].name.clone()),
                reason,
            });
        }
    }

    fn count(&mut self, refusal: MapServerRefused) {
        let s = &mut self.stats;
        let counter = match refusal {
            MapServerRefused::Malformed => &mut s.refused_malformed,
            MapServerRefused::UnknownSite => &mut s.refused_unknown_site,
            MapServerRefused::BadAuthentication => &mut s.refused_bad_authentication,
            MapServerRefused::OutsideSite => &mut s.refused_outside_site,
            MapServerRefused::Replay(_) => &mut s.refused_replay,
            MapServerRefused::NoUsableItrRloc => &mut s.refused_no_usable_itr_rloc,
            MapServerRefused::ToSelf => &mut s.refused_to_self,
            MapServerRefused::ForwardingLoop => &mut s.refused_forwarding_loop,
            MapServerRefused::PrefixLimit => &mut s.refused_prefix_limit,
            MapServerRefused::MoreSpecificLimit => &mut s.refused_more_specific_limit,
            MapServerRefused::LocatorLimit => &mut s.refused_locator_limit,
            MapServerRefused::RegistrantLimit => &mut s.refused_registrant_limit,
            MapServerRefused::DuplicateLocator => &mut s.refused_duplicate_locator,
            MapServerRefused::Other => &mut s.refused_other,
        };
        *counter += 1;
    }

    /// Whether `site` may register `prefix` of `instance_id` (one of its prefixes in that
    /// instance covers it, more-specifics only where allowed; shared mobility space always).
    fn may_register(&self, site: usize, instance_id: Option<u32>, prefix: &IpNet) -> bool {
        let Some(((_, owned), holders)) = self
            .site_space
            .longest(instance(instance_id), prefix.network())
        else {
            return false;
        };
        owned.contains(prefix)
            && holders.iter().any(|&(s, mobile)| {
                s == site
                    && (owned == prefix || mobile || self.config.site[site].accept_more_specifics)
            })
    }

    /// Whether `prefix` is one of `site`'s configured prefixes (not a more-specific).
    fn is_configured(&self, site: usize, prefix: &IpNet) -> bool {
        let config = &self.config.site[site];
        config.prefixes.contains(prefix) || config.mobile_prefixes.contains(prefix)
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
    ) -> Result<usize, MapServerRefused> {
        let first = records.first().ok_or(MapServerRefused::Malformed)?;
        let address = Self::record_prefix(first)
            .ok_or(MapServerRefused::Malformed)?
            .network();
        self.site_verifying(
            (first.eid.instance_id(), address),
            packet.algorithm_id(),
            |key| packet.verify(key),
        )
    }

    /// Among the sites whose space holds `eid` in its instance, the one whose algorithm is
    /// `algorithm_id` and whose key `verify` accepts (a site's key does not open another
    /// instance's space).
    fn site_verifying(
        &self,
        (instance_id, eid): (Option<u32>, IpAddr),
        algorithm_id: u8,
        verify: impl Fn(&[u8]) -> bool,
    ) -> Result<usize, MapServerRefused> {
        let (_, candidates) = self
            .site_space
            .longest(instance(instance_id), eid)
            .ok_or(MapServerRefused::UnknownSite)?;
        candidates
            .iter()
            .map(|&(site, _)| site)
            .find(|&site| {
                let config = &self.config.site[site];
                algorithm_id == AuthAlgorithm::from(config.algorithm).id()
                    && verify(config.key.as_bytes())
            })
            .ok_or(MapServerRefused::BadAuthentication)
    }

    /// The site's limits on what one message would add (nothing is changed).
    fn within_limits(
        &self,
        site: usize,
        registrant: Registrant,
        register: &MapRegisterRepr,
        keys: &[Key],
    ) -> Result<(), MapServerRefused> {
        let limits = self.config.site[site].limits;
        let state = &self.sites[site];
        for record in &register.body.records {
            if record.locators.len() > limits.max_locators as usize {
                return Err(MapServerRefused::LocatorLimit);
            }
            // At most `max_locators` each: a pairwise look costs less than a set.
            let locators = &record.locators;
            if (1..locators.len()).any(|i| {
                locators[..i]
                    .iter()
                    .any(|l| l.address == locators[i].address)
            }) {
                return Err(MapServerRefused::DuplicateLocator);
            }
        }
        if !state.registrants.contains_key(&registrant)
            && state.registrants.len() >= limits.max_registrants as usize
        {
            return Err(MapServerRefused::RegistrantLimit);
        }
        // Prefixes new to the site, each once (a refresh has none).
        let fresh: Vec<&Key> = keys
            .iter()
            .enumerate()
            .filter(|(i, k)| !state.prefixes.contains_key(*k) && !keys[..*i].contains(k))
            .map(|(_, k)| k)
            .collect();
        if state.prefixes.len() + fresh.len() > limits.max_prefixes as usize {
            return Err(MapServerRefused::PrefixLimit);
        }
        let more_specifics = fresh
            .iter()
            .filter(|(_, p)| !self.is_configured(site, p))
            .count();
        if state.more_specifics as usize + more_specifics > limits.max_more_specifics as usize {
            return Err(MapServerRefused::MoreSpecificLimit);
        }
        Ok(())
    }

    /// Checks `nonce` against the replay memory of the message's (site, xTR-ID), remembering
    /// it when it passes. Memories of xTR-IDs beyond twice `max_registrants` are evicted, least
    /// recently used first, among those with nothing registered.
    fn admit_nonce(
        &mut self,
        site: usize,
        xtr_id: Option<[u8; 16]>,
        nonce: u64,
        now: Instant,
    ) -> Result<(), MapServerRefused> {
        let config = &self.config.site[site];
        let check = Check {
            protection: config.replay_protection,
            max_skew_secs: u64::from(config.max_clock_skew_secs),
            unix_now: self.clock.unix_secs(now),
            ordered: xtr_id.is_some(),
        };
        let capacity = 2 * config.limits.max_registrants as usize;
        let state = &mut self.sites[site];
        if !state.replay.contains_key(&xtr_id) && state.replay.len() >= capacity {
            let idle = state
                .replay
                .iter()
                .filter(|(id, _)| {
                    id.is_some_and(|id| !state.registrants.contains_key(&Registrant::XtrId(id)))
                })
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id);
            match idle {
                Some(id) => {
                    state.replay.remove(&id);
                }
                None => return Err(MapServerRefused::RegistrantLimit),
            }
        }
        let (memory, used) = state
            .replay
            .entry(xtr_id)
            .or_insert_with(|| (ReplayMemory::default(), now));
        memory
            .admit(nonce, check)
            .map_err(MapServerRefused::Replay)?;
        *used = now;
        Ok(())
    }

    fn handle_register(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), (MapServerRefused, Option<usize>)> {
        let (site, register) = self.accept_register(from, bytes, false, now)?;
        if register.want_map_notify {
            if let Some(payload) = self.signed_notify(site, register) {
                self.outbox.push_back(Transmit::control(from, payload));
            }
        }
        Ok(())
    }

    /// Parses `bytes` (a Map-Register from `registrant`), finds the site whose key verifies it
    /// and registers it, answered by proxy when `answer_for_it`; its site and the message, for
    /// the Map-Notify.
    fn accept_register(
        &mut self,
        registrant: SocketAddr,
        bytes: &[u8],
        answer_for_it: bool,
        now: Instant,
    ) -> Result<(usize, MapRegisterRepr), (MapServerRefused, Option<usize>)> {
        let malformed = (MapServerRefused::Malformed, None);
        let packet = RegistrationPacket::new_checked(bytes).map_err(|_| malformed)?;
        let mut register = MapRegisterRepr::parse(bytes).map_err(|_| malformed)?;
        let site = self
            .site_of(&packet, &register.body.records)
            .map_err(|r| (r, None))?;
        register.proxy_reply |= answer_for_it;
        self.register(registrant, &register, site, now)
            .map_err(|r| (r, Some(site)))?;
        Ok((site, register))
    }

    /// An ECM: a Map-Request, or a Map-Register an RTR relays for an xTR behind a NAT.
    fn handle_ecm(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), (MapServerRefused, Option<usize>)> {
        let ecm = EcmRepr::parse(bytes).map_err(|_| (MapServerRefused::Malformed, None))?;
        match MessageType::of(&ecm.message) {
            Ok(MessageType::MapRegister) => self.relayed_register(from, ecm, now),
            _ => self.request(from, ecm, now).map_err(|r| (r, None)),
        }
    }

    /// A Map-Register relayed by the RTR at `rtr`, verified with its site's key like any other.
    /// We answer Map-Requests for its EIDs ourselves (the xTR cannot be reached through its
    /// NAT), and its Map-Notify goes back through the RTR in an ECM, addressed inside to the
    /// xTR's own address and port.
    fn relayed_register(
        &mut self,
        rtr: SocketAddr,
        ecm: EcmRepr,
        now: Instant,
    ) -> Result<(), (MapServerRefused, Option<usize>)> {
        let (site, register) = self.accept_register(rtr, &ecm.message, true, now)?;
        self.stats.registers_relayed += 1;
        if !register.want_map_notify {
            return Ok(());
        }
        let Some(notify) = self.signed_notify(site, register) else {
            return Ok(());
        };
        let back = EcmRepr {
            security: false,
            ddt: false,
            to_etr: true,
            to_map_server: false,
            inner_source: ecm.inner_destination,
            inner_destination: ecm.inner_source,
            inner_ttl: 64,
            source_port: dataplane::wire::lisp::CONTROL_PORT,
            destination_port: ecm.source_port,
            message: notify,
        };
        let mut payload = Vec::with_capacity(back.buffer_len());
        back.emit(&mut payload)
            .map_err(|_| (MapServerRefused::Other, Some(site)))?;
        self.outbox.push_back(Transmit::control(
            SocketAddr::new(rtr.ip(), dataplane::wire::lisp::CONTROL_PORT),
            payload,
        ));
        Ok(())
    }

    /// An authenticated Map-Register of `site`.
    fn register(
        &mut self,
        from: SocketAddr,
        register: &MapRegisterRepr,
        site: usize,
        now: Instant,
    ) -> Result<(), MapServerRefused> {
        let keys: Vec<Key> = register
            .body
            .records
            .iter()
            .map(|r| {
                // Keyed as sites are: an explicit instance-id 0 is the default instance.
                Self::record_prefix(r)
                    .map(|p| (instance(r.eid.instance_id()), p))
                    .ok_or(MapServerRefused::Malformed)
            })
            .collect::<Result<_, _>>()?;
        if keys
            .iter()
            .any(|(iid, p)| !self.may_register(site, *iid, p))
        {
            return Err(MapServerRefused::OutsideSite);
        }
        if self.is_own(SocketAddr::new(
            from.ip(),
            dataplane::wire::lisp::CONTROL_PORT,
        )) {
            return Err(MapServerRefused::ToSelf);
        }
        let registrant = match register.body.xtr {
            Some(xtr) => Registrant::XtrId(xtr.xtr_id),
            None => Registrant::Source(from.ip()),
        };
        self.within_limits(site, registrant, register, &keys)?;
        let xtr_id = register.body.xtr.map(|x| x.xtr_id);
        self.admit_nonce(site, xtr_id, register.body.nonce, now)?;
        let expires = now + Duration::from_secs(u64::from(self.config.registration_ttl_secs));
        for (record, key) in register.body.records.iter().zip(keys) {
            let entry = self.entries.get_or_insert_with(key.0, key.1, || Entry {
                site,
                by: HashMap::new(),
            });
            let previous = entry.by.insert(
                registrant,
                Registered {
                    record: record.clone(),
                    proxy_reply: register.proxy_reply,
                    etr: from.ip(),
                    expires,
                },
            );
            let changed = previous
                .as_ref()
                .is_some_and(|p| p.record.locators != record.locators);
            if changed {
                self.events.push_back(Event::LocatorsChanged {
                    site: self.config.site[site].name.clone(),
                    prefix: key.1,
                    by: from.ip(),
                    locators: record
                        .locators
                        .iter()
                        .filter_map(|l| Some((l.address.ip()?, l.priority)))
                        .collect(),
                });
            }
            if previous.is_none() {
                self.expiry.schedule((key, registrant), expires);
                self.hold(site, key, registrant, 1);
                self.events.push_back(Event::Registered {
                    site: self.config.site[site].name.clone(),
                    prefix: key.1,
                    by: from.ip(),
                });
            }
        }
        self.stats.registers_accepted += 1;
        Ok(())
    }

    /// Accounts for a registration of `key` by `registrant` starting (`+1`) or ending (`-1`).
    fn hold(&mut self, site: usize, key: Key, registrant: Registrant, delta: i32) {
        let more_specific = !self.is_configured(site, &key.1);
        let state = &mut self.sites[site];
        let holders = state.prefixes.entry(key).or_insert(0);
        let was_held = *holders > 0;
        *holders = holders.saturating_add_signed(delta);
        let is_held = *holders > 0;
        if !is_held {
            state.prefixes.remove(&key);
        }
        if more_specific && was_held != is_held {
            state.more_specifics = state.more_specifics.saturating_add_signed(delta);
        }
        let live = state.registrants.entry(registrant).or_insert(0);
        *live = live.saturating_add_signed(delta);
        if *live == 0 {
            state.registrants.remove(&registrant);
        }
    }

    /// The Map-Notify answering `register` of `site`, signed with the site's key.
    fn signed_notify(&mut self, site: usize, register: MapRegisterRepr) -> Option<Vec<u8>> {
        let config = &self.config.site[site];
        let key_id = register.body.key_id;
        let notify = MapNotifyRepr {
            ack: false,
            rtr: false,
            body: register.body,
        };
        let payload = notify
            .signed(key_id, config.algorithm.into(), config.key.as_bytes())
            .ok()?;
        self.stats.map_notifies_sent += 1;
        Some(payload)
    }

    fn handle_notify_ack(&mut self, bytes: &[u8]) -> Result<(), (MapServerRefused, Option<usize>)> {
        let packet = RegistrationPacket::new_checked(bytes)
            .map_err(|_| (MapServerRefused::Malformed, None))?;
        let ack = MapNotifyRepr::parse(bytes).map_err(|_| (MapServerRefused::Malformed, None))?;
        self.site_of(&packet, &ack.body.records)
            .map_err(|r| (r, None))?;
        self.stats.map_notify_acks += 1;
        Ok(())
    }

    /// An ECM Map-Request: forwarded once (RFC 9301: a map-server sets E when it forwards, and
    /// the inner TTL counts hops), proxied, or answered negatively; never sent to ourselves.
    fn request(
        &mut self,
        from: SocketAddr,
        ecm: EcmRepr,
        now: Instant,
    ) -> Result<(), MapServerRefused> {
        if ecm.to_etr || ecm.inner_ttl <= 1 {
            return Err(MapServerRefused::ForwardingLoop);
        }
        let request =
            MapRequestRepr::parse(&ecm.message).map_err(|_| MapServerRefused::Malformed)?;
        let asked = request.records.first().ok_or(MapServerRefused::Malformed)?;
        let eid = asked.eid.ip().ok_or(MapServerRefused::Malformed)?;
        let instance_id = asked.eid.instance_id();
        let itr_rloc = request
            .itr_rlocs
            .iter()
            .filter_map(Address::ip)
            .find(|a| a.is_ipv4() == from.is_ipv4() && !a.is_multicast())
            .ok_or(MapServerRefused::NoUsableItrRloc)?;
        let reply_to = SocketAddr::new(itr_rloc, ecm.source_port);
        if self.is_own(reply_to) {
            return Err(MapServerRefused::ToSelf);
        }
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
                let destination = SocketAddr::new(etr, dataplane::wire::lisp::CONTROL_PORT);
                if self.is_own(destination) {
                    return Err(MapServerRefused::ToSelf);
                }
                let forward = EcmRepr {
                    to_etr: true,
                    inner_ttl: ecm.inner_ttl - 1,
                    ..ecm
                };
                let mut payload = Vec::with_capacity(forward.buffer_len());
                forward
                    .emit(&mut payload)
                    .map_err(|_| MapServerRefused::Malformed)?;
                self.stats.requests_forwarded += 1;
                self.outbox
                    .push_back(Transmit::control(destination, payload));
            }
            None => {
                let record = self.negative(eid, instance_id, &asked.eid, now);
                self.stats.negative_replies += 1;
                self.reply(reply_to, request.nonce, record);
            }
        }
        Ok(())
    }

    /// A negative record for the widest prefix around `eid` that holds no registration: inside a
    /// site's space (unregistered: drop briefly, or "ask again" during the start-up grace) or
    /// outside every site (the configured action). Costs one pass over the registrations of the
    /// sites holding that space (bounded by their limits), not over every registration.
    fn negative(
        &mut self,
        eid: IpAddr,
        instance_id: Option<u32>,
        address: &Address,
        now: Instant,
    ) -> EidRecord {
        let site = self.site_space.longest(instance(instance_id), eid);
        let (prefix, ttl, action) = match site {
            Some(((_, owned), holders)) => {
                let registered = holders
                    .iter()
                    .flat_map(|&(site, _)| self.sites[site].prefixes.keys())
                    .filter(|(iid, p)| *iid == instance_id && owned.contains(p))
                    .map(|(_, p)| *p);
                let hole = hole(eid, owned.prefix_len(), registered);
                if now < self.grace_until {
                    self.stats.negative_replies_in_grace += 1;
                    (hole, 0, Action::SendMapRequest)
                } else {
                    (hole, UNREGISTERED_SITE_TTL_MINUTES, Action::Drop)
                }
            }
            None => (
                hole(
                    eid,
                    0,
                    self.site_space
                        .iter()
                        .filter(|((iid, _), _)| *iid == instance(instance_id))
                        .map(|((_, p), _)| *p),
                ),
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
            self.outbox.push_back(Transmit::control(to, payload));
        }
    }

    /// Drops registrations not refreshed within the TTL.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((key, registrant)) = self.expiry.pop_due(now) {
            let Some(entry) = self.entries.get_mut(key.0, &key.1) else {
                continue;
            };
            let Some(registered) = entry.by.get(&registrant) else {
                continue;
            };
            if registered.expires > now {
                let expires = registered.expires;
                self.expiry.schedule((key, registrant), expires);
                continue;
            }
            let etr = registered.etr;
            let site = entry.site;
            entry.by.remove(&registrant);
            if entry.by.is_empty() {
                self.entries.remove(key.0, &key.1);
            }
            self.hold(site, key, registrant, -1);
            self.stats.registrations_expired += 1;
            self.events.push_back(Event::Expired {
                site: self.config.site[site].name.clone(),
                prefix: key.1,
                by: etr,
            });
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work: the earliest pending timer,
    /// found without looking at registrations.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiry.next()
    }

    /// Pending timers (one per live registration; for tests and figures).
    pub fn timers(&self) -> usize {
        self.expiry.pending()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Every site: its name, its prefixes and how many registrations it holds.
    pub fn sites(&self) -> Vec<SiteView> {
        self.config
            .site
            .iter()
            .enumerate()
            .map(|(i, site)| SiteView {
                name: site.name.clone(),
                prefixes: site.prefixes.clone(),
                mobile_prefixes: site.mobile_prefixes.clone(),
                registered_prefixes: self.entries.iter().filter(|(_, e)| e.site == i).count(),
            })
            .collect()
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

/// An instance-id as sites are keyed: the default instance (none, or 0) as `None`.
fn instance(instance_id: Option<u32>) -> Option<u32> {
    instance_id.filter(|&iid| iid != 0)
}
