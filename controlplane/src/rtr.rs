//! The control side of an RTR (draft-ietf-lisp-nat-traversal): an xTR behind a NAT sends its
//! Map-Register to us in an ECM; we relay it to the map-server it names and remember where it
//! came from, the address and port its NAT translated it to. We cannot check its HMAC (the key
//! is the site's and the map-server's), so nothing is learned until the map-server's Map-Notify
//! for the same nonce comes back from that map-server: then each of the registration's EID
//! prefixes is reached at that address and port, and the Map-Notify goes on to the xTR as LISP
//! data (a Data-Map-Notify) through the NAT. What is learned lapses unless registered again.
//! I/O-free: the runner hands in ECMs and time, sends what [`Relay::poll_transmit`] gives and
//! applies what [`Relay::poll_change`] gives to the map-cache.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dataplane::wire::lisp::{LispRepr, CONTROL_PORT};
use ipnet::IpNet;

use crate::nonce::NonceSource;
use crate::wire::data_map_notify::DataMapNotifyRepr;
use crate::wire::ecm::EcmRepr;
use crate::wire::record::EidRecord;
use crate::wire::registration::{MapNotifyRepr, MapRegisterRepr};
use crate::wire::MessageType;
use crate::Transmit;

/// An EID prefix in an instance.
pub type Key = (Option<u32>, IpNet);

/// What an RTR relays and how long it remembers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The map-servers we relay registrations to; an ECM naming another is refused, so we are
    /// no open relay.
    pub map_servers: Vec<IpAddr>,
    /// How long a relayed Map-Register waits for its Map-Notify.
    pub notify_timeout: Duration,
    /// How long a confirmed xTR's prefixes stay without a new registration.
    pub ttl: Duration,
    /// Relayed registrations waiting at once, at most (each costs a little memory until it
    /// times out, whoever sent it).
    pub max_pending: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            map_servers: Vec::new(),
            notify_timeout: Duration::from_secs(5),
            ttl: Duration::from_secs(180),
            max_pending: 4096,
        }
    }
}

/// Why an ECM was not relayed or a Map-Notify not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RelayRefused {
    #[error("malformed")]
    Malformed,
    #[error("not a Map-Register or Map-Notify for an RTR")]
    NotForAnRtr,
    #[error("the map-server it names is not one we relay to")]
    UnknownMapServer,
    #[error("too many registrations wait for their Map-Notify")]
    TooManyPending,
    #[error("no registration we relayed has its nonce, or it came from elsewhere")]
    UnknownNonce,
}

/// A change for the map-cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayChange {
    /// `key` is reached at `xtr` (an address and port a NAT translated to).
    Learned { key: Key, xtr: SocketAddr },
    /// `key` was not registered again in time.
    Lapsed { key: Key },
}

/// Counts for `lispctl show stats` and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    pub registers_relayed: u64,
    pub registers_refused: u64,
    pub notifies_forwarded: u64,
    pub notifies_refused: u64,
    /// Relayed registrations whose Map-Notify never came (refused by the map-server: a bad
    /// key, a replay, a prefix outside the site).
    pub registers_unconfirmed: u64,
    pub prefixes_lapsed: u64,
}

#[derive(Debug)]
struct Pending {
    /// Where the ECM came from: the xTR as its NAT translated it.
    xtr: SocketAddr,
    map_server: IpAddr,
    keys: Vec<Key>,
    sent: Instant,
}

#[derive(Debug)]
struct Learned {
    xtr: SocketAddr,
    expires: Instant,
}

/// An RTR's relaying and what it learned.
#[derive(Debug)]
pub struct Relay {
    config: RelayConfig,
    pending: HashMap<u64, Pending>,
    learned: HashMap<Key, Learned>,
    nonces: NonceSource,
    outbox: VecDeque<Transmit>,
    changes: VecDeque<RelayChange>,
    stats: RelayStats,
}

fn key_of(record: &EidRecord) -> Option<Key> {
    let prefix = IpNet::new(record.eid.ip()?, record.mask_len).ok()?.trunc();
    Some((record.eid.instance_id(), prefix))
}

impl Relay {
    pub fn new(config: RelayConfig, nonces: NonceSource) -> Self {
        Self {
            config,
            pending: HashMap::new(),
            learned: HashMap::new(),
            nonces,
            outbox: VecDeque::new(),
            changes: VecDeque::new(),
            stats: RelayStats::default(),
        }
    }

    /// Whether `bytes` (an ECM) is ours to handle: it carries a Map-Register or a Map-Notify.
    pub fn wants(bytes: &[u8]) -> bool {
        EcmRepr::parse(bytes).is_ok_and(|ecm| {
            matches!(
                MessageType::of(&ecm.message),
                Ok(MessageType::MapRegister | MessageType::MapNotify)
            )
        })
    }

    /// An ECM from `from`: a Map-Register to relay, or the Map-Notify answering one.
    pub fn handle_ecm(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), RelayRefused> {
        let Ok(ecm) = EcmRepr::parse(bytes) else {
            self.stats.registers_refused += 1;
            return Err(RelayRefused::Malformed);
        };
        match MessageType::of(&ecm.message) {
            Ok(MessageType::MapNotify) if ecm.to_etr => {
                let outcome = self.confirm(from, ecm, now);
                self.stats.notifies_refused += u64::from(outcome.is_err());
                outcome
            }
            Ok(MessageType::MapRegister) if ecm.to_etr => {
                let outcome = self.relay(from, ecm, now);
                self.stats.registers_refused += u64::from(outcome.is_err());
                outcome
            }
            _ => {
                self.stats.registers_refused += 1;
                Err(RelayRefused::NotForAnRtr)
            }
        }
    }

    fn relay(&mut self, from: SocketAddr, ecm: EcmRepr, now: Instant) -> Result<(), RelayRefused> {
        let register = MapRegisterRepr::parse(&ecm.message).map_err(|_| RelayRefused::Malformed)?;
        if !self.config.map_servers.contains(&ecm.inner_destination) {
            return Err(RelayRefused::UnknownMapServer);
        }
        let keys: Vec<Key> = register
            .body
            .records
            .iter()
            .map(key_of)
            .collect::<Option<_>>()
            .filter(|keys: &Vec<Key>| !keys.is_empty())
            .ok_or(RelayRefused::Malformed)?;
        if self.pending.len() >= self.config.max_pending
            && !self.pending.contains_key(&register.body.nonce)
        {
            return Err(RelayRefused::TooManyPending);
        }
        let relayed = EcmRepr {
            to_etr: false,
            to_map_server: true,
            ..ecm
        };
        let mut payload = Vec::with_capacity(relayed.buffer_len());
        relayed
            .emit(&mut payload)
            .map_err(|_| RelayRefused::Malformed)?;
        self.pending.insert(
            register.body.nonce,
            Pending {
                xtr: from,
                map_server: relayed.inner_destination,
                keys,
                sent: now,
            },
        );
        self.outbox.push_back(Transmit::control(
            SocketAddr::new(relayed.inner_destination, CONTROL_PORT),
            payload,
        ));
        self.stats.registers_relayed += 1;
        Ok(())
    }

    fn confirm(
        &mut self,
        from: SocketAddr,
        ecm: EcmRepr,
        now: Instant,
    ) -> Result<(), RelayRefused> {
        let notify = MapNotifyRepr::parse(&ecm.message).map_err(|_| RelayRefused::Malformed)?;
        let nonce = notify.body.nonce;
        if self
            .pending
            .get(&nonce)
            .is_none_or(|p| p.map_server != from.ip())
        {
            return Err(RelayRefused::UnknownNonce);
        }
        let Some(pending) = self.pending.remove(&nonce) else {
            return Err(RelayRefused::UnknownNonce);
        };
        let forward = DataMapNotifyRepr {
            lisp: LispRepr {
                nonce: Some(self.nonces.next_u32() & 0x00ff_ffff),
                ..LispRepr::default()
            },
            inner_source: SocketAddr::new(ecm.inner_source, ecm.source_port),
            inner_destination: SocketAddr::new(ecm.inner_destination, ecm.destination_port),
            inner_ttl: ecm.inner_ttl,
            notify: ecm.message,
        };
        let mut payload = Vec::with_capacity(forward.buffer_len());
        forward
            .emit(&mut payload)
            .map_err(|_| RelayRefused::Malformed)?;
        self.outbox
            .push_back(Transmit::control(pending.xtr, payload));
        for key in pending.keys {
            let expires = now + self.config.ttl;
            let known = self.learned.insert(
                key,
                Learned {
                    xtr: pending.xtr,
                    expires,
                },
            );
            if known.is_none_or(|k| k.xtr != pending.xtr) {
                self.changes.push_back(RelayChange::Learned {
                    key,
                    xtr: pending.xtr,
                });
            }
        }
        self.stats.notifies_forwarded += 1;
        Ok(())
    }

    /// Drops relayed registrations that were never confirmed and prefixes not registered again.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.config.notify_timeout;
        let before = self.pending.len();
        self.pending.retain(|_, p| now < p.sent + timeout);
        self.stats.registers_unconfirmed += (before - self.pending.len()) as u64;
        let (changes, stats) = (&mut self.changes, &mut self.stats);
        self.learned.retain(|key, learned| {
            let lapsed = now >= learned.expires;
            if lapsed {
                stats.prefixes_lapsed += 1;
                changes.push_back(RelayChange::Lapsed { key: *key });
            }
            !lapsed
        });
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let pending = self
            .pending
            .values()
            .map(|p| p.sent + self.config.notify_timeout);
        let learned = self.learned.values().map(|l| l.expires);
        pending.chain(learned).min()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    pub fn poll_change(&mut self) -> Option<RelayChange> {
        self.changes.pop_front()
    }

    /// Each prefix we reach behind a NAT and where.
    pub fn learned(&self) -> impl Iterator<Item = (&Key, SocketAddr)> {
        self.learned.iter().map(|(key, l)| (key, l.xtr))
    }

    pub fn stats(&self) -> RelayStats {
        self.stats
    }
}
