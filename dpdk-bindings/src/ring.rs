//! Single-producer/single-consumer mbuf rings for core-to-core hand-off (punt path).

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::eal::Eal;
use crate::error::{dpdk_error, last_errno, Error, Result};
use crate::mbuf::{MbufBurst, MAX_BURST};
use crate::sys;

#[derive(Debug)]
struct RingInner {
    raw: NonNull<sys::rte_ring>,
    _eal: Eal,
}

// SAFETY: producer and consumer sides are split into distinct handles, each used by one thread.
unsafe impl Send for RingInner {}
// SAFETY: shared only to keep the ring alive; enqueue and dequeue go through the exclusive handles.
unsafe impl Sync for RingInner {}

impl Drop for RingInner {
    fn drop(&mut self) {
        // Both handles are gone: nobody else touches the ring. Free what is still queued.
        let mut burst = MbufBurst::new();
        while dequeue(self.raw, &mut burst) > 0 {
            burst.free_all();
        }
        // SAFETY: the ring is empty and unused.
        unsafe { sys::rte_ring_free(self.raw.as_ptr()) };
    }
}

/// Creates a ring of `capacity` mbufs (exact size) named `name` (unique in the process).
pub fn spsc_ring(eal: &Eal, name: &str, capacity: u32) -> Result<(RingProducer, RingConsumer)> {
    let raw = create_raw(name, capacity, sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ)?;
    let inner = Arc::new(RingInner {
        raw,
        _eal: eal.clone(),
    });
    Ok((
        RingProducer {
            inner: inner.clone(),
        },
        RingConsumer { inner },
    ))
}

pub(crate) fn create_raw(name: &str, capacity: u32, flags: u32) -> Result<NonNull<sys::rte_ring>> {
    let c_name = CString::new(name)
        .map_err(|_| Error::InvalidArgument(format!("ring name {name:?} has a NUL byte")))?;
    // SAFETY: c_name is a valid C string; EAL is initialised by the caller's handle.
    let raw = unsafe {
        sys::rte_ring_create(
            c_name.as_ptr(),
            capacity,
            sys::SOCKET_ID_ANY,
            flags | sys::RING_F_EXACT_SZ,
        )
    };
    NonNull::new(raw).ok_or_else(|| dpdk_error(format!("rte_ring_create({name})"), last_errno()))
}

fn dequeue(raw: NonNull<sys::rte_ring>, burst: &mut MbufBurst) -> usize {
    let spare = burst.spare();
    // SAFETY: the caller is the ring's only consumer; the spare slots have room for `spare` pointers.
    let n = unsafe {
        sys::rte_ring_dequeue_burst(
            raw.as_ptr(),
            burst.spare_slots().cast(),
            spare as u32,
            std::ptr::null_mut(),
        )
    } as usize;
    // SAFETY: the ring held owned mbufs; n of them are now ours.
    unsafe { burst.commit_spare(n) };
    n
}

/// The only enqueuing side of a ring.
#[derive(Debug)]
pub struct RingProducer {
    inner: Arc<RingInner>,
}

impl RingProducer {
    /// Moves mbufs from the front of `burst` into the ring; what does not fit stays in `burst`.
    #[inline]
    pub fn enqueue_burst(&mut self, burst: &mut MbufBurst) -> usize {
        let len = burst.len();
        debug_assert!(len <= MAX_BURST);
        // SAFETY: this handle is the only producer; the first `len` slots are owned mbufs.
        let n = unsafe {
            sys::rte_ring_enqueue_burst(
                self.inner.raw.as_ptr(),
                burst.held_slots().cast(),
                len as u32,
                std::ptr::null_mut(),
            )
        } as usize;
        burst.consume_front(n);
        n
    }
}

/// The only dequeuing side of a ring.
#[derive(Debug)]
pub struct RingConsumer {
    inner: Arc<RingInner>,
}

impl RingConsumer {
    /// Moves queued mbufs into the free slots of `burst`; returns how many.
    #[inline]
    pub fn dequeue_burst(&mut self, burst: &mut MbufBurst) -> usize {
        dequeue(self.inner.raw, burst)
    }

    /// Mbufs waiting in the ring.
    pub fn len(&self) -> usize {
        // SAFETY: reading the ring's counters is always safe.
        unsafe { sys::rte_ring_count(self.inner.raw.as_ptr()) as usize }
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
