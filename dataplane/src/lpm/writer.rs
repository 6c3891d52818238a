//! The single writer: keeps every prefix, builds new nodes by copying the path from the root to
//! the changed stride, edits the inactive root and publishes by flipping the selector.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hashbrown::{HashMap, HashSet};

use super::arena::{Allocator, ArenaFull};
use super::node::{self, CHILD, INHERIT, MAX_VALUE};
use super::{mask, Key, Lpm, LpmView, LAYOUT};
use crate::rcu::{Qsbr, Retired};

/// Why an update was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpmError {
    /// The prefix length exceeds the key width.
    LengthTooLong { len: u8, bits: u8 },
    /// Values are 31 bits; the top ones are reserved.
    ValueTooLarge(u32),
    /// Bits are set beyond the prefix length.
    HostBitsSet,
    /// No room left in the arena; the prefix was not added.
    Full(ArenaFull),
    /// A data core did not report a quiescent state in time; nothing was changed.
    ReadersStalled,
    /// The table index is beyond the tables the LPM was created with.
    NoSuchTable { table: usize, tables: usize },
}

impl std::fmt::Display for LpmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LengthTooLong { len, bits } => {
                write!(f, "prefix length {len} exceeds {bits} bits")
            }
            Self::ValueTooLarge(v) => write!(f, "value {v} exceeds {MAX_VALUE}"),
            Self::HostBitsSet => write!(f, "host bits set beyond the prefix length"),
            Self::Full(full) => write!(f, "LPM arena full ({} words)", full.capacity),
            Self::ReadersStalled => write!(f, "a data core stopped reporting quiescent states"),
            Self::NoSuchTable { table, tables } => {
                write!(f, "LPM table {table} does not exist ({tables} tables)")
            }
        }
    }
}

impl std::error::Error for LpmError {}

/// How long the writer waits for data cores before giving up on an update.
const GRACE_TIMEOUT: Duration = Duration::from_secs(1);

/// A publication whose old root may still be read.
#[derive(Debug)]
struct Pending {
    token: u64,
    dirty: Vec<u32>,
}

/// The writer of one LPM (one per address family) and all its tables.
#[derive(Debug)]
pub struct LpmWriter {
    shared: Arc<Lpm>,
    qsbr: Arc<Qsbr>,
    alloc: Allocator,
    /// Every prefix: (table, key, length) to value. hashbrown's seeded foldhash rather than
    /// SipHash: an update probes this map once per prefix length of the strides it repaints.
    prefixes: HashMap<(usize, Key, u8), u32>,
    /// Root entries changed since the last publication.
    dirty: Vec<u32>,
    /// Nodes (offset, size) no longer reachable from the latest version.
    retired: Retired<(u32, u32)>,
    /// Nodes written since the last publication: no reader has seen them, so they can be
    /// reused at once when superseded (keeps a large batch, like the initial load, compact).
    fresh: HashSet<u32>,
    pending: Option<Pending>,
}

impl LpmWriter {
    /// `tables` empty tables for keys of `bits` bits (32 or 128) with room for `capacity_words`
    /// words of nodes between them (about 12 words per IPv4 prefix of a BGP-like table),
    /// reclaiming through `qsbr`.
    pub fn new(bits: u8, tables: usize, capacity_words: usize, qsbr: Arc<Qsbr>) -> Self {
        Self {
            shared: Arc::new(Lpm::new(bits, tables.max(1), capacity_words)),
            qsbr,
            alloc: Allocator::new(capacity_words),
            prefixes: HashMap::new(),
            dirty: Vec::new(),
            retired: Retired::default(),
            fresh: HashSet::new(),
            pending: None,
        }
    }

    /// The shared table, to hand to data cores.
    pub fn table(&self) -> Arc<Lpm> {
        self.shared.clone()
    }

    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// Words in live nodes (times 4 for bytes); the roots add [`Lpm::root_bytes`].
    pub fn used_words(&self) -> usize {
        self.alloc.used()
    }

    /// The value stored for exactly this prefix of `table`.
    pub fn get(&self, table: usize, key: Key, len: u8) -> Option<u32> {
        self.prefixes.get(&(table, key, len)).copied()
    }

    /// The published version as data cores see it (for the control core's own lookups).
    pub fn published(&self) -> LpmView<'_> {
        self.shared.view_unregistered()
    }

    fn check(&self, table: usize, key: Key, len: u8) -> Result<(), LpmError> {
        let (bits, tables) = (self.shared.bits, self.shared.tables);
        if table >= tables {
            return Err(LpmError::NoSuchTable { table, tables });
        }
        if len > bits {
            return Err(LpmError::LengthTooLong { len, bits });
        }
        if mask(key, len) != key {
            return Err(LpmError::HostBitsSet);
        }
        Ok(())
    }

    /// Inserts or replaces a prefix of `table` (visible after [`publish`](Self::publish));
    /// returns the previous value.
    pub fn insert(
        &mut self,
        table: usize,
        key: Key,
        len: u8,
        value: u32,
    ) -> Result<Option<u32>, LpmError> {
        self.check(table, key, len)?;
        if value > MAX_VALUE {
            return Err(LpmError::ValueTooLarge(value));
        }
        let old = self.prefixes.insert((table, key, len), value);
        if old == Some(value) {
            return Ok(old);
        }
        if let Err(e) = self.prepare().and_then(|()| self.repaint(table, key, len)) {
            match old {
                Some(v) => self.prefixes.insert((table, key, len), v),
                None => self.prefixes.remove(&(table, key, len)),
            };
            return Err(e);
        }
        Ok(old)
    }

    /// Removes a prefix of `table` (visible after [`publish`](Self::publish)); returns its value.
    pub fn remove(&mut self, table: usize, key: Key, len: u8) -> Result<Option<u32>, LpmError> {
        self.check(table, key, len)?;
        let Some(old) = self.prefixes.remove(&(table, key, len)) else {
            return Ok(None);
        };
        if let Err(e) = self.prepare().and_then(|()| self.repaint(table, key, len)) {
            self.prefixes.insert((table, key, len), old);
            return Err(e);
        }
        Ok(Some(old))
    }

    /// Makes every change since the last publication visible to data cores at once.
    pub fn publish(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let active = self.shared.active.load(Ordering::Relaxed);
        self.shared.active.store(active ^ 1, Ordering::Release);
        // Not clear(): that is O(capacity), and the initial load leaves a capacity in the millions.
        self.fresh = HashSet::new();
        let token = self.qsbr.start();
        self.retired.published(token);
        self.pending = Some(Pending {
            token,
            dirty: std::mem::take(&mut self.dirty),
        });
    }

    /// Before editing the inactive root again: wait until no core reads it, bring it level with
    /// the published one, and free what the last publication retired.
    fn prepare(&mut self) -> Result<(), LpmError> {
        let Some(pending) = &self.pending else {
            return Ok(());
        };
        if !self.qsbr.synchronize(pending.token, GRACE_TIMEOUT) {
            return Err(LpmError::ReadersStalled);
        }
        let pending = self.pending.take().expect("checked above");
        let active = self.shared.active.load(Ordering::Relaxed) as usize & 1;
        let (from, to) = (&self.shared.roots[active], &self.shared.roots[active ^ 1]);
        for &index in &pending.dirty {
            to.set(index as usize, from.get(index as usize));
        }
        for (offset, size) in self.retired.reclaim(&self.qsbr) {
            self.alloc.free(offset, size);
        }
        Ok(())
    }

    fn inactive(&self) -> &super::Roots {
        let active = self.shared.active.load(Ordering::Relaxed) as usize & 1;
        &self.shared.roots[active ^ 1]
    }

    /// The longest stored prefix of `table` with a length in `lengths` that covers `key`.
    fn best_of(&self, table: usize, key: Key, lengths: std::ops::RangeInclusive<u8>) -> u32 {
        lengths
            .rev()
            .find_map(|len| self.prefixes.get(&(table, mask(key, len), len)).copied())
            .unwrap_or(INHERIT)
    }

    fn set_root(&mut self, index: usize, entry: u32) {
        self.inactive().set(index, entry);
        self.dirty.push(index as u32);
    }

    fn retire(&mut self, node: usize) {
        let size = node::size(LAYOUT, &self.shared.words, node);
        if self.fresh.remove(&(node as u32)) {
            self.alloc.free(node as u32, size);
        } else {
            self.retired.retire((node as u32, size));
        }
    }

    fn write_node(&mut self, background: u32, blocks: &[u32]) -> Result<u32, LpmError> {
        let words = node::encode(LAYOUT, background, blocks);
        let offset = self
            .alloc
            .alloc(words.len() as u32)
            .map_err(LpmError::Full)?;
        for (i, &w) in words.iter().enumerate() {
            self.shared.words.set(offset as usize + i, w);
        }
        self.fresh.insert(offset);
        Ok(CHILD | offset)
    }

    /// A copy of `entry`'s node with another background (its children are shared).
    fn with_background(&mut self, entry: u32, background: u32) -> Result<u32, LpmError> {
        let node = (entry & !CHILD) as usize;
        if node::background(LAYOUT, &self.shared.words, node) == background {
            return Ok(entry);
        }
        let blocks = node::expand(LAYOUT, &self.shared.words, node);
        let copy = self.write_node(background, &blocks)?;
        self.retire(node);
        Ok(copy)
    }

    fn repaint(&mut self, table: usize, key: Key, len: u8) -> Result<(), LpmError> {
        let (base, bits) = self.shared.layout.root(table);
        let root_bits = bits as u8;
        let block_key = |index: usize| (index as u128) << (128 - bits);
        let first = (key >> (128 - bits)) as usize;
        if len <= root_bits {
            for index in first..first + (1usize << (root_bits - len)) {
                let painted = self.best_of(table, block_key(index), 0..=root_bits);
                let index = base + index;
                let entry = self.inactive().get(index);
                let entry = if entry & CHILD != 0 {
                    self.with_background(entry, painted)?
                } else {
                    painted
                };
                self.set_root(index, entry);
            }
        } else {
            let entry = self.inactive().get(base + first);
            let painted = self.best_of(table, block_key(first), 0..=root_bits);
            let block = (table, block_key(first), root_bits);
            let new = self.rebuild(entry, painted, block, key, len)?;
            self.set_root(base + first, new);
        }
        Ok(())
    }

    /// Rebuilds the block `base/depth` of `table` (currently `entry`: a value or a node) after
    /// `key/len` changed; returns the new entry. `painted` is what the parent stride paints over
    /// the block.
    fn rebuild(
        &mut self,
        entry: u32,
        painted: u32,
        (table, base, depth): (usize, Key, u8),
        key: Key,
        len: u8,
    ) -> Result<u32, LpmError> {
        let stride = LAYOUT.stride as u8;
        let old = (entry & CHILD != 0).then_some((entry & !CHILD) as usize);
        let mut blocks = old.map_or_else(
            || vec![INHERIT; LAYOUT.fanout()],
            |n| node::expand(LAYOUT, &self.shared.words, n),
        );
        let d = u32::from(depth);
        // Sub-blocks may extend past the key width (an IPv4 node at depth 30): they shift out.
        let block_base = |block: usize| {
            base | ((block as u128)
                .checked_shl(128 - d - LAYOUT.stride)
                .unwrap_or(0))
        };
        let deepest = (depth + stride).min(self.shared.bits);
        if len <= depth + stride {
            let first = LAYOUT.index(key, d);
            let count = 1usize << (depth + stride - len);
            for (block, slot) in blocks.iter_mut().enumerate().skip(first).take(count) {
                let value = self.best_of(table, block_base(block), depth + 1..=deepest);
                *slot = if *slot & CHILD != 0 {
                    self.with_background(*slot, value)?
                } else {
                    value
                };
            }
        } else {
            let block = LAYOUT.index(key, d);
            let value = self.best_of(table, block_base(block), depth + 1..=deepest);
            let child = (table, block_base(block), depth + stride);
            blocks[block] = self.rebuild(blocks[block], value, child, key, len)?;
        }
        if let Some(node) = old {
            self.retire(node);
        }
        if blocks.iter().all(|&b| b == INHERIT) {
            return Ok(painted);
        }
        self.write_node(painted, &blocks)
    }
}
