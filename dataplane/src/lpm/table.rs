//! One published LPM version and the writer that derives new versions from it.

use std::collections::HashMap;
use std::sync::Arc;

use super::node::{Expanded, Node, Page, RootSlot, CHILD, FANOUT, INHERIT, MAX_VALUE};

/// Keys are left-aligned in a u128: IPv4 `a.b.c.d` is `u128::from(u32) << 96`.
pub type Key = u128;

/// An immutable LPM version: cheap to clone (256 reference counts), safe to read from any core.
#[derive(Debug, Clone)]
pub struct LpmTable {
    pages: Arc<[Arc<Page>]>,
    bits: u8,
}

/// Why an update was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpmError {
    /// The prefix length exceeds the key width.
    LengthTooLong { len: u8, bits: u8 },
    /// Values are 31 bits; the top ones are reserved.
    ValueTooLarge(u32),
    /// Bits are set beyond the prefix length.
    HostBitsSet,
}

impl std::fmt::Display for LpmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LengthTooLong { len, bits } => {
                write!(f, "prefix length {len} exceeds {bits} bits")
            }
            Self::ValueTooLarge(v) => write!(f, "value {v} exceeds {MAX_VALUE}"),
            Self::HostBitsSet => write!(f, "host bits set beyond the prefix length"),
        }
    }
}

impl std::error::Error for LpmError {}

/// Keeps the top `len` bits of `key`.
#[inline]
pub fn mask(key: Key, len: u8) -> Key {
    if len == 0 {
        0
    } else {
        key & (u128::MAX << (128 - u32::from(len)))
    }
}

#[inline(always)]
fn byte_at(key: Key, depth: u32) -> usize {
    ((key >> (120 - depth)) & 0xff) as usize
}

impl LpmTable {
    fn empty(bits: u8) -> Self {
        let page: Arc<Page> = Arc::new(std::array::from_fn(|_| RootSlot::default()));
        Self {
            pages: (0..256).map(|_| page.clone()).collect(),
            bits,
        }
    }

    /// Key width (32 or 128).
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The value of the longest prefix covering `key`.
    #[inline]
    pub fn lookup(&self, key: Key) -> Option<u32> {
        let top = (key >> 112) as usize;
        let root = &self.pages[top >> 8][top & 0xff];
        let mut best = root.value;
        let mut node = root.child.as_deref();
        let mut depth = 16;
        while let Some(n) = node {
            if n.background != INHERIT {
                best = n.background;
            }
            let slot = n.slot(byte_at(key, depth));
            if slot & CHILD != 0 {
                node = Some(n.child(slot));
                depth += 8;
            } else {
                if slot != INHERIT {
                    best = slot;
                }
                node = None;
            }
        }
        (best != INHERIT).then_some(best)
    }

    /// Looks up a burst, level by level across all keys so their memory accesses overlap.
    /// `out` must be at least as long as `keys`.
    pub fn lookup_burst(&self, keys: &[Key], out: &mut [Option<u32>]) {
        const MAX: usize = 64;
        for (keys, out) in keys.chunks(MAX).zip(out.chunks_mut(MAX)) {
            let mut best = [INHERIT; MAX];
            let mut nodes: [Option<&Node>; MAX] = [None; MAX];
            for (i, &key) in keys.iter().enumerate() {
                let top = (key >> 112) as usize;
                let root = &self.pages[top >> 8][top & 0xff];
                best[i] = root.value;
                nodes[i] = root.child.as_deref();
            }
            let mut depth = 16;
            let mut active = nodes[..keys.len()].iter().any(Option::is_some);
            while active {
                active = false;
                for (i, &key) in keys.iter().enumerate() {
                    if let Some(n) = nodes[i] {
                        if n.background != INHERIT {
                            best[i] = n.background;
                        }
                        let slot = n.slot(byte_at(key, depth));
                        if slot & CHILD != 0 {
                            nodes[i] = Some(n.child(slot));
                            active = true;
                        } else {
                            if slot != INHERIT {
                                best[i] = slot;
                            }
                            nodes[i] = None;
                        }
                    }
                }
                depth += 8;
            }
            for (o, &b) in out.iter_mut().zip(&best[..keys.len()]) {
                *o = (b != INHERIT).then_some(b);
            }
        }
    }

    /// Bytes used by this version (shared parts counted once per version).
    pub fn memory(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        let mut total = 256 * std::mem::size_of::<Arc<Page>>();
        for page in self.pages.iter() {
            if seen.insert(Arc::as_ptr(page)) {
                total += std::mem::size_of::<Page>();
                total += page
                    .iter()
                    .filter_map(|s| s.child.as_ref())
                    .map(|c| c.memory())
                    .sum::<usize>();
            }
        }
        total
    }
}

/// The single writer: holds every prefix and the working version, which it updates by copying
/// only the path from the root to the changed stride. Versions handed out by [`table`] are never
/// modified afterwards: the next update copies what it touches (`Arc::make_mut`).
///
/// [`table`]: LpmWriter::table
#[derive(Debug, Clone)]
pub struct LpmWriter {
    working: LpmTable,
    prefixes: HashMap<(Key, u8), u32>,
}

impl LpmWriter {
    /// An empty table for keys of `bits` bits (32 for IPv4, 128 for IPv6).
    pub fn new(bits: u8) -> Self {
        Self {
            working: LpmTable::empty(bits),
            prefixes: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// The value stored for exactly this prefix.
    pub fn get(&self, key: Key, len: u8) -> Option<u32> {
        self.prefixes.get(&(key, len)).copied()
    }

    /// The current version, to publish.
    pub fn table(&self) -> LpmTable {
        self.working.clone()
    }

    fn check(&self, key: Key, len: u8) -> Result<(), LpmError> {
        let bits = self.working.bits;
        if len > bits {
            return Err(LpmError::LengthTooLong { len, bits });
        }
        if mask(key, len) != key {
            return Err(LpmError::HostBitsSet);
        }
        Ok(())
    }

    /// Inserts or replaces a prefix; returns the previous value.
    pub fn insert(&mut self, key: Key, len: u8, value: u32) -> Result<Option<u32>, LpmError> {
        self.check(key, len)?;
        if value > MAX_VALUE {
            return Err(LpmError::ValueTooLarge(value));
        }
        let old = self.prefixes.insert((key, len), value);
        if old != Some(value) {
            self.repaint(key, len);
        }
        Ok(old)
    }

    /// Removes a prefix; returns its value.
    pub fn remove(&mut self, key: Key, len: u8) -> Result<Option<u32>, LpmError> {
        self.check(key, len)?;
        let old = self.prefixes.remove(&(key, len));
        if old.is_some() {
            self.repaint(key, len);
        }
        Ok(old)
    }

    /// The longest stored prefix with length in `lengths` covering `key`.
    fn best_of(&self, key: Key, lengths: std::ops::RangeInclusive<u8>) -> u32 {
        lengths
            .rev()
            .find_map(|len| self.prefixes.get(&(mask(key, len), len)).copied())
            .unwrap_or(INHERIT)
    }

    fn repaint(&mut self, key: Key, len: u8) {
        if len <= 16 {
            let first = (key >> 112) as usize;
            let count = 1usize << (16 - len);
            for top in first..first + count {
                let value = self.best_of((top as u128) << 112, 0..=16);
                let page = Arc::make_mut(&mut Arc::make_mut(&mut self.working.pages)[top >> 8]);
                page[top & 0xff].value = value;
            }
        } else {
            let top = (key >> 112) as usize;
            let old = {
                let page = &self.working.pages[top >> 8];
                page[top & 0xff].child.clone()
            };
            let child = self.rebuild(old.as_deref(), INHERIT, (top as u128) << 112, 16, key, len);
            let page = Arc::make_mut(&mut Arc::make_mut(&mut self.working.pages)[top >> 8]);
            page[top & 0xff].child = child;
        }
    }

    /// Rebuilds the node covering the block `base/depth` after prefix `key/len` changed.
    fn rebuild(
        &self,
        node: Option<&Node>,
        background: u32,
        base: Key,
        depth: u8,
        key: Key,
        len: u8,
    ) -> Option<Arc<Node>> {
        let mut blocks = node.map_or_else(|| vec![Expanded::Value(INHERIT); FANOUT], Node::expand);
        let d = u32::from(depth);
        let paint = |block: usize| {
            self.best_of(base | ((block as u128) << (120 - d)), depth + 1..=depth + 8)
        };
        if len <= depth + 8 {
            let first = byte_at(key, d);
            let count = 1usize << (depth + 8 - len);
            for block in first..first + count {
                let value = paint(block);
                blocks[block] = match &blocks[block] {
                    Expanded::Child(child) => match child.background == value {
                        true => Expanded::Child(child.clone()),
                        false => Expanded::Child(child.with_background(value)),
                    },
                    Expanded::Value(_) => Expanded::Value(value),
                };
            }
        } else {
            let block = byte_at(key, d);
            let painted = paint(block);
            let old = match &blocks[block] {
                Expanded::Child(child) => Some(child.clone()),
                Expanded::Value(_) => None,
            };
            let child_base = base | ((block as u128) << (120 - d));
            blocks[block] =
                match self.rebuild(old.as_deref(), painted, child_base, depth + 8, key, len) {
                    Some(child) => Expanded::Child(child),
                    None => Expanded::Value(painted),
                };
        }
        Node::compress(background, &blocks)
    }
}
