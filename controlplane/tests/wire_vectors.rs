//! Known vectors: the seed's raw Map-Register must decode to exactly the fields printed beside it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use controlplane::decode::{decode, guess, parse_hex, Input};
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::record::Action;
use controlplane::wire::registration::{MapRegisterRepr, RegistrationPacket};

/// The seed's DEBUG section, verbatim.
const SEED_MAP_REGISTER: &str = include_str!("data/seed-map-register.hex");

/// Address, priority, weight, M-priority, M-weight, local, probed, reachable.
type LocatorFields = (IpAddr, u8, u8, u8, u8, bool, bool, bool);

#[test]
fn seed_map_register_decodes_to_the_printed_fields() {
    let bytes = parse_hex(SEED_MAP_REGISTER).expect("hex");
    let m = MapRegisterRepr::parse(&bytes).expect("seed Map-Register parses");
    assert!(!m.proxy_reply && !m.want_map_notify && m.body.xtr.is_none());
    assert_eq!(m.body.nonce, 0x59f0_66a1_2bab_660c);
    assert_eq!(
        u16::from_be_bytes([m.body.key_id, m.body.algorithm_id]),
        1,
        "key_id field = 1"
    );
    assert_eq!(
        AuthAlgorithm::from_id(m.body.algorithm_id),
        Some(AuthAlgorithm::HmacSha1)
    );
    assert_eq!(
        m.body.auth_data,
        parse_hex("a3e543f64e202605dbf4e7c2a2215fdc8083b626").unwrap()
    );
    assert_eq!(m.body.records.len(), 4);

    let prefixes: Vec<(Address, u8)> = m
        .body
        .records
        .iter()
        .map(|r| (r.eid.clone(), r.mask_len))
        .collect();
    assert_eq!(
        prefixes,
        [
            (Address::Ipv4(Ipv4Addr::new(153, 16, 38, 0)), 24),
            (Address::Ipv4(Ipv4Addr::new(153, 16, 38, 0)), 25),
            (Address::Ipv4(Ipv4Addr::new(153, 16, 38, 128)), 25),
            (
                Address::Ipv6("2610:d0:2121::".parse::<Ipv6Addr>().unwrap()),
                48
            ),
        ]
    );
    // Priorities as the raw bytes carry them (the seed printed record 0: RLOC 0 priority 4,
    // RLOC 1 priority 2); weights 100, M-priority 255, M-weight 0, the .242 locators local.
    let priorities = [[4, 2, 5, 3], [2, 1, 5, 3], [1, 2, 5, 3], [2, 1, 5, 3]];
    let v4 = |d| IpAddr::V4(Ipv4Addr::new(132, 227, 62, d));
    let v6 = |last: &str| IpAddr::V6(format!("2001:660:3302:282c:240::{last}").parse().unwrap());
    for (record, priorities) in m.body.records.iter().zip(priorities) {
        assert_eq!(
            (
                record.ttl,
                record.action,
                record.authoritative,
                record.map_version
            ),
            (60, Action::NoAction, true, 0)
        );
        let locators: Vec<LocatorFields> = record
            .locators
            .iter()
            .map(|l| {
                let a = l.address.ip().unwrap();
                (
                    a,
                    l.priority,
                    l.weight,
                    l.multicast_priority,
                    l.multicast_weight,
                    l.local,
                    l.probed,
                    l.reachable,
                )
            })
            .collect();
        let expected: Vec<_> = [
            (v4(242), true),
            (v4(243), false),
            (v6("242"), true),
            (v6("243"), false),
        ]
        .into_iter()
        .zip(priorities)
        .map(|((a, local), p)| (a, p, 100, 255, 0, local, false, true))
        .collect();
        assert_eq!(locators, expected);
    }

    let mut emitted = Vec::new();
    m.emit(&mut emitted).expect("emit");
    assert_eq!(emitted, bytes, "re-emits byte for byte");
}

#[test]
fn seed_map_register_human_output() {
    let bytes = parse_hex(SEED_MAP_REGISTER).expect("hex");
    assert_eq!(guess(&bytes), Input::Control);
    let text = decode(&bytes, Input::Control);
    for expected in [
        "Map-Register",
        "lisp_type         = 3",
        "want_map_notify   = 0",
        "record_count      = 4",
        "lisp_nonce        = 0x59f066a1-0x2bab660c",
        "key_id            = 1 (key 0, algorithm 1 = HMAC-SHA-1)",
        "key_len           = 20",
        "auth_data         = 0xa3e543f64e202605dbf4e7c2a2215fdc8083b626",
        "record_ttl        = 60",
        "eid_prefix        = 153.16.38.0/24",
        "eid_prefix        = 2610:d0:2121::/48",
        "RLOC 0: priority 4 weight 100 mpriority 255 mweight 0 local 1 probed 0 reachable 1 locator 132.227.62.242",
        "RLOC 1: priority 2 weight 100 mpriority 255 mweight 0 local 0 probed 0 reachable 1 locator 132.227.62.243",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("error"), "{text}");
}

#[test]
fn seed_packet_is_signed_with_some_key_we_do_not_know() {
    let bytes = parse_hex(SEED_MAP_REGISTER).expect("hex");
    let packet = RegistrationPacket::new_checked(&bytes[..]).expect("view");
    assert_eq!(packet.auth_range(), 16..36);
    assert!(
        !packet.verify(b"lip6"),
        "the seed's key is not in the file; a wrong key must fail"
    );
}
