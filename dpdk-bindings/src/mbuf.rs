//! Owned packet buffers and fixed-size bursts of them.
//!
//! The layer works on single-segment mbufs: ports are configured without scatter, so every received
//! packet is one segment. Headroom operations are done in Rust on the mbuf fields (as DPDK's inline
//! helpers do) so the data path pays no call per packet.

use std::ptr::NonNull;

use crate::sys;

/// Largest burst handled at once, as in DPDK's l3fwd.
pub const MAX_BURST: usize = 32;

/// One owned packet buffer. Freed on drop unless handed over (transmitted, enqueued).
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf {
    raw: NonNull<sys::rte_mbuf>,
}

// SAFETY: an owned mbuf may move between threads; its pool's free path is thread-safe.
unsafe impl Send for Mbuf {}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own this mbuf (and its chain); nobody else frees it.
        unsafe { sys::rte_pktmbuf_free(self.raw.as_ptr()) };
    }
}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `raw` must be a valid mbuf that nobody else owns or frees.
    pub(crate) unsafe fn from_raw(raw: NonNull<sys::rte_mbuf>) -> Self {
        Self { raw }
    }

    /// Gives up ownership (for handing the mbuf to DPDK).
    pub(crate) fn into_raw(self) -> *mut sys::rte_mbuf {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        raw
    }

    /// The raw mbuf for DPDK calls that only read it.
    pub(crate) fn as_raw(&self) -> *const sys::rte_mbuf {
        self.raw.as_ptr()
    }

    fn header(&self) -> &sys::rte_mbuf {
        // SAFETY: we own a valid mbuf; shared borrow of self means no concurrent mutation.
        unsafe { self.raw.as_ref() }
    }

    fn header_mut(&mut self) -> &mut sys::rte_mbuf {
        // SAFETY: we own a valid mbuf exclusively through &mut self.
        unsafe { self.raw.as_mut() }
    }

    /// Bytes of packet data in this (first) segment.
    pub fn len(&self) -> usize {
        usize::from(self.header().data_len)
    }

    /// True when the packet holds no data.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total packet length over all segments.
    pub fn packet_len(&self) -> usize {
        self.header().pkt_len as usize
    }

    /// Number of segments.
    pub fn segments(&self) -> u16 {
        self.header().nb_segs
    }

    /// Free space in front of the data.
    pub fn headroom(&self) -> usize {
        usize::from(self.header().data_off)
    }

    /// Free space after the data.
    pub fn tailroom(&self) -> usize {
        let h = self.header();
        usize::from(h.buf_len) - usize::from(h.data_off) - usize::from(h.data_len)
    }

    /// The port the packet was received on.
    pub fn input_port(&self) -> u16 {
        self.header().port
    }

    /// Marks the packet as received on `port` (for a packet built to stand for one that was).
    pub fn set_input_port(&mut self, port: u16) {
        self.header_mut().port = port;
    }

    /// The packet data.
    pub fn data(&self) -> &[u8] {
        let h = self.header();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer, which we own.
        unsafe {
            std::slice::from_raw_parts(
                h.buf_addr.cast::<u8>().add(usize::from(h.data_off)),
                usize::from(h.data_len),
            )
        }
    }

    /// The packet data, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let h = self.header();
        // SAFETY: as in data(); &mut self gives exclusive access to the buffer.
        unsafe {
            std::slice::from_raw_parts_mut(
                h.buf_addr.cast::<u8>().add(usize::from(h.data_off)),
                usize::from(h.data_len),
            )
        }
    }

    /// Grows the packet at the front by `n` bytes of headroom; returns the whole data, whose first
    /// `n` bytes are the new (uninitialised-content) space. `None` if the headroom is too small.
    pub fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let n16 = u16::try_from(n).ok()?;
        let h = self.header_mut();
        if n16 > h.data_off {
            return None;
        }
        h.data_off -= n16;
        h.data_len += n16;
        h.pkt_len += u32::from(n16);
        Some(self.data_mut())
    }

    /// Removes `n` bytes from the front (they become headroom). `None` if the packet is shorter.
    pub fn trim_front(&mut self, n: usize) -> Option<&mut [u8]> {
        let n16 = u16::try_from(n).ok()?;
        let h = self.header_mut();
        if n16 > h.data_len {
            return None;
        }
        h.data_off += n16;
        h.data_len -= n16;
        h.pkt_len -= u32::from(n16);
        Some(self.data_mut())
    }

    /// Grows the packet at the back by `n` bytes; returns the new space. `None` if the tailroom is
    /// too small or the mbuf has several segments.
    pub fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.tailroom() || self.segments() != 1 {
            return None;
        }
        let old = self.len();
        let h = self.header_mut();
        h.data_len += n as u16;
        h.pkt_len += n as u32;
        Some(&mut self.data_mut()[old..])
    }

    /// Removes `n` bytes from the back. `None` if the packet is shorter or has several segments.
    pub fn trim_back(&mut self, n: usize) -> Option<()> {
        let n16 = u16::try_from(n).ok()?;
        if self.segments() != 1 {
            return None;
        }
        let h = self.header_mut();
        if n16 > h.data_len {
            return None;
        }
        h.data_len -= n16;
        h.pkt_len -= u32::from(n16);
        Some(())
    }

    /// Sets the packet to `bytes` (replacing any data), keeping the default headroom position.
    /// `None` if it does not fit.
    pub fn write_packet(&mut self, bytes: &[u8]) -> Option<()> {
        let len = self.len();
        self.trim_back(len)?;
        self.append(bytes.len())?.copy_from_slice(bytes);
        Some(())
    }
}

/// The mbufs of a burst, handed out one by one in order.
pub struct Drain {
    slots: [*mut sys::rte_mbuf; MAX_BURST],
    next: usize,
    len: usize,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("left", &(self.len - self.next))
            .finish()
    }
}

impl Iterator for Drain {
    type Item = Mbuf;

    fn next(&mut self) -> Option<Mbuf> {
        if self.next == self.len {
            return None;
        }
        let raw = self.slots[self.next];
        self.next += 1;
        // SAFETY: slots[..len] were owned, non-null mbufs moved out of the burst; each is taken once.
        Some(unsafe { Mbuf::from_raw(NonNull::new_unchecked(raw)) })
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        for mbuf in self.by_ref() {
            drop(mbuf);
        }
    }
}

/// Up to [`MAX_BURST`] owned mbufs in a fixed array: filled by RX, drained by TX, never allocates.
/// Mbufs left in it when it is dropped are freed in bulk.
pub struct MbufBurst {
    slots: [*mut sys::rte_mbuf; MAX_BURST],
    len: usize,
}

// SAFETY: the burst owns its mbufs exclusively, like a Vec<Mbuf>.
unsafe impl Send for MbufBurst {}

impl std::fmt::Debug for MbufBurst {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MbufBurst").field("len", &self.len).finish()
    }
}

impl Default for MbufBurst {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for MbufBurst {
    fn drop(&mut self) {
        self.free_all();
    }
}

impl MbufBurst {
    /// An empty burst.
    pub const fn new() -> Self {
        Self {
            slots: [std::ptr::null_mut(); MAX_BURST],
            len: 0,
        }
    }

    /// Number of mbufs held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no mbuf is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when no more mbufs fit.
    pub fn is_full(&self) -> bool {
        self.len == MAX_BURST
    }

    /// Adds an mbuf; gives it back when the burst is full.
    pub fn push(&mut self, mbuf: Mbuf) -> Result<(), Mbuf> {
        if self.is_full() {
            return Err(mbuf);
        }
        self.slots[self.len] = mbuf.into_raw();
        self.len += 1;
        Ok(())
    }

    /// Removes the last mbuf.
    pub fn pop(&mut self) -> Option<Mbuf> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slots[..len] hold owned, non-null mbufs; this one leaves the burst.
        Some(unsafe { Mbuf::from_raw(NonNull::new_unchecked(self.slots[self.len])) })
    }

    /// The mbufs, in order.
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: Mbuf is a transparent non-null pointer and slots[..len] are owned, non-null mbufs.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<Mbuf>(), self.len) }
    }

    /// The mbufs, writable.
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: as in as_slice(), with exclusive access through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.slots.as_mut_ptr().cast::<Mbuf>(), self.len) }
    }

    /// Takes every mbuf out, in order; the burst is empty afterwards. Mbufs the iterator does not
    /// reach are freed when it is dropped.
    pub fn drain(&mut self) -> Drain {
        let len = std::mem::replace(&mut self.len, 0);
        Drain {
            slots: self.slots,
            next: 0,
            len,
        }
    }

    /// Frees every mbuf held, in one bulk call.
    pub fn free_all(&mut self) {
        if self.len > 0 {
            // SAFETY: slots[..len] are owned mbufs; after the call the burst is empty.
            unsafe { sys::rte_pktmbuf_free_bulk(self.slots.as_mut_ptr(), self.len as u32) };
            self.len = 0;
        }
    }

    /// Keeps the mbufs for which `keep` is true, in order; hands the others to `reject`.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&mut Mbuf) -> bool,
        mut reject: impl FnMut(Mbuf),
    ) {
        // If a closure panics, the mbufs not yet visited leak instead of being freed twice.
        let len = std::mem::replace(&mut self.len, 0);
        let mut kept = 0;
        for i in 0..len {
            // SAFETY: slots[i] (i < len) is an owned mbuf; we take it out and either put it back or hand it on.
            let mut mbuf = unsafe { Mbuf::from_raw(NonNull::new_unchecked(self.slots[i])) };
            if keep(&mut mbuf) {
                self.slots[kept] = mbuf.into_raw();
                kept += 1;
            } else {
                reject(mbuf);
            }
        }
        self.len = kept;
    }

    /// Pointer to the first free slot, for DPDK calls that fill the burst.
    pub(crate) fn spare_slots(&mut self) -> *mut *mut sys::rte_mbuf {
        self.slots[self.len..].as_mut_ptr()
    }

    /// Number of free slots.
    pub fn spare(&self) -> usize {
        MAX_BURST - self.len
    }

    /// Records that DPDK filled `n` spare slots.
    ///
    /// # Safety
    /// The first `n` spare slots must now hold owned mbufs.
    pub(crate) unsafe fn commit_spare(&mut self, n: usize) {
        debug_assert!(n <= self.spare());
        self.len += n;
    }

    /// Pointer to the held mbufs, for DPDK calls that consume from the front.
    pub(crate) fn held_slots(&mut self) -> *mut *mut sys::rte_mbuf {
        self.slots.as_mut_ptr()
    }

    /// Records that DPDK took ownership of the first `n` mbufs; the rest move to the front.
    pub(crate) fn consume_front(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        self.slots.copy_within(n..self.len, 0);
        self.len -= n;
    }
}
