//! Longest-prefix match for IPv4 and IPv6 keys: lock-free lookups from every data core while one
//! writer (the control core) inserts and deletes.
//!
//! Layout: the top 16 bits of the key index a direct root; below it each 8-bit stride is a node
//! compressed to one slot per run of equal sub-blocks (popcount-ranked bitmap), stored in one flat
//! arena of words with nodes aligned to cache lines. An IPv4 /24 lookup reads one root entry and
//! one or two lines; a BGP-like table of 1M IPv4 prefixes takes about 14 MiB (DIR-24-8: 64 MiB).
//! Measured on the 2-vCPU VM (bench `lpm`): random reads beyond ~4 MiB cost DRAM latency there,
//! so this layout and Poptrie's 18/6 geometry (also tried) perform alike; what matters is how
//! many of a burst's misses are in flight at once (see [`LpmView::lookup_burst`]).
//!
//! Tables: one LPM holds several independent tables (one per instance-id, the EID space of a
//! VPN): each has its own root, all share the arena, so a table costs only its root (256 KiB).
//!
//! Publication: the writer builds changed nodes in free arena space (copying only the path from
//! the root), edits the *inactive* one of two roots, and flips a selector; a data core loads the
//! selector once per burst, so a batch of updates appears at once, never half. Old nodes are
//! reused only after a QSBR grace period ([`crate::rcu`]).

mod arena;
mod node;
mod writer;

pub use arena::ArenaFull;
pub use node::MAX_VALUE;
pub use writer::{LpmError, LpmWriter};

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::words::Words;
use node::{Layout, CHILD, INHERIT};

use crate::rcu::QsbrReader;

/// Keys are left-aligned in a u128: IPv4 `a.b.c.d` is `u128::from(u32) << 96`.
pub type Key = u128;

/// The key of an IPv4 address.
#[inline]
pub fn ipv4_key(addr: Ipv4Addr) -> Key {
    u128::from(u32::from(addr)) << 96
}

/// The key of an IPv6 address.
#[inline]
pub fn ipv6_key(addr: Ipv6Addr) -> Key {
    u128::from(addr)
}

/// Keeps the top `len` bits of `key`.
#[inline]
pub fn mask(key: Key, len: u8) -> Key {
    if len == 0 {
        0
    } else {
        key & (u128::MAX << (128 - u32::from(len.min(128))))
    }
}

/// 16-bit root, 8-bit strides: an IPv4 /24 in one node, an IPv6 /48 in four.
const LAYOUT: Layout = Layout::new(16, 8);

/// The shared part: arena, two sets of roots and the selector of the published one.
#[derive(Debug)]
pub struct Lpm {
    words: Words,
    /// Table `t`'s root entries are `roots[_][t << root_bits..][..1 << root_bits]`.
    roots: [Words; 2],
    active: AtomicU32,
    bits: u8,
    tables: usize,
    layout: Layout,
}

impl Lpm {
    fn new(bits: u8, tables: usize, capacity_words: usize) -> Self {
        let layout = LAYOUT;
        let entries = tables << layout.root_bits;
        let roots = [Words::new(entries), Words::new(entries)];
        for root in &roots {
            for i in 0..entries {
                root.set(i, INHERIT);
            }
        }
        Self {
            words: Words::new(capacity_words),
            roots,
            active: AtomicU32::new(0),
            bits,
            tables,
            layout,
        }
    }

    /// Key width (32 or 128).
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The published version, for the lifetime of a borrow of the core's QSBR registration: the
    /// core cannot report a quiescent state while the view is alive.
    #[inline]
    pub fn view<'a>(&'a self, _reader: &'a QsbrReader) -> LpmView<'a> {
        self.view_unregistered()
    }

    /// A view for the writer itself or for single-threaded use.
    #[inline]
    fn view_unregistered(&self) -> LpmView<'_> {
        let active = self.active.load(Ordering::Acquire) as usize & 1;
        LpmView {
            root: &self.roots[active],
            tables: self.tables,
            words: &self.words,
            max_depth: u32::from(self.bits),
            layout: self.layout,
        }
    }
}

/// One published version, as a data core sees it during a burst.
#[derive(Debug, Clone, Copy)]
pub struct LpmView<'a> {
    root: &'a Words,
    tables: usize,
    words: &'a Words,
    max_depth: u32,
    layout: Layout,
}

impl LpmView<'_> {
    /// How many tables there are.
    #[inline]
    pub fn tables(&self) -> usize {
        self.tables
    }

    /// The root entry of `key` in `table` (INHERIT, so "no match", for a table that does not exist).
    #[inline(always)]
    fn root_entry(&self, table: usize, key: Key) -> u32 {
        let layout = self.layout;
        let index = table.saturating_mul(1 << layout.root_bits) | layout.root_index(key);
        self.root.get_or(index, INHERIT)
    }

    /// The value of the longest prefix covering `key` in `table`.
    #[inline]
    pub fn lookup(&self, table: usize, key: Key) -> Option<u32> {
        let layout = self.layout;
        let mut entry = self.root_entry(table, key);
        let mut best = INHERIT;
        let mut depth = layout.root_bits;
        while entry & CHILD != 0 && depth < self.max_depth {
            let node = (entry & !CHILD) as usize;
            let header = node::read_header(layout, self.words, node, layout.index(key, depth));
            if header.background != INHERIT {
                best = header.background;
            }
            entry = self.words.get_or(
                node::slot_offset(layout, node, layout.index(key, depth), header),
                INHERIT,
            );
            depth += layout.stride;
        }
        if entry & CHILD == 0 && entry != INHERIT {
            best = entry;
        }
        (best != INHERIT).then_some(best)
    }

    /// Looks up a burst level by level across all keys. Each level first touches every key's
    /// node and then its slot in passes of a few instructions per key, so the whole burst's cache
    /// misses are in flight together (a safe stand-in for prefetching: the pass fits in the
    /// reorder buffer), and only then does the work that depends on them.
    /// Results go to `out[..keys.len()]`; each key is looked up in its own table.
    pub fn lookup_burst(&self, keys: &[(usize, Key)], out: &mut [Option<u32>]) {
        const MAX: usize = 64;
        for (keys, out) in keys.chunks(MAX).zip(out.chunks_mut(MAX)) {
            let n = keys.len();
            let mut entry = [INHERIT; MAX];
            let mut best = [INHERIT; MAX];
            let mut slot_at = [usize::MAX; MAX];
            let layout = self.layout;
            for (e, &(table, key)) in entry.iter_mut().zip(keys) {
                *e = self.root_entry(table, key);
            }
            let mut depth = layout.root_bits;
            while depth < self.max_depth && entry[..n].iter().any(|e| e & CHILD != 0) {
                let mut touched = 0;
                for &e in &entry[..n] {
                    if e & CHILD != 0 {
                        touched ^= self.words.get_or((e & !CHILD) as usize, 0);
                    }
                }
                for (((e, b), at), key) in entry
                    .iter()
                    .zip(best.iter_mut())
                    .zip(slot_at.iter_mut())
                    .zip(keys.iter().map(|&(_, key)| key))
                {
                    *at = usize::MAX;
                    if e & CHILD != 0 {
                        let node = (e & !CHILD) as usize;
                        let index = layout.index(key, depth);
                        let header = node::read_header(layout, self.words, node, index);
                        if header.background != INHERIT {
                            *b = header.background;
                        }
                        *at = node::slot_offset(layout, node, index, header);
                    }
                }
                for &at in &slot_at[..n] {
                    touched ^= self.words.get_or(at, 0);
                }
                std::hint::black_box(touched);
                for (e, &at) in entry.iter_mut().zip(&slot_at[..n]) {
                    if at != usize::MAX {
                        *e = self.words.get_or(at, INHERIT);
                    }
                }
                depth += layout.stride;
            }
            for ((o, &e), &b) in out.iter_mut().zip(&entry).zip(&best) {
                let value = if e & CHILD == 0 && e != INHERIT { e } else { b };
                *o = (value != INHERIT).then_some(value);
            }
        }
    }
}
