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
            instance_id: 0,
            vlan: vec![Vlan {
                id: 100,
                name: Some("p.100".into()),
                instance_id: 7,
                addresses: vec!["10.1.0.1/24".parse().unwrap()],
                gateways: vec![],
                neighbour: vec![],
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
            instance_id: Some(7),
        }],
        map_resolver: vec![MapResolver {
            address: "192.0.2.100".into(),
        }],
        petr: vec![Petr {
            address: "192.0.2.99".parse().unwrap(),
            send_misses: true,
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

#[test]
fn every_lisp_ms_key_is_in_the_reference() {
    let mut everything = MapServerConfig::demo();
    everything.negative_action = NegativeAction::Drop;
    let value = toml::Value::try_from(&everything).expect("serializes");
    let mut all = BTreeSet::new();
    keys(&value, &mut all);
    let reference = include_str!("../README.md");
    let missing: Vec<_> = all
        .iter()
        .filter(|k| {
            !reference.contains(&format!("`{k}`")) && !reference.contains(&format!("`[[{k}]]`"))
        })
        .collect();
    assert!(missing.is_empty(), "undocumented lisp-ms keys: {missing:?}");
    assert!(all.len() >= 10, "walked the whole schema: {all:?}");
}

#[test]
fn lisp_ms_files_are_validated_with_positions() {
    let text = r#"
listen = ["127.0.0.1:4342"]

[[site]]
name = "a"
key = "k"
prefixes = ["10.1.0.0/16"]

[[site]]
name = "a"
key = ""
prefixes = ["10.1.2.0/24"]
mobile_prefixes = ["10.1.9.0/24"]
"#;
    let errors = parse_map_server(text, "ms.toml").unwrap_err().to_string();
    for expected in [
        "ms.toml:10:8: site[1].name",
        "already used by site[0]",
        "site[1].key",
        "overlaps 10.1.0.0/16 of site[0]",
        "mobility space is shared, not owned",
    ] {
        assert!(errors.contains(expected), "{expected:?} in:\n{errors}");
    }
    let ok = parse_map_server(
        "[[site]]\nname = \"a\"\nkey = \"k\"\nprefixes = [\"10.1.0.0/16\"]\n",
        "ms.toml",
    )
    .unwrap();
    assert_eq!(ok.registration_ttl_secs, 180);
    assert_eq!(ok.listen.len(), 2);
}
