//! The resolution machine, driven with explicit time: ECM-encapsulated Map-Requests, one per
//! destination prefix, retries with back-off, failover, and Map-Replies accepted only for an
//! outstanding nonce.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use controlplane::nonce::NonceSource;
use controlplane::resolution::{ReplyRefused, RequestKind, Resolver, ResolverConfig};
use controlplane::wire::address::Address;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_reply::MapReplyRepr;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord};
use dataplane::mapcache;

fn resolver(last: u8) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(192, 0, 2, last).into(), 4342)
}

fn machine() -> Resolver {
    Resolver::new(
        ResolverConfig {
            resolvers: vec![resolver(100), resolver(101)],
            itr_rlocs: vec![
                "192.0.2.1".parse().unwrap(),
                "2001:db8:ff::1".parse().unwrap(),
            ],
            retries: 2,
            timeout: Duration::from_secs(1),
            rate_per_sec: 3,
        },
        NonceSource::seeded(99),
    )
}

fn reply(nonce: u64, records: Vec<EidRecord>) -> Vec<u8> {
    let mut bytes = Vec::new();
    MapReplyRepr {
        probe: false,
        echo_nonce_capable: false,
        security: false,
        nonce,
        records,
    }
    .emit(&mut bytes)
    .unwrap();
    bytes
}

#[test]
fn a_miss_is_resolved_once_and_installed() {
    let t0 = Instant::now();
    let mut r = machine();
    let destination: IpAddr = "10.2.0.20".parse().unwrap();
    r.request(
        RequestKind::Miss,
        destination,
        "10.1.0.10".parse().unwrap(),
        None,
        t0,
    );
    r.request(
        RequestKind::Miss,
        "10.2.0.99".parse().unwrap(),
        "10.1.0.10".parse().unwrap(),
        None,
        t0,
    );
    let sent: Vec<_> = std::iter::from_fn(|| r.poll_transmit()).collect();
    assert_eq!(sent.len(), 1, "one request per /24");
    assert_eq!(sent[0].destination, resolver(100));
    let ecm = EcmRepr::parse(&sent[0].payload).unwrap();
    assert_eq!(
        ecm.inner_destination, destination,
        "the inner header goes to the EID looked up"
    );
    assert_eq!(
        ecm.inner_source,
        "10.1.0.10".parse::<IpAddr>().unwrap(),
        "from the source EID, as deployed ITRs send it"
    );
    let request = MapRequestRepr::parse(&ecm.message).unwrap();
    assert_eq!(
        request.records[0].eid,
        Address::Ipv4(Ipv4Addr::new(10, 2, 0, 20))
    );
    assert_eq!(request.itr_rlocs.len(), 2, "both our RLOCs are offered");
    assert_eq!(
        request.source_eid,
        Address::Ipv4(Ipv4Addr::new(10, 1, 0, 10))
    );

    assert_eq!(
        r.handle_map_reply(&reply(request.nonce ^ 1, vec![])),
        Err(ReplyRefused::UnknownNonce)
    );
    let record = EidRecord {
        ttl: 15,
        mask_len: 24,
        action: Action::NoAction,
        authoritative: true,
        map_version: 3,
        eid: Address::Ipv4(Ipv4Addr::new(10, 2, 0, 0)),
        locators: vec![LocatorRecord::unicast(
            Address::Ipv4(Ipv4Addr::new(192, 0, 2, 2)),
            1,
            100,
            false,
        )],
    };
    let installs = r
        .handle_map_reply(&reply(request.nonce, vec![record]))
        .unwrap();
    assert_eq!(installs.len(), 1);
    assert_eq!(installs[0].prefix, "10.2.0.0/24".parse().unwrap());
    assert_eq!(installs[0].ttl_minutes, 15);
    assert_eq!(installs[0].mapping.action, mapcache::Action::Encapsulate);
    assert_eq!(
        installs[0].mapping.locators[0].address,
        "192.0.2.2".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        r.handle_map_reply(&reply(request.nonce, vec![])),
        Err(ReplyRefused::UnknownNonce),
        "a replay is refused"
    );
    assert_eq!(r.outstanding(), 0);
    r.request(
        RequestKind::Miss,
        destination,
        "10.1.0.10".parse().unwrap(),
        None,
        t0,
    );
    assert!(r.poll_transmit().is_some(), "a later miss asks again");
}

#[test]
fn silent_resolvers_are_retried_then_failed_over() {
    let t0 = Instant::now();
    let mut r = machine();
    r.request(
        RequestKind::Miss,
        "10.2.0.20".parse().unwrap(),
        "10.1.0.10".parse().unwrap(),
        None,
        t0,
    );
    let mut log = vec![];
    let mut now = t0;
    while now < t0 + Duration::from_secs(40) {
        if let Some(t) = r.poll_transmit() {
            log.push((now.duration_since(t0).as_secs(), t.destination));
            continue;
        }
        now += Duration::from_millis(250);
        r.handle_timeout(now);
    }
    let expected: Vec<(u64, SocketAddr)> = vec![
        (0, resolver(100)),
        (1, resolver(100)),
        (3, resolver(100)),
        (7, resolver(101)),
        (8, resolver(101)),
        (10, resolver(101)),
    ];
    assert_eq!(
        log, expected,
        "1 s, 2 s, 4 s back-off; failover after 2 retries"
    );
    assert_eq!(r.unresolved(), 1, "given up after the last resolver");
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn negative_replies_carry_their_action() {
    let t0 = Instant::now();
    let mut r = machine();
    r.request(
        RequestKind::Miss,
        "172.16.0.1".parse().unwrap(),
        "10.1.0.10".parse().unwrap(),
        None,
        t0,
    );
    let ecm = EcmRepr::parse(&r.poll_transmit().unwrap().payload).unwrap();
    let nonce = MapRequestRepr::parse(&ecm.message).unwrap().nonce;
    let negative = EidRecord {
        ttl: 0,
        mask_len: 12,
        action: Action::NativelyForward,
        authoritative: true,
        map_version: 0,
        eid: Address::Ipv4(Ipv4Addr::new(172, 16, 0, 0)),
        locators: vec![],
    };
    let installs = r.handle_map_reply(&reply(nonce, vec![negative])).unwrap();
    assert_eq!(installs[0].mapping.action, mapcache::Action::NativeForward);
    assert_eq!(installs[0].ttl_minutes, 0, "TTL 0: use, do not cache");
    assert_eq!(
        r.handle_map_reply(&[0x20, 0, 0]),
        Err(ReplyRefused::Malformed)
    );
}

#[test]
fn new_requests_are_capped_per_second_in_total() {
    let t0 = Instant::now();
    let mut r = machine();
    for i in 0..5u8 {
        r.request(
            RequestKind::Miss,
            IpAddr::V4(Ipv4Addr::new(10, 50, i, 1)),
            "10.1.0.10".parse().unwrap(),
            None,
            t0,
        );
    }
    assert_eq!(
        std::iter::from_fn(|| r.poll_transmit()).count(),
        3,
        "three per second"
    );
    assert_eq!(r.rate_limited(), 2);
    r.request(
        RequestKind::Miss,
        "10.50.9.1".parse().unwrap(),
        "10.1.0.10".parse().unwrap(),
        None,
        t0 + Duration::from_millis(1001),
    );
    assert_eq!(
        std::iter::from_fn(|| r.poll_transmit()).count(),
        1,
        "a new second"
    );
}

#[test]
fn a_reply_with_the_right_nonce_but_an_uncovered_prefix_is_refused() {
    let t0 = Instant::now();
    let mut r = machine();
    r.request(
        RequestKind::Miss,
        "10.2.0.20".parse().unwrap(),
        "10.1.0.10".parse().unwrap(),
        None,
        t0,
    );
    let ecm = EcmRepr::parse(&r.poll_transmit().unwrap().payload).unwrap();
    let nonce = MapRequestRepr::parse(&ecm.message).unwrap().nonce;
    let prefix = |eid: Ipv4Addr, mask_len: u8| EidRecord {
        ttl: 1440,
        mask_len,
        action: Action::NoAction,
        authoritative: true,
        map_version: 0,
        eid: Address::Ipv4(eid),
        locators: vec![LocatorRecord::unicast(
            Address::Ipv4(Ipv4Addr::new(203, 0, 113, 66)),
            1,
            100,
            false,
        )],
    };
    let forged = vec![
        prefix(Ipv4Addr::new(128, 0, 0, 0), 1),
        prefix(Ipv4Addr::new(10, 1, 0, 0), 24),
    ];
    assert_eq!(
        r.handle_map_reply(&reply(nonce, forged)),
        Err(ReplyRefused::Uncovered)
    );
    assert_eq!(r.records_refused(), 2);
    assert_eq!(r.outstanding(), 1, "the real reply can still come");
    let mixed = vec![
        prefix(Ipv4Addr::new(10, 2, 0, 0), 24),
        prefix(Ipv4Addr::new(10, 3, 0, 0), 16),
    ];
    let installs = r.handle_map_reply(&reply(nonce, mixed)).unwrap();
    assert_eq!(installs.len(), 1, "only the covering record");
    assert_eq!(installs[0].prefix, "10.2.0.0/24".parse().unwrap());
    assert_eq!(r.records_refused(), 3);
}

#[test]
fn ten_thousand_nonces_are_distinct_and_not_a_function_of_the_previous_one() {
    let t0 = Instant::now();
    let mut r = Resolver::new(
        ResolverConfig {
            resolvers: vec![resolver(100)],
            itr_rlocs: vec!["192.0.2.1".parse().unwrap()],
            retries: 0,
            timeout: Duration::from_secs(1),
            rate_per_sec: 20_000,
        },
        NonceSource::from_entropy(),
    );
    let nonces: Vec<u64> = (0..10_000u32)
        .map(|i| {
            let eid = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 | (i << 8)));
            r.request(
                RequestKind::Miss,
                eid,
                "10.1.0.10".parse().unwrap(),
                None,
                t0,
            );
            let ecm = EcmRepr::parse(&r.poll_transmit().unwrap().payload).unwrap();
            MapRequestRepr::parse(&ecm.message).unwrap().nonce
        })
        .collect();
    let distinct: std::collections::HashSet<_> = nonces.iter().collect();
    assert_eq!(distinct.len(), nonces.len());
    // The old generator's output was its next state: nonce n+1 = xorshift(nonce n). A source
    // that an observer can step forward fails this for every pair; ChaCha's output is
    // independent of the previous output (with odds 10^4 / 2^64 of a chance match).
    let xorshift = |mut x: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    assert!(nonces.windows(2).all(|w| xorshift(w[0]) != w[1]));
    // Nor a fixed step, nor a counter: the differences are all distinct too.
    let steps: std::collections::HashSet<u64> =
        nonces.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    assert_eq!(steps.len(), nonces.len() - 1);
    // And every bit position flips about half the time between consecutive nonces.
    for bit in 0..64 {
        let flips = nonces
            .windows(2)
            .filter(|w| (w[0] ^ w[1]) >> bit & 1 == 1)
            .count();
        assert!((4500..5500).contains(&flips), "bit {bit}: {flips}");
    }
}

#[test]
fn retransmissions_are_paid_from_the_same_budget() {
    let t0 = Instant::now();
    let mut r = machine();
    let mut sent_at = Vec::new();
    let mut now = t0;
    let mut i = 0u32;
    while now < t0 + Duration::from_secs(10) {
        i += 1;
        let eid = IpAddr::V4(Ipv4Addr::from(0x0a32_0001 | (i << 8)));
        r.request(
            RequestKind::Miss,
            eid,
            "10.1.0.10".parse().unwrap(),
            None,
            now,
        );
        r.handle_timeout(now);
        while r.poll_transmit().is_some() {
            sent_at.push(now);
        }
        now += Duration::from_millis(100);
    }
    // Budget windows are whole seconds from the first request: at most 3 in each.
    for second in 0..10 {
        let start = t0 + Duration::from_secs(second);
        let in_window = sent_at
            .iter()
            .filter(|&&at| at >= start && at < start + Duration::from_secs(1))
            .count();
        assert!(in_window <= 3, "second {second}: {in_window} sent");
    }
    assert!(r.rate_limited() > 0);
}

#[test]
fn smr_invoked_requests_do_not_use_the_misses_budget() {
    let t0 = Instant::now();
    let mut r = machine();
    for i in 0..50u8 {
        r.request(
            RequestKind::Solicited,
            IpAddr::V4(Ipv4Addr::new(10, 60, i, 0)),
            "10.1.0.10".parse().unwrap(),
            None,
            t0,
        );
    }
    assert_eq!(
        std::iter::from_fn(|| r.poll_transmit()).count(),
        1,
        "a quarter of 3 a second, at least one"
    );
    r.request(
        RequestKind::Miss,
        "10.2.0.20".parse().unwrap(),
        "10.1.0.10".parse().unwrap(),
        None,
        t0,
    );
    let ecm = EcmRepr::parse(&r.poll_transmit().expect("the miss is asked").payload).unwrap();
    assert!(!MapRequestRepr::parse(&ecm.message).unwrap().smr_invoked);
}
