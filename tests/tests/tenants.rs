//! Two tenants with one address plan on two sites, as real processes: on each site's xTR, one
//! EID-side trunk port carries tenant 100's hosts on VLAN 100 and tenant 200's on VLAN 200
//! (instances 100 and 200), and both tenants use 10.1.0.0/24 and 2001:db8:1::/64 at site A,
//! 10.2.0.0/24 and 2001:db8:2::/64 at site B, down to the same host addresses. Each tenant
//! registers with lisp-ms under its own site and key, resolves its peer within its instance,
//! and its hosts reach their own peer across the sites, IPv4 and IPv6; the other tenant's VLAN
//! carries none of that traffic, and frames of a VLAN the trunk does not carry are dropped. A
//! CPM moving tenant 100's VM leaves tenant 200's VM, at the same address, where it was.

use std::path::Path;
use std::time::Duration;

use tests::netns::{require_root, Namespace};
use tests::topology::{binary, kernel_side, link, Process};
use tests::underlay::{
    address, assert_cached, bridge_port, dpdk_side, lispctl, lispd_header, metric,
    ping_until_reply, route, scrape_metrics, start_lisp_ms, start_lispd, start_vlan_switch, stat,
    wait_for,
};

const MS: &str = "192.0.2.100";
/// Each tenant's VM (outside both sites' prefixes), at site A until a CPM moves tenant 100's.
const VM: &str = "10.9.0.50";
/// The hypervisor manager that sends CPMs, and its key.
const HYPERVISOR: &str = "192.0.2.200";
const HYPERVISOR_KEY: &str = "tenants-hypervisor";
const TENANTS: [u32; 2] = [100, 200];

/// A site: its xTR's namespace and one host namespace per tenant.
struct Site {
    xtr: Namespace,
    hosts: [Namespace; 2],
}

struct Net {
    core: Namespace,
    sites: [Site; 2],
}

/// Site `n` (1 or 2): tenant hosts `10.{n}.0.{10n}`, each on an access port (`h100`, `h200`) of
/// the VLAN switch whose trunk is the other end of the xTR's `eid0`.
fn site(core: &Namespace, n: u8) -> Site {
    let site = Site {
        xtr: Namespace::create(&format!("tx{n}")).unwrap(),
        hosts: [
            Namespace::create(&format!("th{n}a")).unwrap(),
            Namespace::create(&format!("th{n}b")).unwrap(),
        ],
    };
    bridge_port(core, &format!("x{n}"), &site.xtr, "up0");
    dpdk_side(&site.xtr, "up0");
    link(&site.xtr, "trunk", &site.xtr, "eid0").unwrap();
    dpdk_side(&site.xtr, "eid0");
    dpdk_side(&site.xtr, "trunk");
    for (host, tenant) in site.hosts.iter().zip(TENANTS) {
        let access = format!("h{tenant}");
        link(host, "eth0", &site.xtr, &access).unwrap();
        kernel_side(host, "eth0").unwrap();
        dpdk_side(&site.xtr, &access);
        address(
            host,
            "eth0",
            &[
                &format!("10.{n}.0.{}/24", 10 * n),
                &format!("2001:db8:{n}::{}/64", 10 * n),
            ],
        );
        route(
            host,
            &[
                ("default", &format!("10.{n}.0.1")),
                ("::/0", &format!("2001:db8:{n}::1")),
            ],
        );
    }
    // An access port on VLAN 300, which the xTR's trunk does not carry.
    link(&site.xtr, "stranger", &site.xtr, "h300").unwrap();
    dpdk_side(&site.xtr, "h300");
    site
}

fn build() -> Net {
    let core = Namespace::create("tnc").unwrap();
    core.ip(&["link", "add", "br0", "type", "bridge"]).unwrap();
    core.ip(&["link", "set", "br0", "up"]).unwrap();
    address(
        &core,
        "br0",
        &[
            "192.0.2.254/24",
            &format!("{MS}/24"),
            &format!("{HYPERVISOR}/24"),
        ],
    );
    let sites = [site(&core, 1), site(&core, 2)];
    Net { core, sites }
}

/// Site `n`'s xTR: a trunk with a VLAN, a map-server entry (each with its key) and the prefixes
/// per tenant.
fn xtr_config(dir: &Path, n: u8) -> String {
    let name = if n == 1 { "a" } else { "b" };
    let mut text = lispd_header(
        &[
            "net_af_packet0,iface=eid0,qpairs=2",
            "net_af_packet1,iface=up0,qpairs=2",
        ],
        dir,
        name,
    );
    let rloc = format!("192.0.2.{n}");
    text.push_str("\n[[port]]\nname = \"trunk\"\ndevice = \"net_af_packet0\"\nrole = \"eid\"\n");
    for tenant in TENANTS {
        text.push_str(&format!(
            r#"
[[port.vlan]]
id = {tenant}
name = "tenant{tenant}"
instance_id = {tenant}
addresses = ["10.{n}.0.1/24", "2001:db8:{n}::1/64"]
"#
        ));
    }
    // Each tenant has a VM at 10.9.0.50, living at site A: both xTRs know its record, the
    // hypervisor moves it with CPMs (not registered: no lisp-ms site owns it).
    let (a_priority, b_priority) = if n == 1 { (1, 255) } else { (255, 1) };
    for tenant in TENANTS {
        text.push_str(&format!(
            r#"
[[database]]
prefix = "{VM}/32"
instance_id = {tenant}
ttl_minutes = 1
register = false
[[database.locator]]
address = "192.0.2.1"
priority = {a_priority}
local = {a_local}
[[database.locator]]
address = "192.0.2.2"
priority = {b_priority}
local = {b_local}
"#,
            a_local = n == 1,
            b_local = n == 2,
        ));
    }
    for tenant in TENANTS {
        text.push_str(&format!(
            r#"
[[map_server]]
address = "{MS}"
key = "key-{name}{tenant}"
instance_id = {tenant}

[[database]]
prefix = "10.{n}.0.0/24"
instance_id = {tenant}
ttl_minutes = 1
[[database.locator]]
address = "{rloc}"
local = true

[[database]]
prefix = "2001:db8:{n}::/64"
instance_id = {tenant}
ttl_minutes = 1
[[database.locator]]
address = "{rloc}"
local = true
"#
        ));
    }
    text.push_str(&format!(
        r#"
[[port]]
name = "uplink"
device = "net_af_packet1"
role = "rloc"
addresses = ["{rloc}/24"]
gateways = ["192.0.2.254"]

[[map_resolver]]
address = "{MS}"

[cpm]
enabled = true
[[cpm.sender]]
address = "{HYPERVISOR}"
key = "{HYPERVISOR_KEY}"
"#
    ));
    text
}

/// lisp-ms: a site per site and tenant, each in its tenant's instance with its own key.
fn ms_config() -> String {
    let mut text = format!("listen = [\"{MS}:4342\"]\n");
    for (n, name) in [(1, "a"), (2, "b")] {
        for tenant in TENANTS {
            text.push_str(&format!(
                "\n[[site]]\nname = \"{name}{tenant}\"\nkey = \"key-{name}{tenant}\"\ninstance_id = {tenant}\nprefixes = [\"10.{n}.0.0/24\", \"2001:db8:{n}::/64\"]\n"
            ));
        }
    }
    text
}

/// Bytes tenant host `host` received.
fn received(host: &Namespace) -> u64 {
    host.exec("cat", &["/sys/class/net/eth0/statistics/rx_bytes"])
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn tenants_with_one_address_plan_reach_their_own_peers_only() {
    if let Err(e) = require_root() {
        panic!("this test needs root and iproute2: {e}");
    }
    let dir = std::env::temp_dir().join(format!("lisp-tenants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let net = build();
    for (n, name) in [(1, "a"), (2, "b")] {
        std::fs::write(dir.join(format!("{name}.toml")), xtr_config(&dir, n)).unwrap();
    }
    let access = [(100, "h100"), (200, "h200"), (300, "h300")];
    let mut switches = [
        start_vlan_switch(&dir, "vlan-switch-1", &net.sites[0].xtr, "trunk", &access),
        start_vlan_switch(&dir, "vlan-switch-2", &net.sites[1].xtr, "trunk", &access),
    ];
    let mut ms = start_lisp_ms(&dir, &net.core, &ms_config());
    let mut a = start_lispd(&dir, "a", &net.sites[0].xtr);
    let mut b = start_lispd(&dir, "b", &net.sites[1].xtr);
    for site in ["a", "b"] {
        for tenant in TENANTS {
            let n = if site == "a" { 1 } else { 2 };
            wait_for(
                &mut ms,
                &format!("registered {site}{tenant} 10.{n}.0.0/24"),
                Duration::from_secs(20),
            );
        }
    }
    let logs = |a: &Process, b: &Process| format!("{}\n{}", a.output(), b.output());
    // Each tenant reaches its own peer, IPv4 and IPv6, both ways.
    for (t, tenant) in TENANTS.iter().enumerate() {
        for (from, to) in [
            (&net.sites[0].hosts[t], "10.2.0.20"),
            (&net.sites[1].hosts[t], "10.1.0.10"),
            (&net.sites[0].hosts[t], "2001:db8:2::20"),
            (&net.sites[1].hosts[t], "2001:db8:1::10"),
        ] {
            assert!(
                ping_until_reply(from, to, Duration::from_secs(20)).is_some(),
                "tenant {tenant} never reached {to}:\n{}",
                logs(&a, &b)
            );
        }
    }
    // Tenant 100's traffic never reaches tenant 200's host with the same address.
    let before = received(&net.sites[1].hosts[1]);
    let own_before = received(&net.sites[1].hosts[0]);
    let b_metrics = || scrape_metrics(net.sites[1].xtr.name(), "127.0.0.1:9141".parse().unwrap());
    let decapsulated = |scrape: &str, tenant: u32| {
        let series = format!("lispd_instance_decapsulated_packets_total{{instance=\"{tenant}\"}}");
        metric(scrape, &series).unwrap_or_else(|| panic!("no {series} in:\n{scrape}"))
    };
    let counted_before = b_metrics();
    net.sites[0].hosts[0]
        .exec(
            "ping",
            &[
                "-c",
                "20",
                "-i",
                "0.1",
                "-s",
                "1000",
                "-W",
                "1",
                "10.2.0.20",
            ],
        )
        .expect("tenant 100's pings answered");
    let leaked = received(&net.sites[1].hosts[1]) - before;
    let delivered = received(&net.sites[1].hosts[0]) - own_before;
    assert!(
        delivered >= 20 * 1000,
        "tenant 100's host got {delivered} bytes"
    );
    assert!(leaked < 1000, "tenant 200's host got {leaked} bytes of it");
    // Site B counts them as tenant 100's packets, none as tenant 200's.
    let counted = b_metrics();
    assert!(decapsulated(&counted, 100) - decapsulated(&counted_before, 100) >= 20.0);
    assert_eq!(
        decapsulated(&counted, 200),
        decapsulated(&counted_before, 200)
    );
    // `lispctl show instances` sums each tenant up.
    let instances: serde_json::Value =
        serde_json::from_str(&lispctl(&dir, "b", &["--json", "show", "instances"])).unwrap();
    let tenant = |id: u32| {
        instances
            .as_array()
            .and_then(|all| all.iter().find(|i| i["instance_id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no instance {id} in {instances}"))
    };
    assert_eq!(tenant(100)["interfaces"], serde_json::json!(["tenant100"]));
    assert_eq!(tenant(200)["database_prefixes"], 3);
    assert!(tenant(100)["decapsulated"].as_f64() >= Some(decapsulated(&counted, 100)));
    assert_eq!(stat(&dir, "b", "drop_unknown_instance"), 0);
    // Frames on a VLAN the trunk does not carry are dropped and counted.
    let xtr_b = &net.sites[1].xtr;
    address(xtr_b, "stranger", &["10.9.0.2/24"]);
    xtr_b.ip(&["link", "set", "stranger", "up"]).unwrap();
    let _ = xtr_b.exec("ping", &["-c", "3", "-i", "0.2", "-W", "1", "10.9.0.1"]);
    assert!(
        stat(&dir, "b", "drop_unknown_vlan") >= 3,
        "ARP on VLAN 300 not counted:\n{}",
        b.output()
    );
    // lispctl shows each tenant's tables by instance.
    assert_cached(&dir, "a", (200, "10.2.0.20"), "10.2.0.0/24", "192.0.2.2");
    let db: serde_json::Value = serde_json::from_str(&lispctl(
        &dir,
        "a",
        &["--json", "show", "db", "--instance", "100"],
    ))
    .unwrap();
    let entries = db.as_array().expect("a list");
    assert_eq!(entries.len(), 3, "its two prefixes and its VM: {db}");
    assert!(entries.iter().all(|e| e["instance_id"] == 100), "{db}");
    // Metrics count each tenant's tables.
    let metrics = scrape_metrics(net.sites[0].xtr.name(), "127.0.0.1:9141".parse().unwrap());
    for line in [
        "lispd_database_prefixes{instance=\"100\"} 3",
        "lispd_database_prefixes{instance=\"200\"} 3",
    ] {
        assert!(metrics.contains(line), "{line}:\n{metrics}");
    }
    for tenant in TENANTS {
        let entries = metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "lispd_map_cache_entries{{instance=\"{tenant}\"}} "
                ))
            })
            .and_then(|n| n.parse::<u32>().ok());
        assert!(
            entries.is_some_and(|n| n >= 4),
            "tenant {tenant}: {entries:?}\n{metrics}"
        );
    }
    // A CPM tells site B that tenant 100's VM arrived: B's record of it in instance 100 takes
    // B's locator first; tenant 200's VM with the same address stays where it was.
    let record = |instance: &str| {
        let db: serde_json::Value = serde_json::from_str(&lispctl(
            &dir,
            "b",
            &["--json", "show", "db", "--instance", instance],
        ))
        .unwrap();
        db.as_array()
            .and_then(|all| {
                all.iter()
                    .find(|r| r.to_string().contains(&format!("{VM}/32")))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no VM record in instance {instance}: {db}"))
    };
    let (before_100, before_200) = (record("100"), record("200"));
    let lispctl_binary = binary("lispctl").unwrap();
    net.core
        .exec(
            lispctl_binary.to_str().unwrap(),
            &[
                "cpm",
                "--to",
                "192.0.2.2",
                "--from",
                HYPERVISOR,
                "--key",
                HYPERVISOR_KEY,
                "--eid",
                &format!("{VM}/32"),
                "--instance",
                "100",
                "--role",
                "arrived",
            ],
        )
        .expect("CPM sent");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while record("100") == before_100 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(
        record("100"),
        before_100,
        "the CPM changed nothing:\n{}",
        b.output()
    );
    assert_eq!(record("200"), before_200, "tenant 200's VM moved too");
    assert_eq!(stat(&dir, "b", "cpms_applied"), 1);
    for process in [&mut a, &mut b, &mut ms] {
        let status = process.stop();
        assert!(status.is_some_and(|s| s.success()), "{}", process.output());
    }
    for switch in &mut switches {
        switch.stop();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
