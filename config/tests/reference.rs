//! Every key the schema accepts is documented in config/README.md.

use std::collections::BTreeSet;

use config::*;

fn keys(value: &toml::Value, out: &mut BTreeSet<String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, inner) in table {
                out.insert(key.clone());
                keys(inner, out);
            }
        }
        toml::Value::Array(items) => items.iter().for_each(|item| keys(item, out)),
        _ => {}
    }
}

#[test]
fn every_key_is_in_the_reference() {
    let locator = Locator {
        address: "192.0.2.1".parse().unwrap(),
        priority: 1,
        weight: 100,
        multicast_priority: 255,
        multicast_weight: 0,
        local: true,
    };
    let everything = Config {
        port: vec![Port {
            name: "p".into(),
            device: "d".into(),
            role: PortRole::Rloc,
            addresses: vec!["192.0.2.1/24".parse().unwrap()],
            mtu: 1500,
            gateways: vec!["192.0.2.254".parse().unwrap()],
            neighbour: vec![StaticNeighbour {
                address: "192.0.2.254".parse().unwrap(),
                mac: "02:00:00:00:00:01".parse().unwrap(),
            }],
        }],
        database: vec![DatabaseEntry {
            prefix: "10.0.0.0/8".parse().unwrap(),
            instance_id: 0,
            ttl_minutes: 60,
            register: true,
            locator: vec![locator.clone()],
        }],
        map_server: vec![MapServer {
            address: "192.0.2.100".into(),
            key: "k".into(),
            algorithm: AuthAlgorithm::HmacSha1,
            want_map_notify: true,
            proxy_reply: false,
        }],
        map_resolver: vec![MapResolver {
            address: "192.0.2.100".into(),
        }],
        petr: vec![ProxyRouter {
            address: "192.0.2.99".parse().unwrap(),
        }],
        pitr: vec![ProxyRouter {
            address: "192.0.2.98".parse().unwrap(),
        }],
        map_cache: vec![StaticMapping {
            prefix: "10.9.0.0/16".parse().unwrap(),
            instance_id: 0,
            action: MapAction::Encapsulate,
            locator: vec![locator],
        }],
        cpm: Cpm {
            enabled: true,
            legacy_lip6_type5: false,
            sender: vec![CpmSender {
                address: "10.0.0.250".parse().unwrap(),
                key: "k".into(),
                algorithm: AuthAlgorithm::HmacSha256,
            }],
        },
        ..Config::default()
    };
    let value = toml::Value::try_from(&everything).expect("serializes");
    let mut all = BTreeSet::new();
    keys(&value, &mut all);
    let reference = include_str!("../README.md");
    let missing: Vec<_> = all
        .iter()
        .filter(|k| {
            !reference.contains(&format!("`{k}`"))
                && !reference.contains(&format!("`[{k}]`"))
                && !reference.contains(&format!("`[[{k}]]`"))
        })
        .collect();
    assert!(missing.is_empty(), "undocumented keys: {missing:?}");
    assert!(all.len() > 50, "walked the whole schema: {}", all.len());
}
