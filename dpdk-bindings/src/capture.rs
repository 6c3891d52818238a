//! Packet capture by other processes: once [`CaptureServer::start`] has run `rte_pdump_init`,
//! `dpdk-dumpcap` and `dpdk-pdump` (DPDK secondary processes with the same `--file-prefix`) can
//! ask for copies of a port's packets, taken in the PMD's RX/TX callbacks only while a capture
//! is on.

use crate::error::{check, Result};
use crate::{sys, Eal};

/// Capture requests are served until this is dropped (before EAL's cleanup: it holds EAL).
#[derive(Debug)]
pub struct CaptureServer {
    _eal: Eal,
}

impl CaptureServer {
    /// Registers the capture service with EAL's multi-process channel. Fails where there is no
    /// such channel (`--no-shconf`, `--in-memory`).
    pub fn start(eal: &Eal) -> Result<Self> {
        // SAFETY: EAL is initialised (the `Eal` token says so); no arguments.
        check("rte_pdump_init", unsafe { sys::rte_pdump_init() })?;
        Ok(Self { _eal: eal.clone() })
    }
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        // SAFETY: paired with the successful rte_pdump_init above.
        unsafe {
            sys::rte_pdump_uninit();
        }
    }
}
