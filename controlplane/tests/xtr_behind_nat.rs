//! NAT traversal end to end, every machine I/O-free with one clock: an xTR behind a NAT learns
//! so from lisp-ms's Info-Reply, registers through the RTR lisp-ms names (an ECM from its data
//! port, the RTR as its locator), the RTR relays it, lisp-ms verifies and answers through the
//! RTR, and the RTR installs where the xTR is reached (its translated address and port) and
//! hands it the Map-Notify; the xTR's registration is then confirmed and its data goes to the
//! RTR. lisp-ms answers Map-Requests for the xTR's EIDs with the RTR.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{ip, record, sa};
use config::MapServerConfig;
use controlplane::clock::WallClock;
use controlplane::map_server::MapServer;
use controlplane::registration::{MapServerPeer, State};
use controlplane::rtr::RelayConfig;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::data_map_notify::DataMapNotifyRepr;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_reply::MapReplyRepr;
use controlplane::wire::registration::MapRegisterRepr;
use controlplane::xtr::{Xtr, XtrSetup, SETUP_UNIX_SECS};
use controlplane::Transmit;

const MS: &str = "192.0.2.100:4342";
const RTR: &str = "192.0.2.50";
const PRIVATE: &str = "10.0.0.2";
/// Where the NAT maps the xTR's control port (toward lisp-ms) and its data port (toward the
/// RTR).
const TRANSLATED_CONTROL: &str = "203.0.113.7:61001";
const TRANSLATED_DATA: &str = "203.0.113.7:61002";

fn lisp_ms(t0: Instant) -> MapServer {
    let mut config = MapServerConfig::demo();
    config.listen = vec![sa(MS)];
    config.rtrs = vec![ip(RTR)];
    config.startup_grace_secs = 0;
    MapServer::new(
        config,
        WallClock::new(t0, Duration::from_secs(SETUP_UNIX_SECS)),
        t0,
    )
}

fn xtr_behind_nat(t0: Instant) -> Xtr {
    XtrSetup {
        database: vec![record("10.1.0.0/24", &[PRIVATE])],
        rlocs: vec![ip(PRIVATE)],
        map_servers: vec![MapServerPeer {
            address: sa(MS),
            name: None,
            key: b"demo-site-a".to_vec(),
            key_id: 0,
            algorithm: AuthAlgorithm::HmacSha256,
            want_map_notify: true,
            proxy_reply: false,
            instance_id: None,
        }],
        map_cache_limit: 64,
        nat_discovery: true,
        ..XtrSetup::default()
    }
    .build(t0)
}

fn rtr(t0: Instant) -> Xtr {
    XtrSetup {
        rlocs: vec![ip(RTR)],
        map_resolvers: vec![sa(MS)],
        map_cache_limit: 64,
        relay: Some(RelayConfig {
            map_servers: vec![sa(MS).ip()],
            ..RelayConfig::default()
        }),
        ..XtrSetup::default()
    }
    .build(t0)
}

fn sent(xtr: &mut Xtr) -> Vec<Transmit> {
    std::iter::from_fn(|| xtr.poll_transmit()).collect()
}

#[test]
fn an_xtr_behind_a_nat_registers_and_is_reached_through_the_rtr() {
    let t0 = Instant::now();
    let (mut ms, mut xtr, mut rtr) = (lisp_ms(t0), xtr_behind_nat(t0), rtr(t0));
    xtr.handle_timeout(t0);
    let first = sent(&mut xtr);
    let info = first
        .iter()
        .find(|t| t.payload[0] >> 4 == 7)
        .expect("an Info-Request");
    ms.handle_datagram(sa(TRANSLATED_CONTROL), &info.payload, t0);
    let reply = ms.poll_transmit().expect("an Info-Reply");
    assert_eq!(reply.destination, sa(TRANSLATED_CONTROL));
    xtr.handle_datagram(sa(MS), &reply.payload, t0);
    assert_eq!(xtr.data_rtr(), Some(ip(RTR)), "data goes by the RTR");

    let register = sent(&mut xtr)
        .into_iter()
        .find(|t| t.destination.ip() == ip(RTR))
        .expect("a Map-Register through the RTR");
    assert_eq!(register.destination, SocketAddr::new(ip(RTR), 4342));
    assert_eq!(register.source_port, 4341, "from the data port");
    let ecm = EcmRepr::parse(&register.payload).unwrap();
    assert!(ecm.to_etr, "R: for the RTR");
    let inner = MapRegisterRepr::parse(&ecm.message).unwrap();
    assert!(inner.proxy_reply, "lisp-ms answers for us");
    assert_eq!(
        inner.body.records[0].locators[0].address.ip(),
        Some(ip(RTR)),
        "the RTR is our locator"
    );

    rtr.handle_datagram(sa(TRANSLATED_DATA), &register.payload, t0);
    let relayed = sent(&mut rtr);
    assert_eq!(relayed.len(), 1);
    ms.handle_datagram(SocketAddr::new(ip(RTR), 4342), &relayed[0].payload, t0);
    let back = ms.poll_transmit().expect("the Map-Notify through the RTR");
    rtr.handle_datagram(sa(MS), &back.payload, t0);
    let target = rtr
        .map_cache
        .lookup(None, ip("10.1.0.9"))
        .map(|(_, mapping)| mapping.locators[0]);
    assert_eq!(
        target.map(|l| (l.address, l.nat_port)),
        Some((sa(TRANSLATED_DATA).ip(), Some(sa(TRANSLATED_DATA).port()))),
        "the RTR reaches the xTR's EIDs at its NAT's translated data port"
    );
    let data = sent(&mut rtr)
        .into_iter()
        .next()
        .expect("a Data-Map-Notify");
    assert_eq!(data.destination, sa(TRANSLATED_DATA));
    let notify = DataMapNotifyRepr::parse(&data.payload).unwrap();
    assert_eq!(notify.inner_destination, SocketAddr::new(ip(PRIVATE), 4342));

    // The xTR's data core decapsulates it and punts the inner datagram.
    xtr.handle_datagram(notify.inner_source, &notify.notify, t0);
    assert_eq!(xtr.registration.status()[0].state, State::Registered);

    // Whoever asks lisp-ms for the xTR's EIDs is sent to the RTR.
    ms.handle_datagram(
        sa("192.0.2.2:4342"),
        &common::ecm_request(9, "10.1.0.9", "192.0.2.2", false, 64),
        t0,
    );
    let answer = ms.poll_transmit().expect("a proxy Map-Reply");
    let answer = MapReplyRepr::parse(&answer.payload).unwrap();
    assert_eq!(answer.records[0].locators[0].address.ip(), Some(ip(RTR)));
}

/// A Data-Map-Notify nobody asked for (another nonce) or forged (another key) changes nothing
/// on the xTR: the registration still waits for its own Map-Notify, and each is counted.
#[test]
fn a_data_map_notify_nobody_asked_for_changes_nothing() {
    use controlplane::wire::registration::{Authenticated, MapNotifyRepr};
    let t0 = Instant::now();
    let mut xtr = xtr_behind_nat(t0);
    xtr.handle_timeout(t0);
    let _ = sent(&mut xtr);
    let notify = |key: &[u8]| {
        MapNotifyRepr {
            ack: false,
            rtr: false,
            body: Authenticated {
                nonce: 0xdead_beef,
                key_id: 0,
                algorithm_id: 0,
                auth_data: Vec::new(),
                records: vec![record("10.1.0.0/24", &[RTR])],
                xtr: None,
            },
        }
        .signed(0, AuthAlgorithm::HmacSha256, key)
        .unwrap()
    };
    let before = xtr.registration.status()[0].state;
    xtr.handle_datagram(sa(MS), &notify(b"not-the-key"), t0);
    assert_eq!(xtr.stats().map_notifies_refused, 1);
    xtr.handle_datagram(sa(MS), &notify(b"demo-site-a"), t0);
    assert_eq!(xtr.stats().map_notifies_unsolicited, 1);
    assert_eq!(xtr.stats().map_notifies_accepted, 0);
    assert_eq!(xtr.registration.status()[0].state, before);
    assert_ne!(before, State::Registered);
}
