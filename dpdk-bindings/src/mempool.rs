//! Packet-buffer pools.

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::eal::Eal;
use crate::error::{dpdk_error, last_errno, Error, Result};
use crate::mbuf::{Mbuf, MbufBurst, MAX_BURST};
use crate::sys;

/// A pool of packet buffers (`rte_pktmbuf_pool_create`). Cheap to clone; ports keep a clone so the
/// pool outlives the queues that fill it.
#[derive(Debug, Clone)]
pub struct Mempool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    raw: NonNull<sys::rte_mempool>,
    name: String,
    capacity: u32,
    _eal: Eal,
}

// SAFETY: the pool uses DPDK's default multi-producer/multi-consumer ring ops, safe from any thread.
unsafe impl Send for PoolInner {}
// SAFETY: as above; every method takes &self and DPDK synchronises internally.
unsafe impl Sync for PoolInner {}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // Freeing a pool with buffers still out would leave dangling mbufs: keep it then (reported).
        if self.in_use() == 0 {
            // SAFETY: no mbuf of this pool is alive and no port references it (ports hold a clone).
            unsafe { sys::rte_mempool_free(self.raw.as_ptr()) };
        } else {
            eprintln!(
                "mempool {}: {} mbufs still in use at drop; pool kept alive",
                self.name,
                self.in_use()
            );
        }
    }
}

impl PoolInner {
    fn in_use(&self) -> u32 {
        // SAFETY: raw is a live pool.
        unsafe { sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }
}

/// Sizes of a packet-buffer pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Number of mbufs.
    pub size: u32,
    /// Per-lcore cache (0 disables it; DPDK caps it at 512).
    pub cache_size: u32,
    /// Data room per mbuf including headroom (`RTE_MBUF_DEFAULT_BUF_SIZE` = 2176).
    pub data_room: u16,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            size: 8191,
            cache_size: 256,
            data_room: sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16,
        }
    }
}

impl Mempool {
    /// Creates a pool; `name` must be unique in the process.
    pub fn new(eal: &Eal, name: &str, config: MempoolConfig) -> Result<Self> {
        let c_name = CString::new(name)
            .map_err(|_| Error::InvalidArgument(format!("pool name {name:?} has a NUL byte")))?;
        // SAFETY: c_name is a valid C string; EAL is initialised (eal exists).
        let raw = unsafe {
            sys::rte_pktmbuf_pool_create(
                c_name.as_ptr(),
                config.size,
                config.cache_size,
                0,
                config.data_room,
                sys::SOCKET_ID_ANY,
            )
        };
        let raw = NonNull::new(raw)
            .ok_or_else(|| dpdk_error(format!("rte_pktmbuf_pool_create({name})"), last_errno()))?;
        Ok(Self {
            inner: Arc::new(PoolInner {
                raw,
                name: name.to_owned(),
                capacity: config.size,
                _eal: eal.clone(),
            }),
        })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Number of mbufs the pool was created with.
    pub fn capacity(&self) -> u32 {
        self.inner.capacity
    }

    /// Mbufs free in the pool, including those in per-lcore caches.
    pub fn available(&self) -> u32 {
        // SAFETY: raw is a live pool.
        unsafe { sys::rte_mempool_avail_count(self.inner.raw.as_ptr()) }
    }

    /// Mbufs currently allocated (in flight, in rings, in device queues, or held by the application).
    pub fn in_use(&self) -> u32 {
        self.inner.in_use()
    }

    /// One fresh mbuf, or `None` when the pool is empty.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: raw is a live pktmbuf pool; the returned mbuf is owned by the caller.
        let raw = unsafe { sys::rte_pktmbuf_alloc(self.inner.raw.as_ptr()) };
        // SAFETY: a non-null result is a freshly allocated mbuf we now own.
        NonNull::new(raw).map(|raw| unsafe { Mbuf::from_raw(raw) })
    }

    /// A copy of `mbuf` (data and metadata such as the input port) in a fresh mbuf of this pool,
    /// or `None` when the pool is empty (`rte_pktmbuf_copy`).
    pub fn copy_of(&self, mbuf: &Mbuf) -> Option<Mbuf> {
        // SAFETY: mbuf is a live mbuf we only read; raw is a live pktmbuf pool; the copy is a new
        // mbuf owned by the caller.
        let raw =
            unsafe { sys::rte_pktmbuf_copy(mbuf.as_raw(), self.inner.raw.as_ptr(), 0, u32::MAX) };
        // SAFETY: a non-null result is a freshly allocated mbuf we now own.
        NonNull::new(raw).map(|raw| unsafe { Mbuf::from_raw(raw) })
    }

    /// Fills `burst` up to `count` mbufs in one call; all or nothing.
    pub fn alloc_bulk(&self, burst: &mut MbufBurst, count: usize) -> Result<()> {
        let free = MAX_BURST - burst.len();
        if count > free {
            return Err(Error::InvalidArgument(format!(
                "alloc_bulk of {count} into a burst with room for {free}"
            )));
        }
        let slots = burst.spare_slots();
        // SAFETY: slots has room for `count` pointers; on success all of them are owned mbufs.
        let ret =
            unsafe { sys::rte_pktmbuf_alloc_bulk(self.inner.raw.as_ptr(), slots, count as u32) };
        if ret != 0 {
            return Err(dpdk_error(
                format!("rte_pktmbuf_alloc_bulk({}, {count})", self.inner.name),
                ret,
            ));
        }
        // SAFETY: the call filled exactly `count` slots with owned mbufs.
        unsafe { burst.commit_spare(count) };
        Ok(())
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.inner.raw.as_ptr()
    }
}
