//! `map add` through the management API follows the configuration's `[[map_cache]]` rules and
//! does not shadow our own EID space unless forced.

use std::time::Instant;

use controlplane::management::{self, Reply};
use controlplane::wire::address::Address;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord};
use controlplane::xtr::{Xtr, XtrSetup};
use serde_json::Value;

mod idle_appliance;
use idle_appliance::view;

/// Our database: 10.1.0.0/24 at 192.0.2.1.
fn xtr(now: Instant) -> Xtr {
    XtrSetup {
        database: vec![EidRecord {
            ttl: 1440,
            mask_len: 24,
            action: Action::NoAction,
            authoritative: true,
            map_version: 0,
            eid: Address::from("10.1.0.0".parse::<std::net::IpAddr>().unwrap()),
            locators: vec![LocatorRecord {
                priority: 1,
                weight: 100,
                multicast_priority: 255,
                multicast_weight: 0,
                local: true,
                probed: false,
                reachable: true,
                address: Address::from("192.0.2.1".parse::<std::net::IpAddr>().unwrap()),
            }],
        }],
        rlocs: vec!["192.0.2.1".parse().unwrap()],
        map_cache_limit: 100,
        ..XtrSetup::default()
    }
    .build(now)
}

/// The answer to `request` (a map-add's fields), as (ok, error text).
fn map_add(xtr: &mut Xtr, request: &str, now: Instant) -> (bool, String) {
    let line = format!("{{\"version\": 1, \"command\": \"map-add\", {request}}}");
    let Reply::Line(answer) = management::respond(&line, xtr, &view(), now) else {
        panic!("a line answer");
    };
    let answer: Value = serde_json::from_str(&answer).unwrap();
    (
        answer["ok"] == Value::Bool(true),
        answer["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn map_add_follows_the_configuration_rules() {
    let now = Instant::now();
    let mut xtr = xtr(now);
    let locator = r#""locators": [{"address": "192.0.2.2"}]"#;
    assert_eq!(
        map_add(
            &mut xtr,
            &format!(r#""prefix": "10.3.0.0/16", {locator}"#),
            now
        ),
        (true, String::new())
    );
    let (ok, error) = map_add(
        &mut xtr,
        &format!(r#""prefix": "10.3.0.1/16", {locator}"#),
        now,
    );
    assert!(!ok && error.contains("has host bits set"), "{error}");
    let twice = r#""locators": [{"address": "192.0.2.2"}, {"address": "192.0.2.2"}]"#;
    let (ok, error) = map_add(
        &mut xtr,
        &format!(r#""prefix": "10.4.0.0/16", {twice}"#),
        now,
    );
    assert!(!ok && error.contains("listed twice"), "{error}");
    let (ok, error) = map_add(
        &mut xtr,
        &format!(r#""prefix": "10.5.0.0/16", "action": "drop", {locator}"#),
        now,
    );
    assert!(!ok && error.contains("has no locators"), "{error}");
    let (ok, error) = map_add(
        &mut xtr,
        &format!(r#""prefix": "10.1.0.0/25", "instance_id": 9, {locator}"#),
        now,
    );
    assert!(!ok && error.contains("instance-id 9"), "{error}");
}

#[test]
fn map_add_inside_our_own_space_needs_force() {
    let now = Instant::now();
    let mut xtr = xtr(now);
    let locator = r#""locators": [{"address": "192.0.2.2"}]"#;
    for inside in ["10.1.0.0/24", "10.1.0.128/25"] {
        let (ok, error) = map_add(
            &mut xtr,
            &format!(r#""prefix": "{inside}", {locator}"#),
            now,
        );
        assert!(
            !ok && error.contains("inside our own EID prefix 10.1.0.0/24"),
            "{error}"
        );
    }
    let own: ipnet::IpNet = "10.1.0.0/24".parse().unwrap();
    assert!(
        xtr.map_cache.get(None, &own).is_some_and(
            |m| m.locators[0].address == "192.0.2.1".parse::<std::net::IpAddr>().unwrap()
        ),
        "our own mapping is untouched"
    );
    assert_eq!(
        map_add(&mut xtr, r#""prefix": "10.0.0.0/8", "action": "drop""#, now),
        (true, String::new()),
        "a covering prefix does not shadow ours"
    );
    assert_eq!(
        map_add(
            &mut xtr,
            &format!(r#""prefix": "10.1.0.128/25", "force": true, {locator}"#),
            now
        ),
        (true, String::new())
    );
}
