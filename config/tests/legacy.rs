//! The seed's @MAPSERVER/@EID example converts to TOML with nothing lost.

use std::net::IpAddr;

use config::legacy::{import, to_toml};
use config::{AuthAlgorithm, Config};

const SEED: &str = include_str!("data/seed-legacy.conf");

#[test]
fn seed_example_imports_every_field() {
    let config = import(SEED).expect("seed example parses");
    let servers: Vec<(&str, &str)> = config
        .map_server
        .iter()
        .map(|s| (s.address.as_str(), s.key.as_str()))
        .collect();
    assert_eq!(
        servers,
        [
            ("193.162.145.50", "lip6"),
            ("l3-london-mr-ms.rloc.lisp4.net", "lip6"),
            ("2001:67c:21b4:109::b", "lip6"),
        ]
    );
    assert!(config
        .map_server
        .iter()
        .all(|s| s.algorithm == AuthAlgorithm::HmacSha1 && !s.want_map_notify));

    assert_eq!(config.database.len(), 2);
    let expected_locators = [
        ("132.227.62.242", 2, 100, true),
        ("132.227.62.243", 1, 100, false),
        ("2001:660:240::242", 5, 100, true),
        ("2001:660:240::243", 3, 100, false),
    ];
    for (entry, prefix) in config
        .database
        .iter()
        .zip(["153.16.38.0/25", "2610:d0:2121::/48"])
    {
        assert_eq!(entry.prefix.to_string(), prefix);
        assert_eq!(entry.ttl_minutes, 60);
        assert!(entry.register);
        let got: Vec<(IpAddr, u8, u8, bool)> = entry
            .locator
            .iter()
            .map(|l| (l.address, l.priority, l.weight, l.local))
            .collect();
        let want: Vec<(IpAddr, u8, u8, bool)> = expected_locators
            .iter()
            .map(|&(a, p, w, l)| (a.parse().expect("address"), p, w, l))
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn toml_output_round_trips() {
    let imported = import(SEED).expect("seed example parses");
    let text = to_toml(&imported).expect("serialize");
    let back: Config = toml::from_str(&text).expect("emitted TOML parses");
    assert_eq!(back.map_server, imported.map_server);
    assert_eq!(back.database, imported.database);
    assert!(
        text.contains("add [cores] and [[port]]"),
        "says what is missing"
    );
}

#[test]
fn malformed_legacy_lines_name_their_line() {
    for (text, line, fragment) in [
        ("@MAPSERVER\n1.2.3.4\n", 2, "ADDRESS KEY"),
        ("1.2.3.4 key\n", 1, "before any"),
        ("@EID\n10.0.0.0 33 60 1\n", 2, "too long"),
        ("@EID\n10.0.0.0 24 60 2\n", 2, "0 or 1"),
        (
            "@EID\n10.0.0.0 24 60 1\n10.1.1.1 300 100 1\n",
            3,
            "priority",
        ),
        ("@EID\nnot-an-ip 24 60 1\n", 2, "not an IP address"),
        ("@FOO\n", 1, "unknown section"),
    ] {
        let error = import(text).expect_err(text);
        assert_eq!(error.line, line, "{text:?}: {error}");
        assert!(error.message.contains(fragment), "{text:?}: {error}");
    }
}
