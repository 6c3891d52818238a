//! lisp-ms's loop on loopback: holding 200k registrations, an idle map-server wakes no more
//! often than an empty one (measured in loop wake-ups, not time).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use config::MapServerConfig;
use controlplane::clock::WallClock;
use controlplane::map_server::MapServer;
use controlplane::map_server_endpoints::Endpoints;
use controlplane::map_server_runner::{self as runner, RunnerStats};
use controlplane::wire::auth::AuthAlgorithm;

mod common;

use common::{record, register_message};

const REGISTRATIONS: u32 = 200_000;
const PER_MESSAGE: u32 = 200;

/// Map-Register `n`: 200 host routes of site A's IPv6 space, no Map-Notify wanted.
fn register(n: u32) -> Vec<u8> {
    let records = (0..PER_MESSAGE)
        .map(|i| {
            let host = n * PER_MESSAGE + i;
            let (high, low) = (host >> 16, host & 0xffff);
            record(&format!("2001:db8:a::{high:x}:{low:x}/128"), &["192.0.2.1"])
        })
        .collect();
    let mut message = register_message(u64::from(n) + 1, records, None);
    message.want_map_notify = false;
    message
        .signed(0, AuthAlgorithm::HmacSha256, b"demo-site-a")
        .unwrap()
}

/// Wake-ups of an idle loop over `idle`, after `messages` Map-Registers were served.
fn idle_wakeups(messages: u32, idle: Duration) -> (u64, usize) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let listen: SocketAddr = socket.local_addr().unwrap();
    let mut config = MapServerConfig::demo();
    config.listen = vec![listen];
    config.site[0].replay_protection = config::ReplayProtection::NonceMemory;
    config.site[0].limits.max_prefixes = REGISTRATIONS;
    config.site[0].limits.max_more_specifics = REGISTRATIONS;
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(RunnerStats::default());
    let server = {
        let (stop, stats) = (stop.clone(), stats.clone());
        std::thread::spawn(move || {
            let mut server = MapServer::new(config, WallClock::system(), Instant::now());
            runner::serve(
                &mut server,
                &[socket],
                &mut Endpoints::default(),
                &stop,
                &stats,
            )
            .unwrap();
            server.registrations().len()
        })
    };
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for n in 0..messages {
        client.send_to(&register(n), listen).unwrap();
        // One at a time, so that the socket buffer never drops one.
        while stats.datagrams.load(Ordering::Relaxed) < u64::from(n) {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while stats.datagrams.load(Ordering::Relaxed) < u64::from(messages) {
        assert!(
            Instant::now() < deadline,
            "map-server took {} of {messages} messages",
            stats.datagrams.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    let before = stats.wakeups.load(Ordering::Relaxed);
    std::thread::sleep(idle);
    let wakeups = stats.wakeups.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    let registered = server.join().unwrap();
    (wakeups, registered)
}

#[test]
fn an_idle_map_server_wakes_as_rarely_with_200k_registrations_as_with_none() {
    let idle = Duration::from_secs(3);
    let (empty, none) = idle_wakeups(0, idle);
    let (full, registered) = idle_wakeups(REGISTRATIONS / PER_MESSAGE, idle);
    assert_eq!(none, 0);
    assert_eq!(registered, REGISTRATIONS as usize);
    // The loop sleeps until a datagram or its next timer (180 s away here), at most 1 s.
    assert!(empty <= 4, "empty map-server woke {empty} times in 3 s");
    assert!(full <= 4, "200k registrations: woke {full} times in 3 s");
}
