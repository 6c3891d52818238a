//! `dpdk-dumpcap`, a DPDK secondary process, captures packets from a running lispd's port:
//! lispd serves capture requests (`rte_pdump_init`). Needs root and hugepages (a secondary
//! process shares the primary's hugepage memory; `scripts/setup.sh` reserves them).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::netns::{unique_name, Namespace};
use tests::topology::Process;

/// Enhanced Packet Blocks in a pcapng file.
fn packets_in_pcapng(bytes: &[u8]) -> usize {
    let mut packets = 0;
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        let (kind, len) = (word(at), word(at + 4) as usize);
        if len < 12 {
            break;
        }
        packets += usize::from(kind == 6);
        at += len;
    }
    packets
}

#[test]
fn dpdk_dumpcap_captures_a_running_lispd() {
    let pages: u32 = std::fs::read_to_string("/proc/sys/vm/nr_hugepages")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        pages > 0,
        "this test needs hugepages (scripts/setup.sh reserves them)"
    );
    let prefix = unique_name("pdump");
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        r#"
[dpdk]
eal_args = ["-m", "256", "--no-pci", "--no-telemetry",
            "--vdev=net_null0,size=64", "--vdev=net_null1,no-rx=1"]
file_prefix = "{prefix}"
mbuf_pool_size = 8191

[cores]
control = 0
data = [1]
cpus = [0, 1]
idle_sleep_us = 100

[[port]]
name = "inside"
device = "net_null0"
role = "eid"
addresses = ["10.1.0.1/24"]

[[port]]
name = "uplink"
device = "net_null1"
role = "rloc"
addresses = ["192.0.2.1/24"]

[[database]]
prefix = "10.1.0.0/24"
register = false
[[database.locator]]
address = "192.0.2.1"
local = true

[management]
socket = "{socket}"
metrics_listen = "127.0.0.1:0"
state_directory = "{dir}"
"#,
        socket = dir.join("lispd.sock").display(),
        dir = dir.display(),
    );
    let file = dir.join("lispd.toml");
    std::fs::write(&file, config).unwrap();
    let namespace = Namespace::create("lpd").expect("namespace (needs root)");
    namespace.ip(&["link", "set", "lo", "up"]).unwrap();
    let mut lispd = Process::spawn(
        &dir,
        "lispd",
        namespace.name(),
        std::path::Path::new(env!("CARGO_BIN_EXE_lispd")),
        &["run", "-c", file.to_str().unwrap()],
    )
    .unwrap();
    assert!(
        lispd.wait_for("ready", Duration::from_secs(20)),
        "{}",
        lispd.output()
    );
    assert!(
        !lispd
            .output()
            .contains("capture (dpdk-dumpcap) unavailable"),
        "{}",
        lispd.output()
    );

    let capture = dir.join("inside.pcapng");
    let mut dumpcap = Command::new("dpdk-dumpcap")
        .arg(format!("--file-prefix={prefix}"))
        .args(["-i", "net_null0", "-c", "10", "-q", "-w"])
        .arg(&capture)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dpdk-dumpcap (package dpdk)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while dumpcap.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = dumpcap.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = dumpcap.wait_with_output().unwrap();
    let bytes = std::fs::read(&capture).unwrap_or_default();
    assert!(
        out.status.success() && packets_in_pcapng(&bytes) >= 10,
        "dpdk-dumpcap: {}{}\nlispd: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        lispd.output()
    );
    let status = lispd.stop();
    assert!(status.is_some_and(|s| s.success()), "{}", lispd.output());
    let _ = std::fs::remove_dir_all(&dir);
}
