//! One error type for every DPDK call, carrying DPDK's own explanation (`rte_strerror`).

use std::ffi::CStr;

use crate::sys;

/// A failed DPDK operation or a request the safe layer refuses before calling DPDK.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DPDK returned an error; `reason` is `rte_strerror(errno)`.
    #[error("{operation} failed: {reason} (errno {errno})")]
    Dpdk {
        operation: String,
        errno: i32,
        reason: String,
    },
    /// EAL can be initialised only once per process.
    #[error("EAL is already initialised in this process (it can run once per process)")]
    EalAlreadyInitialised,
    /// An argument was rejected before reaching DPDK.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No ethdev port has this id or name.
    #[error("no DPDK port {0} (is the device probed? check --vdev / PCI allow-list)")]
    NoSuchPort(String),
    /// A queue handle was already given out, or is beyond what the port was configured with.
    #[error("port {port} {direction} queue {queue}: {reason}")]
    Queue {
        port: u16,
        direction: &'static str,
        queue: u16,
        reason: &'static str,
    },
    /// The port still has queue handles in use by some core.
    #[error("port {0} still has queue handles in use; drop them before stopping the port")]
    PortBusy(u16),
    /// The lcore cannot run work (not a worker, not idle, or not enabled in the EAL core list).
    #[error("lcore {lcore}: {reason}")]
    Lcore { lcore: u32, reason: String },
}

/// Result of safe-layer calls.
pub type Result<T> = std::result::Result<T, Error>;

/// The calling thread's `rte_errno`.
pub(crate) fn last_errno() -> i32 {
    // SAFETY: reads a thread-local integer through the C helper; no preconditions.
    unsafe { sys::lisp_rte_errno() }
}

/// DPDK's text for an error number (covers both libc and DPDK-specific codes).
pub(crate) fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string.
    let text = unsafe { CStr::from_ptr(sys::rte_strerror(errno)) };
    text.to_string_lossy().into_owned()
}

/// An error for `operation` from an errno value (sign ignored: DPDK returns both `-E` and `E`).
pub(crate) fn dpdk_error(operation: impl Into<String>, errno: i32) -> Error {
    let errno = errno.abs();
    Error::Dpdk {
        operation: operation.into(),
        errno,
        reason: strerror(errno),
    }
}

/// Maps DPDK's "negative errno on failure" return convention onto `Result`.
pub(crate) fn check(operation: &str, ret: i32) -> Result<i32> {
    if ret < 0 {
        Err(dpdk_error(operation, ret))
    } else {
        Ok(ret)
    }
}
