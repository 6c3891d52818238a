//! Unix time for machines that run on [`Instant`]: the runner reads both clocks once and hands
//! the pair in, so machines never read a clock themselves and tests choose any wall time.

use std::time::{Duration, Instant, SystemTime};

/// The Unix time that corresponds to an [`Instant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    anchor: Instant,
    unix_at_anchor: Duration,
}

impl WallClock {
    /// `anchor` happened at `unix_at_anchor` since the Unix epoch.
    pub fn new(anchor: Instant, unix_at_anchor: Duration) -> Self {
        Self {
            anchor,
            unix_at_anchor,
        }
    }

    /// Both clocks read now (for runners).
    pub fn system() -> Self {
        let unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Self::new(Instant::now(), unix)
    }

    /// Unix seconds at `now`.
    pub fn unix_secs(&self, now: Instant) -> u64 {
        let unix = match now.checked_duration_since(self.anchor) {
            Some(after) => self.unix_at_anchor + after,
            None => self
                .unix_at_anchor
                .saturating_sub(self.anchor.duration_since(now)),
        };
        unix.as_secs()
    }
}
