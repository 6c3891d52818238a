//! The xTR control plane as one machine with a fake clock: a miss becomes an ECM Map-Request, its
//! Map-Reply lands in the map-cache the data cores read and leaves it when the TTL runs out; Map-
//! Requests for our EIDs (direct, in an ECM, as RLOC probes) are answered; SMRs re-ask the
//! mapping system; everything else is counted and changes nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use controlplane::mobility::Mobility;
use controlplane::wire::address::Address;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_reply::MapReplyRepr;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord, RequestRecord};
use controlplane::xtr::{Xtr, XtrSetup, XtrTimers};

const RESOLVER: &str = "192.0.2.100:4342";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn locator(address: &str, priority: u8) -> LocatorRecord {
    LocatorRecord::unicast(Address::from(ip(address)), priority, 100, true)
}

fn record(eid: &str, mask_len: u8, ttl: u32, locators: Vec<LocatorRecord>) -> EidRecord {
    EidRecord {
        ttl,
        mask_len,
        action: Action::NoAction,
        authoritative: true,
        map_version: 0,
        eid: Address::from(ip(eid)),
        locators,
    }
}

/// Site A: EIDs 10.1.0.0/24 and 2001:db8:a::/64 behind RLOCs 192.0.2.1 and 2001:db8:ff::1.
fn site_a(limit: u32, now: Instant) -> Xtr {
    site_a_setup(limit).build(now)
}

/// Site A's setup, for tests that change a setting before building.
fn site_a_setup(limit: u32) -> XtrSetup {
    let rlocs = vec![ip("192.0.2.1"), ip("2001:db8:ff::1")];
    let database = vec![
        record("10.1.0.0", 24, 1440, vec![locator("192.0.2.1", 1)]),
        record("2001:db8:a::", 64, 1440, vec![locator("2001:db8:ff::1", 1)]),
    ];
    setup(database, rlocs, limit, Mobility::new(false, false, vec![]))
}

fn xtr_with(
    database: Vec<EidRecord>,
    rlocs: Vec<IpAddr>,
    limit: u32,
    mobility: Mobility,
    now: Instant,
) -> Xtr {
    setup(database, rlocs, limit, mobility).build(now)
}

fn setup(database: Vec<EidRecord>, rlocs: Vec<IpAddr>, limit: u32, mobility: Mobility) -> XtrSetup {
    XtrSetup {
        database,
        rlocs,
        map_servers: vec![],
        map_resolvers: vec![RESOLVER.parse().unwrap()],
        mobility,
        map_cache_limit: limit,
        ..XtrSetup::default()
    }
}

fn sent(xtr: &mut Xtr) -> Vec<controlplane::Transmit> {
    std::iter::from_fn(|| xtr.poll_transmit()).collect()
}

/// The Map-Request inside the one ECM `xtr` sent to the resolver (probes aside).
fn ecm_request(xtr: &mut Xtr) -> MapRequestRepr {
    let resolver: SocketAddr = RESOLVER.parse().unwrap();
    let out: Vec<_> = sent(xtr)
        .into_iter()
        .filter(|t| t.destination == resolver)
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    MapRequestRepr::parse(&EcmRepr::parse(&out[0].payload).unwrap().message).unwrap()
}

fn reply_bytes(nonce: u64, probe: bool, records: Vec<EidRecord>) -> Vec<u8> {
    let mut bytes = Vec::new();
    MapReplyRepr {
        probe,
        echo_nonce_capable: false,
        security: false,
        nonce,
        records,
    }
    .emit(&mut bytes)
    .unwrap();
    bytes
}

fn request_bytes(request: &MapRequestRepr) -> Vec<u8> {
    let mut bytes = Vec::new();
    request.emit(&mut bytes).unwrap();
    bytes
}

fn query(nonce: u64, eid: &str, itr_rloc: &str) -> MapRequestRepr {
    let eid = ip(eid);
    MapRequestRepr::query(
        nonce,
        Address::from(ip("10.9.0.1")),
        vec![Address::from(ip(itr_rloc))],
        vec![RequestRecord {
            mask_len: if eid.is_ipv4() { 32 } else { 128 },
            eid: Address::from(eid),
        }],
    )
}

#[test]
fn a_miss_is_resolved_installed_and_expires() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    xtr.handle_miss(None, ip("10.1.0.10"), ip("10.2.0.20"), t0);
    let request = ecm_request(&mut xtr);
    assert_eq!(
        request.records[0].eid,
        Address::Ipv4(Ipv4Addr::new(10, 2, 0, 20))
    );
    let remote = record("10.2.0.0", 24, 1, vec![locator("192.0.2.2", 1)]);
    let from: SocketAddr = "192.0.2.2:4342".parse().unwrap();

    xtr.handle_datagram(
        from,
        &reply_bytes(request.nonce ^ 5, false, vec![remote.clone()]),
        t0,
    );
    assert_eq!(
        xtr.map_cache.len(),
        2,
        "a reply for no outstanding nonce changes nothing"
    );
    xtr.handle_datagram(
        from,
        &reply_bytes(request.nonce, false, vec![remote.clone()]),
        t0,
    );
    let (prefix, mapping) = xtr
        .map_cache
        .lookup(None, ip("10.2.0.99"))
        .expect("installed");
    assert_eq!(prefix, "10.2.0.0/24".parse().unwrap());
    assert_eq!(mapping.locators[0].address, ip("192.0.2.2"));
    assert_eq!(xtr.take_new_locators(), vec![ip("192.0.2.2")]);
    xtr.handle_datagram(from, &reply_bytes(request.nonce, false, vec![remote]), t0);

    let stats = xtr.stats();
    assert_eq!(
        (
            stats.misses,
            stats.map_replies_accepted,
            stats.map_replies_refused,
            stats.mappings_installed
        ),
        (1, 1, 2, 1),
        "the first unknown nonce and the replay are refused"
    );
    assert_eq!(
        xtr.learned.next_expiry(),
        Some(t0 + Duration::from_secs(60)),
        "TTL of one minute"
    );
    xtr.handle_timeout(t0 + Duration::from_secs(59));
    assert_eq!(xtr.map_cache.len(), 3);
    xtr.handle_timeout(t0 + Duration::from_secs(60));
    assert_eq!(xtr.map_cache.len(), 2, "expired; our database stays");
    assert_eq!(xtr.stats().mappings_expired, 1);
    xtr.handle_miss(
        None,
        ip("10.1.0.10"),
        ip("10.2.0.20"),
        t0 + Duration::from_secs(61),
    );
    assert_eq!(
        ecm_request(&mut xtr).records.len(),
        1,
        "the next miss asks again"
    );
}

#[test]
fn a_full_map_cache_makes_room_and_ttl_zero_is_not_cached() {
    let t0 = Instant::now();
    let mut xtr = site_a(4, t0);
    for (i, ttl) in [(2u8, 30u32), (3, 10), (4, 20), (5, 0)] {
        let eid = format!("10.{i}.0.1");
        xtr.handle_miss(None, ip("10.1.0.10"), ip(&eid), t0);
        let request = ecm_request(&mut xtr);
        let remote = record(
            &format!("10.{i}.0.0"),
            24,
            ttl,
            vec![locator("192.0.2.2", 1)],
        );
        xtr.handle_datagram(
            "192.0.2.2:4342".parse().unwrap(),
            &reply_bytes(request.nonce, false, vec![remote]),
            t0,
        );
    }
    let cached: Vec<String> = {
        let mut v: Vec<String> = xtr.map_cache.iter().map(|(p, _)| p.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        cached,
        vec!["10.1.0.0/24", "10.2.0.0/24", "10.4.0.0/24", "2001:db8:a::/64"],
        "our two database prefixes stay; 10.3/24 expired soonest and made room; TTL 0 is never cached"
    );
    assert_eq!(xtr.stats().mappings_not_installed, 1);
}

#[test]
fn map_requests_for_our_eids_are_answered_directly_in_ecm_and_as_probes() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    // Direct, IPv4: the reply goes to the ITR-RLOC at the request's source port.
    let request = query(41, "10.1.0.10", "192.0.2.9");
    xtr.handle_datagram(
        "192.0.2.9:4342".parse().unwrap(),
        &request_bytes(&request),
        t0,
    );
    let out = sent(&mut xtr);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].destination, "192.0.2.9:4342".parse().unwrap());
    let reply = MapReplyRepr::parse(&out[0].payload).unwrap();
    assert_eq!(reply.nonce, 41);
    assert!(!reply.probe);
    assert_eq!(reply.records.len(), 1);
    assert!(reply.records[0].authoritative);
    assert_eq!(reply.records[0].mask_len, 24);
    assert_eq!(
        reply.records[0].locators[0].address,
        Address::from(ip("192.0.2.1"))
    );

    // In an ECM with IPv4 outer and IPv6 inner headers: reply to the inner source port.
    let ecm = EcmRepr {
        security: false,
        ddt: false,
        to_etr: true,
        to_map_server: false,
        inner_source: ip("2001:db8:ff::9"),
        inner_destination: ip("2001:db8:a::10"),
        inner_ttl: 64,
        source_port: 61000,
        destination_port: 4342,
        message: request_bytes(&query(42, "2001:db8:a::10", "2001:db8:ff::9")),
    };
    let mut bytes = Vec::new();
    ecm.emit(&mut bytes).unwrap();
    xtr.handle_datagram("192.0.2.100:4342".parse().unwrap(), &bytes, t0);
    let out = sent(&mut xtr);
    assert_eq!(
        out[0].destination,
        SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 9)),
            61000
        )
    );
    let reply = MapReplyRepr::parse(&out[0].payload).unwrap();
    assert_eq!((reply.nonce, reply.records[0].mask_len), (42, 64));

    // An RLOC probe: the probe bit comes back.
    let mut probe = query(43, "10.1.0.10", "192.0.2.9");
    probe.probe = true;
    xtr.handle_datagram(
        "192.0.2.9:4342".parse().unwrap(),
        &request_bytes(&probe),
        t0,
    );
    let reply = MapReplyRepr::parse(&sent(&mut xtr)[0].payload).unwrap();
    assert!(reply.probe);
    assert_eq!(reply.nonce, 43);

    assert_eq!(
        xtr.responder.recent_correspondents(t0),
        vec![ip("192.0.2.9"), ip("2001:db8:ff::9")]
    );
    assert_eq!(xtr.stats().map_requests_answered, 3);
}

#[test]
fn requests_that_cannot_be_answered_are_counted_and_ignored() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    let from: SocketAddr = "192.0.2.9:4342".parse().unwrap();
    // Not our EID.
    xtr.handle_datagram(from, &request_bytes(&query(1, "10.7.0.1", "192.0.2.9")), t0);
    // Truncated.
    let bytes = request_bytes(&query(2, "10.1.0.1", "192.0.2.9"));
    xtr.handle_datagram(from, &bytes[..bytes.len() - 3], t0);
    // D bit: no reply wanted.
    let mut quiet = query(3, "10.1.0.1", "192.0.2.9");
    quiet.dont_map_reply = true;
    xtr.handle_datagram(from, &request_bytes(&quiet), t0);
    // A Map-Register is not for an xTR; an empty datagram is nothing.
    xtr.handle_datagram(from, &[0x30, 0, 0, 0], t0);
    xtr.handle_datagram(from, &[], t0);
    assert!(sent(&mut xtr).is_empty());
    let stats = xtr.stats();
    assert_eq!((stats.map_requests_refused, stats.messages_refused), (3, 2));
    assert_eq!(stats.map_requests_answered, 0);
    assert!(xtr.responder.recent_correspondents(t0).is_empty());
}

#[test]
fn an_smr_for_a_cached_eid_sends_an_smr_invoked_request() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    xtr.handle_miss(None, ip("10.1.0.10"), ip("10.2.0.20"), t0);
    let request = ecm_request(&mut xtr);
    xtr.handle_datagram(
        "192.0.2.2:4342".parse().unwrap(),
        &reply_bytes(
            request.nonce,
            false,
            vec![record("10.2.0.0", 24, 10, vec![locator("192.0.2.2", 1)])],
        ),
        t0,
    );
    let mut smr = query(77, "10.2.0.0", "192.0.2.2");
    smr.smr = true;
    // For an EID we have not cached: nothing to refresh.
    let mut stranger = query(78, "10.8.0.0", "192.0.2.8");
    stranger.smr = true;
    xtr.handle_datagram(
        "192.0.2.8:4342".parse().unwrap(),
        &request_bytes(&stranger),
        t0,
    );
    assert!(sent(&mut xtr).is_empty());
    xtr.handle_datagram("192.0.2.2:4342".parse().unwrap(), &request_bytes(&smr), t0);
    let invoked = ecm_request(&mut xtr);
    assert!(invoked.smr_invoked, "s bit");
    assert_eq!(invoked.records[0].eid, Address::from(ip("10.2.0.0")));
    assert_eq!(invoked.source_eid, Address::from(ip("10.1.0.0")));
    assert_eq!(xtr.stats().smrs_received, 2);
}

/// Installs site B's prefix behind `locators` through a resolved miss.
fn learn_site_b(xtr: &mut Xtr, locators: Vec<LocatorRecord>, now: Instant) {
    xtr.handle_miss(None, ip("10.1.0.10"), ip("10.2.0.20"), now);
    let request = ecm_request(xtr);
    xtr.handle_datagram(
        "192.0.2.2:4342".parse().unwrap(),
        &reply_bytes(
            request.nonce,
            false,
            vec![record("10.2.0.0", 24, 10, locators)],
        ),
        now,
    );
}

/// Probe Map-Requests `xtr` sent, by destination.
fn probes(xtr: &mut Xtr) -> Vec<(IpAddr, u64)> {
    sent(xtr)
        .into_iter()
        .filter_map(|t| {
            let request = MapRequestRepr::parse(&t.payload).ok()?;
            request.probe.then_some((t.destination.ip(), request.nonce))
        })
        .collect()
}

fn selected(xtr: &Xtr) -> Vec<IpAddr> {
    let (_, mapping) = xtr.map_cache.lookup(None, ip("10.2.0.20")).unwrap();
    let best = mapping
        .locators
        .iter()
        .filter(|l| l.up)
        .map(|l| l.priority)
        .min();
    mapping
        .locators
        .iter()
        .filter(|l| l.up && Some(l.priority) == best)
        .map(|l| l.address)
        .collect()
}

#[test]
fn rloc_probing_moves_selection_off_a_dead_locator_and_back() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    learn_site_b(
        &mut xtr,
        vec![locator("192.0.2.2", 1), locator("192.0.2.3", 2)],
        t0,
    );
    assert_eq!(selected(&xtr), vec![ip("192.0.2.2")]);

    // Both answer the first round; then 192.0.2.2 dies. Three misses in a row (one per second
    // once the first goes unanswered) take it down.
    xtr.handle_timeout(t0);
    for (to, nonce) in probes(&mut xtr) {
        xtr.handle_datagram(
            SocketAddr::new(to, 4342),
            &reply_bytes(nonce, true, vec![]),
            t0,
        );
    }
    let mut now = t0 + Duration::from_secs(30);
    let mut rounds = 0;
    while xtr.stats().locators_down == 0 {
        assert!(rounds < 10, "the dead locator never went down");
        xtr.handle_timeout(now);
        for (to, nonce) in probes(&mut xtr) {
            assert_ne!(to, ip("192.0.2.1"), "our own RLOC is never probed");
            if to == ip("192.0.2.3") {
                xtr.handle_datagram(
                    "192.0.2.3:4342".parse().unwrap(),
                    &reply_bytes(nonce, true, vec![]),
                    now,
                );
            }
        }
        now += Duration::from_secs(1);
        rounds += 1;
    }
    assert_eq!(
        rounds, 4,
        "first probe, then three unanswered retries one second apart"
    );
    assert_eq!(selected(&xtr), vec![ip("192.0.2.3")], "selection moved");
    assert!(std::iter::from_fn(|| xtr.poll_event())
        .any(|e| e.to_string() == "locator 192.0.2.2 down: RLOC probes unanswered"));

    // A probe reply with an unknown nonce is refused; the next real answer brings it back.
    xtr.handle_datagram(
        "192.0.2.2:4342".parse().unwrap(),
        &reply_bytes(12345, true, vec![]),
        now,
    );
    assert_eq!(selected(&xtr), vec![ip("192.0.2.3")]);
    xtr.handle_timeout(now + Duration::from_secs(1));
    let (_, nonce) = probes(&mut xtr)
        .into_iter()
        .find(|(to, _)| *to == ip("192.0.2.2"))
        .expect("a down locator is probed every retry interval");
    xtr.handle_datagram(
        "192.0.2.2:4342".parse().unwrap(),
        &reply_bytes(nonce, true, vec![]),
        now,
    );
    xtr.handle_timeout(now + Duration::from_secs(1));
    assert_eq!(
        selected(&xtr),
        vec![ip("192.0.2.2")],
        "back on the best locator"
    );
    let stats = xtr.stats();
    assert_eq!((stats.locators_down, stats.locators_up), (1, 1));
    assert_eq!((stats.probe_replies, stats.map_replies_refused), (4, 1));
}

#[test]
fn locator_status_bits_from_a_site_update_its_mappings() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    learn_site_b(
        &mut xtr,
        vec![locator("192.0.2.2", 1), locator("192.0.2.3", 2)],
        t0,
    );
    // 192.0.2.2 says: "I am up (bit 0), my other locator is not (bit 1 clear)".
    xtr.handle_locator_status(ip("192.0.2.2"), 0b01);
    let (_, mapping) = xtr.map_cache.lookup(None, ip("10.2.0.20")).unwrap();
    assert_eq!(
        mapping.locators.iter().map(|l| l.up).collect::<Vec<_>>(),
        vec![true, false]
    );
    // A sender whose own bit is clear is not believed (a multi-xTR site numbering differently).
    xtr.handle_locator_status(ip("192.0.2.3"), 0b01);
    let (_, unchanged) = xtr.map_cache.lookup(None, ip("10.2.0.20")).unwrap();
    assert_eq!(unchanged, mapping);
    // Both up again; an address in no mapping changes nothing.
    xtr.handle_locator_status(ip("192.0.2.3"), 0b11);
    xtr.handle_locator_status(ip("192.0.2.77"), 0);
    let (_, mapping) = xtr.map_cache.lookup(None, ip("10.2.0.20")).unwrap();
    assert!(mapping.locators.iter().all(|l| l.up));
    assert_eq!(xtr.stats().locator_status_changes, 2);
}

#[test]
fn a_dead_locator_stays_down_when_its_mapping_is_learned_again() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    let both = || vec![locator("192.0.2.2", 1), locator("192.0.2.3", 2)];
    learn_site_b(&mut xtr, both(), t0);
    xtr.handle_timeout(t0);
    for (to, nonce) in probes(&mut xtr) {
        xtr.handle_datagram(
            SocketAddr::new(to, 4342),
            &reply_bytes(nonce, true, vec![]),
            t0,
        );
    }
    // 192.0.2.2 dies; only 192.0.2.3 keeps answering.
    let mut now = t0 + Duration::from_secs(30);
    while xtr.stats().locators_down == 0 {
        xtr.handle_timeout(now);
        for (to, nonce) in probes(&mut xtr) {
            if to == ip("192.0.2.3") {
                xtr.handle_datagram(
                    SocketAddr::new(to, 4342),
                    &reply_bytes(nonce, true, vec![]),
                    now,
                );
            }
        }
        now += Duration::from_secs(1);
    }
    // The mapping (TTL 10 minutes) expires and a miss learns it again with both locators.
    let later = t0 + Duration::from_secs(601);
    xtr.handle_timeout(later);
    assert!(xtr
        .map_cache
        .lookup(None, ip("10.2.0.20"))
        .is_none_or(|(p, _)| p.prefix_len() != 24));
    learn_site_b(&mut xtr, both(), later);
    assert_eq!(
        selected(&xtr),
        vec![ip("192.0.2.3")],
        "192.0.2.2 is still known dead"
    );
}

/// A Map-Reply with the E bit makes its RLOCs echo-nonce peers: each is asked to echo a nonce;
/// an echo stands in for the next RLOC probe, silence brings the probe forward.
#[test]
fn echo_nonce_follows_the_map_reply_e_bit_and_steers_probing() {
    let t0 = Instant::now();
    let secs = Duration::from_secs;
    let remote = ip("192.0.2.2");
    let mut xtr = site_a(100, t0);
    xtr.handle_miss(None, ip("10.1.0.10"), ip("10.2.0.20"), t0);
    let request = ecm_request(&mut xtr);
    let mut reply = reply_bytes(
        request.nonce,
        false,
        vec![record("10.2.0.0", 24, 10, vec![locator("192.0.2.2", 1)])],
    );
    reply[0] |= 0x04; // E: the ETR echoes nonces.
    xtr.handle_datagram("192.0.2.2:4342".parse().unwrap(), &reply, t0);
    xtr.handle_timeout(t0);
    let table = xtr.take_echo_table().expect("the new RLOC is asked");
    assert!(matches!(table.outgoing(remote), Some((_, true))));
    for (to, nonce) in probes(&mut xtr) {
        let from = SocketAddr::new(to, 4342);
        xtr.handle_datagram(from, &reply_bytes(nonce, true, vec![]), t0);
    }

    xtr.handle_echo(remote, t0 + secs(10));
    assert_eq!(xtr.stats().echoes_answered, 1);
    assert_eq!(xtr.take_echo_table().unwrap().outgoing(remote), None);
    xtr.handle_timeout(t0 + secs(30));
    assert!(
        probes(&mut xtr).is_empty(),
        "the echo at +10 s moved the +30 s probe to +40 s"
    );
    assert!(matches!(
        xtr.take_echo_table().unwrap().outgoing(remote),
        Some((_, true))
    ));

    xtr.handle_timeout(t0 + secs(33));
    assert_eq!(xtr.stats().echoes_unanswered, 1);
    assert_eq!(
        probes(&mut xtr)
            .iter()
            .map(|(to, _)| *to)
            .collect::<Vec<_>>(),
        vec![remote],
        "no echo within the window: probed at once"
    );

    xtr.handle_echo_request(remote, 0x1234, t0 + secs(34));
    assert_eq!(
        xtr.take_echo_table().unwrap().outgoing(remote),
        Some((0x1234, false)),
        "the peer's own request is echoed"
    );
}

/// A miss from a source in instance 7 is resolved in instance 7: the Map-Request names the
/// instance, the reply's mapping goes to that instance's table only, and RLOC probes for it name
/// the instance too.
#[test]
fn misses_are_resolved_in_the_source_instance() {
    let t0 = Instant::now();
    let in_7 = |mut r: EidRecord| {
        r.eid = Address::in_instance(r.eid, Some(7));
        r
    };
    let database = vec![
        record("10.1.0.0", 24, 1440, vec![locator("192.0.2.1", 1)]),
        in_7(record("10.7.0.0", 24, 1440, vec![locator("192.0.2.1", 1)])),
    ];
    let mut xtr = xtr_with(
        database,
        vec![ip("192.0.2.1")],
        100,
        Mobility::new(false, false, vec![]),
        t0,
    );
    xtr.handle_miss(Some(7), ip("10.7.0.10"), ip("10.2.0.20"), t0);
    let request = ecm_request(&mut xtr);
    assert_eq!(request.records[0].eid.instance_id(), Some(7));
    assert_eq!(request.source_eid.instance_id(), Some(7));

    let remote = in_7(record("10.2.0.0", 24, 10, vec![locator("192.0.2.2", 1)]));
    xtr.handle_datagram(
        "192.0.2.2:4342".parse().unwrap(),
        &reply_bytes(request.nonce, false, vec![remote]),
        t0,
    );
    assert!(xtr.map_cache.lookup(Some(7), ip("10.2.0.20")).is_some());
    assert!(
        xtr.map_cache.lookup(None, ip("10.2.0.20")).is_none(),
        "the default instance did not learn it"
    );
    xtr.handle_timeout(t0);
    let probed: Vec<_> = sent(&mut xtr)
        .into_iter()
        .filter_map(|t| MapRequestRepr::parse(&t.payload).ok())
        .filter(|r| r.probe)
        .collect();
    assert!(!probed.is_empty(), "the new locator is probed");
    assert!(probed
        .iter()
        .all(|r| r.records[0].eid.instance_id() == Some(7)));
}

#[test]
fn an_smr_flood_leaves_resolution_of_new_destinations_working() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    learn_site_b(&mut xtr, vec![locator("192.0.2.2", 1)], t0);
    // 2,741 SMRs of 150 records each, from many senders, for a prefix we cache.
    for i in 0..2741u32 {
        let sender = format!("198.51.{}.{}:4342", (i / 250) % 250, i % 250);
        let mut smr = query(u64::from(i), "10.2.0.0", "192.0.2.2");
        smr.smr = true;
        smr.records = (0..150u32)
            .map(|j| RequestRecord {
                mask_len: 32,
                eid: Address::from(IpAddr::V4(Ipv4Addr::from(0x0a02_0000 | j))),
            })
            .collect();
        let at = t0 + Duration::from_micros(u64::from(i) * 5);
        xtr.handle_datagram(sender.parse().unwrap(), &request_bytes(&smr), at);
    }
    let flood: Vec<_> = sent(&mut xtr);
    assert!(
        flood.len() <= 25,
        "SMR-invoked requests stay within their own budget: {}",
        flood.len()
    );
    let now = t0 + Duration::from_millis(20);
    xtr.handle_miss(None, ip("10.1.0.10"), ip("10.3.0.30"), now);
    let request = ecm_request(&mut xtr);
    assert_eq!(request.records[0].eid, Address::from(ip("10.3.0.30")));
    assert!(!request.smr_invoked, "the new destination is asked at once");
}

#[test]
fn a_reply_taking_over_our_own_space_is_refused() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    xtr.handle_miss(None, ip("10.1.0.10"), ip("10.2.0.20"), t0);
    let request = ecm_request(&mut xtr);
    let hijack = vec![
        record("0.0.0.0", 1, 1440, vec![locator("203.0.113.66", 1)]),
        record("10.2.0.0", 24, 10, vec![locator("192.0.2.2", 1)]),
    ];
    xtr.handle_datagram(
        "192.0.2.2:4342".parse().unwrap(),
        &reply_bytes(request.nonce, false, hijack),
        t0,
    );
    assert_eq!(
        xtr.map_cache
            .lookup(None, ip("10.1.0.10"))
            .map(|(prefix, _)| prefix),
        Some("10.1.0.0/24".parse().unwrap()),
        "our own prefix is ours"
    );
    assert_eq!(
        xtr.map_cache
            .lookup(None, ip("10.2.0.20"))
            .unwrap()
            .1
            .locators[0]
            .address,
        ip("192.0.2.2")
    );
    assert_eq!(xtr.stats().map_reply_records_refused, 1);
}

#[test]
fn an_ipv6_eid_is_resolved_by_an_xtr_with_only_an_ipv4_rloc() {
    let t0 = Instant::now();
    let database = vec![
        record("10.1.0.0", 24, 1440, vec![locator("192.0.2.1", 1)]),
        record("2001:db8:a::", 64, 1440, vec![locator("192.0.2.1", 1)]),
    ];
    let mut xtr = xtr_with(
        database,
        vec![ip("192.0.2.1")],
        100,
        Mobility::new(false, false, vec![]),
        t0,
    );
    xtr.handle_miss(None, ip("2001:db8:a::10"), ip("2001:db8:b::20"), t0);
    let resolver: SocketAddr = RESOLVER.parse().unwrap();
    let out: Vec<_> = sent(&mut xtr)
        .into_iter()
        .filter(|t| t.destination == resolver)
        .collect();
    assert_eq!(out.len(), 1, "the request goes out over IPv4");
    let ecm = EcmRepr::parse(&out[0].payload).unwrap();
    assert_eq!(
        ecm.inner_source,
        ip("2001:db8:a::10"),
        "from the source EID"
    );
    assert_eq!(ecm.inner_destination, ip("2001:db8:b::20"));
    let request = MapRequestRepr::parse(&ecm.message).unwrap();
    assert_eq!(request.itr_rlocs, vec![Address::from(ip("192.0.2.1"))]);
    xtr.handle_datagram(
        "192.0.2.2:4342".parse().unwrap(),
        &reply_bytes(
            request.nonce,
            false,
            vec![record(
                "2001:db8:b::",
                64,
                10,
                vec![locator("192.0.2.2", 1)],
            )],
        ),
        t0,
    );
    assert!(xtr.map_cache.lookup(None, ip("2001:db8:b::20")).is_some());
}

#[test]
fn a_mapping_with_twelve_locators_is_installed_and_counted_as_truncated() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    let mut locators: Vec<LocatorRecord> = (1..=8)
        .map(|i| locator(&format!("198.51.100.{i}"), 255))
        .collect();
    locators.extend((9..=12).map(|i| locator(&format!("198.51.100.{i}"), 1)));
    learn_site_b(&mut xtr, locators, t0);
    assert_eq!(xtr.stats().mappings_installed, 1);
    assert_eq!(xtr.stats().mappings_with_locators_truncated, 1);
    let (_, mapping) = xtr.map_cache.lookup(None, ip("10.2.0.20")).unwrap();
    assert_eq!(
        mapping.locators.len(),
        12,
        "the control plane keeps them all"
    );
}

#[test]
fn the_responder_is_no_reflector() {
    let t0 = Instant::now();
    let limits = controlplane::responder::ResponderLimits {
        per_itr_rloc_per_sec: 20,
        overall_per_sec: 500,
        max_requesters: 4096,
    };
    let mut xtr = XtrSetup {
        timers: XtrTimers {
            responder: limits,
            ..XtrTimers::default()
        },
        ..site_a_setup(100)
    }
    .build(t0);
    // A flood of requests naming one victim as ITR-RLOC: a second's worth of answers, no more.
    let victim = "192.0.2.66";
    for nonce in 0..1000 {
        let bytes = request_bytes(&query(nonce, "10.1.0.10", victim));
        xtr.handle_datagram("198.51.100.1:4342".parse().unwrap(), &bytes, t0);
    }
    let out = sent(&mut xtr);
    assert_eq!(out.len(), limits.per_itr_rloc_per_sec as usize);
    assert_eq!(
        xtr.stats().map_requests_rate_limited,
        1000 - u64::from(limits.per_itr_rloc_per_sec)
    );
    // Spread over many victims: the overall budget holds.
    for i in 0..5000u32 {
        let victim = Ipv4Addr::from(0xc633_0000 | i).to_string();
        let bytes = request_bytes(&query(u64::from(i), "10.1.0.10", &victim));
        xtr.handle_datagram("198.51.100.1:4342".parse().unwrap(), &bytes, t0);
    }
    assert_eq!(
        sent(&mut xtr).len(),
        (limits.overall_per_sec - limits.per_itr_rloc_per_sec) as usize,
        "what the first victim left of the overall budget"
    );
    // Each correspondent remembered is bounded too.
    assert!(xtr.responder.recent_correspondents(t0).len() <= limits.max_requesters);
    // A second later, a real ITR is answered again.
    let t1 = t0 + Duration::from_secs(1);
    let bytes = request_bytes(&query(7, "10.1.0.10", victim));
    xtr.handle_datagram("192.0.2.66:4342".parse().unwrap(), &bytes, t1);
    assert_eq!(sent(&mut xtr).len(), 1);
}

#[test]
fn a_reply_is_never_larger_than_needed() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    // One request naming our IPv4 prefix 30 times: one record back, within 3x the request.
    let mut request = query(9, "10.1.0.10", "192.0.2.9");
    request.records = (1..=30)
        .map(|host| RequestRecord {
            mask_len: 32,
            eid: Address::from(ip(&format!("10.1.0.{host}"))),
        })
        .collect();
    let bytes = request_bytes(&request);
    xtr.handle_datagram("192.0.2.9:4342".parse().unwrap(), &bytes, t0);
    let out = sent(&mut xtr);
    let reply = MapReplyRepr::parse(&out[0].payload).unwrap();
    assert_eq!(reply.records.len(), 1, "each record of ours once");
    assert!(out[0].payload.len() <= 3 * bytes.len());
    // Both families asked in a minimal request: the first record is always answered, the second
    // only when the reply stays within 3x the request.
    let mut both = query(10, "10.1.0.10", "192.0.2.9");
    both.records.push(RequestRecord {
        mask_len: 128,
        eid: Address::from(ip("2001:db8:a::1")),
    });
    let bytes = request_bytes(&both);
    xtr.handle_datagram("192.0.2.9:4342".parse().unwrap(), &bytes, t0);
    let out = sent(&mut xtr);
    let reply = MapReplyRepr::parse(&out[0].payload).unwrap();
    println!(
        "request {} bytes, reply {} bytes with {} record(s)",
        bytes.len(),
        out[0].payload.len(),
        reply.records.len()
    );
    assert!(out[0].payload.len() <= 3 * bytes.len());
    assert_eq!(reply.records.len(), 2);
}

#[test]
fn a_miss_flood_does_not_delay_the_refresh_of_a_mapping_in_use() {
    let t0 = Instant::now();
    let mut xtr = site_a(200_000, t0);
    let resolver: SocketAddr = RESOLVER.parse().unwrap();
    // A known flow's mapping, TTL one minute.
    xtr.handle_miss(None, ip("10.1.0.10"), ip("10.2.0.20"), t0);
    let request = ecm_request(&mut xtr);
    let remote = record("10.2.0.0", 24, 1, vec![locator("192.0.2.2", 1)]);
    xtr.handle_datagram(
        "192.0.2.2:4342".parse().unwrap(),
        &reply_bytes(request.nonce, false, vec![remote]),
        t0,
    );
    // 80k distinct /24s at 2 kpps from 20 s before the mapping expires. The flow's packets keep
    // coming, and the data core punts one miss per prefix per second (the punt limiter's
    // `map_request_min_interval_ms`), here late in each budget window, after the flood.
    let flood_start = t0 + Duration::from_secs(40);
    let expired_at = t0 + Duration::from_secs(60);
    let mut next_flow_miss = expired_at + Duration::from_millis(700);
    let mut refreshed_at = None;
    for i in 0..80_000u32 {
        let now = flood_start + Duration::from_micros(500 * u64::from(i));
        let flood_destination = IpAddr::V4(Ipv4Addr::from(0x6400_0000 + (i << 8) + 1));
        xtr.handle_miss(None, ip("10.1.0.10"), flood_destination, now);
        if xtr.poll_timeout().is_some_and(|due| due <= now) {
            xtr.handle_timeout(now);
        }
        if now >= next_flow_miss {
            xtr.handle_miss(None, ip("10.1.0.10"), ip("10.2.0.20"), now);
            next_flow_miss += Duration::from_secs(1);
        }
        let asked = sent(&mut xtr).iter().any(|t| {
            t.destination == resolver
                && EcmRepr::parse(&t.payload)
                    .is_ok_and(|ecm| ecm.inner_destination == ip("10.2.0.20"))
        });
        if asked && refreshed_at.is_none() {
            refreshed_at = Some(now);
        }
    }
    let delay = refreshed_at.expect("the flow's mapping was asked for again") - expired_at;
    println!("refresh sent {delay:?} after expiry under a 2 kpps miss flood");
    assert!(delay <= Duration::from_secs(1), "{delay:?}");
    assert!(xtr.stats().misses_refreshing >= 1);
    assert!(
        xtr.stats().misses_rate_limited > 0,
        "the flood did exceed the rate"
    );
}

#[test]
fn a_flush_stops_probing_the_flushed_locators() {
    let t0 = Instant::now();
    let mut xtr = site_a(100, t0);
    learn_site_b(
        &mut xtr,
        vec![locator("192.0.2.2", 1), locator("192.0.2.3", 2)],
        t0,
    );
    xtr.handle_timeout(t0);
    assert_eq!(probes(&mut xtr).len(), 2);
    assert_eq!(xtr.flush_learned(), Ok(1));
    assert_eq!(xtr.probed_locators(), 0);
    for second in 1..=120 {
        xtr.handle_timeout(t0 + Duration::from_secs(second));
    }
    assert!(
        probes(&mut xtr).is_empty(),
        "nothing probed after the flush"
    );
}

#[test]
fn rloc_probes_keep_to_their_budget() {
    let t0 = Instant::now();
    let mut xtr = site_a(10_000, t0);
    // 1,000 mappings of two locators each, all learned at once: 2,000 probes due at t0.
    for i in 0..1000u32 {
        let eid = Ipv4Addr::from(0x0a64_0000 + (i << 8));
        xtr.handle_miss(
            None,
            ip("10.1.0.10"),
            IpAddr::V4(eid),
            t0 + Duration::from_secs(u64::from(i) / 500 * 2),
        );
    }
    let requests: Vec<MapRequestRepr> = sent(&mut xtr)
        .iter()
        .filter_map(|t| MapRequestRepr::parse(&EcmRepr::parse(&t.payload).ok()?.message).ok())
        .collect();
    let now = t0 + Duration::from_secs(4);
    for request in &requests {
        let eid = request.records[0].eid.ip().unwrap();
        let IpAddr::V4(v4) = eid else { unreachable!() };
        let o = v4.octets();
        let locators = vec![
            locator(&format!("198.18.{}.{}", o[1], o[2]), 1),
            locator(&format!("198.19.{}.{}", o[1], o[2]), 2),
        ];
        let prefix = format!("{}.{}.{}.0", o[0], o[1], o[2]);
        xtr.handle_datagram(
            "192.0.2.100:4342".parse().unwrap(),
            &reply_bytes(
                request.nonce,
                false,
                vec![record(&prefix, 24, 60, locators)],
            ),
            now,
        );
    }
    let tracked = xtr.probed_locators();
    assert!(tracked >= 1000, "{tracked} locators tracked");
    let mut per_second = Vec::new();
    for second in 0..15 {
        let mut count = 0;
        for tick in 0..10 {
            xtr.handle_timeout(now + Duration::from_millis(second * 1000 + tick * 100));
            count += probes(&mut xtr).len();
        }
        per_second.push(count);
    }
    println!("{tracked} locators, probes per second: {per_second:?}");
    assert!(per_second.iter().all(|&n| n <= 200), "{per_second:?}");
    assert!(xtr.stats().rloc_probes_deferred > 0);
    assert!(
        per_second.iter().sum::<usize>() >= tracked,
        "every locator probed in time"
    );
}

/// A multihomed site loses the uplink of its preferred locator: the map-server hears at once
/// that the locator is at priority 255, the ITR that asked us lately gets an SMR from the
/// locator still up, our answers say the same, and requests leave from the live locator; when
/// the uplink comes back, everything returns.
#[test]
fn a_dead_uplink_is_registered_at_priority_255_and_signalled() {
    use controlplane::registration::MapServerPeer;
    use controlplane::wire::auth::AuthAlgorithm;
    use controlplane::wire::registration::MapRegisterRepr;
    let t0 = Instant::now();
    let server: SocketAddr = "192.0.2.200:4342".parse().unwrap();
    let (first, second) = (ip("192.0.2.1"), ip("198.51.100.1"));
    let mut xtr = XtrSetup {
        map_servers: vec![MapServerPeer {
            address: server,
            name: None,
            key: b"k".to_vec(),
            key_id: 0,
            algorithm: AuthAlgorithm::HmacSha256,
            want_map_notify: false,
            proxy_reply: false,
            instance_id: None,
        }],
        ..setup(
            vec![record(
                "10.1.0.0",
                24,
                1440,
                vec![locator("192.0.2.1", 1), locator("198.51.100.1", 2)],
            )],
            vec![first, second],
            100,
            Mobility::new(false, false, vec![]),
        )
    }
    .build(t0);
    let registered = |out: &[controlplane::Transmit]| -> Vec<Vec<(Address, u8)>> {
        out.iter()
            .filter(|t| t.destination == server)
            .map(|t| {
                MapRegisterRepr::parse(&t.payload).unwrap().body.records[0]
                    .locators
                    .iter()
                    .map(|l| (l.address.clone(), l.priority))
                    .collect()
            })
            .collect()
    };
    xtr.handle_timeout(t0);
    let _ = sent(&mut xtr);
    // An ITR asks for our EID: it becomes a correspondent.
    let correspondent = "203.0.113.9:4342".parse().unwrap();
    xtr.handle_datagram(
        correspondent,
        &request_bytes(&query(5, "10.1.0.10", "203.0.113.9")),
        t0,
    );
    let _ = sent(&mut xtr);

    let t1 = t0 + Duration::from_secs(1);
    xtr.set_unusable_locators(vec![first], t1);
    let out = sent(&mut xtr);
    assert_eq!(
        registered(&out),
        [vec![
            (Address::from(first), 255),
            (Address::from(second), 2)
        ]],
        "{out:?}"
    );
    let smrs: Vec<MapRequestRepr> = out
        .iter()
        .filter(|t| t.destination == correspondent)
        .map(|t| MapRequestRepr::parse(&t.payload).unwrap())
        .collect();
    assert_eq!(smrs.len(), 1, "{out:?}");
    assert!(smrs[0].smr);
    assert_eq!(
        smrs[0].itr_rlocs,
        [Address::from(second)],
        "from the live locator"
    );
    assert_eq!(xtr.stats().locator_set_changes, 1);
    // Our answers carry the new priorities; repeating the same state changes nothing.
    xtr.handle_datagram(
        "203.0.113.7:4342".parse().unwrap(),
        &request_bytes(&query(6, "10.1.0.10", "203.0.113.7")),
        t1,
    );
    let reply = MapReplyRepr::parse(&sent(&mut xtr)[0].payload).unwrap();
    assert_eq!(reply.records[0].locators[0].priority, 255);
    xtr.set_unusable_locators(vec![first], t1);
    assert!(sent(&mut xtr).is_empty());
    // A miss asks from the live locator only.
    xtr.handle_miss(None, ip("10.1.0.10"), ip("10.9.0.1"), t1);
    assert_eq!(ecm_request(&mut xtr).itr_rlocs, [Address::from(second)]);

    let t2 = t1 + Duration::from_secs(5);
    xtr.set_unusable_locators(vec![], t2);
    assert_eq!(
        registered(&sent(&mut xtr)),
        [vec![(Address::from(first), 1), (Address::from(second), 2)]]
    );
    assert_eq!(xtr.stats().locator_set_changes, 2);
}

/// A reload adds a database prefix and changes the map-server's key: the next Map-Register,
/// sent at once, carries both prefixes and is signed with the new key; the new prefix is
/// answered; a prefix the reload removes is no longer answered.
#[test]
fn a_reload_registers_the_new_database_with_the_new_key() {
    use controlplane::registration::MapServerPeer;
    use controlplane::wire::auth::AuthAlgorithm;
    use controlplane::wire::registration::{MapRegisterRepr, RegistrationPacket};
    use controlplane::xtr::{LocalMapping, Reconfiguration};
    let t0 = Instant::now();
    let server = |key: &[u8]| MapServerPeer {
        address: "192.0.2.200:4342".parse().unwrap(),
        name: None,
        key: key.to_vec(),
        key_id: 0,
        algorithm: AuthAlgorithm::HmacSha256,
        want_map_notify: false,
        proxy_reply: false,
        instance_id: None,
    };
    let first = record("10.1.0.0", 24, 1440, vec![locator("192.0.2.1", 1)]);
    let added = record("10.1.5.0", 24, 1440, vec![locator("192.0.2.1", 1)]);
    let mut xtr = XtrSetup {
        map_servers: vec![server(b"old")],
        ..site_a_setup(100)
    }
    .build(t0);
    xtr.handle_timeout(t0);
    let _ = sent(&mut xtr);
    let t1 = t0 + Duration::from_secs(1);
    xtr.reconfigure(
        Reconfiguration {
            database: [&first, &added]
                .map(|r| LocalMapping {
                    record: r.clone(),
                    register: true,
                })
                .to_vec(),
            map_servers: vec![server(b"new")],
            map_resolvers: vec![RESOLVER.parse().unwrap()],
            timers: XtrTimers::default(),
            ..Reconfiguration::default()
        },
        t1,
    );
    let out = sent(&mut xtr);
    let register = out
        .iter()
        .find(|t| t.destination == server(b"new").address)
        .expect("registered at once");
    let packet = RegistrationPacket::new_checked(&register.payload[..]).unwrap();
    assert!(packet.verify(b"new") && !packet.verify(b"old"));
    let prefixes: Vec<u8> = MapRegisterRepr::parse(&register.payload)
        .unwrap()
        .body
        .records
        .iter()
        .map(|r| r.mask_len)
        .collect();
    assert_eq!(prefixes.len(), 2, "{prefixes:?}");
    let answered = |xtr: &mut Xtr, nonce: u64, eid: &str| {
        xtr.handle_datagram(
            "203.0.113.7:4342".parse().unwrap(),
            &request_bytes(&query(nonce, eid, "203.0.113.7")),
            t1,
        );
        !sent(xtr).is_empty()
    };
    assert!(answered(&mut xtr, 1, "10.1.5.9"), "the new prefix is ours");
    assert!(
        !answered(&mut xtr, 2, "2001:db8:a::1"),
        "the prefix the reload removed is not"
    );
}
