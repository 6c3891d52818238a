//! Lookup rate on one core while the other core applies 10k single-prefix updates per second,
//! each published on its own, against the rate with no updates; every result is checked.
//!
//! Values encode the /24 they belong to (low 24 bits) and a generation (high bits), so a reader
//! can tell a legal answer (its key's /24, any generation, or no route) from a wrong one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataplane::lpm::{Lpm, LpmWriter};
use dataplane::rcu::{Qsbr, QsbrReader};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const PREFIXES: usize = 1_000_000;
const UPDATES_PER_SECOND: u64 = 10_000;
const PHASE: Duration = Duration::from_secs(2);
/// Idle and busy phases alternate this many times; medians are compared (the VM is noisy).
const ROUNDS: usize = 3;
const BURST: usize = 32;

struct Counts {
    lookups: AtomicU64,
    wrong: AtomicU64,
}

fn key_of(slash24: u32) -> u128 {
    u128::from(slash24 << 8) << 96
}

fn reader(
    core: Option<core_affinity::CoreId>,
    table: Arc<Lpm>,
    mut qsbr: QsbrReader,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) {
    if let Some(core) = core {
        core_affinity::set_for_current(core);
    }
    let mut rng = SmallRng::seed_from_u64(7);
    let keys: Vec<(usize, u128)> = (0..1 << 16)
        .map(|_| (0, u128::from(rng.random::<u32>()) << 96))
        .collect();
    let mut out = [None; BURST];
    let (mut lookups, mut wrong) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        for chunk in keys.chunks(BURST) {
            {
                let view = table.view(&qsbr);
                view.lookup_burst(chunk, &mut out);
            }
            qsbr.quiescent();
            for ((_, k), v) in chunk.iter().zip(&out) {
                if let Some(v) = v {
                    wrong += u64::from(v & 0x00ff_ffff != ((k >> 104) as u32));
                }
            }
            lookups += chunk.len() as u64;
        }
    }
    counts.lookups.store(lookups, Ordering::Relaxed);
    counts.wrong.store(wrong, Ordering::Relaxed);
}

/// Runs the reader for one phase; `updates` is called on this core until the phase ends.
fn phase(
    reader_core: Option<core_affinity::CoreId>,
    table: &Arc<Lpm>,
    qsbr: &Arc<Qsbr>,
    mut updates: impl FnMut(Instant),
) -> Result<(f64, u64), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts {
        lookups: AtomicU64::new(0),
        wrong: AtomicU64::new(0),
    });
    let handle = {
        let (table, stop, counts) = (table.clone(), stop.clone(), counts.clone());
        let registration = qsbr.register().map_err(|e| e.to_string())?;
        std::thread::spawn(move || reader(reader_core, table, registration, stop, counts))
    };
    let start = Instant::now();
    while start.elapsed() < PHASE {
        updates(start);
    }
    stop.store(true, Ordering::Relaxed);
    handle.join().map_err(|_| "reader panicked".to_string())?;
    let rate = counts.lookups.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    Ok((rate, counts.wrong.load(Ordering::Relaxed)))
}

pub fn run() -> Result<(), String> {
    // Read the core list before pinning: it reports the calling thread's own affinity mask.
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if cores.len() < 2 {
        return Err("the update benchmark needs two cores (reader and writer)".into());
    }
    core_affinity::set_for_current(cores[0]);
    let reader_core = Some(cores[1]);
    let qsbr = Qsbr::new(4);
    let mut writer = LpmWriter::new(32, 1, 40 << 20, qsbr.clone());
    let mut rng = SmallRng::seed_from_u64(2026);
    let mut generation = vec![0u8; 1 << 24];
    let mut present = Vec::with_capacity(PREFIXES);
    while present.len() < PREFIXES {
        let slash24 = rng.random_range(0x01_0000u32..0xe0_0000);
        if generation[slash24 as usize] == 0 {
            generation[slash24 as usize] = 1;
            writer
                .insert(0, key_of(slash24), 24, slash24 | 1 << 24)
                .map_err(|e| e.to_string())?;
            present.push(slash24);
        }
    }
    writer.publish();
    let table = writer.table();

    let mut idle_rates = Vec::new();
    let mut busy_rates = Vec::new();
    let mut wrong = 0;
    let mut applied = 0u64;
    let mut failures = 0u64;
    for _ in 0..ROUNDS {
        let (rate, w) = phase(reader_core, &table, &qsbr, |_| {
            std::thread::sleep(Duration::from_millis(10))
        })?;
        idle_rates.push(rate);
        wrong += w;
        let mut applied_here = 0u64;
        let (rate, w) = phase(reader_core, &table, &qsbr, |start| {
            let due = start.elapsed().as_secs_f64() * UPDATES_PER_SECOND as f64;
            if (applied_here as f64) >= due {
                std::hint::spin_loop();
                return;
            }
            let slash24 = present[rng.random_range(0..present.len())];
            let g = &mut generation[slash24 as usize];
            let result = match *g % 3 {
                0 => {
                    *g = 1;
                    writer.insert(0, key_of(slash24), 24, slash24 | 1 << 24)
                }
                1 => {
                    *g = 2;
                    writer.insert(0, key_of(slash24), 24, slash24 | 2 << 24)
                }
                _ => {
                    *g = 3;
                    writer.remove(0, key_of(slash24), 24)
                }
            };
            failures += u64::from(result.is_err());
            writer.publish();
            applied_here += 1;
        })?;
        busy_rates.push(rate);
        wrong += w;
        applied += applied_here;
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (idle_rate, busy_rate) = (median(idle_rates), median(busy_rates));
    println!("update_prefixes {PREFIXES}");
    println!("update_lookups_per_sec_idle {idle_rate:.0}");
    println!("update_lookups_per_sec_under_updates {busy_rate:.0}");
    println!(
        "update_applied_per_sec {:.0}",
        applied as f64 / (ROUNDS as f64 * PHASE.as_secs_f64())
    );
    println!("update_failed {failures}");
    println!("update_wrong_lookups {wrong}");
    println!(
        "RATIO lookup_rate_under_updates {:.3}",
        busy_rate / idle_rate
    );
    if wrong > 0 || failures > 0 {
        return Err("wrong lookups or failed updates".into());
    }
    Ok(())
}
