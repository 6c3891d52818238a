//! EAL for benchmarks: hugepages when enough are free (as DPDK runs in production), else
//! `--no-huge`; the mode is printed so figures are read in context.

use dpdk_bindings::{Eal, EalBuilder};

/// Free hugepage memory in MiB, from /proc/meminfo.
fn free_hugepage_mib() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| -> u64 {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    field("HugePages_Free:") * field("Hugepagesize:") / 1024
}

/// EAL memory arguments for `memory_mib`: hugepages (`--in-memory`, no shared files) when that
/// many are free, else `--no-huge`; the flag says which.
pub fn memory_args(memory_mib: u64) -> (Vec<String>, bool) {
    let mut args = vec!["-m".to_owned(), memory_mib.to_string()];
    let hugepages = free_hugepage_mib() >= memory_mib;
    if hugepages {
        args.push("--in-memory".into());
    } else {
        args.extend(["--no-huge".into(), "--no-shconf".into()]);
    }
    (args, hugepages)
}

/// Initialises EAL with `memory_mib` of memory on lcore 0 (and 1 when `two_cores`).
pub fn init(program: &str, memory_mib: u64, two_cores: bool) -> Result<Eal, dpdk_bindings::Error> {
    let lcores = if two_cores { "0@0,1@1" } else { "0@0" };
    let (memory, hugepages) = memory_args(memory_mib);
    if hugepages {
        println!("eal_memory hugepages {memory_mib} MiB");
    } else {
        println!("eal_memory no-huge {memory_mib} MiB (reserve hugepages with scripts/setup.sh for production-like figures)");
    }
    EalBuilder::new(program)
        .args([
            "--no-pci",
            "--no-telemetry",
            "--log-level=lib.eal:error",
            "--lcores",
            lcores,
        ])
        .args(memory)
        .init()
}
