//! What a random read costs on this machine by working-set size: the floor under every lookup
//! structure. "Independent" reads are issued the way the LPM bursts issue them (prefetch 32 keys,
//! then read them), so their misses overlap; "dependent" reads chase a random cycle, each address
//! known only once the previous read returns (one trie level after another, one key).

use std::hint::black_box;

use dpdk_bindings::time;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const BURST: usize = 32;
const READS: usize = 1 << 20;
const RUNS: usize = 5;
/// Words per 64-byte cache line: one read per line.
const LINE_WORDS: usize = 16;

fn best_of_runs(mut run: impl FnMut() -> u64) -> f64 {
    (0..RUNS)
        .map(|_| {
            let start = time::tsc();
            black_box(run());
            (time::tsc() - start) as f64 / READS as f64
        })
        .fold(f64::MAX, f64::min)
}

/// Cycles per read of random lines of `words`, a burst's reads overlapping.
fn independent(words: &[u32], lines: &[usize]) -> f64 {
    best_of_runs(|| {
        let mut sum = 0u64;
        for burst in lines.chunks(BURST) {
            for &line in burst {
                prefetch_index::prefetch_index(words, line * LINE_WORDS);
            }
            sum += burst
                .iter()
                .map(|&line| u64::from(words[line * LINE_WORDS]))
                .sum::<u64>();
        }
        sum
    })
}

/// Cycles per read following the cycle stored in `words` (each line holds the next line's index).
fn dependent(words: &[u32]) -> f64 {
    best_of_runs(|| {
        let mut line = 0usize;
        for _ in 0..READS {
            line = words[line * LINE_WORDS] as usize;
        }
        line as u64
    })
}

pub fn run() -> Result<(), String> {
    let mut rng = SmallRng::seed_from_u64(64);
    for mib in [1usize, 2, 4, 8, 16, 32, 64, 128] {
        let line_count = (mib << 20) / 64;
        // One random cycle through every line (Sattolo's shuffle), stored in the lines themselves.
        let mut order: Vec<usize> = (0..line_count).collect();
        for i in (1..line_count).rev() {
            order.swap(i, rng.random_range(0..i));
        }
        let mut words = vec![0u32; line_count * LINE_WORDS];
        for pair in order.windows(2) {
            words[pair[0] * LINE_WORDS] = pair[1] as u32;
        }
        words[order[line_count - 1] * LINE_WORDS] = order[0] as u32;
        let lines: Vec<usize> = (0..READS)
            .map(|_| rng.random_range(0..line_count))
            .collect();
        println!(
            "memory_read_cycles {mib} MiB independent {:.1} dependent {:.1}",
            independent(&words, &lines),
            dependent(&words)
        );
    }
    Ok(())
}
