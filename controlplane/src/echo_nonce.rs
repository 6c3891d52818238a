//! The echo-nonce algorithm (RFC 9300 §10.1) as an I/O-free machine with explicit time.
//!
//! Answering: a remote ITR that sets the E bit asks us to send its nonce back; our data cores put
//! it in their packets to that RLOC for `window`. Asking: every `interval`, each RLOC whose
//! Map-Reply said it is echo-nonce capable gets a fresh nonce with the E bit on our packets to it
//! for `window`; the nonce coming back in its traffic shows the round trip works
//! ([`EchoEvent::Answered`]), silence ([`EchoEvent::Unanswered`]) is reason to probe it now. The
//! data cores see the state as an [`EchoNonces`] table, republished when it changes.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dataplane::pipeline::EchoNonces;

use crate::nonce::NonceSource;

/// Settings of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoConfig {
    /// How often each capable RLOC is asked.
    pub interval: Duration,
    /// How long an echo is awaited, and how long we echo a nonce we were asked to.
    pub window: Duration,
}

impl Default for EchoConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            window: Duration::from_secs(3),
        }
    }
}

/// What came of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoEvent {
    /// The RLOC sent our nonce back: both directions work.
    Answered(IpAddr),
    /// No echo within the window (the RLOC, or the way back, may be down; or we sent it nothing).
    Unanswered(IpAddr),
}

/// The machine.
#[derive(Debug)]
pub struct EchoNonce {
    config: EchoConfig,
    /// Capable RLOCs and when each is next asked.
    capable: HashMap<IpAddr, Instant>,
    /// Our outstanding nonce per RLOC and until when it is awaited.
    requests: HashMap<IpAddr, (u32, Instant)>,
    /// Nonces we were asked to echo and until when.
    echoes: HashMap<IpAddr, (u32, Instant)>,
    events: VecDeque<EchoEvent>,
    changed: bool,
    nonces: NonceSource,
}

impl EchoNonce {
    pub fn new(config: EchoConfig, nonces: NonceSource) -> Self {
        Self {
            config,
            capable: HashMap::new(),
            requests: HashMap::new(),
            echoes: HashMap::new(),
            events: VecDeque::new(),
            changed: false,
            nonces,
        }
    }

    /// A fresh non-zero 24-bit nonce.
    fn next_nonce(&mut self) -> u32 {
        loop {
            let x = self.nonces.next_u32() & 0x00ff_ffff;
            if x != 0 {
                return x;
            }
        }
    }

    /// `rloc`'s mapping says it echoes nonces: ask it from `now` on (a zero interval turns
    /// asking off).
    pub fn add_capable(&mut self, rloc: IpAddr, now: Instant) {
        if !self.config.interval.is_zero() {
            self.capable.entry(rloc).or_insert(now);
        }
    }

    /// Stops asking RLOCs for which `keep` is false (their mappings are gone).
    pub fn retain_capable(&mut self, keep: impl Fn(IpAddr) -> bool) {
        self.capable.retain(|rloc, _| keep(*rloc));
        let before = self.requests.len();
        self.requests.retain(|rloc, _| keep(*rloc));
        self.changed |= self.requests.len() != before;
    }

    /// A packet from `rloc` asked us to echo `nonce`.
    pub fn handle_request(&mut self, rloc: IpAddr, nonce: u32, now: Instant) {
        let until = now + self.config.window;
        let previous = self.echoes.insert(rloc, (nonce, until));
        self.changed |= previous.map(|(n, _)| n) != Some(nonce);
    }

    /// A packet from `rloc` carried back the nonce we asked it to echo.
    pub fn handle_echo(&mut self, rloc: IpAddr) {
        if self.requests.remove(&rloc).is_some() {
            self.changed = true;
            self.events.push_back(EchoEvent::Answered(rloc));
        }
    }

    /// Ends what expired and starts the requests that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let before = self.echoes.len();
        self.echoes.retain(|_, (_, until)| *until > now);
        self.changed |= self.echoes.len() != before;
        let expired: Vec<IpAddr> = self
            .requests
            .iter()
            .filter(|(_, (_, until))| *until <= now)
            .map(|(rloc, _)| *rloc)
            .collect();
        for rloc in expired {
            self.requests.remove(&rloc);
            self.changed = true;
            self.events.push_back(EchoEvent::Unanswered(rloc));
        }
        let due: Vec<IpAddr> = self
            .capable
            .iter()
            .filter(|(rloc, next)| **next <= now && !self.requests.contains_key(rloc))
            .map(|(rloc, _)| *rloc)
            .collect();
        for rloc in due {
            let nonce = self.next_nonce();
            self.requests
                .insert(rloc, (nonce, now + self.config.window));
            self.capable.insert(rloc, now + self.config.interval);
            self.changed = true;
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ends = self.echoes.values().chain(self.requests.values());
        let asks = self
            .capable
            .iter()
            .filter(|(rloc, _)| !self.requests.contains_key(rloc))
            .map(|(_, next)| *next);
        ends.map(|(_, until)| *until).chain(asks).min()
    }

    pub fn poll_event(&mut self) -> Option<EchoEvent> {
        self.events.pop_front()
    }

    /// The table for the data cores, when it changed since the last call.
    pub fn take_table(&mut self) -> Option<EchoNonces> {
        if !std::mem::take(&mut self.changed) {
            return None;
        }
        Some(EchoNonces::new(
            self.echoes.iter().map(|(rloc, (nonce, _))| (*rloc, *nonce)),
            self.requests
                .iter()
                .map(|(rloc, (nonce, _))| (*rloc, *nonce)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "192.0.2.7";

    fn rloc() -> IpAddr {
        R.parse().unwrap()
    }

    fn machine() -> (EchoNonce, Instant) {
        let config = EchoConfig {
            interval: Duration::from_secs(10),
            window: Duration::from_secs(2),
        };
        (
            EchoNonce::new(config, NonceSource::seeded(5)),
            Instant::now(),
        )
    }

    /// The nonce the table asks `rloc` to echo.
    fn requested(table: &EchoNonces) -> u32 {
        match table.outgoing(rloc()) {
            Some((nonce, true)) => nonce,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn a_capable_rloc_is_asked_and_its_echo_answers() {
        let (mut echo, t0) = machine();
        echo.add_capable(rloc(), t0);
        assert_eq!(echo.poll_timeout(), Some(t0));
        echo.handle_timeout(t0);
        let table = echo.take_table().expect("a request to publish");
        let nonce = requested(&table);
        assert!(nonce != 0 && nonce <= 0x00ff_ffff);
        assert!(table.echoes(rloc(), nonce));
        assert_eq!(echo.take_table(), None, "unchanged");
        assert_eq!(echo.poll_timeout(), Some(t0 + Duration::from_secs(2)));

        echo.handle_echo(rloc());
        assert_eq!(echo.poll_event(), Some(EchoEvent::Answered(rloc())));
        assert_eq!(echo.take_table().unwrap().outgoing(rloc()), None);
        assert_eq!(echo.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        echo.handle_echo(rloc());
        assert_eq!(echo.poll_event(), None, "a late repeat means nothing");

        echo.handle_timeout(t0 + Duration::from_secs(10));
        let again = requested(&echo.take_table().unwrap());
        assert_ne!(again, nonce, "every request has a fresh nonce");
    }

    #[test]
    fn silence_is_reported_once_the_window_closes() {
        let (mut echo, t0) = machine();
        echo.add_capable(rloc(), t0);
        echo.handle_timeout(t0);
        echo.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(echo.poll_event(), None);
        echo.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(echo.poll_event(), Some(EchoEvent::Unanswered(rloc())));
        assert_eq!(echo.take_table().unwrap().outgoing(rloc()), None);
    }

    #[test]
    fn requests_from_peers_are_echoed_for_a_window() {
        let (mut echo, t0) = machine();
        echo.handle_request(rloc(), 0x42, t0);
        assert_eq!(
            echo.take_table().unwrap().outgoing(rloc()),
            Some((0x42, false))
        );
        echo.handle_request(rloc(), 0x42, t0 + Duration::from_secs(1));
        assert_eq!(
            echo.take_table(),
            None,
            "the same nonce again changes nothing"
        );
        echo.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(echo.take_table(), None, "the window was extended");
        echo.handle_timeout(t0 + Duration::from_secs(3));
        assert_eq!(echo.take_table().unwrap().outgoing(rloc()), None);
        assert_eq!(echo.poll_timeout(), None);
    }

    #[test]
    fn forgotten_rlocs_are_no_longer_asked() {
        let (mut echo, t0) = machine();
        echo.add_capable(rloc(), t0);
        echo.handle_timeout(t0);
        let _ = echo.take_table();
        echo.retain_capable(|_| false);
        assert_eq!(echo.take_table().unwrap().outgoing(rloc()), None);
        assert_eq!(echo.poll_timeout(), None);
    }
}
