//! Reassembly of fragments addressed to us (issue 20, item 9d): any order works, and nothing a
//! sender of fragments does grows memory or state past the bounds.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use controlplane::reassembly::{
    DatagramKey, Fragment, Reassembly, MAX_DATAGRAMS, MAX_PIECES, TIMEOUT,
};
use proptest::prelude::*;

fn key(ident: u32) -> DatagramKey {
    DatagramKey {
        source: "192.0.2.2".parse::<IpAddr>().unwrap(),
        destination: "192.0.2.1".parse::<IpAddr>().unwrap(),
        ident,
        protocol: 17,
    }
}

/// `payload` cut into pieces of `size` bytes (a multiple of 8).
fn pieces(payload: &[u8], size: usize) -> Vec<(usize, bool, &[u8])> {
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| (i * size, (i + 1) * size < payload.len(), chunk))
        .collect()
}

fn add(
    r: &mut Reassembly,
    ident: u32,
    piece: (usize, bool, &[u8]),
    now: Instant,
) -> Option<Vec<u8>> {
    r.add(
        Fragment {
            key: key(ident),
            offset: piece.0,
            more: piece.1,
            data: piece.2,
        },
        now,
    )
    .map(|(k, payload)| {
        assert_eq!(k, key(ident));
        payload
    })
}

proptest! {
    #[test]
    fn fragments_in_any_order_give_back_the_datagram(
        payload in proptest::collection::vec(any::<u8>(), 1..4000),
        units in 1usize..200,
        order in any::<u64>(),
    ) {
        let size = units * 8;
        let mut cut = pieces(&payload, size);
        prop_assume!(cut.len() <= MAX_PIECES);
        // A deterministic shuffle from `order`.
        let mut state = order | 1;
        for i in (1..cut.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            cut.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut r = Reassembly::default();
        let now = Instant::now();
        let last = cut.len() - 1;
        for (i, piece) in cut.into_iter().enumerate() {
            let done = add(&mut r, 1, piece, now);
            prop_assert_eq!(done.is_some(), i == last);
            if let Some(whole) = done {
                prop_assert_eq!(&whole, &payload);
            }
        }
        prop_assert_eq!(r.poll_timeout(), None, "nothing left behind");
    }
}

#[test]
fn an_smr_in_two_fragments_is_whole_again() {
    let payload: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
    let mut r = Reassembly::default();
    let now = Instant::now();
    let cut = pieces(&payload, 1480);
    assert_eq!(cut.len(), 2);
    assert_eq!(
        add(&mut r, 9, cut[1], now),
        None,
        "the second arrives first"
    );
    assert_eq!(add(&mut r, 9, cut[0], now), Some(payload));
    assert_eq!(r.stats().datagrams_reassembled, 1);
}

#[test]
fn overlapping_fragments_discard_the_datagram() {
    let payload = [7u8; 64];
    let mut r = Reassembly::default();
    let now = Instant::now();
    assert_eq!(add(&mut r, 1, (0, true, &payload[..32]), now), None);
    assert_eq!(add(&mut r, 1, (24, true, &payload[..16]), now), None);
    assert_eq!(r.stats().fragments_malformed, 1);
    // The rest of the original datagram no longer completes anything.
    assert_eq!(add(&mut r, 1, (32, false, &payload[32..]), now), None);
    assert_eq!(r.stats().datagrams_reassembled, 0);
}

#[test]
fn incomplete_datagrams_are_bounded_and_time_out() {
    let data = [0u8; 1024];
    let mut r = Reassembly::default();
    let t0 = Instant::now();
    for ident in 0..10_000 {
        add(&mut r, ident, (0, true, &data), t0);
    }
    let stats = r.stats();
    assert_eq!(stats.fragments_refused_full, 10_000 - MAX_DATAGRAMS as u64);
    assert_eq!(r.poll_timeout(), Some(t0 + TIMEOUT));
    r.handle_timeout(t0 + TIMEOUT);
    assert_eq!(r.stats().reassemblies_timed_out, MAX_DATAGRAMS as u64);
    assert_eq!(r.poll_timeout(), None);
    // Room again: a datagram completes.
    let later = t0 + TIMEOUT + Duration::from_secs(1);
    assert!(add(&mut r, 1, (0, true, &data[..8]), later).is_none());
    assert!(add(&mut r, 1, (8, false, &data[..8]), later).is_some());
}

#[test]
fn too_many_pieces_or_bytes_are_refused() {
    let mut r = Reassembly::default();
    let now = Instant::now();
    let eight = [1u8; 8];
    for i in 0..MAX_PIECES {
        add(&mut r, 5, (i * 8, true, &eight), now);
    }
    assert_eq!(r.stats().fragments_malformed, 0);
    add(&mut r, 5, (MAX_PIECES * 8, true, &eight), now);
    assert_eq!(r.stats().fragments_malformed, 1, "one piece too many");
    // Beyond 64 KiB.
    assert!(add(&mut r, 6, (65_528, false, &eight), now).is_none());
    assert_eq!(r.stats().fragments_malformed, 2);
}
