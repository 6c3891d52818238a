//! RLOC probing (RFC 9301 section 7.1) as an I/O-free machine with explicit time: every remote
//! locator in the map-cache gets a probe Map-Request (P bit, fresh nonce) each interval; a probe
//! Map-Reply echoing an outstanding nonce marks it reachable, `count` unanswered probes in a row
//! (retried every `retry`) mark it down. The [`Xtr`](crate::xtr::Xtr) applies the changes to the
//! map-cache, so selection moves to the next best locator and back.
//!
//! A locator that has never answered a probe is taken not to speak probing (a proxy, a kernel
//! tunnel endpoint) and is never marked down: probing must not cut traffic that works. A zero
//! interval turns probing off. Probes are Map-Requests too: at most `rate_per_sec` leave per
//! second, and a probe that finds the budget spent waits for the next second.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::nonce::NonceSource;
use crate::rate_limit::Budget;
use crate::wire::address::Address;
use crate::wire::map_request::MapRequestRepr;
use crate::Transmit;

/// Settings of the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Probe period of a reachable locator.
    pub interval: Duration,
    /// Unanswered probes in a row before a locator goes down.
    pub count: u32,
    /// Wait for a reply, and the probe period of a locator that is down.
    pub retry: Duration,
    /// Our RLOCs: probes leave from (and ask replies to) the one of the locator's family.
    pub rlocs: Vec<IpAddr>,
    /// Probes per second, over all locators.
    pub rate_per_sec: u32,
}

#[derive(Debug)]
struct Probed {
    /// An EID prefix mapped to the locator, named in the probe.
    eid: Address,
    mask_len: u8,
    up: bool,
    /// It answered a probe at least once.
    answered: bool,
    misses: u32,
    next_probe: Instant,
    waiting: Option<(u64, Instant)>,
}

/// The prober.
#[derive(Debug)]
pub struct Prober {
    config: ProbeConfig,
    locators: HashMap<IpAddr, Probed>,
    outstanding: HashMap<u64, IpAddr>,
    nonces: NonceSource,
    outbox: VecDeque<Transmit>,
    changes: Vec<(IpAddr, bool)>,
    budget: Budget,
    deferred: u64,
    /// Our usable RLOCs, which probes leave from (all of `config.rlocs` until told otherwise).
    sources: Vec<IpAddr>,
}

impl Prober {
    pub fn new(config: ProbeConfig, nonces: NonceSource) -> Self {
        Self {
            budget: Budget::new(config.rate_per_sec.max(1)),
            deferred: 0,
            sources: config.rlocs.clone(),
            config,
            locators: HashMap::new(),
            outstanding: HashMap::new(),
            nonces,
            outbox: VecDeque::new(),
            changes: Vec::new(),
        }
    }

    /// Starts probing `locator` (reached for `eid`/`mask_len`), first probe at `now`; our own
    /// RLOCs are never probed.
    pub fn track(&mut self, locator: IpAddr, eid: Address, mask_len: u8, now: Instant) {
        if self.config.interval.is_zero() || self.config.rlocs.contains(&locator) {
            return;
        }
        self.locators.entry(locator).or_insert(Probed {
            eid,
            mask_len,
            up: true,
            answered: false,
            misses: 0,
            next_probe: now,
            waiting: None,
        });
    }

    /// Stops probing locators not in `present` (their mappings are gone), except those found
    /// down when `keep_down`: a mapping learned again must not bring a dead locator back as
    /// reachable. An operator's flush forgets those too.
    pub fn retain(&mut self, present: &HashSet<IpAddr>, keep_down: bool) {
        self.locators
            .retain(|locator, probed| present.contains(locator) || (keep_down && !probed.up));
        let locators = &self.locators;
        self.outstanding.retain(|_, l| locators.contains_key(l));
    }

    /// Whether `locator` is currently considered reachable (unknown ones are).
    pub fn is_up(&self, locator: IpAddr) -> bool {
        self.locators.get(&locator).is_none_or(|p| p.up)
    }

    /// Traffic just showed `locator` reachable both ways (it echoed our nonce): its next periodic
    /// probe can wait a full interval.
    pub fn confirmed(&mut self, locator: IpAddr, now: Instant) {
        if let Some(probed) = self.locators.get_mut(&locator) {
            if probed.up && probed.waiting.is_none() {
                probed.next_probe = probed.next_probe.max(now + self.config.interval);
            }
        }
    }

    /// Something suggests `locator` may be unreachable (it did not echo our nonce): probe it at
    /// the next timeout instead of waiting for its turn.
    pub fn probe_soon(&mut self, locator: IpAddr, now: Instant) {
        if let Some(probed) = self.locators.get_mut(&locator) {
            if probed.waiting.is_none() {
                probed.next_probe = probed.next_probe.min(now);
            }
        }
    }

    /// A probe Map-Reply with `nonce`: true when it answered one of our probes.
    pub fn handle_reply(&mut self, nonce: u64) -> bool {
        let Some(locator) = self.outstanding.remove(&nonce) else {
            return false;
        };
        if let Some(probed) = self.locators.get_mut(&locator) {
            probed.waiting = None;
            probed.misses = 0;
            probed.answered = true;
            if !probed.up {
                probed.up = true;
                self.changes.push((locator, true));
            }
        }
        true
    }

    /// Counts unanswered probes and sends the probes that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (&locator, probed) in &mut self.locators {
            if let Some((nonce, sent)) = probed.waiting {
                if now < sent + self.config.retry {
                    continue;
                }
                self.outstanding.remove(&nonce);
                probed.waiting = None;
                probed.misses += 1;
                if probed.up && probed.answered && probed.misses >= self.config.count {
                    probed.up = false;
                    self.changes.push((locator, false));
                }
                // An unanswered probe is retried at once: to confirm a failure quickly, and, once
                // the locator is down, to notice it coming back (every `retry`).
                probed.next_probe = now;
            }
            if now >= probed.next_probe {
                due.push(locator);
            }
        }
        for locator in due {
            if self.budget.take(now) {
                self.probe(locator, now);
            } else if let Some(probed) = self.locators.get_mut(&locator) {
                probed.next_probe = self.budget.refill(now);
                self.deferred += 1;
            }
        }
    }

    /// Probes postponed because the per-second budget was spent.
    pub fn deferred(&self) -> u64 {
        self.deferred
    }

    /// How many locators are being probed.
    pub fn len(&self) -> usize {
        self.locators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.locators.is_empty()
    }

    /// New period, count, retry and rate (a reload); our RLOCs and the probed locators stay.
    pub fn set_timers(&mut self, config: ProbeConfig) {
        self.budget = Budget::new(config.rate_per_sec.max(1));
        self.config = ProbeConfig {
            rlocs: std::mem::take(&mut self.config.rlocs),
            ..config
        };
    }

    /// Probes leave from these of our RLOCs (those whose port and gateway are up).
    pub fn set_sources(&mut self, sources: Vec<IpAddr>) {
        self.sources = sources;
    }

    fn probe(&mut self, locator: IpAddr, now: Instant) {
        let Some(source) = self
            .sources
            .iter()
            .copied()
            .find(|r| r.is_ipv4() == locator.is_ipv4())
        else {
            return;
        };
        let nonce = self.nonces.next_u64();
        let Some(probed) = self.locators.get_mut(&locator) else {
            return;
        };
        let mut request = MapRequestRepr::about_prefix(
            nonce,
            probed.eid.clone(),
            probed.mask_len,
            Address::from(source),
        );
        request.probe = true;
        let mut payload = Vec::new();
        if request.emit(&mut payload).is_err() {
            return;
        }
        probed.waiting = Some((nonce, now));
        probed.next_probe = now
            + if probed.up {
                self.config.interval
            } else {
                self.config.retry
            };
        self.outstanding.insert(nonce, locator);
        self.outbox.push_back(Transmit::control(
            SocketAddr::new(locator, dataplane::wire::lisp::CONTROL_PORT),
            payload,
        ));
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.locators
            .values()
            .map(|p| match p.waiting {
                Some((_, sent)) => (sent + self.config.retry).min(p.next_probe),
                None => p.next_probe,
            })
            .min()
    }

    /// Locators that went down (`false`) or came back (`true`) since the last call.
    pub fn take_changes(&mut self) -> Vec<(IpAddr, bool)> {
        std::mem::take(&mut self.changes)
    }
}
