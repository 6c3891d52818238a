//! lisp-ms answers Info-Requests (NAT traversal): an xTR of a site, behind a NAT, learns the
//! address and port its request arrived from, the map-server's address and the RTRs; the reply
//! is signed with the site's key. Requests with a wrong key, or replies sent to it, are refused
//! and counted.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use config::MapServerConfig;
use controlplane::clock::WallClock;
use controlplane::map_server::MapServer;
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::info::{InfoPacket, InfoRepr, NatTraversal};

const MS: &str = "192.0.2.100:4342";

fn ms(t0: Instant) -> MapServer {
    let mut config = MapServerConfig::demo();
    config.listen = vec![MS.parse().unwrap()];
    config.rtrs = vec![
        "192.0.2.50".parse().unwrap(),
        "2001:db8::50".parse().unwrap(),
    ];
    MapServer::new(
        config,
        WallClock::new(t0, Duration::from_secs(1_800_000_000)),
        t0,
    )
}

fn request(nonce: u64, key: &[u8]) -> Vec<u8> {
    InfoRepr {
        reply: false,
        nonce,
        key_id: 0,
        algorithm_id: 0,
        auth_data: Vec::new(),
        ttl: 0,
        eid_mask_len: 24,
        eid: Address::Ipv4("10.1.0.0".parse().unwrap()),
        nat: None,
    }
    .emit_signed(AuthAlgorithm::HmacSha256, key)
    .unwrap()
}

#[test]
fn an_info_request_learns_its_translated_address_and_the_rtrs() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let behind_nat: SocketAddr = "203.0.113.7:61001".parse().unwrap();
    ms.handle_datagram(behind_nat, &request(77, b"demo-site-a"), t0);
    let reply = ms.poll_transmit().expect("an Info-Reply");
    assert_eq!(
        reply.destination, behind_nat,
        "back through the NAT's mapping"
    );
    assert!(InfoPacket::new_checked(&reply.payload[..])
        .unwrap()
        .verify(b"demo-site-a"));
    let reply = InfoRepr::parse(&reply.payload).unwrap();
    assert!(reply.reply);
    assert_eq!((reply.nonce, reply.ttl), (77, 15));
    assert_eq!(
        reply.nat,
        Some(NatTraversal {
            ms_port: 4342,
            etr_port: 61001,
            global_etr_rloc: Address::Ipv4("203.0.113.7".parse().unwrap()),
            ms_rloc: Address::Ipv4("192.0.2.100".parse().unwrap()),
            private_etr_rloc: Address::None,
            rtr_rlocs: vec![
                Address::Ipv4("192.0.2.50".parse().unwrap()),
                Address::Ipv6("2001:db8::50".parse().unwrap()),
            ],
        })
    );
    assert_eq!(ms.stats().info_requests_answered, 1);
}

#[test]
fn info_requests_with_a_wrong_key_and_stray_replies_are_refused() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let from: SocketAddr = "203.0.113.7:61001".parse().unwrap();
    ms.handle_datagram(from, &request(1, b"not-the-key"), t0);
    assert!(ms.poll_transmit().is_none());
    assert_eq!(ms.stats().refused_bad_authentication, 1);
    let stray = InfoRepr {
        reply: true,
        nat: Some(NatTraversal {
            ms_port: 4342,
            etr_port: 1,
            global_etr_rloc: Address::None,
            ms_rloc: Address::None,
            private_etr_rloc: Address::None,
            rtr_rlocs: vec![],
        }),
        ..InfoRepr::parse(&request(2, b"demo-site-a")).unwrap()
    }
    .emit_signed(AuthAlgorithm::HmacSha256, b"demo-site-a")
    .unwrap();
    ms.handle_datagram(from, &stray, t0);
    assert!(ms.poll_transmit().is_none());
    assert_eq!(ms.stats().refused_other, 1);
    assert_eq!(ms.stats().info_requests_answered, 0);
}
