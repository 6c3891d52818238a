//! Word storage shared by data cores (readers) and the control core (writer).
//!
//! Readers load words with `Relaxed` ordering (a plain `mov` on x86); what they may see is ordered
//! by a release/acquire pair on whatever publishes the data (a root selector).

use std::sync::atomic::{AtomicU32, Ordering};

/// Fixed-capacity word array. Never reallocates, so readers' indices stay valid.
#[derive(Debug)]
pub struct Words(Box<[AtomicU32]>);

impl Words {
    /// `len` zero words, from zeroed memory the OS maps in as it is first written: capacity
    /// (an arena sized for a full map-cache) costs address space until used.
    pub fn new(len: usize) -> Self {
        Self(bytemuck::allocation::zeroed_slice_box(len))
    }

    /// Word `i`, or `fallback` outside the array (a reader that broke the QSBR rules gets a wrong
    /// answer, never a panic).
    #[inline(always)]
    pub fn get_or(&self, i: usize, fallback: u32) -> u32 {
        match self.0.get(i) {
            Some(word) => word.load(Ordering::Relaxed),
            None => fallback,
        }
    }

    /// Starts loading the cache line of word `i` without waiting for it, so that a burst's
    /// misses overlap (nothing outside the array).
    #[inline(always)]
    pub fn prefetch(&self, i: usize) {
        if i < self.0.len() {
            prefetch_index::prefetch_index(&self.0[..], i);
        }
    }

    #[inline]
    pub fn set(&self, i: usize, value: u32) {
        self.0[i].store(value, Ordering::Relaxed);
    }
}
