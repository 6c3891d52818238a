//! The packet-buffer operations the data path needs, so the same code runs over DPDK mbufs and
//! over plain buffers in tests, benchmarks and fuzzing.

/// A packet with headroom in front of its data.
pub trait PacketBuffer {
    fn data(&self) -> &[u8];
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the front by `n` bytes of headroom; `None` if there is not enough.
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]>;
    /// Drops `n` bytes from the front; false if the packet is shorter.
    fn trim_front(&mut self, n: usize) -> bool;
    /// Drops `n` bytes from the back; false if the packet is shorter.
    fn trim_back(&mut self, n: usize) -> bool;
}

/// A heap buffer with headroom, for tests, benchmarks and fuzzing. Recyclable without allocating.
#[derive(Debug, Clone)]
pub struct VecBuffer {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
}

impl VecBuffer {
    /// `headroom` free bytes, then `packet`, in a buffer of `capacity` bytes (at least both).
    pub fn new(headroom: usize, packet: &[u8], capacity: usize) -> Self {
        let mut buffer = Self {
            bytes: vec![0; capacity.max(headroom + packet.len())],
            start: 0,
            end: 0,
        };
        buffer.reset(headroom, packet);
        buffer
    }

    /// Reuses the buffer for another packet (no allocation if it fits).
    pub fn reset(&mut self, headroom: usize, packet: &[u8]) {
        let end = headroom + packet.len();
        if end > self.bytes.len() {
            self.bytes.resize(end, 0);
        }
        self.bytes[headroom..end].copy_from_slice(packet);
        self.start = headroom;
        self.end = end;
    }

    pub fn headroom(&self) -> usize {
        self.start
    }
}

impl PacketBuffer for VecBuffer {
    fn data(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.end]
    }

    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        self.start = self.start.checked_sub(n)?;
        Some(self.data_mut())
    }

    fn trim_front(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.start += n;
        true
    }

    fn trim_back(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.end -= n;
        true
    }
}
