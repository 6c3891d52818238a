//! The LPM against a naive reference on random prefix sets and keys, with inserts, replacements
//! and deletes that uncover shorter prefixes; IPv4 and IPv6; several tables (instance-ids) in
//! one LPM, direct-rooted and compact-rooted, which must never see each other's prefixes.

use std::collections::HashMap;

use dataplane::lpm::{mask, Key, LpmWriter, DIRECT_TABLES};
use dataplane::rcu::Qsbr;
use proptest::prelude::*;

/// Tables the LPM has: the direct-rooted ones and two compact-rooted ones; lookups also probe
/// one beyond them.
const TABLES: usize = DIRECT_TABLES + 2;

/// The tables prefixes go to: two of each kind.
fn table() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(DIRECT_TABLES),
        Just(DIRECT_TABLES + 1)
    ]
}

/// Longest match in `table` by scanning every prefix.
fn reference(prefixes: &HashMap<(usize, Key, u8), u32>, table: usize, key: Key) -> Option<u32> {
    prefixes
        .iter()
        .filter(|((t, p, len), _)| *t == table && mask(key, *len) == *p)
        .max_by_key(|((_, _, len), _)| *len)
        .map(|(_, v)| *v)
}

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, Key, u8, u32),
    Remove(usize),
}

/// Prefixes clustered under a few roots so they overlap, with lengths spread over the key width.
/// Each shares the top half of its bits with its root, or with `dense` all but the last six, so
/// that many fall into the same node (whose slots then span several cache lines).
fn ops(bits: u8, dense: bool) -> impl Strategy<Value = Vec<Op>> {
    let roots = proptest::collection::vec(any::<u128>(), 3);
    (
        roots,
        proptest::collection::vec(
            (
                (0usize..3, table()),
                any::<u128>(),
                0u8..=bits,
                0u32..1000,
                any::<bool>(),
                any::<usize>(),
            ),
            1..120,
        ),
    )
        .prop_map(move |(roots, raw)| {
            raw.into_iter()
                .map(|((root, table), noise, len, value, remove, index)| {
                    if remove {
                        Op::Remove(index)
                    } else {
                        // Share the top bits of a root, then random bits, cut to `len`.
                        let shared = if dense {
                            u32::from(len).saturating_sub(6)
                        } else {
                            u32::from(len) / 2
                        };
                        let top = if shared == 0 {
                            0
                        } else {
                            roots[root] & (u128::MAX << (128 - shared))
                        };
                        let low = if shared == 0 {
                            noise
                        } else {
                            noise & (u128::MAX >> shared)
                        };
                        let width_mask = if bits == 128 {
                            u128::MAX
                        } else {
                            u128::MAX << (128 - u32::from(bits))
                        };
                        Op::Insert(table, mask((top | low) & width_mask, len), len, value)
                    }
                })
                .collect()
        })
}

fn check(bits: u8, ops: Vec<Op>, probes: Vec<u128>) -> Result<(), TestCaseError> {
    let mut writer = LpmWriter::new(bits, TABLES, 1 << 20, Qsbr::new(1));
    let mut model: HashMap<(usize, Key, u8), u32> = HashMap::new();
    let width_mask = if bits == 128 {
        u128::MAX
    } else {
        u128::MAX << (128 - u32::from(bits))
    };
    for op in ops {
        match op {
            Op::Insert(table, key, len, value) => {
                prop_assert_eq!(
                    writer.insert(table, key, len, value).unwrap(),
                    model.insert((table, key, len), value)
                );
            }
            Op::Remove(index) if !model.is_empty() => {
                let (&(table, key, len), _) = model.iter().nth(index % model.len()).unwrap();
                prop_assert_eq!(
                    writer.remove(table, key, len).unwrap(),
                    model.remove(&(table, key, len))
                );
            }
            Op::Remove(_) => {}
        }
        writer.publish();
        let table = writer.published();
        // Probe the prefixes themselves, their last addresses, and random keys, in every table
        // and one that does not exist.
        let mut addresses: Vec<u128> = model
            .keys()
            .flat_map(|&(_, k, len)| {
                let last = if len >= 128 {
                    k
                } else {
                    k | ((u128::MAX >> len) & width_mask)
                };
                [k, last]
            })
            .collect();
        addresses.extend(probes.iter().map(|p| p & width_mask));
        let keys: Vec<(usize, u128)> = (0..=TABLES)
            .flat_map(|t| addresses.iter().map(move |&a| (t, a)))
            .collect();
        let mut burst = vec![None; keys.len()];
        table.lookup_burst(&keys, &mut burst);
        for (&(t, key), got) in keys.iter().zip(burst) {
            let want = reference(&model, t, key);
            prop_assert_eq!(table.lookup(t, key), want, "table {} key {:032x}", t, key);
            prop_assert_eq!(got, want, "burst, table {} key {:032x}", t, key);
        }
    }
    prop_assert_eq!(writer.len(), model.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn ipv4_matches_the_reference(ops in ops(32, false), probes in proptest::collection::vec(any::<u128>(), 16)) {
        check(32, ops, probes)?;
    }

    #[test]
    fn dense_ipv4_nodes_match_the_reference(ops in ops(32, true), probes in proptest::collection::vec(any::<u128>(), 16)) {
        check(32, ops, probes)?;
    }

    #[test]
    fn ipv6_matches_the_reference(ops in ops(128, false), probes in proptest::collection::vec(any::<u128>(), 16)) {
        check(128, ops, probes)?;
    }
}

#[test]
fn edges_default_host_routes_and_uncovering() {
    let mut w = LpmWriter::new(32, 1, 1 << 16, Qsbr::new(1));
    let k = |a: u8, b: u8, c: u8, d: u8| u128::from(u32::from_be_bytes([a, b, c, d])) << 96;
    w.insert(0, 0, 0, 1).unwrap();
    w.insert(0, k(10, 0, 0, 0), 8, 2).unwrap();
    w.insert(0, k(10, 1, 2, 0), 24, 3).unwrap();
    w.insert(0, k(10, 1, 2, 3), 32, 4).unwrap();
    assert_eq!(
        w.published().lookup(0, k(10, 1, 2, 3)),
        None,
        "nothing is visible before publish"
    );
    w.publish();
    let t = w.published();
    assert_eq!(t.lookup(0, k(10, 1, 2, 3)), Some(4));
    assert_eq!(t.lookup(0, k(10, 1, 2, 4)), Some(3));
    assert_eq!(t.lookup(0, k(10, 9, 9, 9)), Some(2));
    assert_eq!(t.lookup(0, k(11, 0, 0, 0)), Some(1));
    w.remove(0, k(10, 1, 2, 0), 24).unwrap();
    assert_eq!(
        w.published().lookup(0, k(10, 1, 2, 4)),
        Some(3),
        "unpublished changes are invisible"
    );
    w.publish();
    assert_eq!(
        w.published().lookup(0, k(10, 1, 2, 4)),
        Some(2),
        "the /8 shows through again"
    );
    w.remove(0, 0, 0).unwrap();
    w.publish();
    assert_eq!(w.published().lookup(0, k(11, 0, 0, 0)), None);
    assert!(w.insert(0, k(10, 0, 0, 1), 8, 5).is_err(), "host bits");
    assert!(w.insert(0, 0, 33, 5).is_err(), "too long");
    assert!(w.insert(0, 0, 0, u32::MAX).is_err(), "value too large");
    assert_eq!(
        w.insert(1, 0, 0, 5),
        Err(dataplane::lpm::LpmError::NoSuchTable {
            table: 1,
            tables: 1
        })
    );

    let mut v6 = LpmWriter::new(128, 1, 1 << 16, Qsbr::new(1));
    v6.insert(0, u128::MAX, 128, 9).unwrap();
    v6.insert(0, u128::MAX << 1, 127, 8).unwrap();
    v6.publish();
    assert_eq!(v6.published().lookup(0, u128::MAX), Some(9));
    assert_eq!(v6.published().lookup(0, u128::MAX - 1), Some(8));
    assert_eq!(v6.published().lookup(0, 0), None);

    let mut tiny = LpmWriter::new(32, 1, 64, Qsbr::new(1));
    let full = (0..16)
        .map(|i| tiny.insert(0, k(10, i, 0, 0), 24, 1))
        .find(Result::is_err);
    assert!(
        matches!(full, Some(Err(dataplane::lpm::LpmError::Full(_)))),
        "arena exhaustion is an error"
    );
    tiny.publish();
}
