//! How long the control loop's turns take. A long turn delays every Map-Request answer, punted
//! packet and neighbour reply behind it, so the longest is kept (since start, and over the last
//! ten to twenty seconds) and exported with the other statistics.

use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(10);

/// The figures exported.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LoopStats {
    pub turns: u64,
    pub longest_turn_us: u64,
    /// The longest turn in the current and the previous ten-second window.
    pub longest_recent_turn_us: u64,
}

#[derive(Debug)]
pub struct LoopTimer {
    stats: LoopStats,
    window_start: Instant,
    current: u64,
    previous: u64,
}

impl LoopTimer {
    pub fn new(now: Instant) -> Self {
        Self {
            stats: LoopStats::default(),
            window_start: now,
            current: 0,
            previous: 0,
        }
    }

    /// A turn that began at `started` ended at `now`.
    pub fn record(&mut self, started: Instant, now: Instant) {
        if now.saturating_duration_since(self.window_start) >= WINDOW {
            self.previous = self.current;
            self.current = 0;
            self.window_start = now;
        }
        let us =
            u64::try_from(now.saturating_duration_since(started).as_micros()).unwrap_or(u64::MAX);
        self.current = self.current.max(us);
        self.stats.turns += 1;
        self.stats.longest_turn_us = self.stats.longest_turn_us.max(us);
        self.stats.longest_recent_turn_us = self.current.max(self.previous);
    }

    pub fn stats(&self) -> LoopStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recent_longest_turn_ages_out_the_overall_one_stays() {
        let t0 = Instant::now();
        let mut timer = LoopTimer::new(t0);
        timer.record(t0, t0 + Duration::from_millis(30));
        timer.record(
            t0 + Duration::from_secs(1),
            t0 + Duration::from_secs(1) + Duration::from_micros(5),
        );
        assert_eq!(timer.stats().longest_recent_turn_us, 30_000);
        let later = t0 + Duration::from_secs(25);
        timer.record(later, later + Duration::from_micros(7));
        timer.record(
            later + Duration::from_secs(11),
            later + Duration::from_secs(11) + Duration::from_micros(9),
        );
        let stats = timer.stats();
        assert_eq!((stats.turns, stats.longest_turn_us), (4, 30_000));
        assert_eq!(stats.longest_recent_turn_us, 9);
    }
}
