//! EAL initialisation (once per process) and cleanup when the last handle goes away.

use std::ffi::{c_char, c_int, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{dpdk_error, last_errno, Error, Result};
use crate::sys;

static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// EAL arguments for virtual devices without hugepages: 256 MiB of ordinary memory, no PCI scan,
/// no shared files under /var/run/dpdk, no telemetry socket. For tests and smoke runs.
pub const VDEV_ONLY_ARGS: [&str; 7] = [
    "--no-huge",
    "-m",
    "256",
    "--no-shconf",
    "--no-pci",
    "--no-telemetry",
    "--log-level=lib.eal:error",
];

/// Collects EAL arguments (`-l`, `--vdev`, `--no-huge -m 256`, `--file-prefix`, ...) and initialises EAL.
#[derive(Debug, Clone)]
pub struct EalBuilder {
    args: Vec<String>,
}

impl EalBuilder {
    /// Starts with the program name DPDK expects as `argv[0]`.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            args: vec![program.into()],
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The arguments as they will be passed.
    pub fn arguments(&self) -> &[String] {
        &self.args
    }

    /// Initialises EAL. Fails with [`Error::EalAlreadyInitialised`] on a second call in the same process.
    pub fn init(self) -> Result<Eal> {
        for arg in &self.args[1..] {
            // EAL prints usage and exits the process on these; refuse them instead.
            if matches!(arg.as_str(), "-h" | "--help" | "-v") {
                return Err(Error::InvalidArgument(format!(
                    "EAL argument {arg} would make DPDK exit the process"
                )));
            }
        }
        let owned: Vec<CString> = self
            .args
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::InvalidArgument("EAL argument contains a NUL byte".into()))?;
        if EAL_STARTED.swap(true, Ordering::AcqRel) {
            return Err(Error::EalAlreadyInitialised);
        }
        // EAL may keep pointers into argv (and permutes it): the strings live for the process.
        let strings: &'static [CString] = Box::leak(owned.into_boxed_slice());
        let argv: &'static mut [*mut c_char] = Box::leak(
            strings
                .iter()
                .map(|s| s.as_ptr() as *mut c_char)
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let argc = c_int::try_from(argv.len())
            .map_err(|_| Error::InvalidArgument("too many EAL arguments".into()))?;
        // SAFETY: argv holds argc valid NUL-terminated strings that live for the whole process.
        let ret = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            let errno = last_errno();
            // DPDK resets itself after argument errors; let a corrected retry reach it.
            EAL_STARTED.store(false, Ordering::Release);
            return Err(dpdk_error(
                format!("rte_eal_init({})", self.args[1..].join(" ")),
                errno,
            ));
        }
        Ok(Eal {
            _inner: Arc::new(EalInner),
        })
    }
}

/// Proof that EAL is initialised. Every DPDK object holds one, so `rte_eal_cleanup` runs only after
/// the last pool, port and ring of the process is gone.
#[derive(Debug, Clone)]
pub struct Eal {
    _inner: Arc<EalInner>,
}

#[derive(Debug)]
struct EalInner;

impl Drop for EalInner {
    fn drop(&mut self) {
        // SAFETY: no DPDK object outlives this handle (each holds a clone), so cleanup is the last call.
        unsafe { sys::rte_eal_cleanup() };
    }
}

impl Eal {
    /// Number of lcores EAL was given (main and workers).
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: EAL is initialised (this handle exists).
        unsafe { sys::rte_lcore_count() }
    }

    /// Number of ethdev ports currently available.
    pub fn port_count(&self) -> u16 {
        // SAFETY: EAL is initialised.
        unsafe { sys::rte_eth_dev_count_avail() }
    }
}
