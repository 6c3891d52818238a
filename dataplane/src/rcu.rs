//! Quiescent-state-based reclamation (the scheme of DPDK's `rte_rcu_qsbr`), in safe Rust.
//!
//! Each data core owns a [`QsbrReader`] and calls [`QsbrReader::quiescent`] once per poll loop,
//! when it holds no reference into published data: one load and one store to its own cache line,
//! no read-modify-write. The writer (control core) takes a token after publishing a change and
//! reuses memory of the old version only once every online reader has reported a quiescent state
//! at or after that token. Views into published data borrow the reader, so the borrow checker
//! refuses a quiescent report while a view is still alive.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::utils::CachePadded;

/// A reader that is not running (stopped, or idle and promised not to read).
const OFFLINE: u64 = 0;

/// One reclamation domain shared by the writer and every data core.
#[derive(Debug)]
pub struct Qsbr {
    epoch: CachePadded<AtomicU64>,
    slots: Box<[CachePadded<AtomicU64>]>,
    claimed: Box<[AtomicBool]>,
}

/// Registration failed: every reader slot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyReaders(pub usize);

impl std::fmt::Display for TooManyReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "all {} QSBR reader slots are taken", self.0)
    }
}

impl std::error::Error for TooManyReaders {}

impl Qsbr {
    /// A domain for at most `max_readers` data cores.
    pub fn new(max_readers: usize) -> Arc<Self> {
        Arc::new(Self {
            epoch: CachePadded::new(AtomicU64::new(1)),
            slots: (0..max_readers)
                .map(|_| CachePadded::new(AtomicU64::new(OFFLINE)))
                .collect(),
            claimed: (0..max_readers).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    /// Registers a reader, online from now on.
    pub fn register(self: &Arc<Self>) -> Result<QsbrReader, TooManyReaders> {
        let slot = self
            .claimed
            .iter()
            .position(|c| {
                c.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })
            .ok_or(TooManyReaders(self.slots.len()))?;
        let mut reader = QsbrReader {
            domain: self.clone(),
            slot,
        };
        reader.online();
        Ok(reader)
    }

    /// Starts a grace period after a publication; returns its token.
    pub fn start(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// True when every online reader has been quiescent since `token` was taken.
    pub fn check(&self, token: u64) -> bool {
        self.slots.iter().all(|s| {
            let seen = s.load(Ordering::Acquire);
            seen == OFFLINE || seen >= token
        })
    }

    /// Waits until [`check`](Self::check) passes or `timeout` elapses; returns whether it passed.
    pub fn synchronize(&self, token: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut spins = 0u32;
        while !self.check(token) {
            if Instant::now() >= deadline {
                return false;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        true
    }

    /// Readers currently online.
    pub fn online_readers(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.load(Ordering::Relaxed) != OFFLINE)
            .count()
    }
}

/// A data core's registration. Dropping it takes the reader offline and frees its slot.
#[derive(Debug)]
pub struct QsbrReader {
    domain: Arc<Qsbr>,
    slot: usize,
}

impl QsbrReader {
    /// Reports that this core holds no reference into published data (once per poll loop).
    #[inline]
    pub fn quiescent(&mut self) {
        let epoch = self.domain.epoch.load(Ordering::Acquire);
        self.domain.slots[self.slot].store(epoch, Ordering::Release);
    }

    /// Stops taking part (an idle core); the writer no longer waits for it.
    pub fn offline(&mut self) {
        self.domain.slots[self.slot].store(OFFLINE, Ordering::Release);
    }

    /// Takes part again; must be called before reading after [`offline`](Self::offline).
    pub fn online(&mut self) {
        self.quiescent();
    }
}

impl Drop for QsbrReader {
    fn drop(&mut self) {
        self.offline();
        self.domain.claimed[self.slot].store(false, Ordering::Release);
    }
}

/// Things retired by a writer, reusable once the grace period of the publication that made them
/// unreachable has passed.
#[derive(Debug)]
pub struct Retired<T> {
    current: Vec<T>,
    waiting: Vec<(u64, Vec<T>)>,
}

impl<T> Default for Retired<T> {
    fn default() -> Self {
        Self {
            current: Vec::new(),
            waiting: Vec::new(),
        }
    }
}

impl<T> Retired<T> {
    /// Retires `item`: still readable until the next publication's grace period ends.
    pub fn retire(&mut self, item: T) {
        self.current.push(item);
    }

    /// Closes the batch retired since the last publication under `token`.
    pub fn published(&mut self, token: u64) {
        if !self.current.is_empty() {
            self.waiting
                .push((token, std::mem::take(&mut self.current)));
        }
    }

    /// Items whose grace period has passed (non-blocking).
    pub fn reclaim(&mut self, qsbr: &Qsbr) -> Vec<T> {
        let mut ready = Vec::new();
        self.waiting.retain_mut(|(token, items)| {
            let done = qsbr.check(*token);
            if done {
                ready.append(items);
            }
            !done
        });
        ready
    }

    /// Items retired and not yet reusable.
    pub fn len(&self) -> usize {
        self.current.len()
            + self
                .waiting
                .iter()
                .map(|(_, items)| items.len())
                .sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_period_waits_for_every_online_reader() {
        let qsbr = Qsbr::new(2);
        let mut a = qsbr.register().unwrap();
        let mut b = qsbr.register().unwrap();
        assert!(qsbr.register().is_err());
        let token = qsbr.start();
        assert!(!qsbr.check(token));
        a.quiescent();
        assert!(!qsbr.check(token), "b has not reported");
        b.offline();
        assert!(qsbr.check(token), "offline readers are not waited for");
        b.online();
        let token = qsbr.start();
        b.quiescent();
        assert!(
            !qsbr.synchronize(token, Duration::from_millis(5)),
            "a is still behind"
        );
        a.quiescent();
        assert!(qsbr.synchronize(token, Duration::from_millis(5)));
        drop(a);
        assert_eq!(qsbr.online_readers(), 1);
        assert!(qsbr.register().is_ok(), "a dropped reader frees its slot");
    }

    #[test]
    fn retired_items_come_back_after_their_grace_period() {
        let qsbr = Qsbr::new(1);
        let mut reader = qsbr.register().unwrap();
        let mut retired = Retired::default();
        retired.retire(1);
        retired.published(qsbr.start());
        retired.retire(2);
        assert!(
            retired.reclaim(&qsbr).is_empty(),
            "reader not quiescent yet"
        );
        reader.quiescent();
        assert_eq!(retired.reclaim(&qsbr), vec![1]);
        assert_eq!(retired.len(), 1, "2 waits for the next publication");
    }
}
