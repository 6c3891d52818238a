//! Registration expiry as timers: a min-heap of due times, one entry per registration, so idle
//! cost does not grow with the number of registrations. A refresh does not touch the heap: when
//! an entry comes due for a registration refreshed since, it is pushed again at its new expiry.
//! Due times are rounded up to whole seconds so that expiries batch into at most one wake-up a
//! second.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crate::prefix_map::Key;

use super::Registrant;

/// A registration's place in the timers.
pub type Slot = (Key, Registrant);

#[derive(Debug)]
pub struct Expiry {
    origin: Instant,
    heap: BinaryHeap<Reverse<(Instant, Slot)>>,
}

impl Expiry {
    pub fn new(origin: Instant) -> Self {
        Self {
            origin,
            heap: BinaryHeap::new(),
        }
    }

    /// `at` rounded up to the next whole second after the origin.
    fn tick(&self, at: Instant) -> Instant {
        let since = at.saturating_duration_since(self.origin);
        let secs = since.as_secs() + u64::from(since.subsec_nanos() > 0);
        self.origin + Duration::from_secs(secs)
    }

    /// Schedules a check of `slot` at `at`.
    pub fn schedule(&mut self, slot: Slot, at: Instant) {
        let due = self.tick(at);
        self.heap.push(Reverse((due, slot)));
    }

    /// The next due check.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((due, _))| *due)
    }

    /// Takes one check due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Slot> {
        if self.next()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse((_, slot))| slot)
    }

    pub fn pending(&self) -> usize {
        self.heap.len()
    }
}
