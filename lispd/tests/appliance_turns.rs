//! The appliance driven step by step in-process, as the control loop drives it: start on two
//! `net_null` ports, turns answering a management client, the whole map-cache listed while the
//! loop keeps turning, then a stop with its report. (Its own test binary: EAL starts once per
//! process.)

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use lispd::appliance::Appliance;

fn config(dir: &std::path::Path) -> config::Config {
    let prefix = format!("lispd-turns-{}", std::process::id());
    let text = format!(
        r#"
[dpdk]
eal_args = ["--no-huge", "-m", "256", "--no-shconf", "--no-pci", "--no-telemetry",
            "--vdev=net_null_{prefix}e", "--vdev=net_null_{prefix}r"]
file_prefix = "{prefix}"
mbuf_pool_size = 8191

[cores]
control = 0
data = [1]
cpus = [0, 0]
idle_sleep_us = 100

[[port]]
name = "eid"
device = "net_null_{prefix}e"
role = "eid"
addresses = ["10.1.0.1/24"]

[[port]]
name = "rloc"
device = "net_null_{prefix}r"
role = "rloc"
addresses = ["192.0.2.1/24"]

[management]
socket = "{socket}"
metrics_listen = "127.0.0.1:0"
state_directory = "{dir}"

[[database]]
prefix = "10.1.0.0/24"
register = false
[[database.locator]]
address = "192.0.2.1"
local = true

[[map_cache]]
prefix = "10.2.0.0/24"
[[map_cache.locator]]
address = "192.0.2.2"
"#,
        socket = dir.join("lispd.sock").display(),
        dir = dir.display(),
    );
    config::parse_here(&text, "turns.toml", &config::Host::current()).expect("valid configuration")
}

/// Sends `request` and turns the appliance until the response line is complete.
fn ask(appliance: &mut Appliance, socket: &std::path::Path, request: &str) -> String {
    let mut client = UnixStream::connect(socket).expect("management socket");
    client.write_all(request.as_bytes()).unwrap();
    client.write_all(b"\n").unwrap();
    client.set_nonblocking(true).unwrap();
    let mut reader = BufReader::new(client);
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !line.ends_with('\n') {
        assert!(Instant::now() < deadline, "no answer to {request}");
        appliance.turn(Instant::now());
        let _ = reader.read_line(&mut line);
    }
    line
}

#[test]
fn the_appliance_starts_turns_answers_and_stops() {
    let dir = std::env::temp_dir().join(format!("lispd-turns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = config(&dir);
    let socket = config.management.socket.clone();
    let mut appliance =
        Appliance::start(config.clone(), |_| Ok(()), Instant::now()).expect("the appliance starts");
    for _ in 0..10 {
        appliance.turn(Instant::now());
    }
    let cache = ask(
        &mut appliance,
        &socket,
        r#"{"version": 1, "command": "show-cache"}"#,
    );
    let cache: serde_json::Value = serde_json::from_str(&cache).unwrap();
    let prefixes: Vec<&str> = cache["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["prefix"].as_str().unwrap())
        .collect();
    assert_eq!(
        prefixes,
        ["10.1.0.0/24", "10.2.0.0/24"],
        "database and static entry"
    );
    let stats = ask(
        &mut appliance,
        &socket,
        r#"{"version": 1, "command": "show-stats"}"#,
    );
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    let stats = &stats["result"];
    assert!(
        stats["control_loop"]["turns"].as_u64() > Some(10),
        "{stats}"
    );
    assert!(
        stats["ports"]["eid"].is_object() && stats["ports"]["rloc"].is_object(),
        "ports by name: {stats}"
    );
    assert_eq!(
        stats["cores"].as_object().map(|cores| cores.len()),
        Some(1),
        "the one data core reports its counters: {stats}"
    );
    let report = appliance.stop().expect("a clean stop");
    assert_eq!(report.per_core.len(), 1);
    assert!(!socket.exists(), "the management socket is removed");
    std::fs::remove_dir_all(dir).ok();
}
