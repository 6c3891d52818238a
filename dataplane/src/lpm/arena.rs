//! The writer's allocator over the node arena. A region is written only while unreachable:
//! fresh, or freed after a QSBR grace period.

use hashbrown::HashMap;

/// Words per 64-byte cache line.
const LINE_WORDS: u32 = 16;

/// The arena is full: the table needs a larger capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaFull {
    pub capacity: usize,
}

/// Exact-size free lists over sizes rounded up to whole cache lines (16 words): a node's header
/// then always sits in one line, and sizes repeat enough that lists reuse memory without splitting.
#[derive(Debug, Default)]
pub struct Allocator {
    next: usize,
    capacity: usize,
    free: HashMap<u32, Vec<u32>>,
    used: usize,
}

impl Allocator {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    /// Words actually reserved for a node of `size` words.
    pub fn rounded(size: u32) -> u32 {
        size.div_ceil(LINE_WORDS) * LINE_WORDS
    }

    pub fn alloc(&mut self, size: u32) -> Result<u32, ArenaFull> {
        let size = Self::rounded(size);
        self.used += size as usize;
        if let Some(offset) = self.free.get_mut(&size).and_then(Vec::pop) {
            return Ok(offset);
        }
        let offset = self.next;
        if offset + size as usize > self.capacity || offset > u32::MAX as usize / 2 {
            self.used -= size as usize;
            return Err(ArenaFull {
                capacity: self.capacity,
            });
        }
        self.next += size as usize;
        Ok(offset as u32)
    }

    pub fn free(&mut self, offset: u32, size: u32) {
        let size = Self::rounded(size);
        self.used -= size as usize;
        self.free.entry(size).or_default().push(offset);
    }

    /// Words in live nodes.
    pub fn used(&self) -> usize {
        self.used
    }
}
