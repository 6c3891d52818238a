//! Codec costs: ns per parse and per emit of a Map-Request and of a LISP data header, and ns per
//! HMAC-SHA-256 signature of a 128-byte Map-Register (the map-server's per-registration cost).

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord, RequestRecord};
use controlplane::wire::registration::{self, Authenticated, MapRegisterRepr, RegistrationPacket};
use dataplane::wire::lisp::{LispHeader, LispRepr};

const RUNS: usize = 5;

/// Median ns per call of `work` over `iterations` calls, across several runs.
fn ns_per_call(iterations: u64, mut work: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                work();
            }
            start.elapsed().as_nanos() as f64 / iterations as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

fn map_request() -> MapRequestRepr {
    MapRequestRepr::query(
        0x0123_4567_89ab_cdef,
        Address::Ipv4(Ipv4Addr::new(10, 1, 0, 1)),
        vec![Address::Ipv4(Ipv4Addr::new(192, 0, 2, 1))],
        vec![RequestRecord {
            mask_len: 32,
            eid: Address::Ipv4(Ipv4Addr::new(10, 2, 0, 9)),
        }],
    )
}

/// A Map-Register of exactly 128 bytes signed with HMAC-SHA-256.
fn map_register_128() -> Vec<u8> {
    let locator =
        |d| LocatorRecord::unicast(Address::Ipv4(Ipv4Addr::new(192, 0, 2, d)), 1, 50, true);
    let record = |third| EidRecord {
        ttl: 1440,
        mask_len: 24,
        action: Action::NoAction,
        authoritative: true,
        map_version: 0,
        eid: Address::Ipv4(Ipv4Addr::new(10, 1, third, 0)),
        locators: vec![locator(1), locator(2)],
    };
    let mut body = Authenticated {
        nonce: 1,
        key_id: 0,
        algorithm_id: 0,
        auth_data: Vec::new(),
        records: vec![record(0), record(1)],
        xtr: None,
    };
    body.prepare_auth(0, AuthAlgorithm::HmacSha256);
    let mut bytes = Vec::new();
    MapRegisterRepr {
        proxy_reply: false,
        security: false,
        rtr: false,
        want_map_notify: true,
        body,
    }
    .emit(&mut bytes)
    .expect("emit");
    bytes
}

pub fn run() -> Result<(), String> {
    let request = map_request();
    let mut request_bytes = Vec::new();
    request
        .emit(&mut request_bytes)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(256);
    let parse = ns_per_call(2_000_000, || {
        black_box(MapRequestRepr::parse(black_box(&request_bytes)).ok());
    });
    let emit = ns_per_call(2_000_000, || {
        out.clear();
        black_box(&request).emit(&mut out).ok();
        black_box(&out);
    });
    println!("map_request_parse_ns {parse:.1}");
    println!("map_request_emit_ns {emit:.1}");

    let header = LispRepr {
        nonce: Some(0xabcdef),
        instance_id: Some(7),
        locator_status_bits: Some(1),
        ..LispRepr::default()
    };
    let mut header_bytes = [0u8; 8];
    let header_parse = ns_per_call(20_000_000, || {
        if let Ok(h) = LispHeader::new_checked(black_box(&header_bytes[..])) {
            black_box(LispRepr::parse(&h));
        }
    });
    let header_emit = ns_per_call(20_000_000, || {
        black_box(&header).emit(black_box(&mut header_bytes));
    });
    println!("lisp_header_parse_ns {header_parse:.2}");
    println!("lisp_header_emit_ns {header_emit:.2}");

    let mut register = map_register_128();
    if register.len() != 128 {
        return Err(format!(
            "Map-Register is {} bytes, expected 128",
            register.len()
        ));
    }
    let sign = ns_per_call(200_000, || {
        registration::sign(black_box(&mut register), b"site-key").ok();
    });
    let verify = ns_per_call(200_000, || {
        let packet = RegistrationPacket::new_checked(black_box(&register[..])).expect("valid");
        black_box(packet.verify(b"site-key"));
    });
    println!("hmac_sha256_sign_128b_ns {sign:.0}");
    println!("hmac_sha256_verify_128b_ns {verify:.0}");
    Ok(())
}
