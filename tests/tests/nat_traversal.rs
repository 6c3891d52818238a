//! NAT traversal with real processes: site A's xTR sits behind a NAT namespace (nftables
//! masquerade with random source ports), site B's is public, and lisp-ms and a lispd RTR are in
//! the core. A learns from lisp-ms's Info-Reply that it is behind a NAT, registers through the
//! RTR lisp-ms names, and sends everything there; B reaches A's EIDs through the RTR, which
//! knows A's translated address and port. Pings and TCP go both ways, IPv4 and IPv6 EIDs over
//! IPv4 RLOCs. Then the NAT forgets every mapping (`conntrack -F`): A notices at its next
//! Info-Request, registers through the RTR again, and traffic resumes; the recovery time is
//! printed.
//!
//! All lispd ports are af_packet on veths; the core's ends hang off one bridge.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::netns::{require_root, Namespace};
use tests::topology::{kernel_side, link, Process};
use tests::underlay::{
    address, bridge_port, dpdk_side, forwarding, lispd_header, ping_until_reply, route,
    start_lisp_ms, start_lispd, stat, wait_for,
};

const MS: &str = "192.0.2.100";
const RTR: &str = "192.0.2.50";
const B_RLOC: &str = "192.0.2.20";
const NAT_PUBLIC: &str = "192.0.2.30";
const A_PRIVATE: &str = "10.99.0.2";
const A_HOST: &str = "10.1.0.10";
const A_HOST6: &str = "2001:db8:1::10";
const B_HOST: &str = "10.2.0.20";
const B_HOST6: &str = "2001:db8:2::20";

struct Net {
    core: Namespace,
    rtr: Namespace,
    nat: Namespace,
    a: Namespace,
    a_host: Namespace,
    b: Namespace,
    b_host: Namespace,
}

/// A host namespace behind lispd's EID port `eid0` in `xtr`.
fn host(host: &Namespace, xtr: &Namespace, addresses: [&str; 2], gateways: [&str; 2]) {
    link(host, "eth0", xtr, "eid0").unwrap();
    kernel_side(host, "eth0").unwrap();
    address(host, "eth0", &addresses);
    route(host, &[("default", gateways[0]), ("::/0", gateways[1])]);
    dpdk_side(xtr, "eid0");
}

fn build() -> Net {
    let net = Net {
        core: Namespace::create("ntc").unwrap(),
        rtr: Namespace::create("ntr").unwrap(),
        nat: Namespace::create("ntn").unwrap(),
        a: Namespace::create("nta").unwrap(),
        a_host: Namespace::create("ntah").unwrap(),
        b: Namespace::create("ntb").unwrap(),
        b_host: Namespace::create("ntbh").unwrap(),
    };
    let core = &net.core;
    core.ip(&["link", "add", "br0", "type", "bridge"]).unwrap();
    core.ip(&["link", "set", "br0", "up"]).unwrap();
    address(core, "br0", &["192.0.2.254/24", &format!("{MS}/24")]);
    for (port, ns) in [("rtr0", &net.rtr), ("b0", &net.b)] {
        bridge_port(core, port, ns, "up0");
        dpdk_side(ns, "up0");
    }
    // The NAT: public side on the bridge, private side toward A's uplink.
    let nat = &net.nat;
    bridge_port(core, "nat0", nat, "wan");
    kernel_side(nat, "wan").unwrap();
    address(nat, "wan", &[&format!("{NAT_PUBLIC}/24")]);
    route(nat, &[("default", "192.0.2.254")]);
    link(nat, "lan", &net.a, "up0").unwrap();
    kernel_side(nat, "lan").unwrap();
    address(nat, "lan", &["10.99.0.1/24"]);
    dpdk_side(&net.a, "up0");
    forwarding(nat);
    for rule in [
        "add table ip nat",
        "add chain ip nat post { type nat hook postrouting priority 100 ; }",
        "add rule ip nat post oifname wan masquerade random",
    ] {
        let args: Vec<&str> = rule.split(' ').collect();
        nat.exec("nft", &args).unwrap();
    }
    host(
        &net.a_host,
        &net.a,
        [&format!("{A_HOST}/24"), &format!("{A_HOST6}/64")],
        ["10.1.0.1", "2001:db8:1::1"],
    );
    host(
        &net.b_host,
        &net.b,
        [&format!("{B_HOST}/24"), &format!("{B_HOST6}/64")],
        ["10.2.0.1", "2001:db8:2::1"],
    );
    net
}

/// lispd's configuration head, registering every 5 s.
fn head(ports: &[&str], dir: &Path, name: &str) -> String {
    lispd_header(ports, dir, name)
        .replace("[timers]\n", "[timers]\nmap_register_interval_secs = 5\n")
}

/// A site's xTR: EID prefixes `10.{n}.0.0/24` and `2001:db8:{n}::/64` behind `rloc`.
fn site_config(dir: &Path, name: &str, n: u8, rloc: &str, gateway: &str, extra: &str) -> String {
    format!(
        r#"{head}
{extra}
[[port]]
name = "inside"
device = "net_af_packet0"
role = "eid"
addresses = ["10.{n}.0.1/24", "2001:db8:{n}::1/64"]

[[port]]
name = "uplink"
device = "net_af_packet1"
role = "rloc"
addresses = ["{rloc}/24"]
gateways = ["{gateway}"]

[[map_server]]
address = "{MS}"
key = "key-{name}"

[[map_resolver]]
address = "{MS}"

[[database]]
prefix = "10.{n}.0.0/24"
ttl_minutes = 1
[[database.locator]]
address = "{rloc}"
local = true

[[database]]
prefix = "2001:db8:{n}::/64"
ttl_minutes = 1
[[database.locator]]
address = "{rloc}"
local = true
"#,
        head = head(
            &[
                "net_af_packet0,iface=eid0,qpairs=2",
                "net_af_packet1,iface=up0,qpairs=2"
            ],
            dir,
            name
        ),
    )
}

fn rtr_config(dir: &Path) -> String {
    format!(
        r#"{head}
[roles]
rtr = true

[rtr]
map_servers = ["{MS}"]

[[port]]
name = "uplink"
device = "net_af_packet0"
role = "rloc"
addresses = ["{RTR}/24"]
gateways = ["192.0.2.254"]

[[map_resolver]]
address = "{MS}"
"#,
        head = head(&["net_af_packet0,iface=up0,qpairs=2"], dir, "rtr"),
    )
}

/// A line sent over TCP from `client` to `server` (listening on `server_address`) arrives.
fn tcp(client: &Namespace, server: &Namespace, server_address: &str, port: u16) {
    let family = if server_address.contains(':') {
        "-6"
    } else {
        "-4"
    };
    let listener = Command::new("ip")
        .args([
            "netns",
            "exec",
            server.name(),
            "nc",
            family,
            "-l",
            "-w",
            "10",
        ])
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let line = format!("over the NAT to {server_address}");
    let mut sent = false;
    for _ in 0..10 {
        let status = Command::new("ip")
            .args(["netns", "exec", client.name(), "sh", "-c"])
            .arg(format!(
                "echo '{line}' | nc -N -w 5 {server_address} {port}"
            ))
            .status()
            .unwrap();
        if status.success() {
            sent = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let output = listener.wait_with_output().unwrap();
    assert!(sent, "TCP to {server_address} never connected");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), line);
}

#[test]
fn an_xtr_behind_a_nat_is_reached_through_the_rtr_and_recovers_when_the_nat_forgets() {
    if let Err(e) = require_root() {
        panic!("this test needs root and iproute2: {e}");
    }
    let dir = std::env::temp_dir().join(format!("lisp-nat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let net = build();
    let ms_config = format!(
        "listen = [\"{MS}:4342\"]\nrtrs = [\"{RTR}\"]\n\n[[site]]\nname = \"a\"\nkey = \"key-a\"\nprefixes = [\"10.1.0.0/24\", \"2001:db8:1::/64\"]\n\n[[site]]\nname = \"b\"\nkey = \"key-b\"\nprefixes = [\"10.2.0.0/24\", \"2001:db8:2::/64\"]\n"
    );
    let nat_section = "[identity]\nxtr_id = \"0000000000000000000000000000000a\"\n\n[nat_traversal]\nenabled = true\nkeepalive_secs = 2\n";
    let files = [
        ("rtr", rtr_config(&dir)),
        (
            "a",
            site_config(&dir, "a", 1, A_PRIVATE, "10.99.0.1", nat_section),
        ),
        ("b", site_config(&dir, "b", 2, B_RLOC, "192.0.2.254", "")),
    ];
    for (name, text) in &files {
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
    }
    let mut ms = start_lisp_ms(&dir, &net.core, &ms_config);
    let mut rtr = start_lispd(&dir, "rtr", &net.rtr);
    let mut b = start_lispd(&dir, "b", &net.b);
    let mut a = start_lispd(&dir, "a", &net.a);

    wait_for(
        &mut a,
        &format!("path to map-server {MS}:4342: behind a NAT, seen as {NAT_PUBLIC}:"),
        Duration::from_secs(20),
    );
    wait_for(
        &mut a,
        &format!("encapsulated traffic now goes to RTR {RTR}"),
        Duration::from_secs(5),
    );
    wait_for(&mut ms, "registered a 10.1.0.0/24", Duration::from_secs(20));
    let reached = format!("10.1.0.0/24 (instance 0) is reached through a NAT at {NAT_PUBLIC}:");
    wait_for(&mut rtr, &reached, Duration::from_secs(5));
    let port_of = |log: &str| -> Vec<String> {
        log.lines()
            .filter_map(|l| l.split_once(&reached).map(|(_, port)| port.to_owned()))
            .collect()
    };
    let first_port = port_of(&rtr.output())[0].clone();
    wait_for(&mut ms, "registered b 10.2.0.0/24", Duration::from_secs(20));
    let logs = |a: &Process, b: &Process, rtr: &Process| {
        format!("{}\n{}\n{}", a.output(), b.output(), rtr.output())
    };
    for (from, to) in [
        (&net.a_host, B_HOST),
        (&net.b_host, A_HOST),
        (&net.a_host, B_HOST6),
        (&net.b_host, A_HOST6),
    ] {
        assert!(
            ping_until_reply(from, to, Duration::from_secs(20)).is_some(),
            "{to} never answered:\n{}",
            logs(&a, &b, &rtr)
        );
    }
    tcp(&net.a_host, &net.b_host, B_HOST, 5001);
    tcp(&net.b_host, &net.a_host, A_HOST, 5002);
    tcp(&net.a_host, &net.b_host, B_HOST6, 5003);
    tcp(&net.b_host, &net.a_host, A_HOST6, 5004);
    assert!(stat(&dir, "rtr", "rtr_reencapsulated") >= 8);
    assert!(stat(&dir, "rtr", "rtr_notifies_forwarded") >= 1);
    assert!(
        stat(&dir, "a", "decapsulated_control") >= 1,
        "Data-Map-Notify"
    );
    assert_eq!(stat(&dir, "a", "map_notifies_refused"), 0);

    // The NAT forgets every mapping: A's next Info-Request sees a new one, A registers through
    // the RTR again, and the RTR reaches A at its new port.
    let flushed = Instant::now();
    net.nat.exec("conntrack", &["-F"]).unwrap();
    let recovered = ping_until_reply(&net.b_host, A_HOST, Duration::from_secs(30));
    let recovered =
        recovered.unwrap_or_else(|| panic!("traffic never resumed:\n{}", logs(&a, &b, &rtr)));
    eprintln!(
        "NAT mappings flushed: B's host reached A's host again after {recovered:?} ({:?} in all)",
        flushed.elapsed()
    );
    tcp(&net.b_host, &net.a_host, A_HOST, 5005);
    let ports = port_of(&rtr.output());
    assert!(
        ports.last() != Some(&first_port),
        "the RTR learned A's new port: {ports:?}"
    );
    for process in [&mut a, &mut b, &mut rtr, &mut ms] {
        let status = process.stop();
        assert!(status.is_some_and(|s| s.success()), "{}", process.output());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
