//! Every shipped example, and the seed control plane's legacy example after `lispd import-legacy`,
//! starts: each runs as `lispd run` in a namespace of its own with its devices replaced by
//! `net_null` ports, its cores by this machine's two, its map-server and map-resolver names in
//! the namespace's hosts file, until it is stopped cleanly. (A port MTU above 1500 is lowered
//! there: net_null cannot change its MTU, and lispd refuses a device that will not take it.)

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tests::netns::{require_root, unique_name, Namespace};
use tests::topology::{binary, Process};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// `config` on this machine's virtual devices and cores, with its state in `dir`.
fn on_virtual_devices(mut config: config::Config, dir: &Path) -> config::Config {
    let mut eal = [
        "--no-huge",
        "-m",
        "512",
        "--no-shconf",
        "--no-pci",
        "--no-telemetry",
    ]
    .map(String::from)
    .to_vec();
    for (i, port) in config.port.iter_mut().enumerate() {
        port.device = format!("net_null{i}");
        eal.push(format!("--vdev=net_null{i}"));
        port.mtu = port.mtu.min(1500);
    }
    config.dpdk.eal_args = eal;
    config.dpdk.file_prefix = unique_name("ex");
    config.dpdk.mbuf_pool_size = config.dpdk.mbuf_pool_size.min(16383);
    config.cores = config::Cores {
        control: 0,
        data: vec![1],
        idle_sleep_us: 100,
        cpus: Vec::new(),
    };
    config.management.socket = dir.join("lispd.sock");
    config.management.state_directory = dir.to_owned();
    config
}

/// Starts `file` as lispd does and stops it after two seconds of running.
fn starts(name: &str, config: config::Config) {
    let dir = std::env::temp_dir().join(format!("lisp-example-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = on_virtual_devices(config, &dir);
    let ns = Namespace::create("lex").unwrap();
    ns.ip(&["link", "set", "lo", "up"]).unwrap();
    let hosts_dir = Path::new("/etc/netns").join(ns.name());
    std::fs::create_dir_all(&hosts_dir).unwrap();
    let v4 = config
        .port
        .iter()
        .flat_map(|p| &p.addresses)
        .any(|a| a.addr().is_ipv4());
    let mut hosts = String::from("127.0.0.1 localhost\n");
    let names = config
        .map_server
        .iter()
        .map(|m| &m.address)
        .chain(config.map_resolver.iter().map(|m| &m.address))
        .chain(config.petr.iter().map(|p| &p.address))
        .chain(config.pitr.iter().map(|p| &p.address))
        .filter(|a| a.parse::<IpAddr>().is_err());
    for (i, host) in names.enumerate() {
        let address = if v4 {
            format!("198.18.0.{}", i + 1)
        } else {
            format!("2001:db8:53::{}", i + 1)
        };
        hosts.push_str(&format!("{address} {host}\n"));
    }
    std::fs::write(hosts_dir.join("hosts"), hosts).unwrap();
    let file = dir.join("lispd.toml");
    std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
    let lispd = binary("lispd").unwrap();
    let check = Command::new(&lispd)
        .args(["check-config", "--here", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut process = Process::spawn(
        &dir,
        "lispd",
        ns.name(),
        &lispd,
        &["run", "-c", file.to_str().unwrap()],
    )
    .unwrap();
    assert!(
        process.wait_for("lispd: running", Duration::from_secs(10)),
        "{name}: {}",
        process.output()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(process.running(), "{name} stopped: {}", process.output());
    let status = process.stop();
    assert!(
        status.is_some_and(|s| s.success()) && process.output().contains("lispd: stopped"),
        "{name}: {}",
        process.output()
    );
    let _ = std::fs::remove_dir_all(&hosts_dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_example_and_the_legacy_seed_start() {
    if let Err(e) = require_root() {
        panic!("this test needs root and iproute2: {e}");
    }
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo("config/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 5, "{examples:?}");
    for example in &examples {
        let config = config::load(example).unwrap_or_else(|e| panic!("{e}"));
        starts(&example.file_stem().unwrap().to_string_lossy(), config);
    }
    let legacy = std::fs::read_to_string(repo("config/tests/data/seed-legacy.conf")).unwrap();
    let imported = config::legacy::to_toml(&config::legacy::import(&legacy).unwrap()).unwrap();
    // The legacy format names no ports: the operator adds an uplink holding the local
    // locators and an EID port in the database's prefixes.
    let mut config: config::Config = toml::from_str(&imported).unwrap();
    let uplink = config
        .database
        .iter()
        .flat_map(|d| &d.locator)
        .filter(|l| l.local)
        .map(|l| l.address)
        .fold(Vec::new(), |mut all, a| {
            if !all.contains(&a) {
                all.push(a);
            }
            all
        });
    let inside = config.database.iter().map(|d| {
        format!(
            "{}/{}",
            first_host(d.prefix.network()),
            d.prefix.prefix_len()
        )
    });
    config.port = vec![
        port("inside", config::PortRole::Eid, inside.collect()),
        port(
            "uplink",
            config::PortRole::Rloc,
            uplink
                .iter()
                .map(|a| format!("{a}/{}", if a.is_ipv4() { 24 } else { 64 }))
                .collect(),
        ),
    ];
    starts("seed-legacy", config);
}

fn first_host(network: IpAddr) -> IpAddr {
    match network {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) + 1).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) + 1).into()),
    }
}

fn port(name: &str, role: config::PortRole, addresses: Vec<String>) -> config::Port {
    config::Port {
        name: name.into(),
        device: String::new(),
        role,
        addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
        mtu: 1500,
        gateways: Vec::new(),
        neighbour: Vec::new(),
        instance_id: 0,
        vlan: Vec::new(),
    }
}
