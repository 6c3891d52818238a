//! lisp-ms keeps tenants apart: two sites in instances 100 and 200 own the same prefix, each
//! registers it with its own key, and each Map-Request is answered within its instance. A site's
//! valid key does not register another instance's prefix, and an instance nobody serves gets a
//! negative answer.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::{ip, record};
use config::{MapServerConfig, Site};
use controlplane::clock::WallClock;
use controlplane::map_server::MapServer;
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::map_reply::MapReplyRepr;
use controlplane::wire::record::EidRecord;
use controlplane::xtr::SETUP_UNIX_SECS;

const ITR: &str = "192.0.2.9";

fn ms(t0: Instant) -> MapServer {
    let mut config = MapServerConfig::demo();
    config.startup_grace_secs = 0;
    let tenant = |name: &str, instance_id| Site {
        name: name.into(),
        key: format!("key-{name}"),
        instance_id,
        prefixes: vec!["10.1.0.0/24".parse().unwrap()],
        mobile_prefixes: Vec::new(),
        ..config.site[0].clone()
    };
    config.site = vec![tenant("t0", 0), tenant("t100", 100), tenant("t200", 200)];
    MapServer::new(
        config,
        WallClock::new(t0, Duration::from_secs(SETUP_UNIX_SECS)),
        t0,
    )
}

/// 10.1.0.0/24 of `instance_id` behind `rloc`.
fn tenant_record(instance_id: u32, rloc: &str) -> EidRecord {
    let mut record = record("10.1.0.0/24", &[rloc]);
    record.eid = Address::in_instance(record.eid, Some(instance_id));
    record
}

/// A Map-Register of `record` asking lisp-ms to answer for it, signed with `key`.
fn register(n: u64, record: EidRecord, key: &str) -> Vec<u8> {
    let mut message = common::register_message((SETUP_UNIX_SECS << 32) | n, vec![record], None);
    message.proxy_reply = true;
    message
        .signed(0, AuthAlgorithm::HmacSha256, key.as_bytes())
        .unwrap()
}

/// An ECM Map-Request for 10.1.0.5 in `instance_id`.
fn request(instance_id: u32) -> Vec<u8> {
    let eid = Address::in_instance(Address::from(ip("10.1.0.5")), Some(instance_id));
    common::ecm_request_for(u64::from(instance_id), eid, ITR, false, 64)
}

/// The locators lisp-ms answers a request in `instance_id` with.
fn answer(ms: &mut MapServer, instance_id: u32, now: Instant) -> Vec<Option<IpAddr>> {
    ms.handle_datagram(SocketAddr::new(ip(ITR), 4342), &request(instance_id), now);
    let reply = ms.poll_transmit().expect("an answer");
    let reply = MapReplyRepr::parse(&reply.payload).unwrap();
    reply.records[0]
        .locators
        .iter()
        .map(|l| l.address.ip())
        .collect()
}

#[test]
fn tenants_register_and_resolve_within_their_instance() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let xtr: SocketAddr = "192.0.2.1:4342".parse().unwrap();
    ms.handle_datagram(
        xtr,
        &register(1, tenant_record(100, "192.0.2.1"), "key-t100"),
        t0,
    );
    ms.handle_datagram(
        xtr,
        &register(2, tenant_record(200, "192.0.2.2"), "key-t200"),
        t0,
    );
    while ms.poll_transmit().is_some() {}
    assert_eq!(ms.stats().registers_accepted, 2);
    assert_eq!(answer(&mut ms, 100, t0), [Some(ip("192.0.2.1"))]);
    assert_eq!(answer(&mut ms, 200, t0), [Some(ip("192.0.2.2"))]);
    assert!(answer(&mut ms, 300, t0).is_empty(), "nobody serves 300");

    // Tenant 100's key does not register tenant 200's space.
    ms.handle_datagram(
        xtr,
        &register(3, tenant_record(200, "198.51.100.66"), "key-t100"),
        t0,
    );
    assert_eq!(ms.stats().refused_bad_authentication, 1);
    assert_eq!(answer(&mut ms, 200, t0), [Some(ip("192.0.2.2"))]);
}

/// An xTR that names the default instance explicitly (an instance-id LCAF of 0) registers in the
/// default instance: Map-Requests without an instance-id find it.
#[test]
fn an_explicit_instance_id_0_is_the_default_instance() {
    let t0 = Instant::now();
    let mut ms = ms(t0);
    let mut record = record("10.1.0.0/24", &["192.0.2.7"]);
    record.eid = Address::InstanceId {
        instance_id: 0,
        mask_len: 32,
        address: Box::new(record.eid),
    };
    let xtr: SocketAddr = "192.0.2.7:4342".parse().unwrap();
    ms.handle_datagram(xtr, &register(1, record, "key-t0"), t0);
    while ms.poll_transmit().is_some() {}
    assert_eq!(ms.stats().registers_accepted, 1);
    assert_eq!(answer(&mut ms, 0, t0), [Some(ip("192.0.2.7"))]);
}
