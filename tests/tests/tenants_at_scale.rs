//! A thousand tenants on one xTR, as a real process: one EID-side trunk with VLANs 1..=1000,
//! each its own instance with the same 10.0.0.0/24 database prefix and gateway address, and
//! 100 static mappings per instance (100,000 in all, the same prefixes in every instance) from a
//! `map_cache_file`. Hosts on VLANs 7 and 1000 reach the xTR's gateway address of their VLAN
//! (ARP answered per VLAN), and their packets leave encapsulated with their own instance-id;
//! management and metrics see every instance. Then a reload takes tenant 1000 away and brings
//! tenant 2000 (VLAN and instance) in while the data cores keep running: VLAN 1000's frames are
//! dropped as an unknown VLAN from then on, VLAN 2000's host is served in instance 2000.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use tests::netns::{require_root, Namespace};
use tests::topology::{kernel_side, link, Process};
use tests::underlay::{
    address, assert_cached, dpdk_side, lispctl, lispd_header, metric, route, scrape_metrics,
    start_lispd, start_vlan_switch, stat, wait_for,
};

const TENANTS: u32 = 1000;
const MAPPINGS_PER_TENANT: u32 = 100;
/// The tenant a reload adds.
const ARRIVING: u32 = 2000;
/// The VLANs hosts are on in this test.
const PROBED: [u32; 3] = [7, TENANTS, ARRIVING];

/// lispd's file for `tenants` (VLAN and instance-id alike) after `header` (the same across
/// reloads: a new DPDK file prefix would need a restart).
fn config(header: &str, tenants: &[u32]) -> String {
    // A top-level key: before the header's tables.
    let mut text = String::from("map_cache_file = \"maps.txt\"\n");
    text.push_str(header);
    text.push_str("\n[[port]]\nname = \"trunk\"\ndevice = \"net_af_packet0\"\nrole = \"eid\"\n");
    for tenant in tenants {
        let _ = write!(
            text,
            "\n[[port.vlan]]\nid = {tenant}\ninstance_id = {tenant}\naddresses = [\"10.0.0.1/24\"]\n"
        );
    }
    text.push_str(
        "\n[[port]]\nname = \"uplink\"\ndevice = \"net_af_packet1\"\nrole = \"rloc\"\naddresses = [\"192.0.2.1/24\"]\n",
    );
    for tenant in tenants {
        let _ = write!(
            text,
            "\n[[database]]\nprefix = \"10.0.0.0/24\"\ninstance_id = {tenant}\nregister = false\n[[database.locator]]\naddress = \"192.0.2.1\"\nlocal = true\n"
        );
    }
    text
}

/// 100 mappings per tenant toward the RLOC 192.0.2.2: 10.100.0.0/16 to 10.199.0.0/16.
fn mappings(tenants: &[u32]) -> String {
    let mut lines = String::new();
    for tenant in tenants {
        for j in 0..MAPPINGS_PER_TENANT {
            let _ = writeln!(
                lines,
                "10.{}.0.0/16 instance-id={tenant} 192.0.2.2",
                100 + j
            );
        }
    }
    lines
}

/// Whether the xTR answers `host`'s ARP for its gateway (asked afresh).
fn gateway_answers(host: &Namespace) -> bool {
    let _ = host.ip(&["neigh", "flush", "dev", "eth0"]);
    let _ = host.exec("ping", &["-c", "1", "-W", "1", "10.0.0.1"]);
    host.ip(&["neigh", "show", "10.0.0.1"])
        .unwrap()
        .contains("lladdr")
}

/// Sends from `host` to a mapped destination until the far RLOC reports a packet of `instance`.
fn leaves_in_instance(host: &Namespace, far: &mut Process, instance: u32) {
    let _ = host.exec("ping", &["-c", "3", "-i", "0.2", "-W", "1", "10.150.1.1"]);
    wait_for(
        far,
        &format!("instance {instance}\n"),
        Duration::from_secs(10),
    );
}

#[test]
fn a_thousand_tenants_on_vlans_of_one_trunk() {
    if let Err(e) = require_root() {
        panic!("this test needs root and iproute2: {e}");
    }
    let dir = std::env::temp_dir().join(format!("lisp-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let header = lispd_header(
        &[
            "net_af_packet0,iface=eid0,qpairs=2",
            "net_af_packet1,iface=up0,qpairs=2",
        ],
        &dir,
        "x",
    );
    let first: Vec<u32> = (1..=TENANTS).collect();
    std::fs::write(dir.join("x.toml"), config(&header, &first)).unwrap();
    std::fs::write(dir.join("maps.txt"), mappings(&first)).unwrap();

    let xtr = Namespace::create("sx").unwrap();
    let rloc = Namespace::create("sr").unwrap();
    link(&rloc, "eth0", &xtr, "up0").unwrap();
    kernel_side(&rloc, "eth0").unwrap();
    address(&rloc, "eth0", &["192.0.2.2/24"]);
    dpdk_side(&xtr, "up0");
    link(&xtr, "trunk", &xtr, "eid0").unwrap();
    dpdk_side(&xtr, "eid0");
    dpdk_side(&xtr, "trunk");
    let hosts: Vec<Namespace> = PROBED
        .iter()
        .map(|vlan| {
            let host = Namespace::create(&format!("sh{vlan}")).unwrap();
            link(&host, "eth0", &xtr, &format!("h{vlan}")).unwrap();
            kernel_side(&host, "eth0").unwrap();
            dpdk_side(&xtr, &format!("h{vlan}"));
            address(&host, "eth0", &["10.0.0.10/24"]);
            route(&host, &[("default", "10.0.0.1")]);
            host
        })
        .collect();
    let access: Vec<(u32, String)> = PROBED.iter().map(|&v| (v, format!("h{v}"))).collect();
    let access: Vec<(u32, &str)> = access.iter().map(|(v, i)| (*v, i.as_str())).collect();
    let mut switch = start_vlan_switch(&dir, "vlan-switch", &xtr, "trunk", &access);
    // The far RLOC prints the instance-id of each LISP packet it receives.
    let mut far = Process::spawn(
        &dir,
        "far-rloc",
        rloc.name(),
        Path::new("python3"),
        &[
            "-c",
            "import socket\n\
             s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.bind(('192.0.2.2', 4341))\n\
             print('listening', flush=True)\n\
             while True:\n\
             \x20   d = s.recv(4096)\n\
             \x20   print('instance', int.from_bytes(d[4:7], 'big'), flush=True)\n",
        ],
    )
    .unwrap();
    wait_for(&mut far, "listening", Duration::from_secs(10));

    let mut lispd = start_lispd(&dir, "x", &xtr);
    wait_for(&mut lispd, "ready: ", Duration::from_secs(120));
    let [host7, host1000, host2000] = [&hosts[0], &hosts[1], &hosts[2]];
    for (host, vlan) in [(host7, 7), (host1000, TENANTS)] {
        assert!(gateway_answers(host), "VLAN {vlan}:\n{}", lispd.output());
        leaves_in_instance(host, &mut far, vlan);
    }
    assert!(
        !gateway_answers(host2000),
        "VLAN 2000 is not configured yet"
    );
    let unknown_vlan = stat(&dir, "x", "drop_unknown_vlan");
    assert!(unknown_vlan > 0, "VLAN 2000's ARP was not counted");
    assert_cached(
        &dir,
        "x",
        (1000, "10.199.3.4"),
        "10.199.0.0/16",
        "192.0.2.2",
    );
    let metrics = scrape_metrics(xtr.name(), "127.0.0.1:9141".parse().unwrap());
    // Each instance's map-cache: its mappings and its database prefix.
    let full = format!(" {}", MAPPINGS_PER_TENANT + 1);
    let instances = metrics
        .lines()
        .filter(|l| l.starts_with("lispd_map_cache_entries{instance=") && l.ends_with(&full))
        .count();
    assert_eq!(instances, TENANTS as usize, "{metrics}");
    assert!(
        metrics.contains("lispd_database_prefixes{instance=\"1000\"} 1"),
        "{metrics}"
    );

    // Tenant 1000 leaves, tenant 2000 arrives, by reload.
    let second: Vec<u32> = (1..TENANTS).chain([ARRIVING]).collect();
    std::fs::write(dir.join("x.toml"), config(&header, &second)).unwrap();
    std::fs::write(dir.join("maps.txt"), mappings(&second)).unwrap();
    let reloaded = lispctl(&dir, "x", &["reload"]);
    assert!(reloaded.contains("reloaded"), "{reloaded}");
    wait_for(
        &mut lispd,
        "configuration reloaded",
        Duration::from_secs(60),
    );
    assert!(
        gateway_answers(host2000),
        "VLAN 2000 after the reload:\n{}",
        lispd.output()
    );
    leaves_in_instance(host2000, &mut far, ARRIVING);
    assert!(!gateway_answers(host1000), "VLAN 1000 is gone");
    assert!(stat(&dir, "x", "drop_unknown_vlan") > unknown_vlan);
    let metrics = scrape_metrics(xtr.name(), "127.0.0.1:9141".parse().unwrap());
    assert!(
        metrics.contains(&format!(
            "lispd_map_cache_entries{{instance=\"2000\"}}{full}"
        )),
        "{metrics}"
    );
    assert!(!metrics.contains("instance=\"1000\""), "{metrics}");
    let encapsulated = metric(
        &metrics,
        "lispd_instance_encapsulated_packets_total{instance=\"2000\"}",
    );
    assert!(encapsulated.is_some_and(|n| n >= 1.0), "{metrics}");
    assert!(
        lispd.output().contains("instance-id 1000 no longer served"),
        "{}",
        lispd.output()
    );
    let status = lispd.stop();
    assert!(status.is_some_and(|s| s.success()), "{}", lispd.output());
    for process in [&mut switch, &mut far] {
        process.stop();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
