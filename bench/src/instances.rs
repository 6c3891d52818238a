//! Tenants at scale: what an instance costs in memory with nothing in it, and what looking up in
//! one of many instances costs against one instance. The same 1M BGP-like IPv4 prefixes go into
//! one table, then dealt round-robin over 1,000 instances (16 with direct roots, the rest
//! compact; see [`dataplane::lpm::DIRECT_TABLES`]); random keys are looked up in bursts of 32,
//! each in a random instance. Memory is the process's resident size before and after the
//! map-cache and database tables of 16, then 1,000, instances are created and each table is
//! looked up once per family (roots are mapped in as they are touched, so this is what an idle
//! tenant costs; one with prefixes touches more of its root).

use std::hint::black_box;

use dataplane::lpm::{LpmWriter, DIRECT_TABLES};
use dataplane::mapcache::{DatabaseWriter, Instances, MapCacheWriter};
use dataplane::rcu::Qsbr;
use dpdk_bindings::time;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::lpm::{median, v4_prefixes};

const BURST: usize = 32;
const KEYS: usize = 1 << 20;
const RUNS: usize = 5;
/// The tenants an xTR of this scale serves, the default instance included.
const INSTANCES: usize = 1000;

/// Resident bytes of this process (`/proc/self/statm`).
fn resident_bytes() -> Result<u64, String> {
    let statm = std::fs::read_to_string("/proc/self/statm").map_err(|e| e.to_string())?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or("unreadable /proc/self/statm")?;
    Ok(pages * 4096)
}

/// Median cycles per key of looking up every `(table, key)` in bursts.
fn cycles_per_lookup(lpm: &LpmWriter, keys: &[(usize, u128)]) -> f64 {
    let view = lpm.published();
    let mut out = [None; BURST];
    median(
        (0..RUNS)
            .map(|_| {
                let start = time::tsc();
                let mut found = 0u64;
                for burst in keys.chunks(BURST) {
                    view.lookup_burst(burst, &mut out);
                    found += out.iter().flatten().count() as u64;
                }
                black_box(found);
                (time::tsc() - start) as f64 / keys.len() as f64
            })
            .collect(),
    )
}

/// 1M prefixes dealt over `tables` tables of one LPM, and random keys in random tables.
fn loaded(
    prefixes: &[(u32, u8)],
    tables: usize,
    rng: &mut SmallRng,
) -> Result<(LpmWriter, Vec<(usize, u128)>), String> {
    let mut lpm = LpmWriter::new(32, tables, 40 << 20, Qsbr::new(1));
    for (i, &(net, len)) in prefixes.iter().enumerate() {
        lpm.insert(i % tables, u128::from(net) << 96, len, i as u32 + 1)
            .map_err(|e| e.to_string())?;
    }
    lpm.publish();
    let keys = (0..KEYS)
        .map(|_| {
            (
                rng.random_range(0..tables),
                u128::from(rng.random::<u32>()) << 96,
            )
        })
        .collect();
    Ok((lpm, keys))
}

/// Resident bytes an xTR's tables (map-cache and database) take for `count` empty instances,
/// each table touched by a lookup.
fn empty_instances(count: usize) -> Result<u64, String> {
    let before = resident_bytes()?;
    let instances = Instances::new(1..count as u32).map_err(|e| e.to_string())?;
    let qsbr = Qsbr::new(1);
    let map_cache = MapCacheWriter::new(16, instances.clone(), qsbr.clone());
    let database = DatabaseWriter::new(instances, qsbr.clone());
    let reader = qsbr.register().map_err(|e| e.to_string())?;
    let (cache, db) = (map_cache.shared(), database.shared());
    let (cache_view, db_view) = (cache.view(&reader), db.view(&reader));
    for table in 0..count {
        for address in ["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()] {
            black_box(cache_view.lookup(table, address).is_some());
            black_box(db_view.lookup(table, address).is_some());
        }
    }
    Ok(resident_bytes()?.saturating_sub(before))
}

pub fn run() -> Result<(), String> {
    let mut rng = SmallRng::seed_from_u64(24);
    let direct = empty_instances(DIRECT_TABLES)?;
    let all = empty_instances(INSTANCES)?;
    println!("instances_empty_bytes_for_{DIRECT_TABLES}_instances {direct}");
    println!("instances_empty_bytes_for_{INSTANCES}_instances {all}");
    println!(
        "instances_empty_bytes_per_direct_instance {}",
        direct / DIRECT_TABLES as u64
    );
    println!(
        "instances_empty_bytes_per_further_instance {}",
        all.saturating_sub(direct) / (INSTANCES - DIRECT_TABLES) as u64
    );

    let prefixes = v4_prefixes(&mut rng);
    let (one, one_keys) = loaded(&prefixes, 1, &mut rng)?;
    let single = cycles_per_lookup(&one, &one_keys);
    println!(
        "instances_arena_words_per_prefix_one_instance {:.1}",
        one.used_words() as f64 / prefixes.len() as f64
    );
    drop(one);
    let (many, many_keys) = loaded(&prefixes, INSTANCES, &mut rng)?;
    let spread = cycles_per_lookup(&many, &many_keys);
    println!("instances_lookup_cycles_one_instance {single:.1}");
    println!("instances_lookup_cycles_{INSTANCES}_instances {spread:.1}");
    println!(
        "instances_arena_words_per_prefix_{INSTANCES}_instances {:.1}",
        many.used_words() as f64 / prefixes.len() as f64
    );
    println!(
        "RATIO lookup_{INSTANCES}_instances_vs_one {:.3}",
        spread / single
    );
    Ok(())
}
