//! NAT discovery (draft-ietf-lisp-nat-traversal): an xTR sends each map-server an Info-Request
//! signed with that map-server's key, at start, when its usable locators change, and every
//! [`NatTimers::keepalive`] after (which also keeps a NAT's binding alive). The Info-Reply says
//! which address and port the request arrived from: one of our locators at port 4342 means no
//! NAT on the way; anything else means a NAT translated it, and the reply's RTRs are the way
//! through. I/O-free: the runner sends what [`NatDiscovery::poll_transmit`] gives and hands in
//! the Info-Replies.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dataplane::wire::lisp::CONTROL_PORT;

use crate::nonce::NonceSource;
use crate::registration::MapServerPeer;
use crate::wire::address::Address;
use crate::wire::info::{InfoPacket, InfoRepr};
use crate::Transmit;

/// When Info-Requests go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatTimers {
    /// Between rounds once a map-server answered.
    pub keepalive: Duration,
    /// Before an unanswered request is sent again.
    pub retry: Duration,
    /// Unanswered requests in a row before a map-server counts as not answering.
    pub tries: u32,
}

impl Default for NatTimers {
    fn default() -> Self {
        Self {
            keepalive: Duration::from_secs(60),
            retry: Duration::from_secs(2),
            tries: 3,
        }
    }
}

/// What the path to one map-server looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatState {
    /// Not known yet.
    Unknown,
    /// The map-server saw one of our locators at port 4342.
    NoNat,
    /// The map-server saw `public`: a NAT translated our requests; `rtrs` are offered.
    BehindNat {
        public: SocketAddr,
        rtrs: Vec<IpAddr>,
    },
    /// The map-server did not answer [`NatTimers::tries`] requests in a row.
    NoAnswer,
}

impl std::fmt::Display for NatState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown => write!(f, "unknown"),
            Self::NoNat => write!(f, "no NAT"),
            Self::BehindNat { public, rtrs } => {
                write!(f, "behind a NAT, seen as {public}, RTRs {rtrs:?}")
            }
            Self::NoAnswer => write!(f, "no Info-Reply"),
        }
    }
}

/// Why an Info-Reply was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InfoRefused {
    #[error("malformed")]
    Malformed,
    #[error("not an Info-Reply")]
    NotAReply,
    #[error("no Info-Request of ours has its nonce, or it came from elsewhere")]
    UnknownNonce,
    #[error("HMAC does not verify with the map-server's key")]
    BadAuthentication,
}

#[derive(Debug)]
struct Peer {
    server: MapServerPeer,
    state: NatState,
    /// The outstanding request's nonce and how many were sent unanswered.
    outstanding: Option<(u64, u32)>,
    next: Instant,
}

impl Peer {
    /// `server`, nothing known of it yet, asked at `now`.
    fn fresh(server: MapServerPeer, now: Instant) -> Self {
        Self {
            server,
            state: NatState::Unknown,
            outstanding: None,
            next: now,
        }
    }

    fn all(servers: Vec<MapServerPeer>, now: Instant) -> Vec<Self> {
        servers
            .into_iter()
            .map(|server| Self::fresh(server, now))
            .collect()
    }
}

/// The discovery toward every map-server.
#[derive(Debug)]
pub struct NatDiscovery {
    peers: Vec<Peer>,
    /// The EID prefix our requests name (our first registered one).
    eid: Address,
    eid_mask_len: u8,
    /// Our usable locators.
    own: Vec<IpAddr>,
    timers: NatTimers,
    nonces: NonceSource,
    outbox: VecDeque<Transmit>,
    changes: VecDeque<(SocketAddr, NatState)>,
}

impl NatDiscovery {
    /// Discovery toward `servers` for EID `eid`/`eid_mask_len`, from `own` locators; the first
    /// requests go at `now`.
    pub fn new(
        servers: Vec<MapServerPeer>,
        (eid, eid_mask_len): (Address, u8),
        own: Vec<IpAddr>,
        timers: NatTimers,
        nonces: NonceSource,
        now: Instant,
    ) -> Self {
        Self {
            peers: Peer::all(servers, now),
            eid,
            eid_mask_len,
            own,
            timers,
            nonces,
            outbox: VecDeque::new(),
            changes: VecDeque::new(),
        }
    }

    /// The map-servers changed (a reload): ask the new set now.
    pub fn set_servers(&mut self, servers: Vec<MapServerPeer>, now: Instant) {
        self.peers = Peer::all(servers, now);
    }

    /// Map-server `index` is at `address` now (its name moved): ask it there now.
    pub fn set_server_address(&mut self, index: usize, address: SocketAddr, now: Instant) {
        if let Some(peer) = self.peers.get_mut(index) {
            let server = MapServerPeer {
                address,
                ..peer.server.clone()
            };
            *peer = Peer::fresh(server, now);
        }
    }

    /// Our usable locators changed: ask every map-server again now.
    pub fn set_own(&mut self, own: Vec<IpAddr>, now: Instant) {
        self.own = own;
        for peer in &mut self.peers {
            peer.outstanding = None;
            peer.next = now;
        }
    }

    /// Each map-server and what the path to it looks like.
    pub fn states(&self) -> impl Iterator<Item = (SocketAddr, &NatState)> {
        self.peers.iter().map(|p| (p.server.address, &p.state))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.peers.iter().map(|p| p.next).min()
    }

    /// Sends the requests that are due; a map-server that left too many unanswered is marked.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            if self.peers[i].next > now {
                continue;
            }
            let sent = self.peers[i].outstanding.map_or(0, |(_, sent)| sent);
            if sent >= self.timers.tries {
                self.change(i, NatState::NoAnswer);
            }
            let nonce = self.nonces.next_u64();
            let peer = &mut self.peers[i];
            let request = InfoRepr {
                reply: false,
                nonce,
                key_id: 0,
                algorithm_id: 0,
                auth_data: Vec::new(),
                ttl: 0,
                eid_mask_len: self.eid_mask_len,
                eid: self.eid.clone(),
                nat: None,
            };
            if let Ok(payload) = request.emit_signed(peer.server.algorithm, &peer.server.key) {
                self.outbox
                    .push_back(Transmit::control(peer.server.address, payload));
            }
            // After `tries` unanswered, keep asking at the keepalive pace.
            let (sent, wait) = if sent >= self.timers.tries {
                (sent, self.timers.keepalive)
            } else {
                (sent + 1, self.timers.retry)
            };
            peer.outstanding = Some((nonce, sent));
            peer.next = now + wait;
        }
    }

    /// An Info-Reply from `from`.
    pub fn handle_reply(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), InfoRefused> {
        let packet = InfoPacket::new_checked(bytes).map_err(|_| InfoRefused::Malformed)?;
        let reply = InfoRepr::parse(bytes).map_err(|_| InfoRefused::Malformed)?;
        let Some(nat) = reply.nat.filter(|_| reply.reply) else {
            return Err(InfoRefused::NotAReply);
        };
        let i = self
            .peers
            .iter()
            .position(|p| {
                p.server.address.ip() == from.ip()
                    && p.outstanding.is_some_and(|(nonce, _)| nonce == reply.nonce)
            })
            .ok_or(InfoRefused::UnknownNonce)?;
        if !packet.verify(&self.peers[i].server.key) {
            return Err(InfoRefused::BadAuthentication);
        }
        let state = match nat.global_etr_rloc.ip() {
            Some(public) if self.own.contains(&public) && nat.etr_port == CONTROL_PORT => {
                NatState::NoNat
            }
            Some(public) => NatState::BehindNat {
                public: SocketAddr::new(public, nat.etr_port),
                rtrs: nat.rtr_rlocs.iter().filter_map(Address::ip).collect(),
            },
            None => return Err(InfoRefused::Malformed),
        };
        self.change(i, state);
        let peer = &mut self.peers[i];
        peer.outstanding = None;
        peer.next = now + self.timers.keepalive;
        Ok(())
    }

    fn change(&mut self, i: usize, state: NatState) {
        let peer = &mut self.peers[i];
        if peer.state != state {
            peer.state = state.clone();
            self.changes.push_back((peer.server.address, state));
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    /// The next map-server whose path changed, and how it looks now.
    pub fn poll_change(&mut self) -> Option<(SocketAddr, NatState)> {
        self.changes.pop_front()
    }
}
