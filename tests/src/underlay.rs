//! Building blocks of the underlay test beds that wire lispd processes (af_packet or tap ports)
//! into kernel namespaces: interfaces, addresses, routes, forwarding, and the head of a lispd
//! configuration for such a bed.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::netns::{unique_name, Namespace};
use crate::topology::{binary, kernel_side, link, Process};

/// The DPDK side of a veth: up, no kernel addresses, IPv6 off.
pub fn dpdk_side(ns: &Namespace, ifname: &str) {
    ns.exec(
        "sysctl",
        &["-qw", &format!("net.ipv6.conf.{ifname}.disable_ipv6=1")],
    )
    .unwrap();
    ns.ip(&["link", "set", ifname, "up"]).unwrap();
}

/// Routes IPv4 and IPv6 between the namespace's interfaces.
pub fn forwarding(ns: &Namespace) {
    for key in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
        ns.exec("sysctl", &["-qw", key]).unwrap();
    }
}

/// Adds `addresses` (CIDR, either family, IPv6 without DAD) to `dev`.
pub fn address(ns: &Namespace, dev: &str, addresses: &[&str]) {
    for address in addresses {
        ns.ip(&["addr", "add", address, "dev", dev, "nodad"])
            .or_else(|_| ns.ip(&["addr", "add", address, "dev", dev]))
            .unwrap();
    }
}

/// Adds routes (destination, next hop) of either family.
pub fn route(ns: &Namespace, routes: &[(&str, &str)]) {
    for (destination, via) in routes {
        ns.ip(&["route", "add", destination, "via", via]).unwrap();
    }
}

/// Two namespaces and, between them, IPv4 and IPv6 link networks `10.255.{n}.0/30` and
/// `fd00:{n}::/64` (`.1`/`::1` on `a`'s side).
pub fn routed_link(a: &Namespace, a_name: &str, b: &Namespace, b_name: &str, n: u8) {
    link(a, a_name, b, b_name).unwrap();
    kernel_side(a, a_name).unwrap();
    kernel_side(b, b_name).unwrap();
    address(
        a,
        a_name,
        &[&format!("10.255.{n}.1/30"), &format!("fd00:{n}::1/64")],
    );
    address(
        b,
        b_name,
        &[&format!("10.255.{n}.2/30"), &format!("fd00:{n}::2/64")],
    );
}

/// The head of a lispd configuration for vdevs `ports` (full devargs) on a shared 2-CPU
/// machine: no hugepages, one data core that sleeps when idle, fast probing and name refresh,
/// its management socket `{dir}/{name}.sock`.
pub fn lispd_header(ports: &[&str], dir: &Path, name: &str) -> String {
    let vdevs: Vec<String> = ports.iter().map(|p| format!("\"--vdev={p}\"")).collect();
    format!(
        r#"[dpdk]
eal_args = ["--no-huge", "-m", "512", "--no-shconf", "--no-pci", "--no-telemetry", {vdevs}]
file_prefix = "{prefix}"
mbuf_pool_size = 8191

[cores]
control = 0
data = [1]
idle_sleep_us = 100

[timers]
rloc_probe_interval_secs = 5
dns_refresh_secs = 1

[management]
socket = "{socket}"
state_directory = "{dir}"
"#,
        vdevs = vdevs.join(", "),
        prefix = unique_name("lispd"),
        socket = dir.join(format!("{name}.sock")).display(),
        dir = dir.display(),
    )
}

/// Waits until `process` logs `text`; how long that took. Fails the test with its log if it
/// does not within `limit`.
pub fn wait_for(process: &mut Process, text: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    assert!(
        process.wait_for(text, limit),
        "{} never logged {text:?}:\n{}",
        process.name,
        process.output()
    );
    start.elapsed()
}

/// Pings `to` from `from` until one answers; how long it took.
pub fn ping_until_reply(from: &Namespace, to: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if from.exec("ping", &["-c", "1", "-W", "1", to]).is_ok() {
            return Some(start.elapsed());
        }
    }
    None
}

/// Hangs `ns`'s end `name` of a new veth off the bridge `br0` in `core` (as `port` there).
pub fn bridge_port(core: &Namespace, port: &str, ns: &Namespace, name: &str) {
    link(core, port, ns, name).unwrap();
    core.ip(&["link", "set", port, "master", "br0"]).unwrap();
    kernel_side(core, port).unwrap();
}

/// Starts lisp-ms in `ns` on `config` (the file's text), logging to `{dir}/lisp-ms.log`.
pub fn start_lisp_ms(dir: &Path, ns: &Namespace, config: &str) -> Process {
    let file = dir.join("lisp-ms.toml");
    std::fs::write(&file, config).unwrap();
    Process::spawn(
        dir,
        "lisp-ms",
        ns.name(),
        &binary("lisp-ms").unwrap(),
        &["--config", file.to_str().unwrap()],
    )
    .unwrap()
}

/// Starts `lispd run` in `ns` on `{dir}/{name}.toml`, logging to `{dir}/lispd-{name}.log`.
pub fn start_lispd(dir: &Path, name: &str, ns: &Namespace) -> Process {
    let file = dir.join(format!("{name}.toml"));
    Process::spawn(
        dir,
        &format!("lispd-{name}"),
        ns.name(),
        &binary("lispd").unwrap(),
        &["run", "-c", file.to_str().unwrap()],
    )
    .unwrap()
}

/// `lispctl args` against the lispd whose socket is `{dir}/{name}.sock`: its output and errors.
pub fn lispctl(dir: &Path, name: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(binary("lispctl").unwrap())
        .arg("--socket")
        .arg(dir.join(format!("{name}.sock")))
        .args(args)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A counter of `lispctl show stats` (data path or control plane) of the lispd `name`.
pub fn stat(dir: &Path, name: &str, counter: &str) -> u64 {
    let stats: serde_json::Value =
        serde_json::from_str(&lispctl(dir, name, &["--json", "show", "stats"])).unwrap_or_default();
    ["data", "control_plane"]
        .iter()
        .find_map(|section| stats[section][counter].as_u64())
        .unwrap_or_else(|| panic!("no {counter} in {stats}"))
}

/// Runs `work` on a thread inside `namespace`.
pub fn inside<T: Send + 'static>(
    namespace: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let name = namespace.to_owned();
    std::thread::spawn(move || {
        crate::netns::enter_namespace(&name).expect("enter namespace");
        work()
    })
}

/// The body of `GET /metrics` from `address`, asked from inside `namespace`.
pub fn scrape_metrics(namespace: &str, address: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let scrape = inside(namespace, move || {
        let mut stream = std::net::TcpStream::connect(address).expect("metrics endpoint");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    })
    .join()
    .unwrap();
    let (head, body) = scrape.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// The 802.1Q switch of a trunk whose other end is a DPDK port: this kernel has no VLAN support
/// (no 8021q, no VLAN-filtering bridge, no tc vlan action), so `tests/scripts/vlan_switch.py`
/// joins `trunk` and the access interfaces (VLAN id, interface), all in `ns`, with packet
/// sockets. Output to `{dir}/{name}.log`.
pub fn start_vlan_switch(
    dir: &Path,
    name: &str,
    ns: &Namespace,
    trunk: &str,
    access: &[(u32, &str)],
) -> Process {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/vlan_switch.py");
    let ports: Vec<String> = access
        .iter()
        .map(|(vlan, ifname)| format!("{vlan}={ifname}"))
        .collect();
    let mut args = vec![script.to_str().unwrap(), trunk];
    args.extend(ports.iter().map(String::as_str));
    let mut switch = Process::spawn(dir, name, ns.name(), Path::new("python3"), &args).unwrap();
    wait_for(
        &mut switch,
        &format!("switching {trunk}"),
        Duration::from_secs(10),
    );
    switch
}

/// Asserts that lispd `name`'s map-cache in `instance` answers `address` with `prefix` toward
/// `rloc`.
pub fn assert_cached(
    dir: &Path,
    name: &str,
    (instance, address): (u32, &str),
    prefix: &str,
    rloc: &str,
) {
    let instance = instance.to_string();
    let cache = lispctl(
        dir,
        name,
        &["show", "cache", "--instance", &instance, address],
    );
    assert!(
        cache.contains(prefix) && cache.contains(rloc),
        "{name}, instance {instance}, {address}: {cache}"
    );
}

/// The value of the sample `series` (name and labels, e.g. `lispd_x{instance="7"}`) in a
/// metrics scrape, if it is there.
pub fn metric(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
