//! Every validation rule with a failing example, the error text and where it points.

use config::{parse, parse_here, Diagnostic, Host};

const VALID: &str = r#"
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
"#;

fn host() -> Host {
    Host {
        cores: vec![0, 1, 2, 3],
    }
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse_here(text, "test.toml", &host()) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.0,
    }
}

/// The single error of `text`, checked for path and message fragment.
fn one_error(text: &str, path: &str, fragment: &str) -> Diagnostic {
    let all = errors(text);
    let matching: Vec<_> = all.iter().filter(|d| d.path == path).collect();
    assert!(
        matching.iter().any(|d| d.message.contains(fragment)),
        "no error at {path} containing {fragment:?}; got:\n{}",
        all.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(all.len(), 1, "exactly one error expected: {all:#?}");
    all[0].clone()
}

fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).expect("needle in text");
    let line = text[..offset].matches('\n').count() + 1;
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[test]
fn the_base_configuration_is_valid() {
    parse_here(VALID, "test.toml", &host()).expect("valid");
}

#[test]
fn every_example_passes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("examples dir") {
        let path = entry.expect("entry").path();
        config::load(&path).unwrap_or_else(|e| panic!("{}:\n{e}", path.display()));
        count += 1;
    }
    assert!(count >= 5, "one example per role");
}

#[test]
fn host_bits_are_reported_not_zeroed() {
    let text = VALID.replace("prefix = \"10.1.0.0/24\"", "prefix = \"10.1.0.5/24\"");
    let error = one_error(&text, "database[0].prefix", "10.1.0.5/24 has host bits set");
    assert!(error
        .message
        .contains("expected the network address, 10.1.0.0/24"));
    assert_eq!(
        (error.line, error.column),
        position_of(&text, "\"10.1.0.5/24\"")
    );
    assert_eq!(error.file, "test.toml");
    assert!(error.to_string().starts_with(&format!(
        "test.toml:{}:{}: database[0].prefix: ",
        error.line, error.column
    )));
}

#[test]
fn priority_beyond_eight_bits_is_a_type_error_at_its_line() {
    let text = VALID.replace("local = true", "local = true\npriority = 300");
    let all = errors(&text);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].line, position_of(&text, "priority = 300").0);
    assert!(
        all[0].message.contains("300") || all[0].message.contains("u8"),
        "{}",
        all[0]
    );
}

#[test]
fn weights_are_relative_as_in_rfc_9301() {
    // RFC 9301's example: 30, 20, 20 and 10 give the first locator 37.5% of the traffic.
    let text = VALID.replace(
        "local = true",
        "local = true\nweight = 30\n[[database.locator]]\naddress = \"198.51.100.1\"\nweight = 20\n\
         [[database.locator]]\naddress = \"198.51.100.2\"\nweight = 20\n\
         [[database.locator]]\naddress = \"198.51.100.3\"\nweight = 10",
    );
    let config = parse_here(&text, "test.toml", &host()).expect("relative weights are valid");
    let weights: Vec<u8> = config.database[0]
        .locator
        .iter()
        .map(|l| l.weight)
        .collect();
    assert_eq!(weights, [30, 20, 20, 10]);
    let heavy = VALID.replace("local = true", "local = true\nweight = 250");
    assert!(
        parse_here(&heavy, "test.toml", &host()).is_ok(),
        "any 8-bit weight"
    );
}

#[test]
fn database_entry_without_locator() {
    let text = VALID.replace(
        "[[database.locator]]\naddress = \"192.0.2.1\"\nlocal = true\n",
        "",
    );
    let error = one_error(&text, "database[0]", "has no locator");
    assert_eq!(
        error.line,
        position_of(&text, "[[database]]").0,
        "points at the entry's table"
    );
}

#[test]
fn local_locator_must_be_an_rloc_port_address() {
    let text = VALID.replace(
        "address = \"192.0.2.1\"\nlocal",
        "address = \"192.0.2.9\"\nlocal",
    );
    one_error(
        &text,
        "database[0].locator[0].address",
        "192.0.2.9 is marked local but is not an address of any port with role = \"rloc\"",
    );
}

#[test]
fn duplicate_prefixes() {
    let text = format!("{VALID}\n[[database]]\nprefix = \"10.1.0.0/24\"\n[[database.locator]]\naddress = \"192.0.2.1\"\nlocal = true\n");
    one_error(&text, "database[1].prefix", "is already in database[0]");
}

const INSTANCE_7: &str = "\n[[database]]\nprefix = \"10.7.0.0/24\"\ninstance_id = 7\n[[database.locator]]\naddress = \"192.0.2.1\"\nlocal = true\n";

/// A static mapping in `instance_id` for 10.2.0.0/24.
fn mapping_in(instance_id: u32) -> String {
    format!("\n[[map_cache]]\nprefix = \"10.2.0.0/24\"\ninstance_id = {instance_id}\n[[map_cache.locator]]\naddress = \"192.0.2.50\"\n")
}

/// A second EID-side port, in instance 7.
const PORT_7: &str = "\n[[port]]\nname = \"tenant7\"\ndevice = \"net_null2\"\nrole = \"eid\"\ninstance_id = 7\naddresses = [\"10.1.0.1/24\"]\n";

#[test]
fn tenants_on_their_own_ports_may_use_the_same_prefixes() {
    let overlapping = format!("{VALID}{PORT_7}\n[[database]]\nprefix = \"10.1.0.0/24\"\ninstance_id = 7\n[[database.locator]]\naddress = \"192.0.2.1\"\nlocal = true\n");
    parse_here(&overlapping, "t", &host())
        .expect("the same prefix and gateway address in two instances, each on its own port");
    let apart = format!(
        "{VALID}{PORT_7}{INSTANCE_7}{}{}",
        mapping_in(0),
        mapping_in(7)
    );
    parse_here(&apart, "t", &host()).expect("the same remote prefix in two instances");
    let portless = format!("{VALID}{INSTANCE_7}");
    one_error(
        &portless,
        "database[1].instance_id",
        "no EID-side port or VLAN is in instance-id 7",
    );
    let uplink_in_7 = VALID.replace("role = \"rloc\"", "role = \"rloc\"\ninstance_id = 7");
    one_error(
        &uplink_in_7,
        "port[1].instance_id",
        "only EID-side ports belong to an instance",
    );
}

#[test]
fn static_mapping_needs_a_local_prefix_in_its_instance() {
    let text = format!("{VALID}{PORT_7}{INSTANCE_7}{}", mapping_in(9));
    one_error(
        &text,
        "map_cache[0].instance_id",
        "instance-id 9 is served by no EID-side port or [[database]] prefix",
    );
}

#[test]
fn static_entries_must_fit_the_map_cache_limit() {
    let text = format!(
        "{VALID}\n[timers]\nmap_cache_limit = 1\n{}{}",
        mapping_in(0),
        mapping_in(0).replace("10.2.0.0/24", "10.3.0.0/24")
    );
    one_error(
        &text,
        "timers.map_cache_limit",
        "2 static map-cache entries do not fit a limit of 1",
    );
}

#[test]
fn unknown_algorithm() {
    let text = VALID.replace(
        "key = \"secret\"",
        "key = \"secret\"\nalgorithm = \"hmac-md5\"",
    );
    let all = errors(&text);
    assert_eq!(all.len(), 1);
    assert!(
        all[0].message.contains("hmac-md5") && all[0].message.contains("hmac-sha256"),
        "{}",
        all[0]
    );
    assert_eq!(
        (all[0].line, all[0].column),
        position_of(&text, "\"hmac-md5\"")
    );
}

#[test]
fn empty_key() {
    let text = VALID.replace("key = \"secret\"", "key = \"\"");
    let error = one_error(&text, "map_server[0].key", "key must not be empty");
    assert_eq!(error.line, position_of(&text, "key = \"\"").0);
}

#[test]
fn cores_overlap_repeat_or_do_not_exist() {
    let overlap = VALID.replace("data = [1]", "data = [0]");
    one_error(&overlap, "cores.data[0]", "core 0 is also the control core");
    let twice = VALID.replace("data = [1]", "data = [1, 2, 1]");
    one_error(&twice, "cores.data[2]", "core 1 is listed twice");
    let missing = VALID.replace("data = [1]", "data = [9]");
    one_error(&missing, "cores.data[0]", "core 9 does not exist here");
    let none = VALID.replace("data = [1]", "data = []");
    one_error(&none, "cores.data", "no data core");
}

/// Plain validation is for a file meant for another machine: CPUs this one lacks are checked
/// only `--here`.
#[test]
fn machine_checks_are_a_separate_step() {
    let elsewhere = VALID.replace("data = [1]", "data = [9]");
    parse(&elsewhere, "test.toml").expect("valid for a machine with CPU 9");
    let errors = parse_here(&elsewhere, "test.toml", &host()).unwrap_err().0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].message.contains("core 9 does not exist here"));
}

#[test]
fn two_ports_with_one_address_are_refused() {
    let second = format!(
        "{VALID}\n[[port]]\nname = \"uplink2\"\ndevice = \"net_null9\"\nrole = \"rloc\"\naddresses = [\"192.0.2.1/24\"]\n"
    );
    let errors = parse(&second, "test.toml").unwrap_err().0;
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("is already an address of uplink")),
        "{errors:?}"
    );
}

#[test]
fn lcores_beyond_the_cpus_need_a_cpu_each() {
    let placed = VALID.replace("data = [1]", "data = [1, 9]\ncpus = [0, 1, 1]");
    let config = parse_here(&placed, "test.toml", &host()).expect("lcore 9 runs on CPU 1");
    assert_eq!(config.cores.placement(), [(0, 0), (1, 1), (9, 1)]);
    let short = VALID.replace("data = [1]", "data = [1, 9]\ncpus = [0, 1]");
    one_error(&short, "cores.cpus", "2 CPUs for 3 lcores");
    let absent = VALID.replace("data = [1]", "data = [1]\ncpus = [0, 7]");
    one_error(&absent, "cores.cpus[1]", "CPU 7 does not exist here");
}

/// Two tenants on VLANs of one trunk port: each VLAN its own instance and addresses.
const TRUNK: &str = "\n[[port]]\nname = \"trunk\"\ndevice = \"net_null3\"\nrole = \"eid\"\n[[port.vlan]]\nid = 100\ninstance_id = 7\naddresses = [\"10.1.0.1/24\"]\n[[port.vlan]]\nid = 200\ninstance_id = 8\naddresses = [\"10.1.0.1/24\"]\n";

#[test]
fn tenants_on_vlans_of_one_port() {
    let tenants = format!(
        "{VALID}{TRUNK}{INSTANCE_7}\n[[database]]\nprefix = \"10.1.0.0/24\"\ninstance_id = 8\n[[database.locator]]\naddress = \"192.0.2.1\"\nlocal = true\n"
    );
    let config = parse_here(&tenants, "t", &host()).expect("two tenants on VLANs of a trunk");
    let vlans: Vec<(String, Option<u16>, u32)> = config
        .interfaces()
        .map(|i| (i.name.to_string(), i.vlan, i.instance_id))
        .filter(|(_, vlan, _)| vlan.is_some())
        .collect();
    assert_eq!(
        vlans,
        [
            ("trunk.100".to_owned(), Some(100), 7),
            ("trunk.200".to_owned(), Some(200), 8)
        ]
    );
    one_error(
        &tenants.replace("id = 200", "id = 100\nname = \"second\""),
        "port[2].vlan[1].id",
        "VLAN 100 is already vlan[0]",
    );
    one_error(
        &tenants.replace("id = 200", "id = 4095"),
        "port[2].vlan[1].id",
        "out of range",
    );
    one_error(
        &tenants.replace(
            "instance_id = 8\naddresses = [\"10.1.0.1/24\"]",
            "instance_id = 8\naddresses = [\"10.1.0.1/24\", \"10.1.0.1/25\"]",
        ),
        "port[2].vlan[1].addresses[1]",
        "10.1.0.1 is already an address of trunk.200",
    );
    one_error(
        &tenants.replace(
            "instance_id = 8\naddresses = [\"10.1.0.1/24\"]\n",
            "instance_id = 8\n",
        ),
        "port[2].vlan[1].addresses",
        "VLAN has no address",
    );
    let on_uplink = VALID.replace(
        "gateways = [\"192.0.2.254\"]\n",
        "gateways = [\"192.0.2.254\"]\n[[port.vlan]]\nid = 5\naddresses = [\"10.9.0.1/24\"]\n",
    );
    one_error(&on_uplink, "port[1].vlan", "VLANs are for EID-side ports");
}

#[test]
fn port_without_addresses() {
    let text = VALID.replace("addresses = [\"10.1.0.1/24\"]\n", "");
    one_error(&text, "port[0].addresses", "port has no address");
}

#[test]
fn ports_need_both_roles_and_unique_names() {
    let text = VALID.replace("role = \"eid\"", "role = \"rloc\"");
    one_error(&text, "port", "no port with role = \"eid\"");
    let same_name = VALID.replace("name = \"uplink\"", "name = \"inside\"");
    one_error(&same_name, "port[1].name", "already used by port[0]");
}

#[test]
fn gateway_must_be_on_link() {
    let text = VALID.replace(
        "gateways = [\"192.0.2.254\"]",
        "gateways = [\"203.0.113.1\"]",
    );
    one_error(
        &text,
        "port[1].gateways[0]",
        "not inside any address prefix",
    );
}

#[test]
fn mtu_range_depends_on_family() {
    let text = VALID.replace(
        "gateways = [\"192.0.2.254\"]",
        "gateways = [\"192.0.2.254\"]\nmtu = 1000",
    );
    one_error(&text, "port[1].mtu", "expected 1280..=9216");
}

#[test]
fn static_neighbour_must_be_unicast_and_on_link() {
    let text = VALID.replace(
        "gateways = [\"192.0.2.254\"]",
        "gateways = [\"192.0.2.254\"]\n[[port.neighbour]]\naddress = \"192.0.2.254\"\nmac = \"01:00:5e:00:00:01\"",
    );
    one_error(&text, "port[1].neighbour[0].mac", "is not a unicast MAC");
}

#[test]
fn instance_id_fits_24_bits() {
    let text = VALID.replace(
        "prefix = \"10.1.0.0/24\"",
        "prefix = \"10.1.0.0/24\"\ninstance_id = 16777216",
    );
    one_error(&text, "database[0].instance_id", "does not fit 24 bits");
}

#[test]
fn map_cache_actions_and_locators_agree() {
    let positive = format!("{VALID}\n[[map_cache]]\nprefix = \"10.9.0.0/16\"\n");
    one_error(&positive, "map_cache[0].locator", "needs at least one");
    let negative = format!("{VALID}\n[[map_cache]]\nprefix = \"10.9.0.0/16\"\naction = \"drop\"\n[[map_cache.locator]]\naddress = \"192.0.2.7\"\n");
    one_error(&negative, "map_cache[0].locator", "a negative entry");
    let local = format!("{VALID}\n[[map_cache]]\nprefix = \"10.9.0.0/16\"\n[[map_cache.locator]]\naddress = \"192.0.2.7\"\nlocal = true\n");
    one_error(&local, "map_cache[0].locator[0].local", "cannot be local");
    let action = format!("{VALID}\n[[map_cache]]\nprefix = \"10.9.0.0/16\"\naction = \"bounce\"\n");
    assert!(errors(&action)[0].message.contains("bounce"));
}

#[test]
fn cpm_rules() {
    let no_sender = format!("{VALID}\n[cpm]\nenabled = true\n");
    one_error(&no_sender, "cpm.sender", "no [[cpm.sender]]");
    let legacy = format!("{VALID}\n[cpm]\nenabled = true\nlegacy_lip6_type5 = true\n[[cpm.sender]]\naddress = \"10.1.0.250\"\nkey = \"k\"\nalgorithm = \"hmac-sha256\"\n");
    one_error(&legacy, "cpm.sender[0].algorithm", "HMAC-SHA-1 only");
}

#[test]
fn timers_must_be_positive_and_bounded() {
    let text = format!("{VALID}\n[timers]\nrloc_probe_count = 0\nmap_cache_limit = 5000000\n");
    let all = errors(&text);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(all
        .iter()
        .any(|d| d.path == "timers.rloc_probe_count" && d.message.contains("greater than 0")));
    assert!(all
        .iter()
        .any(|d| d.path == "timers.map_cache_limit" && d.message.contains("at most 4000000")));
}

#[test]
fn peers_must_be_reachable_over_an_rloc_family() {
    let text = VALID
        .replace(
            "addresses = [\"192.0.2.1/24\", \"2001:db8::1/64\"]",
            "addresses = [\"192.0.2.1/24\"]",
        )
        .replace("address = \"192.0.2.100\"", "address = \"2001:db8::100\"");
    one_error(
        &text,
        "map_server[0].address",
        "is IPv6 but no port with role = \"rloc\"",
    );
}

#[test]
fn host_names_are_checked() {
    let good = VALID.replace(
        "address = \"192.0.2.100\"",
        "address = \"l3-london-mr-ms.rloc.lisp4.net\"",
    );
    parse_here(&good, "t", &host()).expect("host name accepted");
    let bad = VALID.replace("address = \"192.0.2.100\"", "address = \"bad host!\"");
    one_error(
        &bad,
        "map_server[0].address",
        "neither an IP address nor a host name",
    );
}

#[test]
fn registering_needs_a_map_server() {
    let text = VALID.replace(
        "[[map_server]]\naddress = \"192.0.2.100\"\nkey = \"secret\"\n",
        "",
    );
    one_error(&text, "map_server", "no [[map_server]] is configured");
}

#[test]
fn typos_in_keys_are_rejected() {
    let text = VALID.replace("local = true", "locl = true");
    let all = errors(&text);
    assert!(all[0].message.contains("locl"), "{}", all[0]);
    assert_eq!(all[0].line, position_of(&text, "locl").0);
}

#[test]
fn several_errors_are_reported_at_once() {
    let text = VALID
        .replace("prefix = \"10.1.0.0/24\"", "prefix = \"10.1.0.5/24\"")
        .replace("key = \"secret\"", "key = \"\"")
        .replace("data = [1]", "data = [0]");
    let all = errors(&text);
    let paths: Vec<&str> = all.iter().map(|d| d.path.as_str()).collect();
    for expected in ["database[0].prefix", "map_server[0].key", "cores.data[0]"] {
        assert!(paths.contains(&expected), "{paths:?}");
    }
}

#[test]
fn unreadable_file_is_an_error_not_a_panic() {
    let error = config::load(std::path::Path::new("/nonexistent/lispd.toml")).expect_err("missing");
    assert!(error.to_string().contains("cannot read"));
}

#[test]
fn xtr_id_must_be_128_bits_of_hex() {
    let bad = format!("{VALID}\n[identity]\nxtr_id = \"0123\"\nsite_id = 7\n");
    one_error(&bad, "identity.xtr_id", "expected 32 hex digits");
    let good = format!(
        "{VALID}\n[identity]\nxtr_id = \"000102030405060708090a0b0c0d0e0f\"\nsite_id = 7\n"
    );
    let config = parse_here(&good, "test.toml", &host()).expect("valid");
    assert_eq!(
        config.identity.xtr_id_bytes(),
        Some([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    );
}

/// A proxy-ETR needs an uplink gateway to forward natively by.
#[test]
fn a_proxy_etr_needs_an_uplink_gateway() {
    let roles = format!("{VALID}\n[roles]\nproxy_itr = true\nproxy_etr = true\n");
    parse(&roles, "test.toml").expect("the uplink has a gateway");
    let without = roles.replace("gateways = [\"192.0.2.254\"]", "");
    let errors = parse(&without, "test.toml").unwrap_err().0;
    assert!(
        errors
            .iter()
            .any(|e| e.path == "roles.proxy_etr" && e.message.contains("gateway")),
        "{errors:?}"
    );
}
