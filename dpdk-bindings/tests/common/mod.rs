//! Shared by the DPDK test binaries; each uses a subset.
#![allow(dead_code)]
//!
//! One EAL per test binary (EAL runs once per process), shared by its tests, which run one at a time.

use std::sync::{Mutex, MutexGuard, OnceLock};

use dpdk_bindings::{Eal, EalBuilder, Mempool, MempoolConfig};

/// Arguments that need no hugepages, no PCI and leave no files behind.
pub use dpdk_bindings::VDEV_ONLY_ARGS as TEST_EAL_ARGS;

static EAL: OnceLock<Eal> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// The binary's EAL (lcores 0 and 1 both on CPU 0, so it runs on any machine) and a lock that keeps
/// tests from interleaving their DPDK calls.
pub fn eal() -> (&'static Eal, MutexGuard<'static, ()>) {
    let guard = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let eal = EAL.get_or_init(|| {
        EalBuilder::new("dpdk-bindings-test")
            .args(TEST_EAL_ARGS)
            .args(["--lcores", "0@0,1@0"])
            .init()
            .expect("EAL init with test arguments")
    });
    (eal, guard)
}

/// A small pool with no per-lcore cache, so counts are exact at every point.
pub fn pool(eal: &Eal, name: &str) -> Mempool {
    Mempool::new(
        eal,
        name,
        MempoolConfig {
            size: 511,
            cache_size: 0,
            ..MempoolConfig::default()
        },
    )
    .expect("create test pool")
}

/// A recognisable frame of `len` bytes: broadcast Ethernet, EtherType 0x88b5 (local experimental),
/// then a counter pattern seeded by `seed`.
pub fn frame(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    bytes[..6].fill(0xff);
    bytes[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, seed]);
    bytes[12..14].copy_from_slice(&[0x88, 0xb5]);
    for (i, b) in bytes[14..].iter_mut().enumerate() {
        *b = seed.wrapping_add(i as u8);
    }
    bytes
}
