//! lisp-ms under attack and after a restart, with a fake clock: each test replays one attack
//! from the hardening issue and asserts the map-server's answer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use config::{MapServerConfig, ReplayProtection};
use controlplane::clock::WallClock;
use controlplane::map_server::MapServer;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_reply::MapReplyRepr;
use controlplane::wire::record::{Action, EidRecord};
use proptest::prelude::*;

mod common;

use common::{all, ecm_request, ip, record, register, sa};

const MS: &str = "192.0.2.100:4342";
const UNIX_T0: u64 = 1_800_000_000;

/// The demo sites on [`MS`], started at `t0`; site A's xTRs send random nonces (as most
/// deployed xTRs do), site B's are lispd's timestamped ones.
fn config() -> MapServerConfig {
    let mut config = MapServerConfig::demo();
    config.listen = vec![sa(MS)];
    config.startup_grace_secs = 0;
    config.site[0].replay_protection = ReplayProtection::NonceMemory;
    config
}

fn ms_with(config: MapServerConfig, t0: Instant) -> MapServer {
    MapServer::new(config, WallClock::new(t0, Duration::from_secs(UNIX_T0)), t0)
}

fn ms(t0: Instant) -> MapServer {
    ms_with(config(), t0)
}

/// A Map-Register of site A (HMAC-SHA-256).
fn register_a(nonce: u64, records: Vec<EidRecord>, xtr_id: Option<[u8; 16]>) -> Vec<u8> {
    register(
        nonce,
        records,
        "demo-site-a",
        AuthAlgorithm::HmacSha256,
        xtr_id,
    )
}

/// Site A's Map-Register of 10.1.0.0/24 at 192.0.2.1.
fn site_a(nonce: u64) -> Vec<u8> {
    register_a(nonce, vec![record("10.1.0.0/24", &["192.0.2.1"])], None)
}

/// Site B's Map-Register of 10.2.0.0/24 at 192.0.2.2, sent at Unix time `unix`.
fn site_b(unix: u64, low: u32, xtr_id: Option<[u8; 16]>) -> Vec<u8> {
    register(
        unix << 32 | u64::from(low),
        vec![record("10.2.0.0/24", &["192.0.2.2"])],
        "demo-site-b",
        AuthAlgorithm::HmacSha256,
        xtr_id,
    )
}

#[test]
fn a_site_registered_from_our_own_address_is_refused_and_no_request_loops() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    ms.handle_datagram(sa(MS), &site_a(11), t0);
    assert!(ms.registrations().is_empty());
    assert!(all(&mut ms).is_empty(), "no Map-Notify to ourselves");
    assert_eq!(ms.stats().refused_to_self, 1);

    ms.handle_datagram(sa("192.0.2.1:4342"), &site_a(12), t0);
    all(&mut ms);
    let from = sa("192.0.2.9:4342");
    ms.handle_datagram(
        from,
        &ecm_request(7, "10.1.0.5", "192.0.2.9", false, 64),
        t0,
    );
    let forwarded = all(&mut ms);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].destination, sa("192.0.2.1:4342"));
    let ecm = EcmRepr::parse(&forwarded[0].payload).unwrap();
    assert!(ecm.to_etr, "E set on the forwarded copy");
    assert_eq!(ecm.inner_ttl, 63);
    // The forwarded copy coming back (a misconfigured ETR, or an attacker) stops here.
    ms.handle_datagram(from, &forwarded[0].payload, t0);
    assert!(all(&mut ms).is_empty());
    ms.handle_datagram(from, &ecm_request(7, "10.1.0.5", "192.0.2.9", false, 1), t0);
    assert!(all(&mut ms).is_empty(), "inner TTL ran out");
    assert_eq!(ms.stats().refused_forwarding_loop, 2);
    assert_eq!(ms.stats().requests_forwarded, 1);

    ms.handle_datagram(
        from,
        &ecm_request(7, "10.1.0.5", "192.0.2.100", false, 64),
        t0,
    );
    assert!(all(&mut ms).is_empty(), "an ITR-RLOC of ours gets nothing");
    assert_eq!(ms.stats().refused_to_self, 2);
}

#[test]
fn a_listener_on_any_address_counts_every_host_address_as_ours() {
    let t0 = Instant::now();
    let mut config = config();
    config.listen = vec![sa("0.0.0.0:4342")];
    let mut ms = ms_with(config, t0);
    ms.set_host_addresses(vec![ip("198.51.100.7")]);
    assert!(ms.is_own(sa("198.51.100.7:4342")));
    assert!(ms.is_own(sa("127.0.0.1:4342")));
    assert!(ms.is_own(sa("0.0.0.0:4342")));
    assert!(
        !ms.is_own(sa("198.51.100.7:4343")),
        "another port is not us"
    );
    assert!(!ms.is_own(sa("198.51.100.8:4342")));
    ms.handle_datagram(sa("198.51.100.7:4342"), &site_a(1), t0);
    assert_eq!(ms.stats().refused_to_self, 1);
}

#[test]
fn nonce_zero_and_replays_after_the_window_are_refused() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let a = sa("192.0.2.1:4342");
    ms.handle_datagram(a, &site_a(0), t0);
    assert!(
        ms.registrations().is_empty(),
        "nonce 0 cannot be told from its replay"
    );
    let captured = site_a(0x5eed);
    ms.handle_datagram(a, &captured, t0);
    assert_eq!(ms.registrations().len(), 1);
    all(&mut ms);
    // The registration expires; long after every window, the capture is replayed, also from
    // another address (the HMAC does not cover the source).
    let later = t0 + Duration::from_secs(3600);
    ms.handle_timeout(later);
    assert!(ms.registrations().is_empty());
    ms.handle_datagram(a, &captured, later);
    ms.handle_datagram(sa("203.0.113.66:4342"), &captured, later);
    assert!(ms.registrations().is_empty());
    assert!(all(&mut ms).is_empty());
    assert_eq!(ms.stats().refused_replay, 3);
    // The xTR's own next Map-Register is accepted.
    ms.handle_datagram(a, &site_a(0x5eee), later);
    assert_eq!(ms.registrations().len(), 1);
}

#[test]
fn timestamped_registrations_cannot_be_replayed_even_after_a_restart() {
    let t0 = Instant::now();
    let b = sa("192.0.2.2:4342");
    let id = Some([7u8; 16]);
    let mut ms = ms(t0);
    let first = site_b(UNIX_T0, 1, id);
    ms.handle_datagram(b, &first, t0);
    assert_eq!(ms.registrations().len(), 1);
    let t1 = t0 + Duration::from_secs(60);
    ms.handle_datagram(b, &site_b(UNIX_T0 + 60, 2, id), t1);
    ms.handle_datagram(b, &first, t1);
    assert_eq!(ms.stats().refused_replay, 1, "older than the xTR's last");
    assert_eq!(ms.stats().registers_accepted, 2);

    // lisp-ms restarts with no memory; ten minutes on, the captures are outside the skew.
    let t2 = t0 + Duration::from_secs(600);
    let mut restarted = ms_with(config(), t0);
    restarted.handle_datagram(b, &first, t2);
    restarted.handle_datagram(b, &site_b(UNIX_T0 + 60, 2, id), t2);
    assert!(restarted.registrations().is_empty());
    assert_eq!(restarted.stats().refused_replay, 2);
    restarted.handle_datagram(b, &site_b(UNIX_T0 + 600, 3, id), t2);
    assert_eq!(restarted.registrations().len(), 1, "a fresh one is taken");
}

#[test]
fn registrations_beyond_the_site_limits_are_refused_and_memory_stays_bounded() {
    let t0 = Instant::now();
    let mut config = config();
    config.site[0].limits.max_prefixes = 100;
    config.site[0].limits.max_more_specifics = 50;
    config.site[0].limits.max_locators = 4;
    config.site[0].limits.max_registrants = 2;
    let mut ms = ms_with(config, t0);
    let a = sa("192.0.2.1:4342");
    let mut nonce = 1;
    let mut send = |ms: &mut MapServer, from: SocketAddr, records: Vec<EidRecord>| {
        nonce += 1;
        ms.handle_datagram(from, &register_a(nonce, records, None), t0);
    };
    // 10,000 /32 more-specifics, 10 per message.
    for chunk in 0..1000u32 {
        let records = (0..10u32)
            .map(|i| {
                let host = chunk * 10 + i;
                record(
                    &format!("10.1.{}.{}/32", host / 256, host % 256),
                    &["192.0.2.1"],
                )
            })
            .collect();
        send(&mut ms, a, records);
    }
    assert_eq!(ms.registrations().len(), 50);
    assert_eq!(ms.timers(), 50);
    assert_eq!(ms.stats().refused_more_specific_limit, 995);
    send(
        &mut ms,
        a,
        vec![record(
            "10.1.0.0/16",
            &[
                "192.0.2.1",
                "192.0.2.3",
                "192.0.2.4",
                "192.0.2.5",
                "192.0.2.6",
            ],
        )],
    );
    send(
        &mut ms,
        a,
        vec![record("10.1.0.0/16", &["192.0.2.1", "192.0.2.1"])],
    );
    assert_eq!(ms.stats().refused_locator_limit, 1);
    assert_eq!(ms.stats().refused_duplicate_locator, 1);
    for from in ["192.0.2.3:4342", "192.0.2.4:4342"] {
        send(
            &mut ms,
            sa(from),
            vec![record("10.1.0.0/16", &["192.0.2.1"])],
        );
    }
    assert_eq!(
        ms.stats().refused_registrant_limit,
        1,
        "a third xTR of the site"
    );
}

#[test]
fn expiry_timers_do_not_scan_registrations() {
    let t0 = Instant::now();
    let mut config = config();
    config.site[0].limits.max_prefixes = 300_000;
    config.site[0].limits.max_more_specifics = 300_000;
    let mut ms = ms_with(config, t0);
    let a = sa("192.0.2.1:4342");
    for chunk in 0..1000u32 {
        let records = (0..200u32)
            .map(|i| {
                let host = chunk * 200 + i;
                let (high, low) = (host >> 16, host & 0xffff);
                record(&format!("2001:db8:a::{high:x}:{low:x}/128"), &["192.0.2.1"])
            })
            .collect();
        let at = t0 + Duration::from_millis(u64::from(chunk));
        ms.handle_datagram(a, &register_a(u64::from(chunk) + 1, records, None), at);
    }
    assert_eq!(ms.registrations().len(), 200_000);
    assert_eq!(ms.timers(), 200_000, "one timer per registration");
    // Registered within one second: expiries fall on two ticks, 180 and 181 s on.
    assert_eq!(ms.poll_timeout(), Some(t0 + Duration::from_secs(180)));
    let due = t0 + Duration::from_secs(181);
    // Refreshing adds no timer.
    ms.handle_datagram(
        a,
        &register_a(
            5000,
            vec![record("2001:db8:a::0:0/128", &["192.0.2.1"])],
            None,
        ),
        t0 + Duration::from_secs(100),
    );
    assert_eq!(ms.timers(), 200_000);
    ms.handle_timeout(due);
    assert_eq!(ms.registrations().len(), 1, "the refreshed one lives on");
    assert_eq!(ms.timers(), 1);
}

#[test]
fn after_a_restart_unregistered_site_space_is_not_blackholed() {
    let t0 = Instant::now();
    let mut config = config();
    config.startup_grace_secs = 60;
    let mut ms = ms_with(config, t0);
    let from = sa("192.0.2.1:4342");
    let ask = |ms: &mut MapServer, at: Instant| {
        ms.handle_datagram(
            from,
            &ecm_request(7, "10.2.0.20", "192.0.2.1", false, 64),
            at,
        );
        let out = all(ms);
        let reply = MapReplyRepr::parse(&out[0].payload).unwrap();
        (reply.records[0].action, reply.records[0].ttl)
    };
    assert_eq!(
        ask(&mut ms, t0 + Duration::from_secs(5)),
        (Action::SendMapRequest, 0),
        "not cached, asked again on the next packet"
    );
    assert_eq!(ms.stats().negative_replies_in_grace, 1);
    assert_eq!(
        ask(&mut ms, t0 + Duration::from_secs(61)),
        (Action::Drop, 1),
        "after the grace, a site that did not come back is unregistered"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever registrations and requests arrive, from wherever and naming whatever ITR-RLOC,
    /// nothing leaves for one of our own addresses.
    #[test]
    fn never_sends_to_its_own_addresses(
        steps in prop::collection::vec(
            (any::<bool>(), 0usize..4, 0usize..4, 0usize..4, any::<bool>(), 1u8..4),
            1..40,
        )
    ) {
        let t0 = Instant::now();
        let mut config = config();
        config.listen = vec![sa(MS), sa("0.0.0.0:4342"), sa("[2001:db8::100]:4342")];
        let mut ms = ms_with(config, t0);
        ms.set_host_addresses(vec![ip("198.51.100.7")]);
        let addresses = ["192.0.2.100", "198.51.100.7", "127.0.0.1", "192.0.2.1"];
        let eids = ["10.1.0.5", "10.2.0.5", "10.9.0.50", "10.3.0.1"];
        let mut nonce = 1;
        for (is_register, from, itr, eid, to_etr, ttl) in steps {
            let from = SocketAddr::new(ip(addresses[from]), 4342);
            let bytes = if is_register {
                nonce += 1;
                register_a(nonce, vec![record("10.1.0.0/24", &[addresses[itr]])], None)
            } else {
                ecm_request(7, eids[eid], addresses[itr], to_etr, ttl)
            };
            ms.handle_datagram(from, &bytes, t0);
            for transmit in all(&mut ms) {
                prop_assert!(!ms.is_own(transmit.destination), "{transmit:?}");
                if let Ok(ecm) = EcmRepr::parse(&transmit.payload) {
                    prop_assert!(ecm.to_etr, "forwarded copies carry E");
                }
            }
        }
    }
}
