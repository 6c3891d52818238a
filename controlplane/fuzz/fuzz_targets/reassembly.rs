//! Fragment reassembly on arbitrary fragment streams: no panic, and the table stays within its
//! bounds whatever arrives.
#![no_main]

use std::time::{Duration, Instant};

use controlplane::reassembly::{DatagramKey, Fragment, Reassembly, MAX_DATAGRAM};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut reassembly = Reassembly::default();
    // Each fragment: ident (1 byte), offset in 8-byte units (2), more (1), length (1), data.
    let mut rest = data;
    let mut step = 0u64;
    while rest.len() >= 5 {
        let (head, tail) = rest.split_at(5);
        let len = usize::from(head[4]).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        let key = DatagramKey {
            source: "192.0.2.2".parse().unwrap(),
            destination: "192.0.2.1".parse().unwrap(),
            ident: u32::from(head[0]),
            protocol: 17,
        };
        let fragment = Fragment {
            key,
            offset: usize::from(u16::from_be_bytes([head[1], head[2]])) * 8,
            more: head[3] & 1 == 1,
            data: payload,
        };
        let now = start + Duration::from_millis(step * 100);
        if let Some((_, datagram)) = reassembly.add(fragment, now) {
            assert!(datagram.len() <= MAX_DATAGRAM);
        }
        if reassembly.poll_timeout().is_some_and(|due| due <= now) {
            reassembly.handle_timeout(now);
        }
        rest = tail;
        step += 1;
    }
});
