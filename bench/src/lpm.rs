//! Our LPM against DPDK's `rte_fib` (DIR-24-8) and `rte_fib6` (trie) on the same prefixes and the
//! same random keys, in bursts of 32: cycles per lookup, update rates and memory. Run on synthetic
//! BGP-like tables and on a real full routing table (`bench/data/full-table.txt.gz`, or any other
//! with `--rib FILE`), the real one with one value per prefix and with 4,096 shared values (as the
//! map-cache shares identical mappings).

use std::collections::HashSet;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use dataplane::lpm::{mask, LpmWriter};
use dataplane::rcu::Qsbr;
use dpdk_bindings::{time, Eal, Fib4, Fib6};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const BURST: usize = 32;
const RUNS: usize = 5;
const V4_PREFIXES: usize = 1_000_000;
const V6_PREFIXES: usize = 100_000;
/// Distinct values when values are shared between prefixes.
const SHARED_VALUES: u32 = 4096;
const KEYS: usize = 1 << 20;

/// Prefix lengths weighted like the IPv4 BGP table (mostly /24, then /22–/20, few short or long).
const V4_LENGTHS: [(u8, u32); 13] = [
    (8, 2),
    (12, 3),
    (15, 5),
    (16, 25),
    (18, 20),
    (19, 40),
    (20, 50),
    (21, 50),
    (22, 100),
    (23, 90),
    (24, 580),
    (28, 15),
    (32, 20),
];
/// IPv6 BGP-like lengths (mostly /48, /32, /44, /40).
const V6_LENGTHS: [(u8, u32); 9] = [
    (29, 40),
    (32, 150),
    (36, 50),
    (40, 80),
    (44, 100),
    (46, 20),
    (47, 20),
    (48, 450),
    (56, 90),
];

fn pick_length(rng: &mut SmallRng, table: &[(u8, u32)]) -> u8 {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for &(len, weight) in table {
        if roll < weight {
            return len;
        }
        roll -= weight;
    }
    table[table.len() - 1].0
}

pub(crate) fn v4_prefixes(rng: &mut SmallRng) -> Vec<(u32, u8)> {
    let mut seen = HashSet::new();
    while seen.len() < V4_PREFIXES {
        let len = pick_length(rng, &V4_LENGTHS);
        let addr = rng.random_range(0x0100_0000u32..0xe000_0000);
        let net = if len == 0 {
            0
        } else {
            addr & (u32::MAX << (32 - u32::from(len)))
        };
        seen.insert((net, len));
    }
    let mut list: Vec<_> = seen.into_iter().collect();
    list.sort_unstable();
    list
}

fn v6_prefixes(rng: &mut SmallRng) -> Vec<(u128, u8)> {
    let mut seen = HashSet::new();
    while seen.len() < V6_PREFIXES {
        let len = pick_length(rng, &V6_LENGTHS);
        // Global unicast 2000::/3, clustered into a few hundred /16-/20 blocks like real allocations.
        let block =
            u128::from(rng.random_range(0x2000u16..0x2100) & 0xfff0 | rng.random_range(0..4u16));
        let addr = (block << 112) | (rng.random::<u128>() >> 16);
        seen.insert((mask(addr, len), len));
    }
    let mut list: Vec<_> = seen.into_iter().collect();
    list.sort_unstable();
    list
}

pub(crate) fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// Median TSC cycles per key of `lookup` over all keys in bursts.
fn cycles_per_lookup(keys: usize, mut lookup_all: impl FnMut() -> u64) -> f64 {
    median(
        (0..RUNS)
            .map(|_| {
                let start = time::tsc();
                black_box(lookup_all());
                (time::tsc() - start) as f64 / keys as f64
            })
            .collect(),
    )
}

/// What each prefix maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Values {
    /// Prefix `i` maps to `i + 1`.
    PerPrefix,
    /// Prefix `i` maps to one of [`SHARED_VALUES`].
    Shared,
}

impl Values {
    fn of(self, i: usize) -> u32 {
        match self {
            Self::PerPrefix => i as u32 + 1,
            Self::Shared => (i as u32 % SHARED_VALUES) + 1,
        }
    }
}

/// The default real table, or the one after `--rib` on the command line.
fn rib_path() -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--rib")
        .and_then(|i| args.get(i + 1))
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("data/full-table.txt.gz"),
            PathBuf::from,
        )
}

/// A routing table's prefixes: (network, length), IPv4 and IPv6.
struct Rib {
    v4: Vec<(u32, u8)>,
    v6: Vec<(u128, u8)>,
}

/// The IPv4 and IPv6 prefixes of a table file: one per line, plain or gzip (by magic number),
/// host bits cleared, duplicates dropped.
fn load_rib(path: &Path) -> Result<Rib, String> {
    let context = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(|e| context(&e))?;
    let mut magic = [0u8; 2];
    let gzip = file.read(&mut magic).map_err(|e| context(&e))? == 2 && magic == [0x1f, 0x8b];
    let file = std::fs::File::open(path).map_err(|e| context(&e))?;
    let reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let (mut v4, mut v6) = (HashSet::new(), HashSet::new());
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| context(&e))?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let net: ipnet::IpNet = text
            .parse()
            .map_err(|e| context(&format!("line {}: {text:?}: {e}", number + 1)))?;
        match net.trunc() {
            ipnet::IpNet::V4(n) => v4.insert((u32::from(n.network()), n.prefix_len())),
            ipnet::IpNet::V6(n) => v6.insert((u128::from(n.network()), n.prefix_len())),
        };
    }
    let mut v4: Vec<_> = v4.into_iter().collect();
    let mut v6: Vec<_> = v6.into_iter().collect();
    v4.sort_unstable();
    v6.sort_unstable();
    Ok(Rib { v4, v6 })
}

pub fn run() -> Result<(), String> {
    let eal = crate::eal::init("bench-lpm", 1800, false).map_err(|e| e.to_string())?;
    let mut rng = SmallRng::seed_from_u64(0x1157_2026);
    let synthetic4 = v4_prefixes(&mut rng);
    ipv4(&eal, "lpm4", &synthetic4, Values::PerPrefix, &mut rng)?;
    drop(synthetic4);
    let synthetic6 = v6_prefixes(&mut rng);
    ipv6(&eal, "lpm6", &synthetic6, Values::PerPrefix, &mut rng)?;
    drop(synthetic6);
    let path = rib_path();
    let Rib { v4: rib4, v6: rib6 } = load_rib(&path)?;
    println!(
        "lpm_rib {} ({} IPv4, {} IPv6 prefixes)",
        path.display(),
        rib4.len(),
        rib6.len()
    );
    for (name, values) in [("rib", Values::PerPrefix), ("rib_shared", Values::Shared)] {
        if !rib4.is_empty() {
            ipv4(&eal, &format!("lpm4_{name}"), &rib4, values, &mut rng)?;
        }
        if !rib6.is_empty() {
            ipv6(&eal, &format!("lpm6_{name}"), &rib6, values, &mut rng)?;
        }
    }
    Ok(())
}

/// Both LPMs on `prefixes` with random keys; figures named after `name` (e.g. `lpm4_rib`).
fn ipv4(
    eal: &Eal,
    name: &str,
    prefixes: &[(u32, u8)],
    values: Values,
    rng: &mut SmallRng,
) -> Result<(), String> {
    let keys: Vec<u32> = (0..KEYS).map(|_| rng.random()).collect();
    let wide: Vec<(usize, u128)> = keys.iter().map(|&k| (0, u128::from(k) << 96)).collect();

    let mut ours = LpmWriter::new(32, 1, 40 << 20, Qsbr::new(1));
    let start = time::tsc();
    for (i, &(net, len)) in prefixes.iter().enumerate() {
        ours.insert(0, u128::from(net) << 96, len, values.of(i))
            .map_err(|e| e.to_string())?;
    }
    ours.publish();
    let ours_insert = (time::tsc() - start) as f64 / prefixes.len() as f64;
    let ours_bytes = ours.used_words() * 4 + (2 << 18);

    let capacity = i32::try_from(prefixes.len() * 2).map_err(|e| e.to_string())?;
    let mut fib =
        Fib4::new(eal, &format!("b_{name}"), capacity, 1 << 16).map_err(|e| e.to_string())?;
    let start = time::tsc();
    for (i, &(net, len)) in prefixes.iter().enumerate() {
        fib.add(net, len, u64::from(values.of(i)))
            .map_err(|e| e.to_string())?;
    }
    let fib_insert = (time::tsc() - start) as f64 / prefixes.len() as f64;

    let table = ours.published();
    // Same answers on every key before timing anything.
    let mut ours_out = vec![None; BURST];
    let mut fib_out = vec![0u64; BURST];
    for (k, w) in keys.chunks(BURST).zip(wide.chunks(BURST)) {
        table.lookup_burst(w, &mut ours_out);
        fib.lookup_bulk(k, &mut fib_out)
            .map_err(|e| e.to_string())?;
        for (o, f) in ours_out.iter().zip(&fib_out) {
            if o.map_or(0, u64::from) != *f {
                return Err(format!("{name}: our LPM and rte_fib disagree"));
            }
        }
    }

    let ours_cycles = cycles_per_lookup(KEYS, || {
        let mut sum = 0u64;
        for w in wide.chunks(BURST) {
            table.lookup_burst(w, &mut ours_out);
            sum += ours_out
                .iter()
                .map(|o| u64::from(o.unwrap_or(0)))
                .sum::<u64>();
        }
        sum
    });
    let fib_cycles = cycles_per_lookup(KEYS, || {
        let mut sum = 0u64;
        for k in keys.chunks(BURST) {
            fib.lookup_bulk(k, &mut fib_out).ok();
            sum += fib_out.iter().sum::<u64>();
        }
        sum
    });

    let victims: Vec<(u32, u8)> = (0..100_000.min(prefixes.len()))
        .map(|_| prefixes[rng.random_range(0..prefixes.len())])
        .collect();
    let start = time::tsc();
    for &(net, len) in &victims {
        // A victim drawn twice is already gone: not an error.
        let _ = ours.remove(0, u128::from(net) << 96, len);
    }
    ours.publish();
    let ours_delete = (time::tsc() - start) as f64 / victims.len() as f64;
    let start = time::tsc();
    for &(net, len) in &victims {
        let _ = fib.delete(net, len);
    }
    let fib_delete = (time::tsc() - start) as f64 / victims.len() as f64;

    println!("{name}_prefixes {}", prefixes.len());
    println!("{name}_cycles_ours {ours_cycles:.1}");
    println!("{name}_cycles_rte_fib {fib_cycles:.1}");
    println!("{name}_insert_cycles_ours {ours_insert:.0} rte_fib {fib_insert:.0}");
    println!("{name}_delete_cycles_ours {ours_delete:.0} rte_fib {fib_delete:.0}");
    println!("{name}_memory_bytes_ours {ours_bytes}");
    println!(
        "{name}_memory_bytes_rte_fib_tables {}",
        (1usize << 24) * 4 + (1usize << 16) * 256 * 4
    );
    println!(
        "RATIO {name}_cycles_vs_rte_fib {:.3}",
        ours_cycles / fib_cycles
    );
    println!(
        "RATIO {name}_insert_cycles_vs_rte_fib {:.3}",
        ours_insert / fib_insert
    );
    Ok(())
}

/// Both LPMs on `prefixes` with random keys inside random prefixes (deep lookups); figures named
/// after `name`.
fn ipv6(
    eal: &Eal,
    name: &str,
    prefixes: &[(u128, u8)],
    values: Values,
    rng: &mut SmallRng,
) -> Result<(), String> {
    let wide: Vec<(usize, u128)> = (0..KEYS)
        .map(|_| {
            let (net, len) = prefixes[rng.random_range(0..prefixes.len())];
            (0, net | (rng.random::<u128>() >> len.min(127)))
        })
        .collect();
    let bytes: Vec<[u8; 16]> = wide.iter().map(|(_, k)| k.to_be_bytes()).collect();

    let mut ours = LpmWriter::new(128, 1, 40 << 20, Qsbr::new(1));
    let start = time::tsc();
    for (i, &(net, len)) in prefixes.iter().enumerate() {
        ours.insert(0, net, len, values.of(i))
            .map_err(|e| e.to_string())?;
    }
    ours.publish();
    let ours_insert = (time::tsc() - start) as f64 / prefixes.len() as f64;
    let ours_bytes = ours.used_words() * 4 + (2 << 18);
    let table = ours.published();

    let capacity = i32::try_from(prefixes.len() * 2).map_err(|e| e.to_string())?;
    let mut fib =
        Fib6::new(eal, &format!("b_{name}"), capacity, 1 << 19).map_err(|e| e.to_string())?;
    let start = time::tsc();
    for (i, &(net, len)) in prefixes.iter().enumerate() {
        fib.add(&net.to_be_bytes(), len, u64::from(values.of(i)))
            .map_err(|e| e.to_string())?;
    }
    let fib_insert = (time::tsc() - start) as f64 / prefixes.len() as f64;

    let mut ours_out = vec![None; BURST];
    let mut fib_out = vec![0u64; BURST];
    for (w, b) in wide.chunks(BURST).zip(bytes.chunks(BURST)) {
        table.lookup_burst(w, &mut ours_out);
        fib.lookup_bulk(b, &mut fib_out)
            .map_err(|e| e.to_string())?;
        for (o, f) in ours_out.iter().zip(&fib_out) {
            if o.map_or(0, u64::from) != *f {
                return Err(format!("{name}: our LPM and rte_fib6 disagree"));
            }
        }
    }
    let ours_cycles = cycles_per_lookup(KEYS, || {
        let mut sum = 0u64;
        for w in wide.chunks(BURST) {
            table.lookup_burst(w, &mut ours_out);
            sum += ours_out
                .iter()
                .map(|o| u64::from(o.unwrap_or(0)))
                .sum::<u64>();
        }
        sum
    });
    let fib_cycles = cycles_per_lookup(KEYS, || {
        let mut sum = 0u64;
        for b in bytes.chunks(BURST) {
            fib.lookup_bulk(b, &mut fib_out).ok();
            sum += fib_out.iter().sum::<u64>();
        }
        sum
    });
    println!("{name}_prefixes {}", prefixes.len());
    println!("{name}_cycles_ours {ours_cycles:.1}");
    println!("{name}_cycles_rte_fib6 {fib_cycles:.1}");
    println!("{name}_insert_cycles_ours {ours_insert:.0} rte_fib6 {fib_insert:.0}");
    println!("{name}_memory_bytes_ours {ours_bytes}");
    println!(
        "RATIO {name}_cycles_vs_rte_fib6 {:.3}",
        ours_cycles / fib_cycles
    );
    println!(
        "RATIO {name}_insert_cycles_vs_rte_fib6 {:.3}",
        ours_insert / fib_insert
    );
    Ok(())
}
