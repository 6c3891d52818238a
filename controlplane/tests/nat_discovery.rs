//! NAT discovery against lisp-ms's Info-Reply, with a fake clock: without a NAT the map-server
//! sees our locator at port 4342; through a NAT it sees the translated address and port, and
//! names its RTRs; silence is noticed; forged or stray replies change nothing.

use std::time::{Duration, Instant};

use config::MapServerConfig;
use controlplane::clock::WallClock;
use controlplane::map_server::MapServer;
use controlplane::nat_discovery::{InfoRefused, NatDiscovery, NatState, NatTimers};
use controlplane::nonce::NonceSource;
use controlplane::registration::MapServerPeer;
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;

const MS: &str = "192.0.2.100:4342";
const OUR_RLOC: &str = "10.0.0.2";

fn lisp_ms(t0: Instant) -> MapServer {
    let mut config = MapServerConfig::demo();
    config.listen = vec![MS.parse().unwrap()];
    config.rtrs = vec!["192.0.2.50".parse().unwrap()];
    MapServer::new(
        config,
        WallClock::new(t0, Duration::from_secs(1_800_000_000)),
        t0,
    )
}

fn discovery(key: &[u8], t0: Instant) -> NatDiscovery {
    NatDiscovery::new(
        vec![MapServerPeer {
            address: MS.parse().unwrap(),
            name: None,
            key: key.to_vec(),
            key_id: 0,
            algorithm: AuthAlgorithm::HmacSha256,
            want_map_notify: true,
            proxy_reply: false,
            instance_id: None,
        }],
        (Address::Ipv4("10.1.0.0".parse().unwrap()), 24),
        vec![OUR_RLOC.parse().unwrap()],
        NatTimers::default(),
        NonceSource::seeded(3),
        t0,
    )
}

/// One exchange: our request reaches lisp-ms as if sent from `seen_from`, and its reply comes
/// back to us.
fn exchange(nat: &mut NatDiscovery, ms: &mut MapServer, seen_from: &str, now: Instant) {
    nat.handle_timeout(now);
    let request = nat.poll_transmit().expect("an Info-Request");
    assert_eq!(request.destination, MS.parse().unwrap());
    ms.handle_datagram(seen_from.parse().unwrap(), &request.payload, now);
    let reply = ms.poll_transmit().expect("an Info-Reply");
    nat.handle_reply(MS.parse().unwrap(), &reply.payload, now)
        .expect("the reply is taken");
}

#[test]
fn a_path_without_nat_and_one_through_a_nat() {
    let t0 = Instant::now();
    let mut ms = lisp_ms(t0);
    let mut nat = discovery(b"demo-site-a", t0);
    exchange(&mut nat, &mut ms, &format!("{OUR_RLOC}:4342"), t0);
    assert_eq!(
        nat.poll_change(),
        Some((MS.parse().unwrap(), NatState::NoNat))
    );
    // Asked again at the keepalive, now through a NAT.
    assert_eq!(nat.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    let t1 = t0 + Duration::from_secs(60);
    exchange(&mut nat, &mut ms, "203.0.113.7:61001", t1);
    let behind = NatState::BehindNat {
        public: "203.0.113.7:61001".parse().unwrap(),
        rtrs: vec!["192.0.2.50".parse().unwrap()],
    };
    assert_eq!(
        nat.poll_change(),
        Some((MS.parse().unwrap(), behind.clone()))
    );
    assert_eq!(nat.states().next().map(|(_, s)| s.clone()), Some(behind));
}

#[test]
fn silence_forgeries_and_strays_are_told_apart() {
    let t0 = Instant::now();
    let mut ms = lisp_ms(t0);
    // Our key is not the site's: lisp-ms refuses, we hear nothing.
    let mut nat = discovery(b"wrong-key", t0);
    let mut now = t0;
    for _ in 0..4 {
        now = nat.poll_timeout().unwrap();
        nat.handle_timeout(now);
        let request = nat.poll_transmit().expect("asked");
        ms.handle_datagram(
            format!("{OUR_RLOC}:4342").parse().unwrap(),
            &request.payload,
            now,
        );
        assert!(ms.poll_transmit().is_none());
    }
    assert_eq!(now, t0 + Duration::from_secs(6), "three retries 2 s apart");
    assert_eq!(
        nat.poll_change(),
        Some((MS.parse().unwrap(), NatState::NoAnswer))
    );
    assert_eq!(
        nat.poll_timeout(),
        Some(now + Duration::from_secs(60)),
        "then at the keepalive pace"
    );

    // A reply signed with another key, or to no request of ours, is refused.
    let mut nat = discovery(b"demo-site-a", t0);
    nat.handle_timeout(t0);
    let request = nat.poll_transmit().unwrap();
    let mut other = discovery(b"demo-site-b", t0);
    other.handle_timeout(t0);
    let foreign = other.poll_transmit().unwrap();
    ms.handle_datagram("203.0.113.7:61001".parse().unwrap(), &request.payload, t0);
    let reply = ms.poll_transmit().unwrap();
    assert_eq!(
        nat.handle_reply("198.51.100.1:4342".parse().unwrap(), &reply.payload, t0),
        Err(InfoRefused::UnknownNonce),
        "from elsewhere"
    );
    assert_eq!(
        nat.handle_reply(MS.parse().unwrap(), &foreign.payload, t0),
        Err(InfoRefused::NotAReply)
    );
    let mut forged = reply.payload.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        nat.handle_reply(MS.parse().unwrap(), &forged, t0),
        Err(InfoRefused::BadAuthentication)
    );
    assert_eq!(nat.poll_change(), None);
    nat.handle_reply(MS.parse().unwrap(), &reply.payload, t0)
        .unwrap();
    assert!(matches!(
        nat.poll_change(),
        Some((_, NatState::BehindNat { .. }))
    ));
}
