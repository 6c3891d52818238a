//! The TSC clock DPDK calibrates at EAL init.

use crate::eal::Eal;
use crate::sys;

/// Current TSC value.
#[inline]
pub fn tsc() -> u64 {
    // SAFETY: reads the time-stamp counter; no preconditions.
    unsafe { sys::rte_rdtsc() }
}

/// TSC ticks per second as measured by EAL.
pub fn tsc_hz(_eal: &Eal) -> u64 {
    // SAFETY: EAL is initialised.
    unsafe { sys::rte_get_tsc_hz() }
}
