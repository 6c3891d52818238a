//! The xTR's control plane as one I/O-free machine: it owns the registration, resolution and
//! responder machines and the map-cache writer, takes received control datagrams, punted misses
//! and time, and yields datagrams to send. The appliance's control loop only moves bytes between
//! it and the ports; tests drive it with a fake clock.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use dataplane::mapcache::MapCacheWriter;

use crate::learned::{Installed, LearnedMappings};
use crate::registration::{Registration, Transmit};
use crate::resolution::Resolver;
use crate::responder::{Received, Responder};
use crate::wire::MessageType;

/// What the control plane did, for the stop report and management.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct XtrStats {
    pub map_notifies_accepted: u64,
    pub map_notifies_refused: u64,
    pub map_replies_accepted: u64,
    pub map_replies_refused: u64,
    pub mappings_installed: u64,
    pub mappings_expired: u64,
    pub mappings_not_installed: u64,
    pub map_requests_answered: u64,
    pub map_requests_refused: u64,
    pub smrs_received: u64,
    pub misses: u64,
    /// Control messages of a type this xTR does not take, or unparseable.
    pub messages_refused: u64,
}

/// The xTR control plane.
#[derive(Debug)]
pub struct Xtr {
    pub registration: Registration,
    pub resolver: Resolver,
    pub responder: Responder,
    pub map_cache: MapCacheWriter,
    pub learned: LearnedMappings,
    /// One of our EIDs per family, as the source EID of Map-Requests.
    source_eids: Vec<IpAddr>,
    stats: XtrStats,
    /// Locators of mappings installed since the last [`take_new_locators`](Self::take_new_locators).
    new_locators: Vec<IpAddr>,
    outbox: VecDeque<Transmit>,
}

impl Xtr {
    pub fn new(
        registration: Registration,
        resolver: Resolver,
        responder: Responder,
        map_cache: MapCacheWriter,
        learned: LearnedMappings,
        source_eids: Vec<IpAddr>,
    ) -> Self {
        Self {
            registration,
            resolver,
            responder,
            map_cache,
            learned,
            source_eids,
            stats: XtrStats::default(),
            new_locators: Vec::new(),
            outbox: VecDeque::new(),
        }
    }

    pub fn stats(&self) -> XtrStats {
        self.stats
    }

    fn source_eid_for(&self, destination: IpAddr) -> IpAddr {
        self.source_eids
            .iter()
            .copied()
            .find(|e| e.is_ipv4() == destination.is_ipv4())
            .unwrap_or(destination)
    }

    /// A packet from `source` to `destination` missed the map-cache (already rate-limited per
    /// destination prefix by the data core).
    pub fn handle_miss(&mut self, source: IpAddr, destination: IpAddr, now: Instant) {
        self.stats.misses += 1;
        self.resolver.handle_miss(destination, source, now);
        self.collect();
    }

    /// A LISP control datagram received from `from`.
    pub fn handle_datagram(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        match MessageType::of(bytes) {
            Ok(MessageType::MapNotify) => match self.registration.handle_notify(from, bytes, now) {
                Ok(()) => self.stats.map_notifies_accepted += 1,
                Err(_) => self.stats.map_notifies_refused += 1,
            },
            Ok(MessageType::MapReply) => self.handle_map_reply(bytes, now),
            Ok(MessageType::MapRequest | MessageType::Ecm) => match Received::parse(from, bytes) {
                Ok(received) if received.request.smr => self.handle_smr(&received, now),
                Ok(received) => match self.responder.handle_request(&received, now) {
                    Ok(reply) => {
                        self.stats.map_requests_answered += 1;
                        self.outbox.push_back(reply);
                    }
                    Err(_) => self.stats.map_requests_refused += 1,
                },
                Err(_) => self.stats.map_requests_refused += 1,
            },
            _ => self.stats.messages_refused += 1,
        }
        self.collect();
    }

    /// An SMR names EIDs of the sender's site: only those we have cached are asked again.
    fn handle_smr(&mut self, received: &Received, now: Instant) {
        self.stats.smrs_received += 1;
        for record in &received.request.records {
            let Some(eid) = record.eid.ip() else { continue };
            if self.map_cache.lookup(eid).is_some() {
                let source = self.source_eid_for(eid);
                self.resolver.handle_smr(eid, source, now);
            }
        }
    }

    fn handle_map_reply(&mut self, bytes: &[u8], now: Instant) {
        let installs = match self.resolver.handle_map_reply(bytes) {
            Ok(installs) => installs,
            Err(_) => {
                self.stats.map_replies_refused += 1;
                return;
            }
        };
        self.stats.map_replies_accepted += 1;
        for install in installs {
            let locators: Vec<IpAddr> =
                install.mapping.locators.iter().map(|l| l.address).collect();
            match self.learned.install(&mut self.map_cache, install, now) {
                Ok(Installed::Cached(_)) => {
                    self.stats.mappings_installed += 1;
                    self.new_locators.extend(locators);
                }
                Ok(Installed::NotCached | Installed::StaticKept) | Err(_) => {
                    self.stats.mappings_not_installed += 1
                }
            }
        }
        self.map_cache.publish();
    }

    /// Advances time: registrations, retransmissions and expiries that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.registration.poll_timeout().is_some_and(|t| t <= now) {
            self.registration.handle_timeout(now);
        }
        if self.resolver.poll_timeout().is_some_and(|t| t <= now) {
            self.resolver.handle_timeout(now);
        }
        if self.learned.next_expiry().is_some_and(|t| t <= now) {
            let expired = self
                .learned
                .expire(&mut self.map_cache, now)
                .map_or(0, |gone| gone.len());
            self.stats.mappings_expired += expired as u64;
            self.map_cache.publish();
        }
        self.collect();
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.registration.poll_timeout(),
            self.resolver.poll_timeout(),
            self.learned.next_expiry(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn collect(&mut self) {
        while let Some(t) = self.registration.poll_transmit() {
            self.outbox.push_back(t);
        }
        while let Some(t) = self.resolver.poll_transmit() {
            self.outbox.push_back(t);
        }
    }

    /// The next datagram to send (from our RLOC of the destination's family, port 4342).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    /// Locators of newly installed mappings, whose next hops the runner must resolve.
    pub fn take_new_locators(&mut self) -> Vec<IpAddr> {
        std::mem::take(&mut self.new_locators)
    }
}
