//! lisp-ms's machine with a fake clock: against our own xTR control plane (registration with
//! Map-Notify, resolution through the map-server to the ETR and back) and against hand-built
//! messages that must each be refused and counted without changing anything.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use config::{MapServerConfig, NegativeAction};
use controlplane::clock::WallClock;
use controlplane::map_server::{Event, MapServer};
use controlplane::mobility::Mobility;
use controlplane::registration::{self as reg, MapServerPeer};
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_reply::MapReplyRepr;
use controlplane::wire::record::{Action, EidRecord};
use controlplane::xtr::{Xtr, XtrSetup, SETUP_UNIX_SECS};

mod common;

use common::{all, ecm_request, ip, record, sa};

const MS: &str = "192.0.2.100:4342";

/// The demo map-server started at `t0`, past its start-up grace (steady state).
fn ms(t0: Instant) -> MapServer {
    let mut config = MapServerConfig::demo();
    config.negative_action = NegativeAction::NativelyForward;
    config.startup_grace_secs = 0;
    MapServer::new(config, clock(t0), t0)
}

/// `t0` is [`SETUP_UNIX_SECS`] of Unix time, for the map-server as for [`XtrSetup`] machines.
fn clock(t0: Instant) -> WallClock {
    WallClock::new(t0, Duration::from_secs(SETUP_UNIX_SECS))
}

/// The `n`-th nonce a lispd would send at `t0` (the demo sites check timestamps).
fn stamped(n: u64) -> u64 {
    SETUP_UNIX_SECS << 32 | n
}

/// A signed Map-Register with the `n`-th nonce for `records`, keyed `key` with `algorithm`.
fn register(n: u64, records: Vec<EidRecord>, key: &str, algorithm: AuthAlgorithm) -> Vec<u8> {
    common::register(stamped(n), records, key, algorithm, None)
}

/// An xTR for a demo site: EID prefix, RLOC, map-server key; it registers with and resolves
/// through [`MS`].
fn xtr(eid: &str, rloc: &str, key: &str, now: Instant) -> Xtr {
    let database = vec![record(eid, &[rloc])];
    XtrSetup {
        database,
        rlocs: vec![ip(rloc)],
        map_servers: vec![MapServerPeer {
            address: sa(MS),
            name: None,
            key: key.as_bytes().to_vec(),
            key_id: 0,
            algorithm: AuthAlgorithm::HmacSha256,
            want_map_notify: true,
            proxy_reply: false,
            instance_id: None,
        }],
        map_resolvers: vec![sa(MS)],
        mobility: Mobility::new(false, false, vec![]),
        map_cache_limit: 100,
        ..XtrSetup::default()
    }
    .build(now)
}

/// Delivers everything `from` wants to send: to the map-server, or to the xTR at `peer_rloc`.
fn deliver(from: &mut Xtr, from_rloc: &str, ms: &mut MapServer, now: Instant) {
    while let Some(t) = from.poll_transmit() {
        assert_eq!(t.destination, sa(MS), "{t:?}");
        ms.handle_datagram(SocketAddr::new(ip(from_rloc), 4342), &t.payload, now);
    }
}

#[test]
fn our_xtrs_register_and_resolve_each_other_through_the_map_server() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let mut a = xtr("10.1.0.0/24", "192.0.2.1", "demo-site-a", t0);
    let mut b = xtr("10.2.0.0/24", "192.0.2.2", "demo-site-b", t0);
    a.handle_timeout(t0);
    b.handle_timeout(t0);
    deliver(&mut a, "192.0.2.1", &mut ms, t0);
    deliver(&mut b, "192.0.2.2", &mut ms, t0);
    let notifies = all(&mut ms);
    assert_eq!(notifies.len(), 2, "a Map-Notify for each");
    for notify in notifies {
        let (xtr, from) = if notify.destination.ip() == ip("192.0.2.1") {
            (&mut a, "192.0.2.1")
        } else {
            (&mut b, "192.0.2.2")
        };
        xtr.handle_datagram(sa(MS), &notify.payload, t0);
        assert_eq!(
            xtr.stats().map_notifies_accepted,
            1,
            "{from}: nonce and HMAC verified"
        );
        assert_eq!(xtr.registration.status()[0].state, reg::State::Registered);
    }
    deliver(&mut a, "192.0.2.1", &mut ms, t0);
    deliver(&mut b, "192.0.2.2", &mut ms, t0);
    assert_eq!(
        ms.stats().map_notify_acks,
        0,
        "a Map-Notify that answers a Map-Register is not acknowledged (RFC 9301)"
    );
    assert_eq!(
        std::iter::from_fn(|| ms.poll_event()).collect::<Vec<_>>(),
        vec![
            Event::Registered {
                site: "site-a".into(),
                prefix: "10.1.0.0/24".parse().unwrap(),
                by: ip("192.0.2.1")
            },
            Event::Registered {
                site: "site-b".into(),
                prefix: "10.2.0.0/24".parse().unwrap(),
                by: ip("192.0.2.2")
            },
        ]
    );

    // A misses 10.2.0.20: its ECM goes to the map-server, which forwards it to B's RLOC.
    a.handle_miss(None, ip("10.1.0.10"), ip("10.2.0.20"), t0);
    deliver(&mut a, "192.0.2.1", &mut ms, t0);
    let forwarded = all(&mut ms);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].destination, sa("192.0.2.2:4342"));
    assert!(EcmRepr::parse(&forwarded[0].payload).unwrap().to_etr);
    b.handle_datagram(sa(MS), &forwarded[0].payload, t0);
    let reply = b.poll_transmit().expect("B answers");
    assert_eq!(reply.destination, sa("192.0.2.1:4342"), "to A's ITR-RLOC");
    a.handle_datagram(sa("192.0.2.2:4342"), &reply.payload, t0);
    let (prefix, mapping) = a
        .map_cache
        .lookup(None, ip("10.2.0.20"))
        .expect("installed in A");
    assert_eq!(prefix, "10.2.0.0/24".parse().unwrap());
    assert_eq!(mapping.locators[0].address, ip("192.0.2.2"));
    assert_eq!(ms.stats().requests_forwarded, 1);
}

#[test]
fn registrations_of_two_xtrs_merge_and_expire_separately() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let key = "demo-site-a";
    ms.handle_datagram(
        sa("192.0.2.1:4342"),
        &register(
            1,
            vec![record("10.1.0.0/24", &["192.0.2.1"])],
            key,
            AuthAlgorithm::HmacSha256,
        ),
        t0,
    );
    let later = t0 + Duration::from_secs(100);
    ms.handle_datagram(
        sa("192.0.2.3:4342"),
        &register(
            2,
            vec![record("10.1.0.0/24", &["192.0.2.3"])],
            key,
            AuthAlgorithm::HmacSha256,
        ),
        later,
    );
    let views = ms.registrations();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].locators, vec![ip("192.0.2.1"), ip("192.0.2.3")]);
    assert_eq!(views[0].registrants, 2);
    assert_eq!(ms.poll_timeout(), Some(t0 + Duration::from_secs(180)));
    ms.handle_timeout(t0 + Duration::from_secs(180));
    let views = ms.registrations();
    assert_eq!(
        views[0].locators,
        vec![ip("192.0.2.3")],
        "the first one expired"
    );
    ms.handle_timeout(later + Duration::from_secs(180));
    assert!(ms.registrations().is_empty());
    assert_eq!(ms.stats().registrations_expired, 2);
}

#[test]
fn bad_registrations_are_refused_and_counted() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let from = sa("192.0.2.1:4342");
    let sha = AuthAlgorithm::HmacSha256;
    let good = register(
        9,
        vec![record("10.1.0.0/24", &["192.0.2.1"])],
        "demo-site-a",
        sha,
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "bad HMAC",
            register(1, vec![record("10.1.0.0/24", &["192.0.2.1"])], "wrong", sha),
        ),
        (
            "wrong algorithm",
            register(
                2,
                vec![record("10.1.0.0/24", &["192.0.2.1"])],
                "demo-site-a",
                AuthAlgorithm::HmacSha1,
            ),
        ),
        (
            "unknown site",
            register(
                3,
                vec![record("10.8.0.0/24", &["192.0.2.1"])],
                "demo-site-a",
                sha,
            ),
        ),
        (
            "prefix of another site",
            register(
                4,
                vec![
                    record("10.1.0.0/24", &["192.0.2.1"]),
                    record("10.2.0.0/24", &["192.0.2.1"]),
                ],
                "demo-site-a",
                sha,
            ),
        ),
        ("truncated", good[..good.len() - 5].to_vec()),
    ];
    for (_, bytes) in &cases {
        ms.handle_datagram(from, bytes, t0);
    }
    assert!(ms.registrations().is_empty(), "nothing registered");
    assert!(all(&mut ms).is_empty(), "nothing answered");
    ms.handle_datagram(from, &good, t0);
    assert_eq!(ms.registrations().len(), 1);
    all(&mut ms);
    ms.handle_datagram(from, &good, t0 + Duration::from_secs(1));
    assert!(all(&mut ms).is_empty(), "a replay gets no Map-Notify");
    let s = ms.stats();
    assert_eq!(
        (
            s.refused_bad_authentication,
            s.refused_unknown_site,
            s.refused_outside_site,
            s.refused_malformed,
            s.refused_replay,
            s.registers_accepted
        ),
        (2, 1, 1, 1, 1, 1)
    );
}

#[test]
fn unregistered_space_gets_the_widest_negative_reply() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let from = sa("192.0.2.1:4342");
    ms.handle_datagram(
        sa("192.0.2.2:4342"),
        &register(
            1,
            vec![record("10.2.0.0/24", &["192.0.2.2"])],
            "demo-site-b",
            AuthAlgorithm::HmacSha256,
        ),
        t0,
    );
    all(&mut ms);
    for (eid, prefix, action, ttl) in [
        ("10.3.0.1", "10.3.0.0/16", Action::NativelyForward, 15),
        ("192.168.1.1", "128.0.0.0/1", Action::NativelyForward, 15),
        ("10.2.200.1", "10.2.128.0/17", Action::Drop, 1),
    ] {
        ms.handle_datagram(from, &ecm_request(7, eid, "192.0.2.1", false, 64), t0);
        let out = all(&mut ms);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].destination, from);
        let reply = MapReplyRepr::parse(&out[0].payload).unwrap();
        let record = &reply.records[0];
        let got = ipnet::IpNet::new(record.eid.ip().unwrap(), record.mask_len).unwrap();
        assert_eq!(got, prefix.parse().unwrap(), "{eid}");
        assert_eq!(
            (record.action, record.ttl, reply.nonce),
            (action, ttl, 7),
            "{eid}"
        );
        assert!(record.locators.is_empty());
    }
    assert_eq!(ms.stats().negative_replies, 3);
}

#[test]
fn proxy_reply_registrations_are_answered_by_the_map_server() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let mut message = common::register_message(
        stamped(1),
        vec![record("10.2.0.0/24", &["192.0.2.2"])],
        None,
    );
    message.proxy_reply = true;
    let bytes = message
        .signed(0, AuthAlgorithm::HmacSha256, b"demo-site-b")
        .unwrap();
    ms.handle_datagram(sa("192.0.2.2:4342"), &bytes, t0);
    all(&mut ms);
    ms.handle_datagram(
        sa("192.0.2.1:4342"),
        &ecm_request(8, "10.2.0.5", "192.0.2.1", false, 64),
        t0,
    );
    let out = all(&mut ms);
    let reply = MapReplyRepr::parse(&out[0].payload).unwrap();
    assert_eq!(
        reply.records[0].locators[0].address,
        Address::from(ip("192.0.2.2"))
    );
    assert!(reply.records[0].authoritative);
    assert_eq!(ms.stats().requests_proxied, 1);
}

#[test]
fn both_sites_register_shared_mobility_space_and_merge() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let sha = AuthAlgorithm::HmacSha256;
    let vm = |rloc: &str| record("10.9.0.50/32", &[rloc]);
    ms.handle_datagram(
        sa("192.0.2.1:4342"),
        &register(1, vec![vm("192.0.2.1")], "demo-site-a", sha),
        t0,
    );
    ms.handle_datagram(
        sa("192.0.2.2:4342"),
        &register(2, vec![vm("192.0.2.2")], "demo-site-b", sha),
        t0,
    );
    ms.handle_datagram(
        sa("192.0.2.3:4342"),
        &register(3, vec![vm("192.0.2.3")], "not a site key", sha),
        t0,
    );
    let views = ms.registrations();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].registrants, 2);
    assert_eq!(views[0].locators, vec![ip("192.0.2.1"), ip("192.0.2.2")]);
    assert_eq!(ms.stats().refused_bad_authentication, 1);
}
