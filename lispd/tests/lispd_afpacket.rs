//! `lispd run` as a real process on `net_af_packet` ports: a kernel host in an EID namespace sends
//! UDP that leaves encapsulated toward a namespace acting as the remote RLOC, and a LISP packet
//! sent from there is delivered to the host; IPv4-in-IPv4 and IPv6-in-IPv6, through lispd's ARP
//! and neighbour-discovery answers, with every neighbour MAC learned (none configured); and it
//! registers both EID prefixes with a map-server played by the remote namespace.
//! Needs root (namespaces); fails clearly otherwise.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::RequestRecord;
use controlplane::wire::registration::{self, MapNotifyRepr, MapRegisterRepr};
use controlplane::wire::MessageType;
use dataplane::wire::datagram;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tests::netns::{enter_namespace, unique_name, Namespace, Veth};

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

#[derive(Debug, Clone, Copy)]
enum Family {
    V4,
    V6,
}

/// Addresses of one exchange: host EID, remote EID, our RLOC, the remote RLOC.
fn addresses(family: Family) -> (IpAddr, IpAddr, IpAddr, IpAddr) {
    let parse = |s: &str| s.parse::<IpAddr>().unwrap();
    match family {
        Family::V4 => (
            parse("10.1.0.10"),
            parse("10.2.0.20"),
            parse("192.0.2.1"),
            parse("192.0.2.2"),
        ),
        Family::V6 => (
            parse("2001:db8:a::10"),
            parse("2001:db8:b::20"),
            parse("2001:db8:ff::1"),
            parse("2001:db8:ff::2"),
        ),
    }
}

/// Host → remote (encapsulated by lispd) and remote → host (decapsulated by lispd).
fn exchange(host: &Namespace, remote: &Namespace, family: Family) {
    let (host_eid, remote_eid, our_rloc, remote_rloc) = addresses(family);
    let (ready_tx, ready_rx) = mpsc::channel();
    let remote_rx = in_namespace(remote, move || {
        let socket = UdpSocket::bind(SocketAddr::new(remote_rloc, 4341)).unwrap();
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
    let host_tx = in_namespace(host, move || {
        let socket = UdpSocket::bind(SocketAddr::new(host_eid, 5000)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline && !remote_rx.is_finished() {
            let _ = socket.send_to(b"ping through lisp", SocketAddr::new(remote_eid, 7000));
            std::thread::sleep(Duration::from_millis(200));
        }
        remote_rx.join()
    });
    let (lisp, from) = host_tx.join().unwrap().expect("remote receiver");
    assert_eq!(from.ip(), our_rloc, "{family:?}: outer source is our RLOC");
    assert_eq!(lisp[0] & 0x80, 0x80, "N bit: a nonce is present");
    let inner = &lisp[8..];
    let (header, addresses) = match family {
        Family::V4 => (20, [&inner[12..16], &inner[16..20]]),
        Family::V6 => (40, [&inner[8..24], &inner[24..40]]),
    };
    let octets = |a: IpAddr| match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    assert_eq!(
        addresses,
        [octets(host_eid).as_slice(), octets(remote_eid).as_slice()],
        "{family:?}: inner addresses"
    );
    assert_eq!(&inner[header + 8..], b"ping through lisp");

    let host_rx = in_namespace(host, move || {
        let socket = UdpSocket::bind(SocketAddr::new(host_eid, 7001)).unwrap();
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
    let payload = b"pong from site B";
    let mut packet = vec![0x80, 0, 0, 1, 0, 0, 0, 0];
    packet.extend_from_slice(
        &datagram::build(
            SocketAddr::new(remote_eid, 7000),
            SocketAddr::new(host_eid, 7001),
            payload,
        )
        .unwrap(),
    );
    let sender = in_namespace(remote, move || {
        let socket = UdpSocket::bind(SocketAddr::new(remote_rloc, 4341)).unwrap();
        for _ in 0..20 {
            let _ = socket.send_to(&packet, SocketAddr::new(our_rloc, 4341));
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let (datagram, from) = host_rx.join().unwrap();
    assert_eq!(datagram, payload, "{family:?}");
    assert_eq!(from, SocketAddr::new(remote_eid, 7000));
    sender.join().unwrap();
}

/// Plays the map-server: receives a Map-Register signed with its key, answers with a Map-Notify,
/// and checks that no Map-Notify-Ack follows. Returns the registered prefixes.
fn map_server() -> Vec<String> {
    let key = b"e2e-key";
    let socket = UdpSocket::bind("192.0.2.2:4342").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let (n, xtr) = loop {
        let (n, from) = socket.recv_from(&mut buf).expect("a Map-Register arrives");
        if MessageType::of(&buf[..n]) == Ok(MessageType::MapRegister) {
            break (n, from);
        }
    };
    let register = &buf[..n];
    // The HMAC, recomputed here with the hmac crate: SHA-256 over the message with the
    // authentication field (after the 16-byte header, its length at bytes 14..16) zeroed.
    let auth_len = usize::from(u16::from_be_bytes([register[14], register[15]]));
    assert_eq!(
        (register[13], auth_len),
        (2, 32),
        "HMAC-SHA-256-128 carried in full"
    );
    let mut zeroed = register.to_vec();
    zeroed[16..16 + auth_len].fill(0);
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(key).unwrap();
    hmac::Mac::update(&mut mac, &zeroed);
    assert_eq!(
        hmac::Mac::finalize(mac).into_bytes().as_slice(),
        &register[16..16 + auth_len],
        "signed with our key"
    );
    let request = MapRegisterRepr::parse(register).unwrap();
    assert!(request.want_map_notify);
    let prefixes = request
        .body
        .records
        .iter()
        .map(|r| format!("{}/{}", r.eid, r.mask_len))
        .collect();
    let mut notify = MapNotifyRepr {
        ack: false,
        rtr: false,
        body: request.body,
    };
    notify.body.prepare_auth(0, AuthAlgorithm::HmacSha256);
    let mut bytes = Vec::new();
    notify.emit(&mut bytes).unwrap();
    registration::sign(&mut bytes, key).unwrap();
    socket.send_to(&bytes, xtr).unwrap();
    // A Map-Notify answering our Map-Register is not acknowledged (RFC 9301; deployed
    // map-servers choke on the ack). lispd also RLOC-probes this address (a map-cache
    // locator): its probes are all that may come for two seconds.
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let quiet_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < quiet_until {
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            assert_ne!(
                MessageType::of(&buf[..n]),
                Ok(MessageType::MapNotifyAck),
                "no Map-Notify-Ack for a solicited Map-Notify"
            );
        }
    }
    prefixes
}

/// An SMR for 250 EIDs (about 2 KB) from the remote RLOC over IPv6: the kernel sends it in two
/// fragments over the 1500-byte link, as a big SMR or Map-Reply arrives from a real xTR. (Over
/// IPv4 the af_packet PMD's fanout has the kernel reassemble before lispd sees the fragments, so
/// IPv4 reassembly is covered by the machine tests in `tests/reassembly.rs`.)
fn send_fragmented_smr() {
    let records = (0..250u32)
        .map(|i| RequestRecord {
            mask_len: 32,
            eid: Address::from(IpAddr::from([10, 2, 0, i as u8])),
        })
        .collect();
    let mut smr = MapRequestRepr::query(
        77,
        Address::from(IpAddr::from([10, 2, 0, 1])),
        vec![Address::from("2001:db8:ff::2".parse::<IpAddr>().unwrap())],
        records,
    );
    smr.smr = true;
    let mut bytes = Vec::new();
    smr.emit(&mut bytes).unwrap();
    assert!(
        bytes.len() > 1500,
        "{} bytes: must not fit one frame",
        bytes.len()
    );
    let socket = UdpSocket::bind("[2001:db8:ff::2]:0").unwrap();
    socket.send_to(&bytes, "[2001:db8:ff::1]:4342").unwrap();
    std::thread::sleep(Duration::from_millis(500));
}

/// Issue 20, item 2: 10k LISP packets to random on-link inner IPv6 destinations and 10k
/// Map-Requests naming random on-link ITR-RLOCs, as fast as the remote can send them.
fn neighbour_flood() {
    let data = UdpSocket::bind("192.0.2.2:4341").unwrap();
    let control = UdpSocket::bind("192.0.2.2:0").unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..10_000u32 {
        let low = next();
        let inner = IpAddr::from([
            0x20,
            0x01,
            0x0d,
            0xb8,
            0,
            0x0a,
            0,
            0,
            (low >> 56) as u8,
            (low >> 48) as u8,
            (low >> 40) as u8,
            (low >> 32) as u8,
            (low >> 24) as u8,
            (low >> 16) as u8,
            (low >> 8) as u8,
            low as u8,
        ]);
        let mut packet = vec![0x80, 0, 0, 1, 0, 0, 0, 0];
        packet.extend_from_slice(
            &datagram::build(
                SocketAddr::new("2001:db8:b::20".parse().unwrap(), 7000),
                SocketAddr::new(inner, 7001),
                b"flood",
            )
            .unwrap(),
        );
        let _ = data.send_to(&packet, "192.0.2.1:4341");
        let itr_rloc = IpAddr::from([192, 0, 2, 3 + (next() % 250) as u8]);
        let request = MapRequestRepr::query(
            u64::from(i),
            Address::from(IpAddr::from([10, 2, 0, 20])),
            vec![Address::from(itr_rloc)],
            vec![RequestRecord {
                mask_len: 32,
                eid: Address::from(IpAddr::from([10, 1, 0, 10])),
            }],
        );
        let mut bytes = Vec::new();
        request.emit(&mut bytes).unwrap();
        let _ = control.send_to(&bytes, "192.0.2.1:4342");
    }
}

#[test]
fn lispd_encapsulates_and_decapsulates_between_namespaces() {
    forward_between_namespaces(1);
    // Two data cores on one CPU (`[cores] cpus`), each with its own af_packet queues.
    forward_between_namespaces(2);
}

fn forward_between_namespaces(data_cores: u16) {
    let host = Namespace::create("lhost").expect("host namespace (needs root)");
    let remote = Namespace::create("lrem").expect("remote namespace");
    let host_link = Veth::create(&host, Some("10.1.0.10/24")).expect("host veth");
    let remote_link = Veth::create(&remote, Some("192.0.2.2/24")).expect("remote veth");
    host.ip(&["route", "add", "default", "via", "10.1.0.1"])
        .expect("host route");
    // IPv6 addresses are flushed when a link goes down: keep them while lispd's ports start.
    for (namespace, link, address) in [
        (&host, &host_link, "2001:db8:a::10/64"),
        (&remote, &remote_link, "2001:db8:ff::2/64"),
    ] {
        let keep = format!("net.ipv6.conf.{}.keep_addr_on_down=1", link.inner);
        namespace
            .exec("sysctl", &["-qw", &keep])
            .expect("keep IPv6 addresses");
        namespace
            .ip(&["-6", "addr", "add", address, "dev", &link.inner, "nodad"])
            .expect("IPv6 address");
    }
    host.ip(&["-6", "route", "add", "default", "via", "2001:db8:a::1"])
        .expect("host IPv6 route");
    let prefix = unique_name("lispd");
    let config = format!(
        r#"
[dpdk]
eal_args = ["--no-huge", "-m", "512", "--no-shconf", "--no-pci", "--no-telemetry",
            "--vdev=net_af_packet_{prefix}e,iface={eid},qpairs={qpairs}", "--vdev=net_af_packet_{prefix}r,iface={rloc},qpairs={qpairs}"]
file_prefix = "{prefix}"
mbuf_pool_size = 8191

[cores]
control = 0
data = {data:?}
cpus = {cpus:?}
idle_sleep_us = 50

[[port]]
name = "eid"
device = "net_af_packet_{prefix}e"
role = "eid"
addresses = ["10.1.0.1/24", "2001:db8:a::1/64"]

[[port]]
name = "rloc"
device = "net_af_packet_{prefix}r"
role = "rloc"
addresses = ["192.0.2.1/24", "2001:db8:ff::1/64"]

[management]
socket = "{socket}"
metrics_listen = "127.0.0.1:0"

[[map_server]]
address = "192.0.2.2"
key = "e2e-key"
algorithm = "hmac-sha256"

[[database]]
prefix = "10.1.0.0/24"
[[database.locator]]
address = "192.0.2.1"
local = true

[[database]]
prefix = "2001:db8:a::/64"
[[database.locator]]
address = "2001:db8:ff::1"
local = true

[[map_cache]]
prefix = "10.2.0.0/24"
[[map_cache.locator]]
address = "192.0.2.2"

[[map_cache]]
prefix = "2001:db8:b::/64"
[[map_cache.locator]]
address = "2001:db8:ff::2"
"#,
        eid = host_link.outer,
        rloc = remote_link.outer,
        qpairs = data_cores + 1,
        data = (1..=data_cores).collect::<Vec<_>>(),
        cpus = std::iter::once(0)
            .chain((0..data_cores).map(|_| 1))
            .collect::<Vec<_>>(),
        socket = std::env::temp_dir()
            .join(&prefix)
            .join("lispd.sock")
            .display(),
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

    let map_server = in_namespace(&remote, map_server);
    for family in [Family::V4, Family::V6] {
        exchange(&host, &remote, family);
    }
    let registered = map_server.join().expect("map-server");
    assert_eq!(
        registered,
        vec!["10.1.0.0/24".to_owned(), "2001:db8:a::/64".to_owned()]
    );
    in_namespace(&remote, send_fragmented_smr)
        .join()
        .expect("SMR sent");
    let flood_started = Instant::now();
    in_namespace(&remote, neighbour_flood)
        .join()
        .expect("flood sent");
    std::thread::sleep(Duration::from_secs(2));

    let output = lispd.stop();
    let flood_seconds = flood_started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lispd exit: {stdout}\n{stderr}");
    assert!(stdout.contains("lispd: stopped"), "{stdout}");
    assert!(stdout.contains("  encapsulated "), "{stdout}");
    assert!(stdout.contains("  decapsulated "), "{stdout}");
    assert!(stdout.contains("neighbour_advertisements "), "{stdout}");
    assert!(
        stdout.contains("  busy_cycles ") && stdout.contains(" cycles/packet "),
        "data cores account the cycles of the polls that received something: {stdout}"
    );
    for line in stdout.lines().filter(|l| l.contains("data core")) {
        println!("{data_cores} data core(s):{line}");
    }
    for lcore in 1..=data_cores {
        assert!(
            stdout.contains(&format!("data core {lcore}: ")),
            "every data core ran and reported: {stdout}"
        );
    }
    for counter in [
        "fragments_received 2 ",
        "datagrams_reassembled 1 ",
        "smrs_received 1",
    ] {
        assert!(
            stdout.contains(counter),
            "the SMR sent in two fragments was reassembled and processed: {stdout}"
        );
    }
    let count = |name: &str| {
        stdout
            .split(&format!(" {name} "))
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let solicitations = count("resolutions_sent");
    println!(
        "neighbour flood: {solicitations} solicitations in {flood_seconds:.1} s, \
         {} wants refused (table full), {} Map-Requests answered, {} rate-limited",
        count("neighbour_wants_refused_full"),
        count("map_requests_answered"),
        count("map_requests_rate_limited"),
    );
    assert!(
        solicitations <= 200.0 * (flood_seconds + 1.0) + 10.0,
        "solicitations keep to their budget: {stdout}"
    );
    let learned = stdout
        .split("neighbours_learned ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u32>().ok());
    assert!(
        learned >= Some(4),
        "host and remote, IPv4 and IPv6, learned without static MACs: {stdout}"
    );
    std::fs::remove_dir_all(dir).ok();
}
