//! Node encoding in the arena. A node covers one stride of `s` bits (2^s sub-blocks) with one slot
//! per run of equal sub-blocks (Poptrie's leaf compression):
//!
//! ```text
//! words 0..B      bitmap: 2^s bits, bit i set where a run starts (little-endian u64 halves)
//! word  B         cumulative popcount before each u64 of the bitmap (u8 each)
//! word  B + 1     background: the value the parent's stride paints over this whole block
//! words B + 2 ..  slots, one per run: a value, INHERIT, or CHILD | offset of a child node
//! ```
//! with `B = 2^s / 32`. The slot of sub-block `i` is `slots[rank(i) - 1]`. With 6-bit strides the
//! header is 4 words and a node of up to 12 runs fits one cache line.

use crate::words::Words;

/// "No prefix of this stride covers it": use the best value found above.
pub const INHERIT: u32 = 0x7fff_ffff;
/// Marks a slot or root entry that holds the arena offset of a node.
pub const CHILD: u32 = 0x8000_0000;
/// Largest value a prefix can map to.
pub const MAX_VALUE: u32 = INHERIT - 1;

/// The geometry of a table: root width and node stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Bits indexed directly by the root.
    pub root_bits: u32,
    /// Bits per node (6 or 8).
    pub stride: u32,
    bitmap_words: usize,
}

impl Layout {
    pub const fn new(root_bits: u32, stride: u32) -> Self {
        Self {
            root_bits,
            stride,
            bitmap_words: (1 << stride) / 32,
        }
    }

    /// Sub-blocks per node.
    #[inline(always)]
    pub fn fanout(&self) -> usize {
        1 << self.stride
    }

    /// Words before the slots.
    #[inline(always)]
    pub fn header(&self) -> usize {
        self.bitmap_words + 2
    }

    /// The sub-block of `key` in a node at `depth`.
    #[inline(always)]
    pub fn index(&self, key: u128, depth: u32) -> usize {
        ((key >> (128 - depth - self.stride)) as usize) & (self.fanout() - 1)
    }
}

/// What a lookup needs from a node's header for one sub-block.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderRead {
    bits: u64,
    base: u32,
    pub background: u32,
}

#[inline(always)]
pub fn read_header(layout: Layout, words: &Words, node: usize, index: usize) -> HeaderRead {
    let w = index >> 6;
    let low = u64::from(words.get_or(node + 2 * w, 0));
    let high = u64::from(words.get_or(node + 2 * w + 1, 0));
    HeaderRead {
        bits: low | (high << 32),
        base: (words.get_or(node + layout.bitmap_words, 0) >> (8 * w)) & 0xff,
        background: words.get_or(node + layout.bitmap_words + 1, INHERIT),
    }
}

/// Word offset of sub-block `index`'s slot, from its header read.
#[inline(always)]
pub fn slot_offset(layout: Layout, node: usize, index: usize, header: HeaderRead) -> usize {
    let rank = header.base as usize
        + (header.bits & (u64::MAX >> (63 - (index & 63)))).count_ones() as usize;
    node + layout.header() + rank.saturating_sub(1)
}

/// The background of the node at `node`.
pub fn background(layout: Layout, words: &Words, node: usize) -> u32 {
    words.get_or(node + layout.bitmap_words + 1, INHERIT)
}

/// Total words of the node at `node`.
pub fn size(layout: Layout, words: &Words, node: usize) -> u32 {
    let runs: usize = (0..layout.bitmap_words)
        .map(|i| words.get_or(node + i, 0).count_ones() as usize)
        .sum();
    (layout.header() + runs) as u32
}

/// All sub-block slots of a node, uncompressed, in one walk over the bitmap (the writer expands
/// every node it copies, so ranking each sub-block separately would cost a header read each).
pub fn expand(layout: Layout, words: &Words, node: usize) -> Vec<u32> {
    let slots = node + layout.header();
    let mut rank = 0usize;
    (0..layout.fanout())
        .map(|i| {
            if words.get_or(node + (i >> 5), 0) & (1 << (i & 31)) != 0 {
                rank += 1;
            }
            words.get_or(slots + rank.saturating_sub(1), INHERIT)
        })
        .collect()
}

/// The words of a node for `fanout` sub-block slots.
pub fn encode(layout: Layout, background: u32, blocks: &[u32]) -> Vec<u32> {
    let mut bitmap = vec![0u64; layout.fanout().div_ceil(64)];
    let mut slots = Vec::new();
    let mut previous: Option<u32> = None;
    for (i, &block) in blocks.iter().enumerate() {
        let mergeable = block & CHILD == 0;
        if mergeable && previous == Some(block) {
            continue;
        }
        bitmap[i >> 6] |= 1 << (i & 63);
        slots.push(block);
        previous = mergeable.then_some(block);
    }
    let mut out = Vec::with_capacity(layout.header() + slots.len());
    for bits in &bitmap {
        out.push(*bits as u32);
        out.push((bits >> 32) as u32);
    }
    out.truncate(layout.bitmap_words);
    let mut bases = 0u32;
    let mut running = 0u32;
    for (w, bits) in bitmap.iter().enumerate() {
        bases |= running << (8 * w);
        running += bits.count_ones();
    }
    out.push(bases);
    out.push(background);
    out.extend(slots);
    out
}
