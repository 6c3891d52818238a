//! `lispd run` as a real process on `net_af_packet` ports: a kernel host in an EID namespace sends
//! UDP that leaves encapsulated toward a namespace acting as the remote RLOC, and a LISP packet
//! sent from there is delivered to the host. Needs root (namespaces); fails clearly otherwise.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dataplane::wire::ipv4::{Ipv4Repr, PROTOCOL_UDP};
use dataplane::wire::udp;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tests::netns::{enter_namespace, unique_name, Namespace, Veth};

const HOST_MAC: &str = "02:00:00:00:01:10";
const REMOTE_MAC: &str = "02:00:00:00:02:02";

/// The lispd child: stopped with SIGTERM by [`LispdProcess::stop`], killed by PID if a failed
/// assertion drops it first.
struct LispdProcess(Option<std::process::Child>);

impl LispdProcess {
    fn stop(&mut self) -> std::process::Output {
        let child = self.0.take().expect("running");
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("signal lispd");
        child.wait_with_output().expect("lispd exits")
    }
}

impl Drop for LispdProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `work` on a thread inside `namespace` and returns its result.
fn in_namespace<T: Send + 'static>(
    namespace: &Namespace,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let name = namespace.name().to_owned();
    std::thread::spawn(move || {
        enter_namespace(&name).expect("enter namespace");
        work()
    })
}

#[test]
fn lispd_encapsulates_and_decapsulates_between_namespaces() {
    let host = Namespace::create("lhost").expect("host namespace (needs root)");
    let remote = Namespace::create("lrem").expect("remote namespace");
    let host_link = Veth::create(&host, Some("10.1.0.10/24")).expect("host veth");
    let remote_link = Veth::create(&remote, Some("192.0.2.2/24")).expect("remote veth");
    host.ip(&["link", "set", "dev", &host_link.inner, "address", HOST_MAC])
        .expect("host MAC");
    remote
        .ip(&[
            "link",
            "set",
            "dev",
            &remote_link.inner,
            "address",
            REMOTE_MAC,
        ])
        .expect("remote MAC");
    host.ip(&["route", "add", "default", "via", "10.1.0.1"])
        .expect("host route");

    let prefix = unique_name("lispd");
    let config = format!(
        r#"
[dpdk]
eal_args = ["--no-huge", "-m", "512", "--no-shconf", "--no-pci", "--no-telemetry",
            "--vdev=net_af_packet_{prefix}e,iface={eid},qpairs=2", "--vdev=net_af_packet_{prefix}r,iface={rloc},qpairs=2"]
file_prefix = "{prefix}"
mbuf_pool_size = 8191

[cores]
control = 0
data = [1]

[[port]]
name = "eid"
device = "net_af_packet_{prefix}e"
role = "eid"
addresses = ["10.1.0.1/24"]
[[port.neighbour]]
address = "10.1.0.10"
mac = "{HOST_MAC}"

[[port]]
name = "rloc"
device = "net_af_packet_{prefix}r"
role = "rloc"
addresses = ["192.0.2.1/24"]
[[port.neighbour]]
address = "192.0.2.2"
mac = "{REMOTE_MAC}"

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
        eid = host_link.outer,
        rloc = remote_link.outer,
    );
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lispd.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(config.as_bytes())
        .unwrap();

    let mut lispd = LispdProcess(Some(
        Command::new(env!("CARGO_BIN_EXE_lispd"))
            .args(["run", "-c", path.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lispd"),
    ));

    // Remote RLOC: a socket on UDP 4341 receives what lispd encapsulates.
    let (ready_tx, ready_rx) = mpsc::channel();
    let remote_rx = in_namespace(&remote, move || {
        let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 4341)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = socket
            .recv_from(&mut buf)
            .expect("an encapsulated packet reaches the remote RLOC");
        (buf[..n].to_vec(), from)
    });
    ready_rx.recv().unwrap();

    // Host: send until the remote has seen one (the first ones may race lispd's start-up).
    let host_tx = in_namespace(&host, move || {
        let socket = UdpSocket::bind("10.1.0.10:5000").unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut sent = 0;
        while Instant::now() < deadline && !remote_rx.is_finished() {
            let _ = socket.send_to(b"ping through lisp", "10.2.0.20:7000");
            sent += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
        (sent, remote_rx.join())
    });
    let (sent, received) = host_tx.join().unwrap();
    let (lisp, from) = received.expect("remote receiver");
    assert!(sent >= 1);
    assert_eq!(
        from.ip().to_string(),
        "192.0.2.1",
        "outer source is our RLOC"
    );
    assert_eq!(lisp[0] & 0x80, 0x80, "N bit: a nonce is present");
    let inner = &lisp[8..];
    assert_eq!(
        &inner[12..20],
        &[10, 1, 0, 10, 10, 2, 0, 20],
        "inner addresses"
    );
    assert_eq!(&inner[28..], b"ping through lisp");

    // Reverse: the remote sends a LISP packet to our RLOC; the host receives the inner datagram.
    let host_rx = in_namespace(&host, || {
        let socket = UdpSocket::bind("10.1.0.10:7001").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = socket
            .recv_from(&mut buf)
            .expect("the decapsulated datagram reaches the host");
        (buf[..n].to_vec(), from)
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut packet = vec![0x80, 0, 0, 1, 0, 0, 0, 0];
    let payload = b"pong from site B";
    let mut inner = vec![0u8; 28 + payload.len()];
    Ipv4Repr {
        src: Ipv4Addr::new(10, 2, 0, 20),
        dst: Ipv4Addr::new(10, 1, 0, 10),
        protocol: PROTOCOL_UDP,
        payload_len: (8 + payload.len()) as u16,
        ttl: 64,
        tos: 0,
    }
    .emit(&mut inner);
    udp::write_header(&mut inner[20..], 7000, 7001, payload.len() as u16);
    inner[28..].copy_from_slice(payload);
    packet.extend_from_slice(&inner);
    let sender = in_namespace(&remote, move || {
        let socket = UdpSocket::bind("192.0.2.2:4341").unwrap();
        for _ in 0..20 {
            let _ = socket.send_to(&packet, "192.0.2.1:4341");
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let (datagram, from) = host_rx.join().unwrap();
    assert_eq!(datagram, payload);
    assert_eq!(from.to_string(), "10.2.0.20:7000");
    sender.join().unwrap();

    let output = lispd.stop();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lispd exit: {stdout}\n{stderr}");
    assert!(stdout.contains("lispd: stopped"), "{stdout}");
    assert!(stdout.contains("  encapsulated "), "{stdout}");
    assert!(stdout.contains("  decapsulated "), "{stdout}");
    std::fs::remove_dir_all(dir).ok();
}
