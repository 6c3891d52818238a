//! A per-sender message budget for unauthenticated senders (SMRs, Map-Requests to answer):
//! each address gets `per_sec` messages per one-second window. The table is bounded: when it is
//! full, senders whose window has ended are forgotten, and a new sender that still finds no room
//! is refused (an address flood cannot grow memory or evict everyone's limits).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct SenderLimit {
    per_sec: u32,
    capacity: usize,
    /// Messages taken in the sender's current window, and when it started.
    senders: HashMap<IpAddr, (u32, Instant)>,
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
        let window = Duration::from_secs(1);
        if !self.senders.contains_key(&sender) && self.senders.len() >= self.capacity {
            self.senders
                .retain(|_, (_, since)| now.saturating_duration_since(*since) < window);
            if self.senders.len() >= self.capacity {
                return false;
            }
        }
        let (taken, since) = self.senders.entry(sender).or_insert((0, now));
        if now.saturating_duration_since(*since) >= window {
            *taken = 0;
            *since = now;
        }
        if *taken >= self.per_sec {
            return false;
        }
        *taken += 1;
        true
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
