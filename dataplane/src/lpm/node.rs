//! The immutable pieces of an LPM version: root pages and compressed stride-8 nodes.
//!
//! A node covers one stride of 8 bits (256 sub-blocks) but stores one slot per *run* of equal
//! sub-blocks: bit `i` of `bitmap` is set where a run starts, and the slot of sub-block `i` is
//! `slots[rank(i) - 1]` (Poptrie's leaf compression). A slot is either a value (the longest prefix
//! ending in this stride that covers the sub-block, or [`INHERIT`]) or, with [`CHILD`] set, the
//! index of a child node in `children`.

use std::sync::Arc;

/// "No prefix of this stride covers it": use the best value found above.
pub const INHERIT: u32 = 0x7fff_ffff;
/// Marks a slot that points at `children[slot & !CHILD]`.
pub const CHILD: u32 = 0x8000_0000;
/// Largest value a prefix can map to.
pub const MAX_VALUE: u32 = INHERIT - 1;
/// Sub-blocks per node.
pub const FANOUT: usize = 256;

/// A compressed stride-8 node. Never changes once built; updates build new nodes.
#[derive(Debug, Clone)]
pub struct Node {
    bitmap: [u64; 4],
    /// The value the parent's stride paints over this node's whole block (or [`INHERIT`]).
    pub background: u32,
    slots: Box<[u32]>,
    children: Box<[Arc<Node>]>,
}

/// One sub-block of a decompressed node, while it is being rebuilt.
#[derive(Debug, Clone)]
pub enum Expanded {
    Value(u32),
    Child(Arc<Node>),
}

impl Node {
    /// Number of set bits of `bitmap` up to and including `index`.
    #[inline(always)]
    fn rank(&self, index: usize) -> usize {
        let word = index >> 6;
        let mask = u64::MAX >> (63 - (index & 63));
        let mut rank = 0;
        for (w, bits) in self.bitmap.iter().enumerate() {
            let keep = match w.cmp(&word) {
                std::cmp::Ordering::Less => u64::MAX,
                std::cmp::Ordering::Equal => mask,
                std::cmp::Ordering::Greater => 0,
            };
            rank += (bits & keep).count_ones() as usize;
        }
        rank
    }

    /// The slot of sub-block `index` (0..256).
    #[inline(always)]
    pub fn slot(&self, index: usize) -> u32 {
        self.slots[self.rank(index) - 1]
    }

    /// The child a [`CHILD`] slot points at.
    #[inline(always)]
    pub fn child(&self, slot: u32) -> &Node {
        &self.children[(slot & !CHILD) as usize]
    }

    /// All 256 sub-blocks, uncompressed.
    pub fn expand(&self) -> Vec<Expanded> {
        (0..FANOUT)
            .map(|i| match self.slot(i) {
                s if s & CHILD != 0 => {
                    Expanded::Child(self.children[(s & !CHILD) as usize].clone())
                }
                value => Expanded::Value(value),
            })
            .collect()
    }

    /// Compresses 256 sub-blocks; `None` when nothing is left below the parent (all inherit).
    pub fn compress(background: u32, blocks: &[Expanded]) -> Option<Arc<Node>> {
        debug_assert_eq!(blocks.len(), FANOUT);
        if blocks.iter().all(|b| matches!(b, Expanded::Value(INHERIT))) {
            return None;
        }
        let mut bitmap = [0u64; 4];
        let mut slots = Vec::new();
        let mut children = Vec::new();
        let mut previous: Option<u32> = None;
        for (i, block) in blocks.iter().enumerate() {
            let slot = match block {
                Expanded::Value(v) if previous == Some(*v) => continue,
                Expanded::Value(v) => *v,
                Expanded::Child(child) => {
                    children.push(child.clone());
                    CHILD | (children.len() as u32 - 1)
                }
            };
            bitmap[i >> 6] |= 1 << (i & 63);
            slots.push(slot);
            previous = (slot & CHILD == 0).then_some(slot);
        }
        Some(Arc::new(Node {
            bitmap,
            background,
            slots: slots.into_boxed_slice(),
            children: children.into_boxed_slice(),
        }))
    }

    /// The same node with another background (children and slots shared).
    pub fn with_background(&self, background: u32) -> Arc<Node> {
        Arc::new(Node {
            background,
            ..self.clone()
        })
    }

    /// Bytes used by this node and everything below it.
    pub fn memory(&self) -> usize {
        std::mem::size_of::<Node>()
            + self.slots.len() * 4
            + self.children.len() * std::mem::size_of::<Arc<Node>>()
            + self.children.iter().map(|c| c.memory()).sum::<usize>()
    }
}

/// One entry of the direct-indexed root (the top 16 bits of the key).
#[derive(Debug, Clone)]
pub struct RootSlot {
    /// Longest prefix of length ≤ 16 covering this /16, or [`INHERIT`].
    pub value: u32,
    pub child: Option<Arc<Node>>,
}

impl Default for RootSlot {
    fn default() -> Self {
        Self {
            value: INHERIT,
            child: None,
        }
    }
}

/// 256 consecutive root slots; the root is 256 pages so an update copies 4 KiB, not 1 MiB.
pub type Page = [RootSlot; 256];
