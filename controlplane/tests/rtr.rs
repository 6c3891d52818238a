//! Registration through an RTR (NAT traversal), the RTR's relay against lisp-ms's machine: the
//! xTR's ECM Map-Register is relayed, lisp-ms verifies it with the site's key and sends the
//! Map-Notify back through the RTR, which then learns where the xTR's prefixes are reached (the
//! address and port its NAT translated to) and forwards the Map-Notify as a Data-Map-Notify.
//! A bad key, a map-server we do not relay to, a Map-Notify nobody asked for: nothing learned,
//! each counted.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{ip, record, register, sa};
use config::MapServerConfig;
use controlplane::clock::WallClock;
use controlplane::map_server::MapServer;
use controlplane::nonce::NonceSource;
use controlplane::rtr::{Relay, RelayChange, RelayConfig, RelayRefused};
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::data_map_notify::DataMapNotifyRepr;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::registration::MapNotifyRepr;

const UNIX_SECS: u64 = 1_800_000_000;
const MS: &str = "192.0.2.100";
const RTR: &str = "192.0.2.50:4342";
/// The xTR's own address behind the NAT, and what the NAT translated its port 4341 to.
const PRIVATE: &str = "10.0.0.2";
const TRANSLATED: &str = "203.0.113.7:61001";

fn ms(t0: Instant) -> MapServer {
    let mut config = MapServerConfig::demo();
    config.listen = vec![SocketAddr::new(ip(MS), 4342)];
    config.startup_grace_secs = 0;
    MapServer::new(
        config,
        WallClock::new(t0, Duration::from_secs(UNIX_SECS)),
        t0,
    )
}

fn relay() -> Relay {
    Relay::new(
        RelayConfig {
            map_servers: vec![ip(MS)],
            ..RelayConfig::default()
        },
        NonceSource::seeded(3),
    )
}

/// Site A's Map-Register (locators: the RTR) signed with `key`, in an ECM for the RTR, as the
/// xTR behind the NAT sends it; and its nonce.
fn ecm_register(key: &str, n: u32) -> (Vec<u8>, u64) {
    let nonce = (UNIX_SECS << 32) | u64::from(n);
    let message = register(
        nonce,
        vec![record("10.1.0.0/24", &["192.0.2.50"])],
        key,
        AuthAlgorithm::HmacSha256,
        Some([7; 16]),
    );
    let mut bytes = Vec::new();
    EcmRepr {
        security: false,
        ddt: false,
        to_etr: true,
        to_map_server: false,
        inner_source: ip(PRIVATE),
        inner_destination: ip(MS),
        inner_ttl: 64,
        source_port: 4342,
        destination_port: 4342,
        message,
    }
    .emit(&mut bytes)
    .unwrap();
    (bytes, nonce)
}

#[test]
fn a_registration_through_the_rtr_is_learned_only_once_the_map_server_confirms_it() {
    let t0 = Instant::now();
    let (mut ms, mut rtr) = (ms(t0), relay());
    let (bytes, nonce) = ecm_register("demo-site-a", 1);
    rtr.handle_ecm(sa(TRANSLATED), &bytes, t0).unwrap();
    assert_eq!(
        rtr.poll_change(),
        None,
        "nothing learned before the Map-Notify"
    );
    let relayed = rtr.poll_transmit().expect("relayed to the map-server");
    assert_eq!(relayed.destination, SocketAddr::new(ip(MS), 4342));
    let ecm = EcmRepr::parse(&relayed.payload).unwrap();
    assert!(ecm.to_map_server && !ecm.to_etr, "N set, R clear");
    assert_eq!(ecm.inner_source, ip(PRIVATE));

    ms.handle_datagram(sa(RTR), &relayed.payload, t0);
    assert_eq!(ms.stats().registers_relayed, 1);
    let back = ms
        .poll_transmit()
        .expect("the Map-Notify, back through the RTR");
    assert_eq!(back.destination, sa(RTR));
    let back_ecm = EcmRepr::parse(&back.payload).unwrap();
    assert!(back_ecm.to_etr, "R set: for the RTR to process");
    assert_eq!(
        (back_ecm.inner_source, back_ecm.inner_destination),
        (ip(MS), ip(PRIVATE))
    );

    rtr.handle_ecm(SocketAddr::new(ip(MS), 4342), &back.payload, t0)
        .unwrap();
    assert_eq!(
        rtr.poll_change(),
        Some(RelayChange::Learned {
            key: (None, "10.1.0.0/24".parse().unwrap()),
            xtr: sa(TRANSLATED),
        })
    );
    let data = rtr.poll_transmit().expect("a Data-Map-Notify");
    assert_eq!(data.destination, sa(TRANSLATED));
    assert_eq!(data.source_port, 4342, "the port the NAT opened toward us");
    let forwarded = DataMapNotifyRepr::parse(&data.payload).unwrap();
    assert_eq!(
        forwarded.inner_destination,
        SocketAddr::new(ip(PRIVATE), 4342)
    );
    assert_eq!(
        MapNotifyRepr::parse(&forwarded.notify).unwrap().body.nonce,
        nonce
    );
    assert_eq!(rtr.stats().notifies_forwarded, 1);

    // Not registered again: the prefix lapses.
    rtr.handle_timeout(t0 + RelayConfig::default().ttl);
    assert_eq!(
        rtr.poll_change(),
        Some(RelayChange::Lapsed {
            key: (None, "10.1.0.0/24".parse().unwrap())
        })
    );
}

#[test]
fn forged_and_stray_messages_change_nothing() {
    let t0 = Instant::now();
    let (mut ms, mut rtr) = (ms(t0), relay());

    // A bad key: relayed, refused by the map-server, never confirmed.
    let (bytes, _) = ecm_register("not-the-key", 2);
    rtr.handle_ecm(sa(TRANSLATED), &bytes, t0).unwrap();
    let relayed = rtr.poll_transmit().unwrap();
    ms.handle_datagram(sa(RTR), &relayed.payload, t0);
    assert_eq!(ms.poll_transmit(), None);
    assert_eq!(ms.stats().refused_bad_authentication, 1);
    rtr.handle_timeout(t0 + RelayConfig::default().notify_timeout);
    assert_eq!(rtr.stats().registers_unconfirmed, 1);
    assert_eq!(rtr.poll_change(), None);

    // A map-server we do not relay to: we are no open relay.
    let mut elsewhere = EcmRepr::parse(&ecm_register("demo-site-a", 3).0).unwrap();
    elsewhere.inner_destination = ip("198.51.100.1");
    let mut bytes = Vec::new();
    elsewhere.emit(&mut bytes).unwrap();
    assert_eq!(
        rtr.handle_ecm(sa(TRANSLATED), &bytes, t0),
        Err(RelayRefused::UnknownMapServer)
    );
    assert_eq!(rtr.poll_transmit(), None);

    // A Map-Notify for a registration we relayed, but from someone else than its map-server,
    // and one nobody asked for.
    let (bytes, _) = ecm_register("demo-site-a", 4);
    rtr.handle_ecm(sa(TRANSLATED), &bytes, t0).unwrap();
    let relayed = rtr.poll_transmit().unwrap();
    ms.handle_datagram(sa(RTR), &relayed.payload, t0);
    let back = ms.poll_transmit().unwrap();
    assert_eq!(
        rtr.handle_ecm(sa("198.51.100.9:4342"), &back.payload, t0),
        Err(RelayRefused::UnknownNonce)
    );
    let mut stray = EcmRepr::parse(&back.payload).unwrap();
    let mut notify = MapNotifyRepr::parse(&stray.message).unwrap();
    notify.body.nonce = 999;
    stray.message.clear();
    notify.emit(&mut stray.message).unwrap();
    let mut bytes = Vec::new();
    stray.emit(&mut bytes).unwrap();
    assert_eq!(
        rtr.handle_ecm(SocketAddr::new(ip(MS), 4342), &bytes, t0),
        Err(RelayRefused::UnknownNonce)
    );
    assert_eq!(rtr.poll_change(), None);
    assert_eq!(rtr.stats().notifies_refused, 2);
    assert_eq!(rtr.learned().count(), 0);
}
