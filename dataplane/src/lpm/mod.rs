//! Longest-prefix match for IPv4 and IPv6 keys: lock-free lookups from every data core while one
//! writer (the control core) inserts and deletes.
//!
//! Layout: the top 16 bits of the key index a direct root; below it each 8-bit stride is a node
//! compressed to one slot per run of equal sub-blocks (popcount-ranked bitmap), stored in one flat
//! arena of words with nodes aligned to cache lines. An IPv4 /24 lookup reads one root entry and
//! one or two lines; a BGP-like table of 1M IPv4 prefixes takes about 14 MiB (DIR-24-8: 64 MiB).
//! Measured on the 2-vCPU VM (benches `lpm`, `memory`): a burst's overlapped random reads cost
//! 2–3 cycles each within 8 MiB, ~8 at 16 MiB and 15–20 from 32 MiB on, so this layout, Poptrie's
//! 18/6 geometry and a leaf-pushed variant with uncompressed nodes (one line per level, 67 MiB;
//! also tried) perform alike; what matters is how many of a burst's misses are in flight at once,
//! which prefetching decides (see [`LpmView::lookup_burst`]).
//!
//! Tables: one LPM holds several independent tables (one per instance-id, the EID space of a
//! VPN), all sharing the arena. The first [`DIRECT_TABLES`] (the default instance and the lowest
//! instance-ids) have the 16-bit direct root (256 KiB each); any further table has an 8-bit root
//! (1 KiB) and one more node level on its lookups, so a thousand tenants cost megabytes, not
//! gigabytes.
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
/// The root width of tables beyond the direct ones.
const COMPACT_ROOT_BITS: u32 = 8;
/// Tables with a direct (16-bit) root; the rest have compact (8-bit) ones.
pub const DIRECT_TABLES: usize = 16;
// One node level takes a compact table's lookup to where a direct root leaves off.
const _: () = assert!(COMPACT_ROOT_BITS + LAYOUT.stride == LAYOUT.root_bits);

/// Where tables' root entries are: direct tables first, then compact ones.
#[derive(Debug, Clone, Copy)]
struct RootLayout {
    direct: usize,
}

impl RootLayout {
    fn for_tables(tables: usize) -> Self {
        Self {
            direct: tables.min(DIRECT_TABLES),
        }
    }

    /// Whether `table` has a compact root.
    #[inline(always)]
    fn is_compact(self, table: usize) -> bool {
        table >= self.direct
    }

    /// Root entries of `tables` tables.
    fn entries(self, tables: usize) -> usize {
        (self.direct << LAYOUT.root_bits) + ((tables - self.direct) << COMPACT_ROOT_BITS)
    }

    /// Where `table`'s root starts and how many key bits it indexes. A table that does not
    /// exist starts beyond every root (its lookups find nothing).
    #[inline(always)]
    fn root(self, table: usize) -> (usize, u32) {
        if table < self.direct {
            (table << LAYOUT.root_bits, LAYOUT.root_bits)
        } else {
            let compact = (table - self.direct).saturating_mul(1 << COMPACT_ROOT_BITS);
            (
                (self.direct << LAYOUT.root_bits).saturating_add(compact),
                COMPACT_ROOT_BITS,
            )
        }
    }

    /// The root entry of `key` in `table` and the depth its lookup goes on from. Shifts by
    /// constants: a u128 shift by a variable amount costs several instructions per key.
    #[inline(always)]
    fn entry_of(self, table: usize, key: Key) -> (usize, u32) {
        if table < self.direct {
            let index = (key >> (128 - LAYOUT.root_bits)) as usize;
            ((table << LAYOUT.root_bits) | index, LAYOUT.root_bits)
        } else {
            let (base, _) = self.root(table);
            let index = (key >> (128 - COMPACT_ROOT_BITS)) as usize;
            (base.saturating_add(index), COMPACT_ROOT_BITS)
        }
    }
}

/// Root entries, stored XORed with [`INHERIT`] so that zeroed memory reads as "no prefix":
/// the roots come from memory the OS maps in as it is first touched, and the tables of
/// instances that have nothing in them, or do not exist yet, cost no resident memory.
#[derive(Debug)]
struct Roots(Words);

impl Roots {
    fn new(entries: usize) -> Self {
        Self(Words::new(entries))
    }

    /// Entry `i` (`INHERIT` beyond the roots).
    #[inline(always)]
    fn get(&self, i: usize) -> u32 {
        self.0.get_or(i, 0) ^ INHERIT
    }

    #[inline]
    fn set(&self, i: usize, entry: u32) {
        self.0.set(i, entry ^ INHERIT);
    }
}

/// The shared part: arena, two sets of roots and the selector of the published one.
#[derive(Debug)]
pub struct Lpm {
    words: Words,
    /// Each table's root entries, placed by `layout`.
    roots: [Roots; 2],
    active: AtomicU32,
    bits: u8,
    tables: usize,
    layout: RootLayout,
}

impl Lpm {
    fn new(bits: u8, tables: usize, capacity_words: usize) -> Self {
        let layout = RootLayout::for_tables(tables);
        let entries = layout.entries(tables);
        let roots = [Roots::new(entries), Roots::new(entries)];
        Self {
            words: Words::new(capacity_words),
            roots,
            active: AtomicU32::new(0),
            bits,
            tables,
            layout,
        }
    }

    /// Bytes of the two root copies (every table's, whether it holds prefixes or not; mapped in
    /// as touched).
    pub fn root_bytes(&self) -> usize {
        2 * 4 * self.layout.entries(self.tables)
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
            words: &self.words,
            max_depth: u32::from(self.bits),
            layout: self.layout,
        }
    }
}

/// One published version, as a data core sees it during a burst.
#[derive(Debug, Clone, Copy)]
pub struct LpmView<'a> {
    root: &'a Roots,
    words: &'a Words,
    max_depth: u32,
    layout: RootLayout,
}

impl LpmView<'_> {
    /// The value of the longest prefix covering `key` in `table`.
    #[inline]
    pub fn lookup(&self, table: usize, key: Key) -> Option<u32> {
        let (index, mut depth) = self.layout.entry_of(table, key);
        let mut entry = self.root.get(index);
        let mut best = INHERIT;
        while entry & CHILD != 0 && depth < self.max_depth {
            entry = self
                .words
                .get_or(self.slot_of(entry, key, depth, &mut best), INHERIT);
            depth += LAYOUT.stride;
        }
        found(entry, best)
    }

    /// One level of a lookup: in the node `entry` points at (at `depth`), records the node's
    /// background in `best` and returns where `key`'s slot is.
    #[inline(always)]
    fn slot_of(&self, entry: u32, key: Key, depth: u32, best: &mut u32) -> usize {
        let node = (entry & !CHILD) as usize;
        let index = LAYOUT.index(key, depth);
        let header = node::read_header(LAYOUT, self.words, node, index);
        if header.background != INHERIT {
            *best = header.background;
        }
        node::slot_offset(LAYOUT, node, index, header)
    }

    /// Looks up a burst level by level across all keys, the way DPDK's bulk lookups hide memory
    /// latency: each pass reads, for every key, what the previous pass prefetched (root entry,
    /// node header, slot) and prefetches what that key needs next, so the burst's cache misses of
    /// one step are all in flight while the keys are worked through.
    /// Results go to `out[..keys.len()]`; each key is looked up in its own table.
    pub fn lookup_burst(&self, keys: &[(usize, Key)], out: &mut [Option<u32>]) {
        const MAX: usize = 32;
        for (keys, out) in keys.chunks(MAX).zip(out.chunks_mut(MAX)) {
            let n = keys.len();
            let mut entry = [INHERIT; MAX];
            let mut best = [INHERIT; MAX];
            // Per key, the slot to read next (usize::MAX when done).
            let mut at = [usize::MAX; MAX];
            // Keys of compact tables start at the compact root's depth: one pass brings them
            // level with the rest, which then go level by level together.
            let mut any_compact = false;
            for i in 0..n {
                let (table, key) = keys[i];
                let (index, from) = self.layout.entry_of(table, key);
                entry[i] = self.root.get(index);
                self.prefetch_node(entry[i]);
                any_compact |= from != LAYOUT.root_bits;
            }
            if any_compact {
                for i in 0..n {
                    if self.layout.is_compact(keys[i].0) && entry[i] & CHILD != 0 {
                        at[i] = self.slot_of(entry[i], keys[i].1, COMPACT_ROOT_BITS, &mut best[i]);
                        self.words.prefetch(at[i]);
                    }
                }
                for i in 0..n {
                    if at[i] != usize::MAX {
                        entry[i] = self.words.get_or(at[i], INHERIT);
                        self.prefetch_node(entry[i]);
                    }
                }
            }
            let mut depth = LAYOUT.root_bits;
            let mut pending = true;
            while pending && depth < self.max_depth {
                for i in 0..n {
                    at[i] = usize::MAX;
                    if entry[i] & CHILD != 0 {
                        at[i] = self.slot_of(entry[i], keys[i].1, depth, &mut best[i]);
                        self.words.prefetch(at[i]);
                    }
                }
                depth += LAYOUT.stride;
                pending = false;
                for (e, &at) in entry.iter_mut().zip(&at[..n]) {
                    if at != usize::MAX {
                        *e = self.words.get_or(at, INHERIT);
                        if depth < self.max_depth {
                            self.prefetch_node(*e);
                        }
                        pending |= *e & CHILD != 0;
                    }
                }
            }
            for ((o, &e), &b) in out.iter_mut().zip(&entry).zip(&best) {
                *o = found(e, b);
            }
        }
    }

    /// Starts loading the header of the node `entry` points at, if it points at one.
    #[inline(always)]
    fn prefetch_node(&self, entry: u32) {
        if entry & CHILD != 0 {
            self.words.prefetch((entry & !CHILD) as usize);
        }
    }
}

/// The answer of a lookup that ended on `entry` with `best` the last background on its way.
#[inline(always)]
fn found(entry: u32, best: u32) -> Option<u32> {
    let value = if entry & CHILD == 0 && entry != INHERIT {
        entry
    } else {
        best
    };
    (value != INHERIT).then_some(value)
}
