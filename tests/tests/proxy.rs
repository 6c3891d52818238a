//! The proxy roles with real processes: a non-LISP host N reaches site S's EIDs through our PxTR
//! P (its proxy-ITR encapsulates N's packets, whose source is no EID, toward S), and S's hosts
//! reach N through P (S sends non-LISP traffic to P as its PETR; P's proxy-ETR decapsulates and
//! forwards it natively by its uplink's gateway). Then P's allowed ITRs are reloaded to a list
//! without S: S's traffic to N is dropped and counted, and reloading S back in restores it.
//!
//! The core routes S's EID prefix toward P's EID-side port, as the BGP advertisement of a real
//! PITR would.

use std::path::Path;
use std::time::Duration;

use tests::netns::{require_root, Namespace};
use tests::topology::{kernel_side, link, Process};
use tests::underlay::{
    address, bridge_port, dpdk_side, forwarding, lispctl, lispd_header, ping_until_reply, route,
    start_lisp_ms, start_lispd, stat, wait_for,
};

const MS: &str = "192.0.2.100";
const S_RLOC: &str = "192.0.2.10";
const P_RLOC: &str = "192.0.2.20";
const S_HOST: &str = "10.1.0.10";
const N_HOST: &str = "198.51.100.7";

struct Net {
    core: Namespace,
    s: Namespace,
    s_host: Namespace,
    p: Namespace,
    n: Namespace,
}

fn build() -> Net {
    let net = Net {
        core: Namespace::create("pxc").unwrap(),
        s: Namespace::create("pxs").unwrap(),
        s_host: Namespace::create("pxsh").unwrap(),
        p: Namespace::create("pxp").unwrap(),
        n: Namespace::create("pxn").unwrap(),
    };
    let core = &net.core;
    core.ip(&["link", "add", "br0", "type", "bridge"]).unwrap();
    core.ip(&["link", "set", "br0", "up"]).unwrap();
    address(core, "br0", &["192.0.2.254/24", &format!("{MS}/24")]);
    forwarding(core);
    for (port, ns) in [("s0", &net.s), ("p0", &net.p)] {
        bridge_port(core, port, ns, "up0");
        dpdk_side(ns, "up0");
    }
    // Site S's host.
    link(&net.s_host, "eth0", &net.s, "eid0").unwrap();
    kernel_side(&net.s_host, "eth0").unwrap();
    address(&net.s_host, "eth0", &[&format!("{S_HOST}/24")]);
    route(&net.s_host, &[("default", "10.1.0.1")]);
    dpdk_side(&net.s, "eid0");
    // P's EID side faces the non-LISP world: the core sends EID space there.
    link(core, "px0", &net.p, "eid0").unwrap();
    kernel_side(core, "px0").unwrap();
    address(core, "px0", &["10.250.0.2/24"]);
    route(core, &[("10.1.0.0/24", "10.250.0.1")]);
    dpdk_side(&net.p, "eid0");
    // N, a host of the non-LISP Internet.
    link(&net.n, "eth0", core, "n0").unwrap();
    kernel_side(&net.n, "eth0").unwrap();
    kernel_side(core, "n0").unwrap();
    address(&net.n, "eth0", &[&format!("{N_HOST}/24")]);
    address(core, "n0", &["198.51.100.1/24"]);
    route(&net.n, &[("default", "198.51.100.1")]);
    net
}

fn s_config(dir: &Path) -> String {
    format!(
        r#"{head}
[[port]]
name = "inside"
device = "net_af_packet0"
role = "eid"
addresses = ["10.1.0.1/24"]

[[port]]
name = "uplink"
device = "net_af_packet1"
role = "rloc"
addresses = ["{S_RLOC}/24"]
gateways = ["192.0.2.254"]

[[map_server]]
address = "{MS}"
key = "key-s"

[[map_resolver]]
address = "{MS}"

[[petr]]
address = "{P_RLOC}"
send_misses = true

[[database]]
prefix = "10.1.0.0/24"
ttl_minutes = 1
[[database.locator]]
address = "{S_RLOC}"
local = true
"#,
        head = lispd_header(
            &[
                "net_af_packet0,iface=eid0,qpairs=2",
                "net_af_packet1,iface=up0,qpairs=2"
            ],
            dir,
            "s"
        ),
    )
}

/// The PxTR, forwarding for the ITRs in `allowed`.
fn p_config(header: &str, allowed: &str) -> String {
    format!(
        r#"{header}
[roles]
proxy_itr = true
proxy_etr = true
proxy_etr_allowed = [{allowed}]

[[port]]
name = "internet"
device = "net_af_packet0"
role = "eid"
addresses = ["10.250.0.1/24"]
gateways = ["10.250.0.2"]

[[port]]
name = "uplink"
device = "net_af_packet1"
role = "rloc"
addresses = ["{P_RLOC}/24"]
gateways = ["192.0.2.254"]

[[map_resolver]]
address = "{MS}"
"#
    )
}

#[test]
fn a_non_lisp_host_and_a_site_reach_each_other_through_the_pxtr() {
    if let Err(e) = require_root() {
        panic!("this test needs root and iproute2: {e}");
    }
    let dir = std::env::temp_dir().join(format!("lisp-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let net = build();
    let ms_config = format!(
        "listen = [\"{MS}:4342\"]\nnegative_action = \"natively-forward\"\n\n[[site]]\nname = \"s\"\nkey = \"key-s\"\nprefixes = [\"10.1.0.0/24\"]\n"
    );
    let p_header = lispd_header(
        &[
            "net_af_packet0,iface=eid0,qpairs=2",
            "net_af_packet1,iface=up0,qpairs=2",
        ],
        &dir,
        "p",
    );
    let p_file = dir.join("p.toml");
    let with_s = format!("\"{S_RLOC}/32\"");
    std::fs::write(&p_file, p_config(&p_header, &with_s)).unwrap();
    std::fs::write(dir.join("s.toml"), s_config(&dir)).unwrap();
    let mut ms = start_lisp_ms(&dir, &net.core, &ms_config);
    let mut p = start_lispd(&dir, "p", &net.p);
    let mut s = start_lispd(&dir, "s", &net.s);
    wait_for(&mut ms, "registered s 10.1.0.0/24", Duration::from_secs(20));
    let logs = |p: &Process, s: &Process| format!("{}\n{}", p.output(), s.output());

    // N reaches S's host: P's proxy-ITR there, S's proxy-ETR-bound replies back.
    assert!(
        ping_until_reply(&net.n, S_HOST, Duration::from_secs(20)).is_some(),
        "N never reached S's host:\n{}",
        logs(&p, &s)
    );
    // And S's host reaches N.
    assert!(
        ping_until_reply(&net.s_host, N_HOST, Duration::from_secs(20)).is_some(),
        "S's host never reached N:\n{}",
        logs(&p, &s)
    );
    assert!(stat(&dir, "p", "encapsulated") >= 2, "P's proxy-ITR");
    assert!(stat(&dir, "p", "proxy_etr_forwarded") >= 2, "P's proxy-ETR");
    assert_eq!(stat(&dir, "p", "drop_proxy_etr_not_allowed"), 0);

    // P forwards only for other ITRs now: S's traffic to N is dropped and counted.
    std::fs::write(&p_file, p_config(&p_header, "\"198.51.100.0/24\"")).unwrap();
    let answer = lispctl(&dir, "p", &["reload"]);
    assert!(answer.contains("roles"), "reloaded: {answer}");
    assert!(
        net.s_host
            .exec("ping", &["-c", "3", "-i", "0.2", "-W", "1", N_HOST])
            .is_err(),
        "S's traffic is refused"
    );
    assert!(stat(&dir, "p", "drop_proxy_etr_not_allowed") >= 3);
    std::fs::write(&p_file, p_config(&p_header, &with_s)).unwrap();
    lispctl(&dir, "p", &["reload"]);
    assert!(
        ping_until_reply(&net.s_host, N_HOST, Duration::from_secs(10)).is_some(),
        "S reaches N again:\n{}",
        logs(&p, &s)
    );
    for process in [&mut p, &mut s, &mut ms] {
        let status = process.stop();
        assert!(status.is_some_and(|s| s.success()), "{}", process.output());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
