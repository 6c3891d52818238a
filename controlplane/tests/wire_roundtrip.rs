//! `parse(emit(repr)) == repr` for every control message over generated values.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use dataplane::wire::lisp::LispRepr;

use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::cpm::{self, CpmRepr, CpmRoles};
use controlplane::wire::data_map_notify::DataMapNotifyRepr;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::info::{InfoPacket, InfoRepr, NatTraversal};
use controlplane::wire::map_reply::MapReplyRepr;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord, RequestRecord};
use controlplane::wire::registration::{
    self, Authenticated, MapNotifyRepr, MapRegisterRepr, RegistrationPacket, XtrIdentity,
};
use proptest::prelude::*;

fn ip_address() -> impl Strategy<Value = Address> {
    prop_oneof![
        any::<u32>().prop_map(|a| Address::Ipv4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| Address::Ipv6(Ipv6Addr::from(a))),
    ]
}

fn address() -> impl Strategy<Value = Address> {
    let leaf = prop_oneof![Just(Address::None), ip_address()];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            (any::<u32>(), any::<u8>(), inner.clone()).prop_map(|(instance_id, mask_len, a)| {
                Address::InstanceId {
                    instance_id,
                    mask_len,
                    address: Box::new(a),
                }
            }),
            proptest::collection::vec(inner, 0..3).prop_map(Address::AfiList),
            (
                3u8..=255,
                any::<u8>(),
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 0..12)
            )
                .prop_map(|(lcaf_type, flags, reserved, body)| Address::UnknownLcaf {
                    lcaf_type,
                    flags,
                    reserved,
                    body
                }),
        ]
    })
}

/// An EID with a mask length it allows.
fn eid_and_mask() -> impl Strategy<Value = (Address, u8)> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, m)| (Address::Ipv4(Ipv4Addr::from(a)), m)),
        (any::<u128>(), 0u8..=128).prop_map(|(a, m)| (Address::Ipv6(Ipv6Addr::from(a)), m)),
        (any::<u32>(), 0u8..=32, any::<u32>(), any::<u8>()).prop_map(|(a, m, iid, im)| {
            (
                Address::InstanceId {
                    instance_id: iid,
                    mask_len: im,
                    address: Box::new(Address::Ipv4(Ipv4Addr::from(a))),
                },
                m,
            )
        }),
    ]
}

fn locator() -> impl Strategy<Value = LocatorRecord> {
    (any::<[u8; 4]>(), any::<[bool; 3]>(), address()).prop_map(|(p, flags, address)| {
        LocatorRecord {
            priority: p[0],
            weight: p[1],
            multicast_priority: p[2],
            multicast_weight: p[3],
            local: flags[0],
            probed: flags[1],
            reachable: flags[2],
            address,
        }
    })
}

fn record() -> impl Strategy<Value = EidRecord> {
    (
        any::<u32>(),
        eid_and_mask(),
        0u8..8,
        any::<bool>(),
        0u16..4096,
        proptest::collection::vec(locator(), 0..4),
    )
        .prop_map(
            |(ttl, (eid, mask_len), act, authoritative, map_version, locators)| EidRecord {
                ttl,
                mask_len,
                action: Action::from_bits(act),
                authoritative,
                map_version,
                eid,
                locators,
            },
        )
}

fn authenticated() -> impl Strategy<Value = Authenticated> {
    (
        any::<u64>(),
        any::<u8>(),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(record(), 0..4),
        proptest::option::of(
            (any::<[u8; 16]>(), any::<u64>())
                .prop_map(|(xtr_id, site_id)| XtrIdentity { xtr_id, site_id }),
        ),
    )
        .prop_map(
            |(nonce, key_id, algorithm_id, auth_data, records, xtr)| Authenticated {
                nonce,
                key_id,
                algorithm_id,
                auth_data,
                records,
                xtr,
            },
        )
}

fn emit_and_parse<R, E, P>(repr: &R, emit: E, parse: P, buffer_len: usize) -> R
where
    E: Fn(&R, &mut Vec<u8>),
    P: Fn(&[u8]) -> R,
{
    let mut bytes = Vec::new();
    emit(repr, &mut bytes);
    assert_eq!(
        bytes.len(),
        buffer_len,
        "buffer_len predicts the emitted size"
    );
    parse(&bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn map_request(
        flags in any::<[bool; 7]>(),
        nonce in any::<u64>(),
        source_eid in address(),
        itr_rlocs in proptest::collection::vec(address(), 1..4),
        records in proptest::collection::vec(eid_and_mask().prop_map(|(eid, mask_len)| RequestRecord { mask_len, eid }), 1..4),
        map_reply in proptest::option::of(record()),
    ) {
        let repr = MapRequestRepr {
            authoritative: flags[0], probe: flags[1], smr: flags[2], pitr: flags[3], smr_invoked: flags[4],
            local_xtr: flags[5], dont_map_reply: flags[6], nonce, source_eid, itr_rlocs, records, map_reply,
        };
        let back = emit_and_parse(&repr, |r, o| r.emit(o).unwrap(), |b| MapRequestRepr::parse(b).unwrap(), repr.buffer_len());
        prop_assert_eq!(back, repr);
    }

    #[test]
    fn map_reply(flags in any::<[bool; 3]>(), nonce in any::<u64>(), records in proptest::collection::vec(record(), 0..5)) {
        let repr = MapReplyRepr { probe: flags[0], echo_nonce_capable: flags[1], security: flags[2], nonce, records };
        let back = emit_and_parse(&repr, |r, o| r.emit(o).unwrap(), |b| MapReplyRepr::parse(b).unwrap(), repr.buffer_len());
        prop_assert_eq!(back, repr);
    }

    #[test]
    fn info_request_and_reply(
        nonce in any::<u64>(),
        ids in any::<(u8, u8)>(),
        auth_data in proptest::collection::vec(any::<u8>(), 0..40),
        ttl in any::<u32>(),
        (eid, eid_mask_len) in eid_and_mask(),
        nat in proptest::option::of((
            any::<(u16, u16)>(),
            address(),
            address(),
            address(),
            proptest::collection::vec(address(), 0..4),
        )),
    ) {
        let repr = InfoRepr {
            reply: nat.is_some(),
            nonce,
            key_id: ids.0,
            algorithm_id: ids.1,
            auth_data,
            ttl,
            eid_mask_len,
            eid,
            nat: nat.map(|((ms_port, etr_port), global_etr_rloc, ms_rloc, private_etr_rloc, rtr_rlocs)| NatTraversal {
                ms_port, etr_port, global_etr_rloc, ms_rloc, private_etr_rloc, rtr_rlocs,
            }),
        };
        let back = emit_and_parse(&repr, |r, o| r.emit(o).unwrap(), |b| InfoRepr::parse(b).unwrap(), repr.buffer_len());
        prop_assert_eq!(back, repr);
    }

    #[test]
    fn map_register(flags in any::<[bool; 4]>(), body in authenticated()) {
        let repr = MapRegisterRepr { proxy_reply: flags[0], security: flags[1], rtr: flags[2], want_map_notify: flags[3], body };
        let back = emit_and_parse(&repr, |r, o| r.emit(o).unwrap(), |b| MapRegisterRepr::parse(b).unwrap(), repr.buffer_len());
        prop_assert_eq!(back, repr);
    }

    #[test]
    fn map_notify_and_ack(ack in any::<bool>(), rtr in any::<bool>(), body in authenticated()) {
        let repr = MapNotifyRepr { ack, rtr, body };
        let back = emit_and_parse(&repr, |r, o| r.emit(o).unwrap(), |b| MapNotifyRepr::parse(b).unwrap(), repr.buffer_len());
        prop_assert_eq!(back, repr);
    }

    #[test]
    fn ecm_in_any_family_mix(
        flags in any::<[bool; 4]>(),
        v6 in any::<bool>(),
        addrs in any::<(u128, u128)>(),
        ttl in any::<u8>(),
        ports in any::<(u16, u16)>(),
        message in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let (inner_source, inner_destination) = if v6 {
            (Ipv6Addr::from(addrs.0).into(), Ipv6Addr::from(addrs.1).into())
        } else {
            (Ipv4Addr::from(addrs.0 as u32).into(), Ipv4Addr::from(addrs.1 as u32).into())
        };
        let repr = EcmRepr {
            security: flags[0], ddt: flags[1], to_etr: flags[2], to_map_server: flags[3],
            inner_source, inner_destination, inner_ttl: ttl,
            source_port: ports.0, destination_port: ports.1, message,
        };
        let back = emit_and_parse(&repr, |r, o| r.emit(o).unwrap(), |b| EcmRepr::parse(b).unwrap(), repr.buffer_len());
        prop_assert_eq!(back, repr);
    }

    #[test]
    fn data_map_notify_in_either_family(
        v6 in any::<bool>(),
        addrs in any::<(u128, u128)>(),
        ttl in any::<u8>(),
        ports in any::<(u16, u16)>(),
        lisp_nonce in proptest::option::of(0u32..1 << 24),
        body in authenticated(),
    ) {
        let (source, destination): (IpAddr, IpAddr) = if v6 {
            (Ipv6Addr::from(addrs.0).into(), Ipv6Addr::from(addrs.1).into())
        } else {
            (Ipv4Addr::from(addrs.0 as u32).into(), Ipv4Addr::from(addrs.1 as u32).into())
        };
        let mut notify = Vec::new();
        MapNotifyRepr { ack: false, rtr: true, body }.emit(&mut notify).unwrap();
        let repr = DataMapNotifyRepr {
            lisp: LispRepr { nonce: lisp_nonce, ..LispRepr::default() },
            inner_source: SocketAddr::new(source, ports.0),
            inner_destination: SocketAddr::new(destination, ports.1),
            inner_ttl: ttl,
            notify,
        };
        let back = emit_and_parse(&repr, |r, o| r.emit(o).unwrap(), |b| DataMapNotifyRepr::parse(b).unwrap(), repr.buffer_len());
        prop_assert_eq!(back, repr);
    }

    #[test]
    fn cpm_signed_verifies_and_round_trips(
        roles in any::<[bool; 3]>(),
        nonce in any::<u64>(),
        key in proptest::collection::vec(any::<u8>(), 1..40),
        sha256 in any::<bool>(),
        pw in any::<(u8, u8)>(),
        (eid, mask_len) in eid_and_mask(),
        correspondents in proptest::collection::vec(ip_address(), 0..5),
    ) {
        let algorithm = if sha256 { AuthAlgorithm::HmacSha256 } else { AuthAlgorithm::HmacSha1 };
        let repr = CpmRepr {
            roles: CpmRoles { hypervisor: roles[0], source_site: roles[1], destination_site: roles[2] },
            nonce, key_id: 1, algorithm_id: algorithm.id(), auth_data: vec![0; algorithm.output_len()],
            priority: pw.0, weight: pw.1, mask_len, eid, correspondents,
        };
        let mut bytes = Vec::new();
        repr.emit_signed(algorithm, &key, &mut bytes).unwrap();
        prop_assert!(cpm::verify(&bytes, &key));
        let mut wrong = key.clone();
        wrong[0] ^= 1;
        prop_assert!(!cpm::verify(&bytes, &wrong));
        let back = CpmRepr::parse(&bytes).unwrap();
        prop_assert_eq!(CpmRepr { auth_data: vec![0; algorithm.output_len()], ..back.clone() }, repr);
        // The HMAC covers the correspondents: changing one breaks it.
        if let Some(last) = bytes.last_mut() {
            *last ^= 0x80;
            prop_assert!(!cpm::verify(&bytes, &key));
        }
    }

    #[test]
    fn legacy_cpm_round_trips_and_covers_only_its_header(
        nonce in any::<u64>(), pw in any::<(u8, u8)>(), (eid, mask_len) in eid_and_mask(),
        correspondents in proptest::collection::vec(ip_address(), 1..4),
    ) {
        let repr = CpmRepr {
            roles: CpmRoles { hypervisor: true, source_site: false, destination_site: true },
            nonce, key_id: 1, algorithm_id: 1, auth_data: vec![0; 20],
            priority: pw.0, weight: pw.1, mask_len, eid, correspondents,
        };
        let mut bytes = Vec::new();
        cpm::legacy::emit_signed(&repr, b"lip6", &mut bytes).unwrap();
        prop_assert!(cpm::legacy::verify(&bytes, b"lip6"));
        let back = cpm::legacy::parse(&bytes).unwrap();
        prop_assert_eq!(CpmRepr { auth_data: vec![0; 20], ..back }, repr);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        prop_assert!(cpm::legacy::verify(&bytes, b"lip6"), "the legacy HMAC leaves records out: the flaw we document");
    }
}

/// An Info-Request signed with a key verifies with it, not with another, and parses back.
#[test]
fn info_signing_round_trip() {
    let request = InfoRepr {
        reply: false,
        nonce: 0x1234,
        key_id: 0,
        algorithm_id: 0,
        auth_data: Vec::new(),
        ttl: 0,
        eid_mask_len: 24,
        eid: Address::Ipv4(Ipv4Addr::new(10, 1, 0, 0)),
        nat: None,
    };
    for algorithm in [AuthAlgorithm::HmacSha1, AuthAlgorithm::HmacSha256] {
        let bytes = request.emit_signed(algorithm, b"site-key").unwrap();
        let packet = InfoPacket::new_checked(&bytes[..]).unwrap();
        assert!(packet.verify(b"site-key") && !packet.verify(b"other"));
        assert!(!packet.reply());
        let back = InfoRepr::parse(&bytes).unwrap();
        assert_eq!((back.nonce, back.algorithm_id), (0x1234, algorithm.id()));
        assert_eq!(back.auth_data.len(), algorithm.output_len());
    }
}

#[test]
fn registration_signing_round_trip() {
    for algorithm in [AuthAlgorithm::HmacSha1, AuthAlgorithm::HmacSha256] {
        let mut body = Authenticated {
            nonce: 42,
            key_id: 0,
            algorithm_id: 0,
            auth_data: Vec::new(),
            records: vec![EidRecord {
                ttl: 1440,
                mask_len: 24,
                action: Action::NoAction,
                authoritative: true,
                map_version: 0,
                eid: Address::Ipv4(Ipv4Addr::new(10, 1, 0, 0)),
                locators: Vec::new(),
            }],
            xtr: None,
        };
        body.prepare_auth(0, algorithm);
        let repr = MapRegisterRepr {
            proxy_reply: false,
            security: false,
            rtr: false,
            want_map_notify: true,
            body,
        };
        let mut bytes = Vec::new();
        repr.emit(&mut bytes).unwrap();
        registration::sign(&mut bytes, b"site-key").unwrap();
        let packet = RegistrationPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.auth_data().len(), algorithm.output_len());
        assert!(packet.verify(b"site-key"));
        assert!(!packet.verify(b"site-kez"));
        let mut tampered = bytes.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(!RegistrationPacket::new_checked(&tampered[..])
            .unwrap()
            .verify(b"site-key"));
    }
}
