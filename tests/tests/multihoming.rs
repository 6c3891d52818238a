//! A multihomed xTR (site M, af_packet ports) with two uplinks into two underlay namespaces, a
//! remote site R and lisp-ms, as real processes. M names its map-server by host name (the
//! namespace's hosts file). Traffic from R's host reaches M over the preferred uplink; when that
//! uplink's far end goes down, M re-registers it at priority 255 (seen in lisp-ms's log), R is
//! told by SMR and its traffic arrives over the other uplink; when it comes back, so does the
//! traffic. R's uplink has MTU 1400 (set on the tap by lispd), its EID port 1500: a 1500-byte
//! ping from R's host gets ICMP "fragmentation needed" with the uplink's MTU less the
//! encapsulation, 1300-byte pings pass. (The issue asks for 9000 on the EID port; DPDK 22.11's
//! net_tap and net_af_packet refuse any frame above 1522 and 1518 bytes, so jumbo frames cannot
//! be tested on virtual devices here.)
//!
//! R runs on `net_tap` ports. Its taps stay in R's namespace (moved elsewhere, a tap loses its
//! control operations), and that namespace's kernel routes between them and the rest: R's host
//! behind one tap, the underlay behind the other, each tap's kernel side being the gateway of
//! lispd's port.

use std::path::Path;
use std::time::{Duration, Instant};

use tests::netns::{require_root, Namespace};
use tests::topology::{kernel_side, link};
use tests::underlay::{
    address, dpdk_side, forwarding, lispctl, lispd_header, ping_until_reply, route, routed_link,
    start_lisp_ms, start_lispd, wait_for,
};

const MS: &str = "192.0.2.100";
const MS_NAME: &str = "ms.multihoming.test";
/// A proxy-ETR and a proxy-ITR M names (nothing answers there; only their addresses matter).
const PETR_NAME: &str = "petr.multihoming.test";
const PITR_NAME: &str = "pitr.multihoming.test";
const M_UPLINK1: &str = "198.51.100.10";
const M_UPLINK2: &str = "203.0.113.10";
const M_UPLINK2_V6: &str = "2001:db8:2::10";
const M_HOST6: &str = "2001:db8:10::10";
const R_RLOC: &str = "10.22.0.1";
const M_HOST: &str = "10.10.0.10";

struct Net {
    m: Namespace,
    m_host: Namespace,
    uplinks: [Namespace; 2],
    core: Namespace,
    r: Namespace,
    r_host: Namespace,
}

/// An uplink of M: its DPDK-side interface, its gateway addresses, and the core's routes to it.
type Uplink = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

fn build() -> Net {
    let net = Net {
        m: Namespace::create("mhm").unwrap(),
        m_host: Namespace::create("mhh").unwrap(),
        uplinks: [
            Namespace::create("mu1").unwrap(),
            Namespace::create("mu2").unwrap(),
        ],
        core: Namespace::create("mhc").unwrap(),
        r: Namespace::create("mhr").unwrap(),
        r_host: Namespace::create("mhrh").unwrap(),
    };
    // Site M: host, xTR with an EID port and two uplinks (the second dual-stack).
    link(&net.m_host, "eth0", &net.m, "eid0").unwrap();
    kernel_side(&net.m_host, "eth0").unwrap();
    address(
        &net.m_host,
        "eth0",
        &["10.10.0.10/24", "2001:db8:10::10/64"],
    );
    route(
        &net.m_host,
        &[("default", "10.10.0.1"), ("::/0", "2001:db8:10::1")],
    );
    // The core: lisp-ms on a bridge, routes to each uplink's networks and to site R's.
    let core = &net.core;
    core.ip(&["link", "add", "br0", "type", "bridge"]).unwrap();
    core.ip(&["link", "set", "br0", "up"]).unwrap();
    address(core, "br0", &["192.0.2.254/24", &format!("{MS}/24")]);
    forwarding(core);
    let uplinks: [Uplink; 2] = [
        (
            "up1",
            &["198.51.100.1/24"],
            &[("198.51.100.0/24", "10.255.0.1")],
        ),
        (
            "up2",
            &["203.0.113.1/24", "2001:db8:2::1/64"],
            &[
                ("203.0.113.0/24", "10.255.1.1"),
                ("2001:db8:2::/64", "fd00:1::1"),
            ],
        ),
    ];
    for (i, (uplink, gateways, core_routes)) in uplinks.into_iter().enumerate() {
        let ul = &net.uplinks[i];
        link(ul, "tom", &net.m, uplink).unwrap();
        kernel_side(ul, "tom").unwrap();
        address(ul, "tom", gateways);
        let n = i as u8;
        routed_link(ul, "core", core, &format!("ul{i}"), n);
        route(
            ul,
            &[
                ("default", &format!("10.255.{n}.2")),
                ("::/0", &format!("fd00:{n}::2")),
            ],
        );
        forwarding(ul);
        route(core, core_routes);
    }
    for ifname in ["eid0", "up1", "up2"] {
        dpdk_side(&net.m, ifname);
    }
    // Site R: its namespace's kernel routes between R's host, the core and lispd's taps (made
    // when lispd starts; see `route_r_taps`).
    let r = &net.r;
    link(&net.r_host, "eth0", r, "host").unwrap();
    kernel_side(&net.r_host, "eth0").unwrap();
    address(
        &net.r_host,
        "eth0",
        &["10.20.0.20/24", "2001:db8:20::20/64"],
    );
    route(
        &net.r_host,
        &[("default", "10.20.0.1"), ("::/0", "2001:db8:20::1")],
    );
    kernel_side(r, "host").unwrap();
    address(r, "host", &["10.20.0.1/24", "2001:db8:20::1/64"]);
    routed_link(r, "core", core, "r", 9);
    route(
        core,
        &[
            ("10.22.0.0/24", "10.255.9.1"),
            ("2001:db8:22::/64", "fd00:9::1"),
        ],
    );
    route(r, &[("default", "10.255.9.2"), ("::/0", "fd00:9::2")]);
    forwarding(r);
    // Taps come up with IPv6 off (no autoconfiguration chatter toward lispd) until
    // `route_r_taps` gives them their addresses.
    r.exec("sysctl", &["-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        .unwrap();
    net
}

/// R's taps exist once lispd runs: give their kernel sides the gateway addresses of lispd's
/// ports, and send site M's EIDs through lispd.
fn route_r_taps(r: &Namespace) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.ip(&["link", "show", "rtap1"]).is_err() {
        assert!(Instant::now() < deadline, "lispd R never made its taps");
        std::thread::sleep(Duration::from_millis(100));
    }
    for (tap, addresses) in [
        ("rtap0", ["10.21.0.2/24", "2001:db8:21::2/64"]),
        ("rtap1", ["10.22.0.2/24", "2001:db8:22::2/64"]),
    ] {
        for key in ["disable_ipv6=0", "accept_dad=0"] {
            r.exec("sysctl", &["-qw", &format!("net.ipv6.conf.{tap}.{key}")])
                .unwrap();
        }
        address(r, tap, &addresses);
        r.ip(&["link", "set", tap, "up"]).unwrap();
    }
    route(
        r,
        &[
            ("10.10.0.0/24", "10.21.0.1"),
            ("2001:db8:10::/64", "2001:db8:21::1"),
        ],
    );
}

fn m_config(dir: &Path) -> String {
    format!(
        r#"{header}
[identity]
xtr_id = "0000000000000000000000000000000d"

[nat_traversal]
enabled = true

[[port]]
name = "inside"
device = "net_af_packet0"
role = "eid"
addresses = ["10.10.0.1/24", "2001:db8:10::1/64"]

[[port]]
name = "provider1"
device = "net_af_packet1"
role = "rloc"
addresses = ["{M_UPLINK1}/24"]
gateways = ["198.51.100.1"]

[[port]]
name = "provider2"
device = "net_af_packet2"
role = "rloc"
addresses = ["{M_UPLINK2}/24", "{M_UPLINK2_V6}/64"]
gateways = ["203.0.113.1", "2001:db8:2::1"]

[[map_server]]
address = "{MS_NAME}"
key = "key-m"

[[map_resolver]]
address = "{MS_NAME}"

[[petr]]
address = "{PETR_NAME}"

[[pitr]]
address = "{PITR_NAME}"

[[database]]
prefix = "10.10.0.0/24"
ttl_minutes = 1
[[database.locator]]
address = "{M_UPLINK1}"
priority = 1
local = true
[[database.locator]]
address = "{M_UPLINK2}"
priority = 2
local = true

[[database]]
prefix = "2001:db8:10::/64"
ttl_minutes = 1
[[database.locator]]
address = "{M_UPLINK2_V6}"
local = true
"#,
        header = lispd_header(
            &[
                "net_af_packet0,iface=eid0,qpairs=2",
                "net_af_packet1,iface=up1,qpairs=2",
                "net_af_packet2,iface=up2,qpairs=2",
            ],
            dir,
            "m"
        ),
    )
}

fn r_config(dir: &Path) -> String {
    format!(
        r#"{header}
[[port]]
name = "inside"
device = "net_tap0"
role = "eid"
addresses = ["10.21.0.1/24", "2001:db8:21::1/64"]
gateways = ["10.21.0.2", "2001:db8:21::2"]

[[port]]
name = "uplink"
device = "net_tap1"
role = "rloc"
addresses = ["{R_RLOC}/24", "2001:db8:22::1/64"]
gateways = ["10.22.0.2", "2001:db8:22::2"]
mtu = 1400

[[map_server]]
address = "{MS}"
key = "key-r"

[[map_resolver]]
address = "{MS}"

[[database]]
prefix = "10.20.0.0/24"
ttl_minutes = 1
[[database.locator]]
address = "{R_RLOC}"
local = true

[[database]]
prefix = "2001:db8:20::/64"
ttl_minutes = 1
[[database.locator]]
address = "2001:db8:22::1"
local = true
"#,
        header = lispd_header(&["net_tap0,iface=rtap0", "net_tap1,iface=rtap1"], dir, "r"),
    )
}

/// Pings sent at a time, and at least the bytes they make on an uplink.
const PINGS: u32 = 20;
const PING_BYTES: u64 = PINGS as u64 * 1000;

/// Bytes the uplink namespace `ul` sent toward M.
fn sent_to_m(ul: &Namespace) -> u64 {
    ul.exec("cat", &["/sys/class/net/tom/statistics/tx_bytes"])
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `count` pings of 1000 bytes from R's host to `to`, answered.
fn pings(net: &Net, to: &str, count: u32) {
    let count = count.to_string();
    net.r_host
        .exec(
            "ping",
            &["-c", &count, "-i", "0.2", "-s", "1000", "-W", "1", to],
        )
        .expect("every ping answered");
}

/// `lispctl show servers` against M.
fn show_servers(dir: &Path) -> String {
    lispctl(dir, "m", &["show", "servers"])
}

#[test]
fn traffic_follows_the_live_uplink() {
    if let Err(e) = require_root() {
        panic!("this test needs root and iproute2: {e}");
    }
    let dir = std::env::temp_dir().join(format!("lisp-multihoming-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let net = build();
    // M resolves its map-server's name through its namespace's hosts file.
    let hosts_dir = Path::new("/etc/netns").join(net.m.name());
    std::fs::create_dir_all(&hosts_dir).unwrap();
    let hosts = hosts_dir.join("hosts");
    let hosts_file = |ms: &str, proxies: &str| {
        format!("127.0.0.1 localhost\n{ms} {MS_NAME}\n{proxies} {PETR_NAME} {PITR_NAME}\n")
    };
    std::fs::write(&hosts, hosts_file(MS, "192.0.2.50")).unwrap();
    std::fs::write(dir.join("m.toml"), m_config(&dir)).unwrap();
    std::fs::write(dir.join("r.toml"), r_config(&dir)).unwrap();
    let mut ms = start_lisp_ms(
        &dir,
        &net.core,
        &format!(
            "listen = [\"{MS}:4342\"]\n\n[[site]]\nname = \"m\"\nkey = \"key-m\"\nprefixes = [\"10.10.0.0/24\", \"2001:db8:10::/64\"]\n\n[[site]]\nname = \"r\"\nkey = \"key-r\"\nprefixes = [\"10.20.0.0/24\", \"2001:db8:20::/64\"]\n"
        ),
    );
    let mut m = start_lispd(&dir, "m", &net.m);
    let mut r = start_lispd(&dir, "r", &net.r);
    route_r_taps(&net.r);

    wait_for(
        &mut ms,
        "registered m 10.10.0.0/24",
        Duration::from_secs(20),
    );
    wait_for(
        &mut ms,
        "registered r 10.20.0.0/24",
        Duration::from_secs(20),
    );
    // NAT discovery: lisp-ms saw M's locator at port 4342.
    wait_for(
        &mut m,
        &format!("path to map-server {MS}:4342: no NAT"),
        Duration::from_secs(10),
    );
    let servers = show_servers(&dir);
    assert!(
        servers.contains("no NAT"),
        "show servers has the NAT column:\n{servers}"
    );
    assert!(
        ping_until_reply(&net.r_host, M_HOST, Duration::from_secs(20)).is_some(),
        "R's host never reached M's host:\n{}\n{}",
        m.output(),
        r.output()
    );

    // IPv4 EIDs prefer the first uplink; IPv6 EIDs have an IPv6 locator on the second only.
    assert!(
        ping_until_reply(&net.r_host, M_HOST6, Duration::from_secs(20)).is_some(),
        "R's host never reached M's IPv6 host:\n{}\n{}",
        m.output(),
        r.output()
    );
    // Each uplink also carries the gateway's answers to our liveness questions (three to seven
    // small frames a second): bytes of large pings stand out.
    for (to, uplink) in [(M_HOST6, 1), (M_HOST, 0)] {
        let before = net.uplinks.each_ref().map(sent_to_m);
        pings(&net, to, PINGS);
        let after = net.uplinks.each_ref().map(sent_to_m);
        let sent = [after[0] - before[0], after[1] - before[1]];
        assert!(
            sent[uplink] >= PING_BYTES && sent[1 - uplink] < PING_BYTES / 2,
            "{to}: uplinks sent {sent:?}"
        );
    }

    // From R's host: too big for R's 1400-byte uplink once encapsulated.
    let big = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            net.r_host.name(),
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "-M",
            "do",
        ])
        .args(["-s", "1472", M_HOST])
        .output()
        .unwrap();
    let big = String::from_utf8_lossy(&big.stdout);
    assert!(
        big.contains("mtu = 1364"),
        "ICMP fragmentation needed with MTU 1400 - 36: {big}"
    );
    net.r_host
        .exec(
            "ping",
            &[
                "-c", "3", "-i", "0.2", "-W", "2", "-M", "do", "-s", "1272", M_HOST,
            ],
        )
        .expect("1300-byte pings pass");

    // The preferred uplink's far end goes down.
    let down = Instant::now();
    net.uplinks[0].ip(&["link", "set", "tom", "down"]).unwrap();
    let registered = wait_for(
        &mut ms,
        &format!("changed: {M_UPLINK1} priority 255, {M_UPLINK2} priority 2"),
        Duration::from_secs(5),
    );
    let moved = ping_until_reply(&net.r_host, M_HOST, Duration::from_secs(20))
        .expect("traffic moves to the other uplink");
    let since_down = down.elapsed();
    let before = sent_to_m(&net.uplinks[1]);
    pings(&net, M_HOST, PINGS);
    assert!(
        sent_to_m(&net.uplinks[1]) - before >= PING_BYTES,
        "over the backup"
    );
    eprintln!(
        "uplink 1 down: map-server had priority 255 after {registered:?}; R's traffic arrived over \
         uplink 2 {moved:?} after that ({since_down:?} after the link went down)"
    );
    assert!(
        registered <= Duration::from_secs(2),
        "registered after {registered:?}"
    );
    assert!(m
        .output()
        .contains("gateway 198.51.100.1 stopped answering"));

    // It comes back: so do the priorities and the traffic.
    net.uplinks[0].ip(&["link", "set", "tom", "up"]).unwrap();
    wait_for(
        &mut ms,
        &format!("changed: {M_UPLINK1} priority 1, {M_UPLINK2} priority 2"),
        Duration::from_secs(5),
    );
    let back = Instant::now();
    loop {
        let before = sent_to_m(&net.uplinks[0]);
        pings(&net, M_HOST, PINGS);
        if sent_to_m(&net.uplinks[0]) - before >= PING_BYTES {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(20),
            "traffic never returned to uplink 1"
        );
    }

    // The names move: M follows within the refresh.
    std::fs::write(&hosts, hosts_file("192.0.2.77", "192.0.2.51")).unwrap();
    for (name, address) in [
        (MS_NAME, "192.0.2.77"),
        (PETR_NAME, "192.0.2.51"),
        (PITR_NAME, "192.0.2.51"),
    ] {
        wait_for(
            &mut m,
            &format!("{name} now resolves to {address}"),
            Duration::from_secs(5),
        );
    }
    // `show servers` names each peer and the address in use.
    let servers = show_servers(&dir);
    for expected in [
        format!("192.0.2.77:4342  {MS_NAME}"),
        format!("map-resolver  192.0.2.77  {MS_NAME}"),
        format!("petr          192.0.2.51  {PETR_NAME}"),
        format!("pitr          192.0.2.51  {PITR_NAME}"),
    ] {
        assert!(servers.contains(&expected), "{expected}:\n{servers}");
    }
    for process in [&mut m, &mut r, &mut ms] {
        let status = process.stop();
        assert!(status.is_some_and(|s| s.success()), "{}", process.output());
    }
    let _ = std::fs::remove_dir_all(&hosts_dir);
    let _ = std::fs::remove_dir_all(&dir);
}
