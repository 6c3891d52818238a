//! Map-server fixtures shared by the test binaries that drive lisp-ms's machine (each binary uses
//! a subset, hence the `dead_code` allowance).
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

use controlplane::map_server::MapServer;
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord, RequestRecord};
use controlplane::wire::registration::{Authenticated, MapRegisterRepr, XtrIdentity};
use controlplane::Transmit;

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An EID record of `prefix` behind `rlocs` (local, reachable, priority 1, weight 100).
pub fn record(prefix: &str, rlocs: &[&str]) -> EidRecord {
    let net: ipnet::IpNet = prefix.parse().unwrap();
    EidRecord {
        ttl: 10,
        mask_len: net.prefix_len(),
        action: Action::NoAction,
        authoritative: true,
        map_version: 0,
        eid: Address::from(net.network()),
        locators: rlocs
            .iter()
            .map(|rloc| LocatorRecord::unicast(Address::from(ip(rloc)), 1, 100, true))
            .collect(),
    }
}

/// A Map-Register of `records` with `nonce` (and an xTR-ID when given) asking for a Map-Notify.
pub fn register_message(
    nonce: u64,
    records: Vec<EidRecord>,
    xtr_id: Option<[u8; 16]>,
) -> MapRegisterRepr {
    MapRegisterRepr {
        proxy_reply: false,
        security: false,
        rtr: false,
        want_map_notify: true,
        body: Authenticated {
            nonce,
            key_id: 0,
            algorithm_id: 0,
            auth_data: Vec::new(),
            records,
            xtr: xtr_id.map(|xtr_id| XtrIdentity { xtr_id, site_id: 1 }),
        },
    }
}

/// [`register_message`] signed with `key` and `algorithm`.
pub fn register(
    nonce: u64,
    records: Vec<EidRecord>,
    key: &str,
    algorithm: AuthAlgorithm,
    xtr_id: Option<[u8; 16]>,
) -> Vec<u8> {
    register_message(nonce, records, xtr_id)
        .signed(0, algorithm, key.as_bytes())
        .unwrap()
}

/// An ECM Map-Request for `eid` from the ITR at `itr` (also its ITR-RLOC).
pub fn ecm_request(nonce: u64, eid: &str, itr: &str, to_etr: bool, inner_ttl: u8) -> Vec<u8> {
    ecm_request_for(nonce, Address::from(ip(eid)), itr, to_etr, inner_ttl)
}

/// [`ecm_request`] for an EID given as an address (in an instance, say).
pub fn ecm_request_for(
    nonce: u64,
    eid: Address,
    itr: &str,
    to_etr: bool,
    inner_ttl: u8,
) -> Vec<u8> {
    let inner_destination = eid.ip().unwrap_or_else(|| ip(itr));
    let mut message = Vec::new();
    MapRequestRepr::query(
        nonce,
        Address::from(ip("10.1.0.10")),
        vec![Address::from(ip(itr))],
        vec![RequestRecord { mask_len: 32, eid }],
    )
    .emit(&mut message)
    .unwrap();
    let mut bytes = Vec::new();
    EcmRepr {
        security: false,
        ddt: false,
        to_etr,
        to_map_server: false,
        inner_source: ip(itr),
        inner_destination,
        inner_ttl,
        source_port: 4342,
        destination_port: 4342,
        message,
    }
    .emit(&mut bytes)
    .unwrap();
    bytes
}

/// Everything the map-server wants to send.
pub fn all(ms: &mut MapServer) -> Vec<Transmit> {
    std::iter::from_fn(|| ms.poll_transmit()).collect()
}
