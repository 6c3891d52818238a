//! Rate limits with explicit time: a [`Budget`] of so many events per one-second window, and a
//! [`SenderLimit`] that gives each unauthenticated sender (SMRs, Map-Requests to answer) a
//! budget of its own in a bounded table: when it is full, senders whose window has ended are
//! forgotten, and a new sender that still finds no room is refused (an address flood cannot grow
//! memory or evict everyone's limits).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

/// At most `per_sec` events in each one-second window (the first event opens one).
#[derive(Debug, Clone)]
pub struct Budget {
    per_sec: u32,
    used: u32,
    since: Option<Instant>,
}

impl Budget {
    pub fn new(per_sec: u32) -> Self {
        Self {
            per_sec,
            used: 0,
            since: None,
        }
    }

    /// Spends one event at `now` when the window has one left.
    pub fn take(&mut self, now: Instant) -> bool {
        let since = *self.since.get_or_insert(now);
        if now.saturating_duration_since(since) >= WINDOW {
            self.used = 0;
            self.since = Some(now);
        }
        if self.used >= self.per_sec {
            return false;
        }
        self.used += 1;
        true
    }

    /// When the current window ends (`now` plus a window before the first event).
    pub fn refill(&self, now: Instant) -> Instant {
        self.since.unwrap_or(now) + WINDOW
    }
}

#[derive(Debug)]
pub struct SenderLimit {
    per_sec: u32,
    capacity: usize,
    senders: HashMap<IpAddr, Budget>,
}

impl SenderLimit {
    pub fn new(per_sec: u32, capacity: usize) -> Self {
        Self {
            per_sec,
            capacity,
            senders: HashMap::new(),
        }
    }

    /// Whether `sender` may have one more message at `now` (it is counted when it may).
    pub fn admit(&mut self, sender: IpAddr, now: Instant) -> bool {
        if !self.senders.contains_key(&sender) && self.senders.len() >= self.capacity {
            self.senders.retain(|_, budget| budget.refill(now) > now);
            if self.senders.len() >= self.capacity {
                return false;
            }
        }
        let per_sec = self.per_sec;
        self.senders
            .entry(sender)
            .or_insert_with(|| Budget::new(per_sec))
            .take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sender_has_its_own_budget_and_the_table_stays_bounded() {
        let t0 = Instant::now();
        let mut limit = SenderLimit::new(2, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limit.admit(a, t0) && limit.admit(a, t0));
        assert!(!limit.admit(a, t0), "third in the window");
        for last in 2..4u8 {
            assert!(limit.admit(IpAddr::from([192, 0, 2, last]), t0));
        }
        assert!(
            !limit.admit("192.0.2.9".parse().unwrap(), t0),
            "table full of live windows"
        );
        let later = t0 + Duration::from_secs(1);
        assert!(limit.admit("192.0.2.9".parse().unwrap(), later));
        assert!(limit.admit(a, later), "a new window");
    }
}
