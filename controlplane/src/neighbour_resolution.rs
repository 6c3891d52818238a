//! Which next hops the control core resolves (ARP, IPv6 neighbour discovery), and when: an
//! I/O-free machine with explicit time. It bounds what anyone on a segment or the underlay can
//! make it hold or send:
//!
//! - only next hops we need enter the table (wanted by a data core, by a control message on its
//!   way out, or configured); an advertisement or a reply for anything else is ignored, and a
//!   request addressed to us is learned only while the table has room;
//! - a wanted next hop gets [`TRIES`] solicitations a second apart, then is held down, each
//!   failure doubling the hold-down, so a flood of dead on-link addresses costs each one at most
//!   three solicitations per hold-down;
//! - every solicitation (first, retry, refresh) spends one global per-second budget;
//! - resolved entries are refreshed after `reachable_for` and dropped when the refresh fails.
//!
//! Configured next hops (gateways, map-servers, static locators) are *persistent*: they are never
//! dropped and never stop being retried, with the same back-off.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hashbrown::HashMap;

use crate::rate_limit::Budget;

/// Solicitations per attempt before a next hop counts as unreachable (RFC 4861's
/// MAX_MULTICAST_SOLICIT).
pub const TRIES: u8 = 3;
/// Between two solicitations of one attempt (RFC 4861's RETRANS_TIMER).
pub const RETRANSMIT: Duration = Duration::from_secs(1);
/// The first hold-down after a failed attempt; it doubles per failure up to [`MAX_HOLD_DOWN`].
pub const HOLD_DOWN: Duration = Duration::from_secs(5);
pub const MAX_HOLD_DOWN: Duration = Duration::from_secs(300);

/// How much the table holds and how fast it may solicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighbourLimits {
    /// Next hops being resolved or held down, over all ports.
    pub max_unresolved: usize,
    /// Next hops with a MAC, over all ports (configured neighbours not included).
    pub max_resolved: usize,
    /// ARP requests and neighbour solicitations per second, over all ports.
    pub solicitations_per_sec: u32,
    /// How long a learned MAC is used before it is solicited again.
    pub reachable_for: Duration,
}

impl Default for NeighbourLimits {
    fn default() -> Self {
        Self {
            max_unresolved: 1024,
            max_resolved: 8192,
            solicitations_per_sec: 200,
            reachable_for: Duration::from_secs(300),
        }
    }
}

/// How a MAC reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// An ARP reply, a neighbour advertisement, or a request from a next hop already wanted.
    Answer,
    /// An ARP request or neighbour solicitation for one of our addresses: the sender is about to
    /// talk to us, so it may enter the table while there is room.
    RequestToUs,
}

/// What the machine did, for `show stats`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct NeighbourStats {
    pub neighbours_learned: u64,
    pub neighbours_updated: u64,
    /// MACs for addresses we neither wanted nor were asked by (gratuitous/unsolicited).
    pub neighbours_unsolicited_ignored: u64,
    /// Requests to us not learned because the table was full.
    pub neighbours_requests_not_learned: u64,
    /// Wanted next hops refused because the unresolved table was full.
    pub neighbour_wants_refused_full: u64,
    /// Wanted next hops ignored while held down after failing.
    pub neighbour_wants_held_down: u64,
    /// Attempts that got no answer after [`TRIES`] solicitations.
    pub neighbour_resolutions_failed: u64,
    /// Learned MACs dropped because their refresh got no answer.
    pub neighbours_expired: u64,
    /// Learned MACs evicted (the oldest) to make room for an answer to our own solicitation.
    pub neighbours_evicted: u64,
    /// Solicitations postponed because the global per-second budget was spent.
    pub neighbour_solicitations_deferred: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Being solicited: `sent` solicitations so far, no MAC.
    Incomplete { sent: u8 },
    /// Known until the entry's due time.
    Reachable { mac: [u8; 6] },
    /// Still used while being solicited again.
    Refreshing { mac: [u8; 6], sent: u8 },
    /// No answer: nothing is sent until the due time.
    HeldDown,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    state: State,
    due: Instant,
    persistent: bool,
    failures: u32,
}

impl Entry {
    fn mac(&self) -> Option<[u8; 6]> {
        match self.state {
            State::Reachable { mac } | State::Refreshing { mac, .. } => Some(mac),
            State::Incomplete { .. } | State::HeldDown => None,
        }
    }
}

/// A next hop on an interface (its key: a port, or a VLAN of it).
pub type NextHop = (u32, IpAddr);

/// The resolution state of every next hop on every port.
#[derive(Debug)]
pub struct NeighbourResolution {
    limits: NeighbourLimits,
    entries: HashMap<NextHop, Entry>,
    /// Due times; an item whose entry has moved on is skipped when it comes up.
    timers: BinaryHeap<Reverse<(Instant, NextHop)>>,
    /// Next hops to solicit now, in order.
    solicit: VecDeque<NextHop>,
    budget: Budget,
    resolved: usize,
    changed: Vec<u32>,
    stats: NeighbourStats,
}

impl NeighbourResolution {
    pub fn new(limits: NeighbourLimits) -> Self {
        Self {
            limits,
            entries: HashMap::new(),
            timers: BinaryHeap::new(),
            solicit: VecDeque::new(),
            budget: Budget::new(limits.solicitations_per_sec),
            resolved: 0,
            changed: Vec::new(),
            stats: NeighbourStats::default(),
        }
    }

    pub fn stats(&self) -> NeighbourStats {
        self.stats
    }

    /// Next hops with a MAC, and without.
    pub fn len(&self) -> (usize, usize) {
        (self.resolved, self.entries.len() - self.resolved)
    }

    /// The learned MACs of interface `key`.
    pub fn macs(&self, key: u32) -> impl Iterator<Item = (IpAddr, [u8; 6])> + '_ {
        self.entries
            .iter()
            .filter(move |((k, _), _)| *k == key)
            .filter_map(|((_, address), entry)| Some((*address, entry.mac()?)))
    }

    /// Interfaces whose learned MACs changed since the last call (each once).
    pub fn take_changed(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.changed)
    }

    /// Drops every next hop of interface `key` (it is gone); their timers lapse unseen.
    pub fn forget_interface(&mut self, key: u32) {
        self.entries.retain(|(k, _), _| *k != key);
        self.solicit.retain(|(k, _)| *k != key);
        self.changed.retain(|k| *k != key);
        self.resolved = self.entries.values().filter(|e| e.mac().is_some()).count();
    }

    /// `next_hop` is needed; `persistent` ones (configured) are kept resolved for good.
    pub fn want(&mut self, next_hop: NextHop, persistent: bool, now: Instant) {
        if let Some(entry) = self.entries.get_mut(&next_hop) {
            entry.persistent |= persistent;
            if entry.state == State::HeldDown && !persistent {
                self.stats.neighbour_wants_held_down += 1;
            }
            return;
        }
        if !persistent && self.entries.len() - self.resolved >= self.limits.max_unresolved {
            self.stats.neighbour_wants_refused_full += 1;
            return;
        }
        self.insert(
            next_hop,
            Entry {
                state: State::Incomplete { sent: 0 },
                due: now,
                persistent,
                failures: 0,
            },
        );
    }

    /// `mac` was seen for `next_hop`; learned only when the next hop is in the table (or, for a
    /// request to us, when there is room).
    pub fn learn(&mut self, next_hop: NextHop, mac: [u8; 6], how: Learned, now: Instant) {
        let due = now + self.limits.reachable_for;
        let Some(entry) = self.entries.get_mut(&next_hop) else {
            if how == Learned::Answer {
                self.stats.neighbours_unsolicited_ignored += 1;
            } else if self.resolved >= self.limits.max_resolved {
                self.stats.neighbours_requests_not_learned += 1;
            } else {
                let entry = Entry {
                    state: State::Reachable { mac },
                    due,
                    persistent: false,
                    failures: 0,
                };
                self.insert(next_hop, entry);
                self.resolved += 1;
                self.stats.neighbours_learned += 1;
                self.mark_changed(next_hop.0);
            }
            return;
        };
        let had = entry.mac();
        if entry.state == (State::Reachable { mac }) {
            return; // confirmed; refreshed when due, as planned
        }
        entry.state = State::Reachable { mac };
        entry.due = due;
        entry.failures = 0;
        self.timers.push(Reverse((due, next_hop)));
        match had {
            None => {
                self.resolved += 1;
                self.stats.neighbours_learned += 1;
                self.mark_changed(next_hop.0);
                if self.resolved > self.limits.max_resolved {
                    self.evict_oldest();
                }
            }
            Some(old) if old != mac => {
                self.stats.neighbours_updated += 1;
                self.mark_changed(next_hop.0);
            }
            Some(_) => {}
        }
        self.compact_timers();
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((due, _))| *due)
    }

    /// Moves every entry whose time has come: solicits, gives up, holds down, refreshes, drops.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((due, next_hop))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            let Some(entry) = self.entries.get(&next_hop).copied() else {
                continue;
            };
            if entry.due != due {
                continue;
            }
            self.expire(next_hop, entry, now);
        }
    }

    /// The next ARP request or neighbour solicitation to send.
    pub fn poll_solicitation(&mut self) -> Option<NextHop> {
        self.solicit.pop_front()
    }

    fn expire(&mut self, next_hop: NextHop, entry: Entry, now: Instant) {
        match entry.state {
            State::Reachable { mac } => {
                self.reschedule(next_hop, State::Refreshing { mac, sent: 0 }, now)
            }
            State::Incomplete { sent } | State::Refreshing { sent, .. } if sent < TRIES => {
                if !self.budget.take(now) {
                    self.stats.neighbour_solicitations_deferred += 1;
                    self.reschedule(next_hop, entry.state, self.budget.refill(now));
                    return;
                }
                self.solicit.push_back(next_hop);
                let state = match entry.state {
                    State::Refreshing { mac, .. } => State::Refreshing {
                        mac,
                        sent: sent + 1,
                    },
                    _ => State::Incomplete { sent: sent + 1 },
                };
                self.reschedule(next_hop, state, now + RETRANSMIT);
            }
            State::Incomplete { .. } | State::Refreshing { .. } => {
                if entry.mac().is_some() {
                    self.resolved -= 1;
                    self.stats.neighbours_expired += 1;
                    self.mark_changed(next_hop.0);
                } else {
                    self.stats.neighbour_resolutions_failed += 1;
                }
                let failures = entry.failures + 1;
                let hold = HOLD_DOWN
                    .saturating_mul(1 << (failures - 1).min(16))
                    .min(MAX_HOLD_DOWN);
                if let Some(e) = self.entries.get_mut(&next_hop) {
                    e.failures = failures;
                }
                self.reschedule(next_hop, State::HeldDown, now + hold);
            }
            State::HeldDown if entry.persistent => {
                self.reschedule(next_hop, State::Incomplete { sent: 0 }, now)
            }
            State::HeldDown => {
                self.entries.remove(&next_hop);
            }
        }
    }

    fn reschedule(&mut self, next_hop: NextHop, state: State, due: Instant) {
        if let Some(entry) = self.entries.get_mut(&next_hop) {
            entry.state = state;
            entry.due = due;
            self.timers.push(Reverse((due, next_hop)));
        }
    }

    fn insert(&mut self, next_hop: NextHop, entry: Entry) {
        self.timers.push(Reverse((entry.due, next_hop)));
        self.entries.insert(next_hop, entry);
    }

    /// Rebuilds the timer heap from the entries once stale items (left by MAC changes) outnumber
    /// live ones, so a sender flipping a neighbour's MAC cannot grow it.
    fn compact_timers(&mut self) {
        if self.timers.len() <= 2 * self.entries.len() + 64 {
            return;
        }
        self.timers = self
            .entries
            .iter()
            .map(|(next_hop, entry)| Reverse((entry.due, *next_hop)))
            .collect();
    }

    /// Drops the non-persistent resolved entry that is due soonest (learned longest ago).
    fn evict_oldest(&mut self) {
        let oldest = self
            .entries
            .iter()
            .filter(|(_, e)| !e.persistent && e.mac().is_some())
            .min_by_key(|(_, e)| e.due)
            .map(|(k, _)| *k);
        if let Some(next_hop) = oldest {
            self.entries.remove(&next_hop);
            self.resolved -= 1;
            self.stats.neighbours_evicted += 1;
            self.mark_changed(next_hop.0);
        }
    }

    fn mark_changed(&mut self, key: u32) {
        if !self.changed.contains(&key) {
            self.changed.push(key);
        }
    }
}
