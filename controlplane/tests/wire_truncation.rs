//! Every truncation point of every message is rejected with an error naming a field, and counts
//! that promise more than the packet holds are rejected before anything is allocated for them.

use std::net::{Ipv4Addr, Ipv6Addr};

use controlplane::wire::address::Address;
use controlplane::wire::cpm::{self, CpmRepr, CpmRoles};
use controlplane::wire::data_map_notify::DataMapNotifyRepr;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_reply::MapReplyRepr;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord, RequestRecord};
use controlplane::wire::registration::{
    Authenticated, MapNotifyRepr, MapRegisterRepr, XtrIdentity,
};
use dataplane::wire::WireError;

fn record() -> EidRecord {
    EidRecord {
        ttl: 60,
        mask_len: 24,
        action: Action::NoAction,
        authoritative: true,
        map_version: 7,
        eid: Address::InstanceId {
            instance_id: 99,
            mask_len: 24,
            address: Box::new(Address::Ipv4(Ipv4Addr::new(10, 1, 0, 0))),
        },
        locators: vec![
            LocatorRecord::unicast(Address::Ipv4(Ipv4Addr::new(192, 0, 2, 1)), 1, 50, true),
            LocatorRecord {
                priority: 1,
                weight: 50,
                multicast_priority: 255,
                multicast_weight: 0,
                local: false,
                probed: false,
                reachable: true,
                address: Address::AfiList(vec![
                    Address::Ipv4(Ipv4Addr::new(192, 0, 2, 2)),
                    Address::Ipv6(Ipv6Addr::LOCALHOST),
                ]),
            },
        ],
    }
}

fn body() -> Authenticated {
    Authenticated {
        nonce: 1,
        key_id: 0,
        algorithm_id: 2,
        auth_data: vec![0xaa; 32],
        records: vec![record(), record()],
        xtr: Some(XtrIdentity {
            xtr_id: [7; 16],
            site_id: 9,
        }),
    }
}

type Parser = fn(&[u8]) -> Result<(), WireError>;

fn samples() -> Vec<(&'static str, Vec<u8>, Parser)> {
    let mut out = Vec::new();
    let mut push = |name, emit: &dyn Fn(&mut Vec<u8>), parse: Parser| {
        let mut bytes = Vec::new();
        emit(&mut bytes);
        out.push((name, bytes, parse));
    };
    let request = MapRequestRepr {
        authoritative: false,
        probe: false,
        smr: true,
        pitr: false,
        smr_invoked: false,
        local_xtr: false,
        dont_map_reply: false,
        nonce: 5,
        source_eid: Address::Ipv4(Ipv4Addr::new(10, 1, 0, 1)),
        itr_rlocs: vec![
            Address::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
            Address::Ipv6(Ipv6Addr::LOCALHOST),
        ],
        records: vec![RequestRecord {
            mask_len: 32,
            eid: Address::Ipv4(Ipv4Addr::new(10, 2, 0, 9)),
        }],
        map_reply: Some(record()),
    };
    push("Map-Request", &|b| request.emit(b).unwrap(), |b| {
        MapRequestRepr::parse(b).map(drop)
    });
    let reply = MapReplyRepr {
        probe: false,
        echo_nonce_capable: false,
        security: false,
        nonce: 5,
        records: vec![record(), record()],
    };
    push("Map-Reply", &|b| reply.emit(b).unwrap(), |b| {
        MapReplyRepr::parse(b).map(drop)
    });
    let register = MapRegisterRepr {
        proxy_reply: true,
        security: false,
        rtr: false,
        want_map_notify: true,
        body: body(),
    };
    push("Map-Register", &|b| register.emit(b).unwrap(), |b| {
        MapRegisterRepr::parse(b).map(drop)
    });
    let notify = MapNotifyRepr {
        ack: true,
        rtr: false,
        body: body(),
    };
    let mut notify_bytes = Vec::new();
    MapNotifyRepr {
        ack: false,
        ..notify.clone()
    }
    .emit(&mut notify_bytes)
    .unwrap();
    let data_map_notify = DataMapNotifyRepr {
        lisp: dataplane::wire::lisp::LispRepr {
            nonce: Some(7),
            ..Default::default()
        },
        inner_source: "192.0.2.100:4342".parse().unwrap(),
        inner_destination: "10.0.0.2:4342".parse().unwrap(),
        inner_ttl: 64,
        notify: notify_bytes,
    };
    push(
        "Data-Map-Notify",
        &|b| data_map_notify.emit(b).unwrap(),
        |b| DataMapNotifyRepr::parse(b).map(drop),
    );
    push("Map-Notify-Ack", &|b| notify.emit(b).unwrap(), |b| {
        MapNotifyRepr::parse(b).map(drop)
    });
    let mut inner = Vec::new();
    request.emit(&mut inner).unwrap();
    for (source, destination) in [
        (
            Ipv4Addr::new(10, 1, 0, 1).into(),
            Ipv4Addr::new(10, 2, 0, 9).into(),
        ),
        (Ipv6Addr::LOCALHOST.into(), Ipv6Addr::UNSPECIFIED.into()),
    ] {
        let ecm = EcmRepr {
            security: false,
            ddt: false,
            to_etr: false,
            to_map_server: true,
            inner_source: source,
            inner_destination: destination,
            inner_ttl: 64,
            source_port: 4342,
            destination_port: 4342,
            message: inner.clone(),
        };
        push("ECM", &|b| ecm.emit(b).unwrap(), |b| {
            EcmRepr::parse(b).map(drop)
        });
    }
    let cpm = CpmRepr {
        roles: CpmRoles {
            hypervisor: true,
            source_site: false,
            destination_site: true,
        },
        nonce: 3,
        key_id: 1,
        algorithm_id: 2,
        auth_data: vec![0; 32],
        priority: 1,
        weight: 100,
        mask_len: 32,
        eid: Address::Ipv4(Ipv4Addr::new(10, 1, 0, 7)),
        correspondents: vec![
            Address::Ipv4(Ipv4Addr::new(10, 2, 0, 9)),
            Address::Ipv6(Ipv6Addr::LOCALHOST),
        ],
    };
    let info_reply = controlplane::wire::info::InfoRepr {
        reply: true,
        nonce: 9,
        key_id: 0,
        algorithm_id: 2,
        auth_data: vec![0; 32],
        ttl: 1440,
        eid_mask_len: 24,
        eid: Address::Ipv4(Ipv4Addr::new(10, 1, 0, 0)),
        nat: Some(controlplane::wire::info::NatTraversal {
            ms_port: 4342,
            etr_port: 61_001,
            global_etr_rloc: Address::Ipv4(Ipv4Addr::new(203, 0, 113, 7)),
            ms_rloc: Address::Ipv4(Ipv4Addr::new(192, 0, 2, 100)),
            private_etr_rloc: Address::Ipv4(Ipv4Addr::new(10, 0, 0, 2)),
            rtr_rlocs: vec![Address::Ipv4(Ipv4Addr::new(192, 0, 2, 50))],
        }),
    };
    push("Info-Reply", &|b| info_reply.emit(b).unwrap(), |b| {
        controlplane::wire::info::InfoRepr::parse(b).map(drop)
    });
    let info_request = controlplane::wire::info::InfoRepr {
        reply: false,
        nat: None,
        ..info_reply.clone()
    };
    push("Info-Request", &|b| info_request.emit(b).unwrap(), |b| {
        controlplane::wire::info::InfoRepr::parse(b).map(drop)
    });
    push("CPM", &|b| cpm.emit(b).unwrap(), |b| {
        CpmRepr::parse(b).map(drop)
    });
    push(
        "legacy CPM",
        &|b| cpm::legacy::emit_signed(&cpm, b"k", b).unwrap(),
        |b| cpm::legacy::parse(b).map(drop),
    );
    out
}

fn names_a_field(error: &WireError) -> bool {
    match error {
        WireError::Truncated { field } | WireError::Malformed { field, .. } => !field.is_empty(),
    }
}

#[test]
fn every_truncation_point_is_rejected() {
    for (name, bytes, parse) in samples() {
        parse(&bytes).unwrap_or_else(|e| panic!("{name}: full message must parse: {e}"));
        for cut in 0..bytes.len() {
            match parse(&bytes[..cut]) {
                Ok(()) => panic!("{name}: accepted a message cut at {cut} of {}", bytes.len()),
                Err(e) => assert!(names_a_field(&e), "{name} cut at {cut}: {e:?}"),
            }
        }
    }
}

#[test]
fn counts_beyond_the_packet_are_rejected() {
    let reply = MapReplyRepr {
        probe: false,
        echo_nonce_capable: false,
        security: false,
        nonce: 5,
        records: vec![record()],
    };
    let mut bytes = Vec::new();
    reply.emit(&mut bytes).unwrap();
    bytes[3] = 255; // record count
    assert_eq!(
        MapReplyRepr::parse(&bytes),
        Err(WireError::Truncated {
            field: "EID records"
        })
    );
    bytes[3] = 1;
    let locator_count_at = 12 + 4;
    bytes[locator_count_at] = 200;
    assert_eq!(
        MapReplyRepr::parse(&bytes),
        Err(WireError::Truncated {
            field: "record locators"
        })
    );

    let mut request = Vec::new();
    MapRequestRepr {
        authoritative: false,
        probe: false,
        smr: false,
        pitr: false,
        smr_invoked: false,
        local_xtr: false,
        dont_map_reply: false,
        nonce: 1,
        source_eid: Address::None,
        itr_rlocs: vec![Address::Ipv4(Ipv4Addr::LOCALHOST)],
        records: vec![RequestRecord {
            mask_len: 8,
            eid: Address::Ipv4(Ipv4Addr::new(10, 0, 0, 0)),
        }],
        map_reply: None,
    }
    .emit(&mut request)
    .unwrap();
    request[2] |= 0x1f; // 32 ITR-RLOCs promised
    assert!(matches!(
        MapRequestRepr::parse(&request),
        Err(WireError::Truncated { .. })
    ));
}

#[test]
fn hostile_values_are_rejected() {
    let mut bytes = Vec::new();
    MapReplyRepr {
        probe: false,
        echo_nonce_capable: false,
        security: false,
        nonce: 5,
        records: vec![record()],
    }
    .emit(&mut bytes)
    .unwrap();
    let mut long_mask = bytes.clone();
    long_mask[12 + 5] = 33;
    // The EID is inside an instance-id LCAF: its IPv4 address caps the mask at 32.
    assert!(matches!(
        MapReplyRepr::parse(&long_mask),
        Err(WireError::Malformed {
            field: "record EID mask-len",
            ..
        })
    ));

    // LCAF nested past the depth limit.
    let mut nested = Vec::new();
    let mut address = Address::Ipv4(Ipv4Addr::LOCALHOST);
    for _ in 0..10 {
        address = Address::InstanceId {
            instance_id: 1,
            mask_len: 0,
            address: Box::new(address),
        };
    }
    address.emit(&mut nested);
    let mut reader = controlplane::wire::reader::Reader::new(&nested);
    assert!(matches!(
        Address::parse(&mut reader),
        Err(WireError::Malformed { field: "LCAF", .. })
    ));

    // An LCAF whose length disagrees with its content.
    let mut lying = Vec::new();
    Address::InstanceId {
        instance_id: 1,
        mask_len: 0,
        address: Box::new(Address::Ipv4(Ipv4Addr::LOCALHOST)),
    }
    .emit(&mut lying);
    lying[7] += 2;
    lying.extend_from_slice(&[0, 0]);
    let mut reader = controlplane::wire::reader::Reader::new(&lying);
    assert!(matches!(
        Address::parse(&mut reader),
        Err(WireError::Malformed {
            field: "LCAF length",
            ..
        })
    ));

    // Unknown LCAF types are skipped by their length and keep the rest of the message intact.
    let unknown = Address::UnknownLcaf {
        lcaf_type: 14,
        flags: 0,
        reserved: 0,
        body: vec![1, 2, 3, 4, 5],
    };
    let mut record_with_unknown = record();
    record_with_unknown.locators[0].address = unknown;
    let mut bytes = Vec::new();
    MapReplyRepr {
        probe: false,
        echo_nonce_capable: false,
        security: false,
        nonce: 5,
        records: vec![record_with_unknown.clone(), record()],
    }
    .emit(&mut bytes)
    .unwrap();
    let parsed = MapReplyRepr::parse(&bytes).unwrap();
    assert_eq!(parsed.records, vec![record_with_unknown, record()]);
}
