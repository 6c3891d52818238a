//! `map_cache_file`: the line format, errors at their line, entries appended to `map_cache` and
//! validated with it, the path taken relative to the configuration file.

use std::net::IpAddr;
use std::path::Path;

use config::bulk::{parse_line, parse_locator};
use config::{load, MapAction};

const BASE: &str = r#"
[cores]
control = 0
data = [1]

[[port]]
name = "inside"
device = "net_null0"
role = "eid"
addresses = ["10.1.0.1/24"]

[[port]]
name = "uplink"
device = "net_null1"
role = "rloc"
addresses = ["192.0.2.1/24", "2001:db8::1/64"]
gateways = ["192.0.2.254"]

[[database]]
prefix = "10.1.0.0/24"
[[database.locator]]
address = "192.0.2.1"
local = true

[[map_server]]
address = "192.0.2.100"
key = "secret"

[[map_cache]]
prefix = "10.5.0.0/16"
locator = [{ address = "192.0.2.5" }]
"#;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A directory of its own with `site.toml` (`extra` top-level keys, then BASE) and
/// `maps/bulk.txt`.
fn site(name: &str, extra: &str, bulk: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("config-bulk-{}-{name}", std::process::id()));
    std::fs::create_dir_all(dir.join("maps")).unwrap();
    std::fs::write(dir.join("site.toml"), format!("{extra}{BASE}")).unwrap();
    std::fs::write(dir.join("maps/bulk.txt"), bulk).unwrap();
    dir
}

#[test]
fn locators_take_the_table_defaults() {
    let plain = parse_locator("192.0.2.7").unwrap();
    assert_eq!(
        (plain.address, plain.priority, plain.weight),
        (ip("192.0.2.7"), 1, 100)
    );
    let full = parse_locator("192.0.2.7:2:50").unwrap();
    assert_eq!((full.priority, full.weight), (2, 50));
    let v6 = parse_locator("[2001:db8::7]:3").unwrap();
    assert_eq!(
        (v6.address, v6.priority, v6.weight),
        (ip("2001:db8::7"), 3, 100)
    );
    assert_eq!(
        parse_locator("2001:db8::7").unwrap().address,
        ip("2001:db8::7")
    );
    for bad in [
        "192.0.2.7:300",
        "192.0.2.7:1:2:3",
        "[2001:db8::7",
        "host:1",
        "192.0.2.7:x",
    ] {
        assert!(parse_locator(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn lines_carry_prefix_options_and_locators() {
    let m = parse_line("2001:db8:3::/48 instance-id=7 [2001:db8::1]:1:60 192.0.2.8::40  # two")
        .unwrap()
        .unwrap();
    assert_eq!(m.prefix, "2001:db8:3::/48".parse().unwrap());
    assert_eq!(m.instance_id, 7);
    assert_eq!(m.action, MapAction::Encapsulate);
    let locators: Vec<_> = m
        .locator
        .iter()
        .map(|l| (l.address, l.priority, l.weight))
        .collect();
    assert_eq!(
        locators,
        [(ip("2001:db8::1"), 1, 60), (ip("192.0.2.8"), 1, 40)]
    );
    let negative = parse_line("10.9.0.0/16 action=native-forward")
        .unwrap()
        .unwrap();
    assert_eq!(negative.action, MapAction::NativeForward);
    assert!(negative.locator.is_empty());
    assert_eq!(parse_line("   # only a comment").unwrap(), None);
    assert_eq!(parse_line("").unwrap(), None);
    for bad in [
        "10.9.0.0 192.0.2.1",
        "10.9.0.0/33 192.0.2.1",
        "10.9.0.0/16 action=forward",
        "10.9.0.0/16 instance-id=x",
        "10.9.0.0/16 192.0.2.1:999",
    ] {
        assert!(parse_line(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn mappings_are_appended_relative_to_the_configuration() {
    let dir = site(
        "good",
        "map_cache_file = \"maps/bulk.txt\"\n",
        "# remote sites\n10.2.0.0/16 192.0.2.2\n\n10.3.0.0/16 192.0.2.3:1:50 192.0.2.4:1:50\n",
    );
    let config = load(&dir.join("site.toml")).unwrap();
    let prefixes: Vec<String> = config
        .map_cache
        .iter()
        .map(|m| m.prefix.to_string())
        .collect();
    assert_eq!(prefixes, ["10.5.0.0/16", "10.2.0.0/16", "10.3.0.0/16"]);
    assert_eq!(config.map_cache[2].locator.len(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn syntax_errors_name_the_bulk_file_and_line() {
    let dir = site(
        "syntax",
        "map_cache_file = \"maps/bulk.txt\"\n",
        "10.2.0.0/16 192.0.2.2\n10.3.0.0/16 192.0.2.300\n",
    );
    let errors = load(&dir.join("site.toml")).unwrap_err().0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0]
        .file
        .ends_with(&Path::new("maps").join("bulk.txt").display().to_string()));
    assert_eq!(errors[0].line, 2);
    assert!(errors[0].message.contains("192.0.2.300"), "{}", errors[0]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rule_violations_name_the_bulk_line() {
    let dir = site(
        "rules",
        "map_cache_file = \"maps/bulk.txt\"\n",
        "10.2.0.0/16 192.0.2.2\n# an encapsulating entry needs a locator:\n10.3.0.0/16\n10.5.0.0/16 192.0.2.9\n",
    );
    let errors = load(&dir.join("site.toml")).unwrap_err().0;
    let lines: Vec<(bool, usize)> = errors
        .iter()
        .map(|d| (d.file.ends_with("bulk.txt"), d.line))
        .collect();
    assert!(
        lines.contains(&(true, 3)),
        "missing locator at line 3: {errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|d| d.file.ends_with("bulk.txt") && d.line == 4
                || d.message.contains("10.5.0.0/16")),
        "the duplicate of the TOML's 10.5.0.0/16 is reported: {errors:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let dir = site("missing", "map_cache_file = \"maps/absent.txt\"\n", "");
    let errors = load(&dir.join("site.toml")).unwrap_err().0;
    assert!(errors[0].file.ends_with("absent.txt"), "{errors:?}");
    assert!(errors[0].message.contains("cannot read"), "{}", errors[0]);
    std::fs::remove_dir_all(dir).unwrap();
}
