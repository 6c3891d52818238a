//! A counters command registered through the safe layer is served by DPDK's telemetry socket,
//! as `dpdk-telemetry.py` reads it: connect (SOCK_SEQPACKET), read the greeting, send the
//! command, get a JSON dictionary of the closure's values. EAL runs with telemetry on and its own
//! file prefix, so this is a test binary of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dpdk_bindings::{register_counters, EalBuilder};
use nix::sys::socket::{
    connect, recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr,
};

fn exchange(fd: &std::os::fd::OwnedFd, message: Option<&str>) -> serde_json::Value {
    use std::os::fd::AsRawFd;
    if let Some(message) = message {
        send(fd.as_raw_fd(), message.as_bytes(), MsgFlags::empty()).expect("send");
    }
    let mut buffer = vec![0u8; 16384];
    let n = recv(fd.as_raw_fd(), &mut buffer, MsgFlags::empty()).expect("recv");
    serde_json::from_slice(&buffer[..n]).expect("JSON")
}

#[test]
fn counters_are_served_on_the_telemetry_socket() {
    let prefix = format!("teltest{}", std::process::id());
    let eal = EalBuilder::new("telemetry-test")
        .args([
            "--no-huge",
            "-m",
            "128",
            "--no-pci",
            "--file-prefix",
            &prefix,
        ])
        .args(["--lcores", "0@0"])
        .init()
        .expect("EAL with telemetry");
    let hits = Arc::new(AtomicU64::new(0));
    let seen = hits.clone();
    register_counters(&eal, "/lisp/test", "Counters of the test.", move || {
        let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
        vec![("calls".into(), n), ("answer".into(), 42)]
    })
    .expect("register");
    assert!(register_counters(&eal, "no-slash", "", Vec::new).is_err());
    assert!(
        register_counters(&eal, "/lisp/test", "again", Vec::new).is_err(),
        "a duplicate command is refused"
    );

    let path = format!("/var/run/dpdk/{prefix}/dpdk_telemetry.v2");
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::empty(),
        None,
    )
    .expect("socket");
    let mut connected = false;
    for _ in 0..50 {
        if connect(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &UnixAddr::new(path.as_str()).unwrap(),
        )
        .is_ok()
        {
            connected = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(connected, "telemetry socket at {path}");
    let greeting = exchange(&fd, None);
    assert!(greeting["pid"].is_u64(), "{greeting}");
    let list = exchange(&fd, Some("/"));
    assert!(list.to_string().contains("/lisp/test"), "{list}");
    let reply = exchange(&fd, Some("/lisp/test"));
    assert_eq!(reply["/lisp/test"]["answer"], 42, "{reply}");
    assert_eq!(reply["/lisp/test"]["calls"], 1, "{reply}");
    assert_eq!(hits.load(Ordering::Relaxed), 1);
    drop(fd);
    drop(eal);
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
}
