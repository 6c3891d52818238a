//! Running work on EAL worker lcores.

use std::any::Any;
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::eal::Eal;
use crate::error::{Error, Result};
use crate::sys;

/// The EAL lcore id of the calling thread, or `None` for threads EAL did not create.
pub fn current() -> Option<u32> {
    // SAFETY: reads the calling thread's lcore id; valid on any thread.
    let id = unsafe { sys::rte_lcore_id() };
    (id != sys::LCORE_ID_ANY).then_some(id)
}

/// The main lcore (the one that called EAL init).
pub fn main_lcore(_eal: &Eal) -> u32 {
    // SAFETY: EAL is initialised.
    unsafe { sys::rte_get_main_lcore() }
}

/// Worker lcores enabled in the EAL core list, in order.
pub fn workers(_eal: &Eal) -> Vec<u32> {
    let mut ids = Vec::new();
    let mut id = u32::MAX; // "before the first"; DPDK starts from id + 1.
    loop {
        // SAFETY: EAL is initialised; skip_main = 1, no wrap.
        id = unsafe { sys::rte_get_next_lcore(id, 1, 0) };
        if id >= sys::RTE_MAX_LCORE {
            return ids;
        }
        ids.push(id);
    }
}

struct Slot<F, T> {
    work: Option<F>,
    result: Option<std::thread::Result<T>>,
}

extern "C" fn trampoline<F, T>(arg: *mut c_void) -> c_int
where
    F: FnOnce() -> T,
{
    // SAFETY: arg is the Slot that launch() leaked for this run; the launcher touches it only after
    // rte_eal_wait_lcore returns, so this is the only access meanwhile.
    let slot = unsafe { &mut *arg.cast::<Slot<F, T>>() };
    let Some(work) = slot.work.take() else {
        return -1;
    };
    // A panic must not unwind into DPDK's C frames: catch it and hand it to join().
    let result = catch_unwind(AssertUnwindSafe(work));
    let code = if result.is_ok() { 0 } else { -1 };
    slot.result = Some(result);
    code
}

/// Runs `work` on worker `lcore`. Must be called from the main lcore.
pub fn launch<F, T>(eal: &Eal, lcore: u32, work: F) -> Result<LcoreJoin<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if !workers(eal).contains(&lcore) {
        return Err(Error::Lcore {
            lcore,
            reason: format!(
                "not a worker lcore of this EAL (workers: {:?})",
                workers(eal)
            ),
        });
    }
    let slot: *mut Slot<F, T> = Box::into_raw(Box::new(Slot {
        work: Some(work),
        result: None,
    }));
    // SAFETY: slot stays alive until join/drop has waited for the lcore; trampoline matches F and T.
    let ret = unsafe { sys::rte_eal_remote_launch(Some(trampoline::<F, T>), slot.cast(), lcore) };
    if ret != 0 {
        // SAFETY: the launch failed, so no lcore has the pointer; reclaim it.
        drop(unsafe { Box::from_raw(slot) });
        let reason = format!(
            "cannot launch ({}); is it an idle worker in the EAL core list?",
            crate::error::strerror(-ret)
        );
        return Err(Error::Lcore { lcore, reason });
    }
    Ok(LcoreJoin {
        lcore,
        slot: slot.cast(),
        take: take_result::<F, T>,
    })
}

/// # Safety
/// `slot` must be the `Slot<F, T>` leaked by `launch`, and the lcore must have finished.
unsafe fn take_result<F, T>(slot: *mut c_void) -> Option<std::thread::Result<T>> {
    // SAFETY: per the contract, the lcore is done and the slot is ours again.
    let mut slot = unsafe { Box::from_raw(slot.cast::<Slot<F, T>>()) };
    slot.result.take()
}

/// Handle to work running on a worker lcore; waits for it on join or drop.
pub struct LcoreJoin<T> {
    lcore: u32,
    slot: *mut c_void,
    take: unsafe fn(*mut c_void) -> Option<std::thread::Result<T>>,
}

impl<T> std::fmt::Debug for LcoreJoin<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LcoreJoin")
            .field("lcore", &self.lcore)
            .finish()
    }
}

impl<T> LcoreJoin<T> {
    /// The lcore the work runs on.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Waits for the work to finish; a panic on the lcore comes back as `Err`.
    pub fn join(self) -> std::result::Result<T, Box<dyn Any + Send>> {
        let result = self.wait_and_take();
        std::mem::forget(self);
        result.unwrap_or_else(|| Err(Box::new("lcore work did not run")))
    }

    fn wait_and_take(&self) -> Option<std::thread::Result<T>> {
        // SAFETY: the lcore was launched by us; waiting makes its writes to the slot visible.
        unsafe { sys::rte_eal_wait_lcore(self.lcore) };
        // SAFETY: the lcore finished; slot/take are the pair launch() created, used exactly once
        // (join forgets self, drop runs only when join did not).
        unsafe { (self.take)(self.slot) }
    }
}

impl<T> Drop for LcoreJoin<T> {
    fn drop(&mut self) {
        drop(self.wait_and_take());
    }
}
