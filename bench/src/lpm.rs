//! Our LPM against DPDK's `rte_fib` (DIR-24-8) and `rte_fib6` (trie) on the same prefixes and the
//! same random keys, in bursts of 32: cycles per lookup, update rates and memory.

use std::collections::HashSet;
use std::hint::black_box;

use dataplane::lpm::{mask, LpmWriter};
use dataplane::rcu::Qsbr;
use dpdk_bindings::{time, Eal, Fib4, Fib6};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const BURST: usize = 32;
const RUNS: usize = 5;
const V4_PREFIXES: usize = 1_000_000;
const V6_PREFIXES: usize = 100_000;
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

fn v4_prefixes(rng: &mut SmallRng) -> Vec<(u32, u8)> {
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

fn median(mut runs: Vec<f64>) -> f64 {
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

pub fn run() -> Result<(), String> {
    let eal = crate::eal::init("bench-lpm", 1800, false).map_err(|e| e.to_string())?;
    let mut rng = SmallRng::seed_from_u64(0x1157_2026);
    ipv4(&eal, &mut rng)?;
    ipv6(&eal, &mut rng)
}

fn ipv4(eal: &Eal, rng: &mut SmallRng) -> Result<(), String> {
    let prefixes = v4_prefixes(rng);
    let keys: Vec<u32> = (0..KEYS).map(|_| rng.random()).collect();
    let wide: Vec<(usize, u128)> = keys.iter().map(|&k| (0, u128::from(k) << 96)).collect();

    let mut ours = LpmWriter::new(32, 1, 40 << 20, Qsbr::new(1));
    let start = time::tsc();
    for (i, &(net, len)) in prefixes.iter().enumerate() {
        ours.insert(0, u128::from(net) << 96, len, i as u32 + 1)
            .map_err(|e| e.to_string())?;
    }
    ours.publish();
    let ours_insert = (time::tsc() - start) as f64 / prefixes.len() as f64;
    let ours_bytes = ours.used_words() * 4 + (2 << 18);

    let mut fib = Fib4::new(eal, "bench_fib4", (V4_PREFIXES * 2) as i32, 1 << 16)
        .map_err(|e| e.to_string())?;
    let start = time::tsc();
    for (i, &(net, len)) in prefixes.iter().enumerate() {
        fib.add(net, len, i as u64 + 1).map_err(|e| e.to_string())?;
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
                return Err("IPv4: our LPM and rte_fib disagree".into());
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

    let victims: Vec<(u32, u8)> = (0..100_000)
        .map(|_| prefixes[rng.random_range(0..prefixes.len())])
        .collect();
    let start = time::tsc();
    for &(net, len) in &victims {
        ours.remove(0, u128::from(net) << 96, len)
            .map_err(|e| e.to_string())?;
    }
    ours.publish();
    let ours_delete = (time::tsc() - start) as f64 / victims.len() as f64;
    let start = time::tsc();
    for &(net, len) in &victims {
        let _ = fib.delete(net, len);
    }
    let fib_delete = (time::tsc() - start) as f64 / victims.len() as f64;

    println!("lpm4_prefixes {}", prefixes.len());
    println!("lpm4_cycles_ours {ours_cycles:.1}");
    println!("lpm4_cycles_rte_fib {fib_cycles:.1}");
    println!("lpm4_insert_cycles_ours {ours_insert:.0} rte_fib {fib_insert:.0}");
    println!("lpm4_delete_cycles_ours {ours_delete:.0} rte_fib {fib_delete:.0}");
    println!("lpm4_memory_bytes_ours {ours_bytes}");
    println!(
        "lpm4_memory_bytes_rte_fib_tables {}",
        (1usize << 24) * 4 + (1usize << 16) * 256 * 4
    );
    println!(
        "RATIO lpm4_cycles_vs_rte_fib {:.3}",
        ours_cycles / fib_cycles
    );
    println!(
        "RATIO lpm4_insert_cycles_vs_rte_fib {:.3}",
        ours_insert / fib_insert
    );
    Ok(())
}

fn ipv6(eal: &Eal, rng: &mut SmallRng) -> Result<(), String> {
    let prefixes = v6_prefixes(rng);
    // Keys inside random prefixes (deep lookups), host bits random.
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
        ours.insert(0, net, len, i as u32 + 1)
            .map_err(|e| e.to_string())?;
    }
    ours.publish();
    let ours_insert = (time::tsc() - start) as f64 / prefixes.len() as f64;
    let ours_bytes = ours.used_words() * 4 + (2 << 18);
    let table = ours.published();

    let mut fib = Fib6::new(eal, "bench_fib6", (V6_PREFIXES * 2) as i32, 1 << 19)
        .map_err(|e| e.to_string())?;
    let start = time::tsc();
    for (i, &(net, len)) in prefixes.iter().enumerate() {
        fib.add(&net.to_be_bytes(), len, i as u64 + 1)
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
                return Err("IPv6: our LPM and rte_fib6 disagree".into());
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
    println!("lpm6_prefixes {}", prefixes.len());
    println!("lpm6_cycles_ours {ours_cycles:.1}");
    println!("lpm6_cycles_rte_fib6 {fib_cycles:.1}");
    println!("lpm6_insert_cycles_ours {ours_insert:.0} rte_fib6 {fib_insert:.0}");
    println!("lpm6_memory_bytes_ours {ours_bytes}");
    println!(
        "RATIO lpm6_cycles_vs_rte_fib6 {:.3}",
        ours_cycles / fib_cycles
    );
    println!(
        "RATIO lpm6_insert_cycles_vs_rte_fib6 {:.3}",
        ours_insert / fib_insert
    );
    Ok(())
}
