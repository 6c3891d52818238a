//! VM mobility with the Change Priority Message, driven with a fake clock: the hypervisor tells
//! the new site's xTR (H+D), which takes the VM's EID, relays the move to the old site's xTR (S),
//! signals correspondents with SMRs, and re-registers; every CPM that fails a check changes
//! nothing.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use controlplane::mobility::{CpmPeer, CpmRefused, Mobility, MobilityState};
use controlplane::registration::MapServerPeer;
use controlplane::state_file;
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::cpm::{self, CpmRepr, CpmRoles};
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord};
use controlplane::wire::registration::MapRegisterRepr;
use controlplane::xtr::{Xtr, XtrSetup};
use controlplane::Transmit;
use dataplane::mapcache::{self, Mapping};

const HYPERVISOR: &str = "192.0.2.200";
const RLOC_A: &str = "192.0.2.1";
const RLOC_B: &str = "192.0.2.2";
const MS: &str = "192.0.2.100:4342";
const VM: &str = "10.9.0.50";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn record(prefix: &str, locators: &[(&str, u8)]) -> EidRecord {
    let net: ipnet::IpNet = prefix.parse().unwrap();
    EidRecord {
        ttl: 10,
        mask_len: net.prefix_len(),
        action: Action::NoAction,
        authoritative: true,
        map_version: 0,
        eid: Address::from(net.network()),
        locators: locators
            .iter()
            .map(|&(address, priority)| {
                LocatorRecord::unicast(Address::from(ip(address)), priority, 100, false)
            })
            .collect(),
    }
}

/// The VM record both sites hold: reachable at site A, site B standing by.
fn vm_record() -> EidRecord {
    record("10.9.0.50/32", &[(RLOC_A, 1), (RLOC_B, 255)])
}

fn peer(address: &str, key: &str) -> CpmPeer {
    CpmPeer {
        address: ip(address),
        key: key.as_bytes().to_vec(),
        algorithm: AuthAlgorithm::HmacSha256,
    }
}

fn xtr(site_prefix: &str, rloc: &str, peers: Vec<CpmPeer>, now: Instant) -> Xtr {
    restarted(site_prefix, rloc, peers, MobilityState::default(), now)
}

/// The xTR as it starts with `saved`, the state a previous run left.
fn restarted(
    site_prefix: &str,
    rloc: &str,
    peers: Vec<CpmPeer>,
    saved: MobilityState,
    now: Instant,
) -> Xtr {
    let mut mobility = Mobility::new(true, false, peers);
    mobility.restore(saved);
    let database = vec![record(site_prefix, &[(rloc, 1)]), vm_record()];
    XtrSetup {
        database,
        rlocs: vec![ip(rloc)],
        map_servers: vec![MapServerPeer {
            address: MS.parse().unwrap(),
            name: None,
            key: b"k".to_vec(),
            key_id: 0,
            algorithm: AuthAlgorithm::HmacSha256,
            want_map_notify: false,
            proxy_reply: false,
            instance_id: None,
        }],
        map_resolvers: vec![MS.parse().unwrap()],
        mobility,
        map_cache_limit: 100,
        ..XtrSetup::default()
    }
    .build(now)
}

fn cpm_bytes(nonce: u64, eid: &str, roles: CpmRoles, priority: u8, key: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    CpmRepr {
        roles,
        nonce,
        key_id: 0,
        algorithm_id: 0,
        auth_data: Vec::new(),
        priority,
        weight: 100,
        mask_len: 32,
        eid: Address::from(ip(eid)),
        correspondents: vec![Address::from(ip("10.1.0.10"))],
    }
    .emit_signed(AuthAlgorithm::HmacSha256, key.as_bytes(), &mut bytes)
    .unwrap();
    bytes
}

const ARRIVED: CpmRoles = CpmRoles {
    hypervisor: true,
    source_site: false,
    destination_site: true,
};

fn sent(xtr: &mut Xtr) -> Vec<Transmit> {
    std::iter::from_fn(|| xtr.poll_transmit()).collect()
}

fn priorities(xtr: &Xtr) -> Vec<(IpAddr, u8)> {
    let vm = xtr
        .database()
        .iter()
        .find(|m| m.record.mask_len == 32)
        .unwrap();
    vm.record
        .locators
        .iter()
        .map(|l| (l.address.ip().unwrap(), l.priority))
        .collect()
}

/// The priorities of the VM record's locators in the Map-Register among `out`, if one was sent.
fn registered_vm_priorities(out: &[Transmit]) -> Option<Vec<u8>> {
    let register = out.iter().find(|t| t.destination == MS.parse().unwrap())?;
    let register = MapRegisterRepr::parse(&register.payload).unwrap();
    let vm = register
        .body
        .records
        .iter()
        .find(|r| r.mask_len == 32)
        .unwrap();
    Some(vm.locators.iter().map(|l| l.priority).collect())
}

/// The locator the data cores would pick for the VM (lowest priority among those up).
fn selected(xtr: &Xtr) -> IpAddr {
    let (_, mapping) = xtr.map_cache.lookup(None, ip(VM)).unwrap();
    mapping
        .locators
        .iter()
        .filter(|l| l.up && l.priority < 255)
        .min_by_key(|l| l.priority)
        .unwrap()
        .address
}

#[test]
fn a_vm_moves_from_site_a_to_site_b() {
    let t0 = Instant::now();
    let mut a = xtr("10.1.0.0/24", RLOC_A, vec![peer(RLOC_B, "a-b")], t0);
    let mut b = xtr(
        "10.2.0.0/24",
        RLOC_B,
        vec![peer(HYPERVISOR, "hv"), peer(RLOC_A, "a-b")],
        t0,
    );
    // Both register; B has learned site A's prefix (where the VM's correspondent host lives).
    a.handle_timeout(t0);
    b.handle_timeout(t0);
    sent(&mut a);
    sent(&mut b);
    b.map_cache
        .insert(
            "10.1.0.0/24".parse().unwrap(),
            Mapping {
                action: mapcache::Action::Encapsulate,
                instance_id: None,
                map_version: 0,
                locators: vec![mapcache::Locator::new(ip(RLOC_A), 1, 100, true)],
            },
        )
        .unwrap();
    assert_eq!((selected(&a), selected(&b)), (ip(RLOC_A), ip(RLOC_A)));

    // The hypervisor at site B: the VM arrived.
    let hypervisor: SocketAddr = format!("{HYPERVISOR}:4342").parse().unwrap();
    let t1 = t0 + Duration::from_secs(5);
    b.handle_datagram(hypervisor, &cpm_bytes(1, VM, ARRIVED, 1, "hv"), t1);
    assert_eq!(priorities(&b), vec![(ip(RLOC_A), 255), (ip(RLOC_B), 1)]);
    assert_eq!(selected(&b), ip(RLOC_B), "B's own ITR now delivers locally");
    let out = sent(&mut b);
    let to_a: Vec<&Transmit> = out
        .iter()
        .filter(|t| t.destination == format!("{RLOC_A}:4342").parse().unwrap())
        .collect();
    assert_eq!(to_a.len(), 2, "a relayed CPM and an SMR to site A: {out:?}");
    let relay = to_a
        .iter()
        .find(|t| CpmRepr::parse(&t.payload).is_ok())
        .unwrap();
    assert!(
        cpm::verify(&relay.payload, b"a-b"),
        "signed with the key A and B share"
    );
    let relayed = CpmRepr::parse(&relay.payload).unwrap();
    assert!(relayed.roles.source_site && !relayed.roles.hypervisor);
    assert_eq!(relayed.priority, 255);
    let smr = to_a
        .iter()
        .find_map(|t| MapRequestRepr::parse(&t.payload).ok())
        .unwrap();
    assert!(smr.smr);
    assert_eq!(smr.records[0].eid, Address::from(ip(VM)));
    assert_eq!(
        registered_vm_priorities(&out).expect("re-registered at once")[1],
        1,
        "the new priorities are registered"
    );
    assert_eq!(b.stats().cpms_relayed, 1);
    assert!(
        std::iter::from_fn(|| b.poll_event()).any(|e| e.to_string().contains("VM arrived here"))
    );

    // Site A takes the relayed CPM: it steps down and selects site B for the VM.
    a.handle_datagram(
        format!("{RLOC_B}:4342").parse().unwrap(),
        &relay.payload,
        t1,
    );
    assert_eq!(priorities(&a), vec![(ip(RLOC_A), 255), (ip(RLOC_B), 1)]);
    assert_eq!(selected(&a), ip(RLOC_B));
    assert!(std::iter::from_fn(|| a.poll_event()).any(|e| e.to_string().contains("VM left")));
    assert_eq!(a.stats().cpms_applied, 1);
    assert_eq!(
        a.stats().cpms_relayed,
        0,
        "an S message is not relayed again"
    );
}

#[test]
fn cpms_that_fail_a_check_change_nothing() {
    let t0 = Instant::now();
    let mut b = xtr("10.2.0.0/24", RLOC_B, vec![peer(HYPERVISOR, "hv")], t0);
    let hypervisor: SocketAddr = format!("{HYPERVISOR}:4342").parse().unwrap();
    let good = cpm_bytes(7, VM, ARRIVED, 1, "hv");
    let cases: Vec<(SocketAddr, Vec<u8>)> = vec![
        (hypervisor, cpm_bytes(1, VM, ARRIVED, 1, "wrong key")),
        ("192.0.2.99:4342".parse().unwrap(), good.clone()),
        (hypervisor, cpm_bytes(2, "10.7.0.1", ARRIVED, 1, "hv")),
        (hypervisor, good[..good.len() - 3].to_vec()),
    ];
    for (from, bytes) in &cases {
        b.handle_datagram(*from, bytes, t0);
    }
    assert_eq!(b.stats().cpms_refused, 4);
    assert_eq!(priorities(&b), vec![(ip(RLOC_A), 1), (ip(RLOC_B), 255)]);
    b.handle_datagram(hypervisor, &good, t0);
    assert_eq!(b.stats().cpms_applied, 1);
    sent(&mut b);
    b.handle_datagram(hypervisor, &good, t0);
    assert_eq!(b.stats().cpms_refused, 5, "a replayed nonce is refused");

    let mut off = Mobility::new(false, false, vec![peer(HYPERVISOR, "hv")]);
    assert_eq!(
        off.accept(ip(HYPERVISOR), &cpm_bytes(9, VM, ARRIVED, 1, "hv")),
        Err(CpmRefused::Disabled)
    );
}

#[test]
fn smrs_are_rate_limited_per_correspondent() {
    let t0 = Instant::now();
    let mut b = xtr(
        "10.2.0.0/24",
        RLOC_B,
        vec![peer(HYPERVISOR, "hv"), peer(RLOC_A, "a-b")],
        t0,
    );
    // An ITR asked B about its EIDs: it is a recent correspondent.
    let request = MapRequestRepr::query(
        5,
        Address::from(ip("10.5.0.1")),
        vec![Address::from(ip("192.0.2.5"))],
        vec![controlplane::wire::record::RequestRecord {
            mask_len: 32,
            eid: Address::from(ip("10.2.0.20")),
        }],
    );
    let mut bytes = Vec::new();
    request.emit(&mut bytes).unwrap();
    b.handle_datagram("192.0.2.5:4342".parse().unwrap(), &bytes, t0);
    sent(&mut b);
    let hypervisor: SocketAddr = format!("{HYPERVISOR}:4342").parse().unwrap();
    let flapping = CpmRoles {
        hypervisor: true,
        source_site: false,
        destination_site: false,
    };
    for (nonce, priority) in [(1, 2), (2, 3), (3, 4)] {
        b.handle_datagram(
            hypervisor,
            &cpm_bytes(nonce, VM, flapping, priority, "hv"),
            t0,
        );
    }
    let smrs_to_itr = sent(&mut b)
        .iter()
        .filter(|t| t.destination.ip() == ip("192.0.2.5"))
        .count();
    assert_eq!(smrs_to_itr, 1, "three changes within the interval: one SMR");
    assert_eq!(b.stats().smrs_rate_limited, 2);
    b.handle_datagram(
        hypervisor,
        &cpm_bytes(4, VM, flapping, 5, "hv"),
        t0 + Duration::from_secs(2),
    );
    assert_eq!(
        sent(&mut b)
            .iter()
            .filter(|t| t.destination.ip() == ip("192.0.2.5"))
            .count(),
        1,
        "after the interval, again"
    );
}

#[test]
fn a_restart_after_a_cpm_keeps_the_vms_new_location_and_refuses_the_old_cpm() {
    let t0 = Instant::now();
    let peers = || vec![peer(HYPERVISOR, "hv"), peer(RLOC_A, "a-b")];
    let mut b = xtr("10.2.0.0/24", RLOC_B, peers(), t0);
    let hypervisor: SocketAddr = format!("{HYPERVISOR}:4342").parse().unwrap();
    let captured = cpm_bytes(77, VM, ARRIVED, 1, "hv");
    b.handle_datagram(hypervisor, &captured, t0);
    assert_eq!(priorities(&b), vec![(ip(RLOC_A), 255), (ip(RLOC_B), 1)]);
    let state = b.take_mobility_state().expect("a CPM changes the state");
    assert_eq!(b.take_mobility_state(), None, "taken once per change");

    // Saved the way lispd saves it, then lispd is killed and started again from its config.
    let dir = std::env::temp_dir().join(format!("lispd-mobility-{}", std::process::id()));
    let path = dir.join("lispd-b.state.json");
    state_file::save(&path, &state).unwrap();
    drop(b);
    let saved = state_file::load(&path).unwrap().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let t1 = t0 + Duration::from_secs(30);
    let mut b = restarted("10.2.0.0/24", RLOC_B, peers(), saved, t1);
    assert_eq!(
        priorities(&b),
        vec![(ip(RLOC_A), 255), (ip(RLOC_B), 1)],
        "the VM is still here, not where the configuration file put it"
    );
    assert_eq!(selected(&b), ip(RLOC_B));
    assert!(std::iter::from_fn(|| b.poll_event()).any(|e| e.to_string().contains("restored")));
    b.handle_timeout(t1);
    assert_eq!(
        registered_vm_priorities(&sent(&mut b)).expect("registers at start"),
        vec![255, 1],
        "the moved location is what gets registered"
    );

    // The captured CPM, replayed after the restart, is refused.
    b.handle_datagram(hypervisor, &captured, t1);
    assert_eq!(b.stats().cpms_refused, 1);
    assert_eq!(b.stats().cpms_applied, 0);
    assert!(sent(&mut b).is_empty(), "no relay, no SMR, no registration");
}

#[test]
fn nonce_memory_forgets_the_oldest_not_everything() {
    let mut mobility = Mobility::new(true, false, vec![peer(HYPERVISOR, "hv")]);
    let from = ip(HYPERVISOR);
    let count = controlplane::mobility::REMEMBERED_NONCES as u64;
    let messages: Vec<Vec<u8>> = (0..=count)
        .map(|nonce| cpm_bytes(nonce, VM, ARRIVED, 1, "hv"))
        .collect();
    for message in &messages {
        assert!(mobility.accept(from, message).is_ok());
    }
    // The previous version cleared the whole set at this point: every recent CPM replayed.
    for recent in &messages[1..] {
        assert_eq!(mobility.accept(from, recent), Err(CpmRefused::Replay));
    }
    assert!(
        mobility.accept(from, &messages[0]).is_ok(),
        "only the oldest is forgotten"
    );
}

/// Two tenants hold a VM at the same address: a CPM naming tenant 100's instance moves tenant
/// 100's VM record only; tenant 200's keeps its priorities.
#[test]
fn a_cpm_moves_one_tenants_vm_and_not_the_others() {
    let t0 = Instant::now();
    let in_instance = |iid: u32| {
        let mut record = vm_record();
        record.eid = Address::in_instance(record.eid, Some(iid));
        record
    };
    let mut b = XtrSetup {
        database: vec![in_instance(100), in_instance(200)],
        rlocs: vec![ip(RLOC_B)],
        mobility: Mobility::new(true, false, vec![peer(HYPERVISOR, "hv")]),
        map_cache_limit: 100,
        ..XtrSetup::default()
    }
    .build(t0);
    let mut bytes = Vec::new();
    CpmRepr {
        roles: ARRIVED,
        nonce: 1,
        key_id: 0,
        algorithm_id: 0,
        auth_data: Vec::new(),
        priority: 1,
        weight: 100,
        mask_len: 32,
        eid: Address::in_instance(Address::from(ip(VM)), Some(100)),
        correspondents: Vec::new(),
    }
    .emit_signed(AuthAlgorithm::HmacSha256, b"hv", &mut bytes)
    .unwrap();
    let hypervisor: SocketAddr = format!("{HYPERVISOR}:4342").parse().unwrap();
    b.handle_datagram(hypervisor, &bytes, t0);
    assert_eq!(b.stats().cpms_applied, 1);
    let priorities_in = |iid: u32| -> Vec<u8> {
        b.database()
            .iter()
            .find(|m| m.record.eid.instance_id() == Some(iid))
            .unwrap()
            .record
            .locators
            .iter()
            .map(|l| l.priority)
            .collect()
    };
    assert_eq!(priorities_in(100), [255, 1], "tenant 100's VM arrived here");
    assert_eq!(priorities_in(200), [1, 255], "tenant 200's VM did not move");
}
