//! Readers look up while the writer churns; every result must be legal for some version the
//! reader could have seen: the value before or after each in-flight change, never garbage, and
//! never a state between two publications.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dataplane::lpm::LpmWriter;
use dataplane::rcu::Qsbr;

/// Prefix `i` (a /24 inside 10.0.0.0/8) toggles between two values per generation; the /8 below
/// it always maps to 1. A reader may see generation g or g+1 of a prefix, or the /8 while it is
/// absent, and nothing else.
#[test]
fn readers_only_see_published_versions() {
    let qsbr = Qsbr::new(2);
    let mut writer = LpmWriter::new(32, 1, 1 << 20, qsbr.clone());
    let key = |i: u32| u128::from(0x0a00_0000u32 | (i << 8)) << 96;
    writer
        .insert(0, u128::from(0x0a00_0000u32) << 96, 8, 1)
        .unwrap();
    const PREFIXES: u32 = 512;
    for i in 0..PREFIXES {
        writer.insert(0, key(i), 24, 1000 + i).unwrap();
    }
    writer.publish();
    let table = writer.table();
    let stop = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..2)
        .map(|_| {
            let table = table.clone();
            let stop = stop.clone();
            let mut reader = qsbr.register().unwrap();
            std::thread::spawn(move || {
                let mut lookups = 0u64;
                let keys: Vec<(usize, u128)> =
                    (0..PREFIXES).map(|i| (0, key(i) | 0x42 << 96)).collect();
                let mut out = vec![None; 32];
                while !stop.load(Ordering::Relaxed) {
                    {
                        let view = table.view(&reader);
                        for chunk in keys.chunks(32) {
                            view.lookup_burst(chunk, &mut out);
                            for ((_, k), v) in chunk.iter().zip(&out) {
                                let i = (((k >> 96) as u32) >> 8) & 0xffff;
                                let legal = matches!(v, Some(1)) || matches!(v, Some(x) if (x - 1000) % PREFIXES == i % PREFIXES);
                                assert!(legal, "prefix {i}: impossible value {v:?}");
                                lookups += 1;
                            }
                        }
                    }
                    reader.quiescent();
                }
                lookups
            })
        })
        .collect();

    // Churn: remove, re-add with a new value, replace; publish after small batches.
    for round in 0..200u32 {
        for i in (round % 7..PREFIXES).step_by(7) {
            match (round + i) % 3 {
                0 => {
                    writer.remove(0, key(i), 24).unwrap();
                }
                _ => {
                    writer
                        .insert(0, key(i), 24, 1000 + i + PREFIXES * (round % 5))
                        .unwrap();
                }
            }
        }
        writer.publish();
    }
    stop.store(true, Ordering::Relaxed);
    let total: u64 = readers
        .into_iter()
        .map(|r| r.join().expect("reader saw only legal values"))
        .sum();
    assert!(total > 10_000, "readers ran: {total} lookups");
    // The arena is reused: 200 rounds of path copies fit a fraction of it.
    assert!(
        writer.used_words() < 200_000,
        "{} words live",
        writer.used_words()
    );
}
