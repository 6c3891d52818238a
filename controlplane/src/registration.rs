//! Registration with map-servers, as an I/O-free state machine with explicit time: periodic
//! Map-Register of our EID records to every map-server, each with its own key and algorithm;
//! Map-Notify verified (nonce of the outstanding Map-Register and that server's HMAC) and
//! acknowledged; a server that stops answering is retried with exponential back-off while the
//! others keep being served. From behind a NAT, a server is registered with through an RTR
//! (draft-ietf-lisp-nat-traversal): the Map-Register names the RTR as our locator, asks the
//! map-server to answer for us, and goes to the RTR in an ECM from our data port. The
//! control-core runner feeds it datagrams and time and sends what
//! [`Registration::poll_transmit`] returns.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dataplane::wire::lisp::{CONTROL_PORT, DATA_PORT};

use crate::clock::WallClock;
use crate::nonce::NonceSource;
use crate::wire::address::Address;
use crate::wire::auth::AuthAlgorithm;
use crate::wire::ecm::EcmRepr;
use crate::wire::record::{EidRecord, LocatorRecord};
use crate::wire::registration::{
    Authenticated, MapNotifyRepr, MapRegisterRepr, RegistrationPacket, XtrIdentity,
};
use crate::Transmit;

/// A map-server we register with, and how to talk to it (the map-server itself is
/// [`crate::map_server::MapServer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapServerPeer {
    pub address: SocketAddr,
    /// The host name `address` was resolved from, if it was given as one.
    pub name: Option<String>,
    pub key: Vec<u8>,
    pub key_id: u8,
    pub algorithm: AuthAlgorithm,
    pub want_map_notify: bool,
    pub proxy_reply: bool,
    /// Only our records of this instance are registered here (`None`: all of them).
    pub instance_id: Option<u32>,
}

/// Timers of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Map-Register period while a server is healthy.
    pub interval: Duration,
    /// How long to wait for a Map-Notify before counting a failure.
    pub notify_timeout: Duration,
    /// First retry delay after a failure; doubles per consecutive failure up to `interval`.
    pub retry: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            notify_timeout: Duration::from_secs(3),
            retry: Duration::from_secs(1),
        }
    }
}

/// Where registration with one server stands (for management).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing sent yet.
    Idle,
    /// A Map-Register is out; waiting for its Map-Notify.
    Waiting,
    /// The last Map-Register was acknowledged (or sent, when no Map-Notify is asked for).
    Registered,
    /// The server did not answer `failures` times in a row.
    Failing { failures: u32 },
}

impl State {
    /// The state's name, as the management API and logs give it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Waiting => "waiting",
            Self::Registered => "registered",
            Self::Failing { .. } => "failing",
        }
    }

    /// Unanswered Map-Registers in a row.
    pub fn failures(self) -> u32 {
        match self {
            Self::Failing { failures } => failures,
            _ => 0,
        }
    }
}

/// What an accepted Map-Notify was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notified {
    /// It answered our Map-Register: registered (no acknowledgement is sent).
    Registered,
    /// The map-server's own: acknowledged.
    Unsolicited,
}

/// Why a Map-Notify was refused (counted; nothing changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotifyRefused {
    #[error("not from a map-server we register with")]
    UnknownServer,
    #[error("malformed")]
    Malformed,
    #[error("not a Map-Notify")]
    NotAMapNotify,
    #[error("HMAC does not verify with the server's key")]
    BadAuthentication,
}

/// The way to a map-server from behind a NAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViaRtr {
    /// The RTR the map-server's Info-Reply offered.
    pub rtr: IpAddr,
    /// Our own address on this side of the NAT.
    pub private: IpAddr,
}

#[derive(Debug)]
struct Server {
    config: MapServerPeer,
    via_rtr: Option<ViaRtr>,
    state: State,
    next_register: Instant,
    outstanding: Option<(u64, Instant)>,
    failures: u32,
    registered_at: Option<Instant>,
}

impl Server {
    /// A server nothing was sent to yet, first registered with at `now`.
    fn fresh(config: MapServerPeer, now: Instant) -> Self {
        Self {
            config,
            via_rtr: None,
            state: State::Idle,
            next_register: now,
            outstanding: None,
            failures: 0,
            registered_at: None,
        }
    }
}

/// The registration machine for all map-servers.
#[derive(Debug)]
pub struct Registration {
    servers: Vec<Server>,
    records: Vec<EidRecord>,
    xtr: Option<XtrIdentity>,
    timers: Timers,
    nonces: NonceSource,
    clock: WallClock,
    outbox: VecDeque<Transmit>,
}

/// A registration server's state, for `lispctl show servers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStatus {
    pub address: SocketAddr,
    pub name: Option<String>,
    pub state: State,
    pub registered_at: Option<Instant>,
    pub next_register: Instant,
}

impl Registration {
    /// Starts registering `records` with every server at `now`. Map-Register nonces carry the
    /// Unix time from `clock` (see [`NonceSource::timestamped`]) so that map-servers can refuse
    /// replays for good.
    pub fn new(
        servers: Vec<MapServerPeer>,
        records: Vec<EidRecord>,
        xtr: Option<XtrIdentity>,
        timers: Timers,
        nonces: NonceSource,
        clock: WallClock,
        now: Instant,
    ) -> Self {
        Self {
            servers: servers
                .into_iter()
                .map(|config| Server::fresh(config, now))
                .collect(),
            records,
            xtr,
            timers,
            nonces,
            clock,
            outbox: VecDeque::new(),
        }
    }

    /// Replaces the records (database change, CPM) and re-registers everywhere at once; an
    /// outstanding Map-Register is superseded (a late Map-Notify for it is refused as stale).
    pub fn set_records(&mut self, records: Vec<EidRecord>, now: Instant) {
        self.records = records;
        for server in &mut self.servers {
            server.outstanding = None;
            server.next_register = now;
        }
    }

    /// Advances time: counts missing Map-Notifies and sends the Map-Registers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.servers.len() {
            if let Some((_, sent)) = self.servers[i].outstanding {
                if now >= sent + self.timers.notify_timeout {
                    let timers = self.timers;
                    let server = &mut self.servers[i];
                    server.outstanding = None;
                    server.failures += 1;
                    server.state = State::Failing {
                        failures: server.failures,
                    };
                    let backoff = timers
                        .retry
                        .saturating_mul(1 << server.failures.min(16).saturating_sub(1));
                    server.next_register = now + backoff.min(timers.interval);
                }
            }
            if now >= self.servers[i].next_register && self.servers[i].outstanding.is_none() {
                self.register(i, now);
            }
        }
    }

    fn register(&mut self, i: usize, now: Instant) {
        let nonce = self.nonces.timestamped(self.clock.unix_secs(now));
        let config = self.servers[i].config.clone();
        let via_rtr = self.servers[i].via_rtr;
        let own: Vec<EidRecord> = self
            .records
            .iter()
            .filter(|r| {
                config
                    .instance_id
                    .is_none_or(|iid| r.eid.instance_id().unwrap_or(0) == iid)
            })
            .cloned()
            .collect();
        if own.is_empty() {
            // Nothing of ours is this server's to hear (another tenant's): look again later.
            self.servers[i].next_register = now + self.timers.interval;
            return;
        }
        let records = match via_rtr {
            Some(via) => through(&own, via.rtr),
            None => own,
        };
        let repr = MapRegisterRepr {
            proxy_reply: config.proxy_reply || via_rtr.is_some(),
            security: false,
            rtr: false,
            want_map_notify: config.want_map_notify,
            body: Authenticated {
                nonce,
                key_id: 0,
                algorithm_id: 0,
                auth_data: Vec::new(),
                records,
                xtr: self.xtr,
            },
        };
        let Ok(payload) = repr.signed(config.key_id, config.algorithm, &config.key) else {
            return;
        };
        let transmit = match via_rtr {
            None => Some(Transmit::control(config.address, payload)),
            Some(via) => to_rtr(via, config.address, payload),
        };
        let Some(transmit) = transmit else {
            return;
        };
        self.outbox.push_back(transmit);
        let server = &mut self.servers[i];
        server.next_register = now + self.timers.interval;
        if config.want_map_notify {
            server.outstanding = Some((nonce, now));
            if server.state == State::Idle {
                server.state = State::Waiting;
            }
        } else {
            server.state = State::Registered;
            server.registered_at = Some(now);
        }
    }

    /// The RTR our registrations go through, if any (behind a NAT): the one that knows where
    /// the NAT maps us, so our traffic goes there too.
    pub fn rtr(&self) -> Option<IpAddr> {
        self.servers
            .iter()
            .find_map(|s| s.via_rtr.map(|via| via.rtr))
    }

    /// Server `index` is reached through an RTR from now on (`None`: directly again); it is
    /// registered with again at once, which also tells the RTR where our NAT maps us now.
    pub fn set_via_rtr(&mut self, index: usize, via_rtr: Option<ViaRtr>, now: Instant) {
        if let Some(server) = self.servers.get_mut(index) {
            server.via_rtr = via_rtr;
            server.outstanding = None;
            server.next_register = now;
        }
    }

    /// A Map-Notify from UDP 4342, verified with its server's key. The one answering our
    /// outstanding Map-Register (same nonce) confirms the registration and is not acknowledged;
    /// an unsolicited one (the map-server's own news) is acknowledged with a Map-Notify-Ack and
    /// changes nothing here (RFC 9301 §5.7: only unsolicited Map-Notifies are acknowledged).
    pub fn handle_notify(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<Notified, NotifyRefused> {
        let notify = MapNotifyRepr::parse(bytes).map_err(|_| NotifyRefused::Malformed)?;
        // Several entries may name one map-server (a key per tenant): the one whose
        // Map-Register this answers, else the first.
        let at_address = |s: &Server| s.config.address.ip() == from.ip();
        let i = self
            .servers
            .iter()
            .position(|s| at_address(s) && s.outstanding.map(|(n, _)| n) == Some(notify.body.nonce))
            .or_else(|| self.servers.iter().position(at_address))
            .ok_or(NotifyRefused::UnknownServer)?;
        if notify.ack {
            return Err(NotifyRefused::NotAMapNotify);
        }
        let packet =
            RegistrationPacket::new_checked(bytes).map_err(|_| NotifyRefused::Malformed)?;
        let server = &self.servers[i];
        if !packet.verify(&server.config.key) {
            return Err(NotifyRefused::BadAuthentication);
        }
        if server.outstanding.map(|(nonce, _)| nonce) != Some(notify.body.nonce) {
            let ack = MapNotifyRepr {
                ack: true,
                ..notify
            };
            let config = &server.config;
            if let Ok(payload) = ack.signed(config.key_id, config.algorithm, &config.key) {
                self.outbox.push_back(Transmit::control(from, payload));
            }
            return Ok(Notified::Unsolicited);
        }
        let server = &mut self.servers[i];
        server.outstanding = None;
        server.failures = 0;
        server.state = State::Registered;
        server.registered_at = Some(now);
        Ok(Notified::Registered)
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.servers
            .iter()
            .map(|s| match s.outstanding {
                Some((_, sent)) => sent + self.timers.notify_timeout,
                None => s.next_register,
            })
            .min()
    }

    /// New map-servers, keys or timers (a reload): every server is registered with at `now`,
    /// and one whose address and key stay keeps its state.
    pub fn reconfigure(&mut self, servers: Vec<MapServerPeer>, timers: Timers, now: Instant) {
        self.timers = timers;
        let mut old = std::mem::take(&mut self.servers);
        self.servers = servers
            .into_iter()
            .map(|config| {
                let kept = old
                    .iter()
                    .position(|s| s.config == config)
                    .map(|i| old.swap_remove(i));
                let mut server = kept.unwrap_or_else(|| Server::fresh(config, now));
                server.outstanding = None;
                server.next_register = now;
                server
            })
            .collect();
    }

    /// Server `index`'s name now resolves to `address`: registration with it starts over there
    /// at `now` (a Map-Notify from the old address is no longer taken).
    pub fn set_address(&mut self, index: usize, address: SocketAddr, now: Instant) {
        let Some(server) = self.servers.get_mut(index) else {
            return;
        };
        if server.config.address == address {
            return;
        }
        let config = MapServerPeer {
            address,
            ..server.config.clone()
        };
        *server = Server::fresh(config, now);
    }

    /// Every server's state.
    pub fn status(&self) -> Vec<ServerStatus> {
        self.servers
            .iter()
            .map(|s| ServerStatus {
                address: s.config.address,
                name: s.config.name.clone(),
                state: s.state,
                registered_at: s.registered_at,
                next_register: s.next_register,
            })
            .collect()
    }
}

/// `records` as registered through `rtr`: the RTR is their only locator (traffic for them goes
/// there, and it carries it through our NAT).
fn through(records: &[EidRecord], rtr: IpAddr) -> Vec<EidRecord> {
    records
        .iter()
        .map(|record| EidRecord {
            locators: vec![LocatorRecord::unicast(Address::from(rtr), 1, 100, false)],
            ..record.clone()
        })
        .collect()
}

/// A signed Map-Register for `map_server`, in an ECM for the RTR to relay (R bit), sent from our
/// data port: the RTR answers through the NAT binding this opens, as data and as control.
fn to_rtr(via: ViaRtr, map_server: SocketAddr, register: Vec<u8>) -> Option<Transmit> {
    let ecm = EcmRepr {
        security: false,
        ddt: false,
        to_etr: true,
        to_map_server: false,
        inner_source: via.private,
        inner_destination: map_server.ip(),
        inner_ttl: 64,
        source_port: CONTROL_PORT,
        destination_port: map_server.port(),
        message: register,
    };
    let mut payload = Vec::with_capacity(ecm.buffer_len());
    ecm.emit(&mut payload).ok()?;
    Some(Transmit {
        destination: SocketAddr::new(via.rtr, CONTROL_PORT),
        payload,
        source_port: DATA_PORT,
    })
}
