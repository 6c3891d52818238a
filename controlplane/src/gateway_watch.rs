//! Whether each uplink's gateways answer. A port whose link is up can still lead nowhere (the
//! router behind it is gone, or a virtual link's far end went down without the PMD noticing), so
//! each watched gateway is asked (ARP/neighbour solicitation) every [`GatewayTimers::interval`]
//! and counts as down after [`GatewayTimers::misses`] questions in a row go unanswered; any frame
//! from it brings it back. I/O-free: the runner sends the probes and reports what it hears.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A gateway on a port: (port id, address).
pub type Gateway = (u16, IpAddr);

/// How often gateways are asked and how many unanswered questions make one down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayTimers {
    pub interval: Duration,
    pub misses: u32,
}

impl Default for GatewayTimers {
    /// Down within about a second (3 × 300 ms), at about three ARPs a second per gateway.
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(300),
            misses: 3,
        }
    }
}

#[derive(Debug)]
struct Watched {
    gateway: Gateway,
    alive: bool,
    unanswered: u32,
    next_probe: Instant,
}

/// The watch over every gateway.
#[derive(Debug, Default)]
pub struct GatewayWatch {
    timers: GatewayTimers,
    watched: Vec<Watched>,
    probes: VecDeque<Gateway>,
    changes: VecDeque<(Gateway, bool)>,
}

impl GatewayWatch {
    pub fn new(timers: GatewayTimers) -> Self {
        Self {
            timers,
            ..Self::default()
        }
    }

    /// Starts watching `gateway`, alive until shown otherwise; the first question goes at `now`.
    pub fn watch(&mut self, gateway: Gateway, now: Instant) {
        if self.watched.iter().any(|w| w.gateway == gateway) {
            return;
        }
        self.watched.push(Watched {
            gateway,
            alive: true,
            unanswered: 0,
            next_probe: now,
        });
    }

    /// Whether `gateway` answers (an unwatched one is taken as alive).
    pub fn is_alive(&self, gateway: Gateway) -> bool {
        self.watched
            .iter()
            .find(|w| w.gateway == gateway)
            .is_none_or(|w| w.alive)
    }

    /// A frame from `gateway` arrived (an answer, or a question of its own).
    pub fn heard(&mut self, gateway: Gateway) {
        let Some(watched) = self.watched.iter_mut().find(|w| w.gateway == gateway) else {
            return;
        };
        watched.unanswered = 0;
        if !watched.alive {
            watched.alive = true;
            self.changes.push_back((gateway, true));
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.watched.iter().map(|w| w.next_probe).min()
    }

    /// Asks every gateway that is due; one that left too many questions unanswered goes down.
    pub fn handle_timeout(&mut self, now: Instant) {
        for watched in self.watched.iter_mut().filter(|w| w.next_probe <= now) {
            if watched.unanswered >= self.timers.misses && watched.alive {
                watched.alive = false;
                self.changes.push_back((watched.gateway, false));
            }
            watched.unanswered = watched.unanswered.saturating_add(1);
            watched.next_probe = now + self.timers.interval;
            self.probes.push_back(watched.gateway);
        }
    }

    /// The next gateway to ask.
    pub fn poll_probe(&mut self) -> Option<Gateway> {
        self.probes.pop_front()
    }

    /// The next gateway that went down (`false`) or came back (`true`).
    pub fn poll_change(&mut self) -> Option<(Gateway, bool)> {
        self.changes.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_takes_a_gateway_down_and_any_frame_brings_it_back() {
        let t0 = Instant::now();
        let gateway = (1, "192.0.2.254".parse().unwrap());
        let mut watch = GatewayWatch::new(GatewayTimers::default());
        watch.watch(gateway, t0);
        let mut now = t0;
        let mut asked = 0;
        while watch.is_alive(gateway) {
            now = watch.poll_timeout().unwrap();
            watch.handle_timeout(now);
            while watch.poll_probe().is_some() {
                asked += 1;
            }
            assert!(now - t0 < Duration::from_secs(2), "still alive at {now:?}");
        }
        assert_eq!(asked, 4, "three unanswered, then down at the fourth");
        assert_eq!(now - t0, Duration::from_millis(900));
        assert_eq!(watch.poll_change(), Some((gateway, false)));
        watch.heard(gateway);
        assert!(watch.is_alive(gateway));
        assert_eq!(watch.poll_change(), Some((gateway, true)));
        assert_eq!(watch.poll_change(), None);
    }

    #[test]
    fn answers_keep_a_gateway_alive() {
        let t0 = Instant::now();
        let gateway = (0, "2001:db8::1".parse().unwrap());
        let mut watch = GatewayWatch::new(GatewayTimers::default());
        watch.watch(gateway, t0);
        watch.watch(gateway, t0);
        for i in 0..20 {
            watch.handle_timeout(t0 + Duration::from_millis(300 * i));
            assert_eq!(watch.poll_probe(), Some(gateway));
            assert_eq!(watch.poll_probe(), None, "watched once");
            watch.heard(gateway);
        }
        assert!(watch.is_alive(gateway));
        assert_eq!(watch.poll_change(), None);
        assert!(watch.is_alive((0, "2001:db8::2".parse().unwrap())));
    }
}
