//! lisp-ms's machine on one core: authenticated Map-Registers per second (HMAC-SHA-256 verify,
//! parse, site and replay checks, merge, a signed Map-Notify back) and ECM Map-Requests per second
//! (forwarded to the registered ETR, or answered negatively), across 1,000 sites, against the
//! goals of 1M and 500k per second; and what an idle lisp-ms holding 200k registrations costs
//! (loop wake-ups and CPU of its thread).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};

use config::{MapServerConfig, NegativeAction, ReplayProtection, Site, SiteLimits};
use controlplane::clock::WallClock;
use controlplane::map_server::MapServer;
use controlplane::map_server_endpoints::Endpoints;
use controlplane::map_server_runner::{self as runner, RunnerStats};
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord, RequestRecord};
use controlplane::wire::registration::{Authenticated, MapRegisterRepr};

const SITES: u32 = 1000;
const MESSAGES: usize = 100_000;
const RUNS: usize = 5;

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n))
}

/// Site `i` owns 10.0.0.0/8's `i`-th /24.
fn site_prefix(i: u32) -> u32 {
    0x0a00_0000 | (i << 8)
}

fn config() -> MapServerConfig {
    let mut config = MapServerConfig::demo();
    config.negative_action = NegativeAction::NativelyForward;
    config.site = (0..SITES)
        .map(|i| Site {
            name: format!("site-{i}"),
            key: format!("key-of-site-{i}"),
            algorithm: config::AuthAlgorithm::HmacSha256,
            instance_id: 0,
            prefixes: vec![format!("{}/24", v4(site_prefix(i)))
                .parse()
                .expect("prefix")],
            accept_more_specifics: true,
            mobile_prefixes: Vec::new(),
            replay_protection: ReplayProtection::NonceMemory,
            max_clock_skew_secs: 120,
            limits: SiteLimits::default(),
        })
        .collect();
    config
}

/// The `n`-th Map-Register: site `n % SITES`, its /24 with one locator, a nonce never used.
fn register(n: u64) -> Vec<u8> {
    let site = (n % u64::from(SITES)) as u32;
    let mut record = EidRecord {
        mask_len: 24,
        ..host_record(v4(site_prefix(site)))
    };
    record.locators[0].address = Address::from(v4(0xc000_0000 | site));
    signed_register(n + 1, vec![record], &format!("key-of-site-{site}"))
}

/// A record for `eid` alone, with one locator.
fn host_record(eid: IpAddr) -> EidRecord {
    EidRecord {
        ttl: 1440,
        mask_len: if eid.is_ipv4() { 32 } else { 128 },
        action: Action::NoAction,
        authoritative: true,
        map_version: 0,
        eid: Address::from(eid),
        locators: vec![LocatorRecord::unicast(
            Address::from(v4(0xc000_0201)),
            1,
            100,
            true,
        )],
    }
}

/// A Map-Register of `records` asking for a Map-Notify, signed with `key`.
fn signed_register(nonce: u64, records: Vec<EidRecord>, key: &str) -> Vec<u8> {
    MapRegisterRepr {
        proxy_reply: false,
        security: false,
        rtr: false,
        want_map_notify: true,
        body: Authenticated {
            nonce,
            key_id: 0,
            algorithm_id: 0,
            auth_data: Vec::new(),
            records,
            xtr: None,
        },
    }
    .signed(0, AuthAlgorithm::HmacSha256, key.as_bytes())
    .expect("sign")
}

/// An ECM Map-Request for a host in 10.0.0.0/8 (registered when `n` is below `SITES * 256`).
fn request(n: u32) -> Vec<u8> {
    let eid = v4(0x0a00_0000 | (n.wrapping_mul(2_654_435_761) % (SITES << 8)));
    request_for(n, eid)
}

fn request_for(n: u32, eid: IpAddr) -> Vec<u8> {
    let mut message = Vec::new();
    MapRequestRepr::query(
        u64::from(n),
        Address::from(v4(0x0b00_0001)),
        vec![Address::from(v4(0xc000_0209))],
        vec![RequestRecord {
            mask_len: 32,
            eid: Address::from(eid),
        }],
    )
    .emit(&mut message)
    .expect("emit");
    let mut bytes = Vec::new();
    EcmRepr {
        security: false,
        ddt: false,
        to_etr: false,
        to_map_server: false,
        inner_source: v4(0xc000_0209),
        inner_destination: eid,
        inner_ttl: 64,
        source_port: 4342,
        destination_port: 4342,
        message,
    }
    .emit(&mut bytes)
    .expect("emit");
    bytes
}

/// Messages per second through `server`, median over runs; `check` validates each run.
fn rate(
    server: &mut MapServer,
    batches: &[Vec<Vec<u8>>],
    check: impl Fn(&MapServer, usize) -> Result<(), String>,
) -> Result<f64, String> {
    let from: SocketAddr = "192.0.2.9:4342".parse().map_err(|e| format!("{e}"))?;
    let mut rates = Vec::new();
    for (run, batch) in batches.iter().enumerate() {
        let now = Instant::now();
        let start = Instant::now();
        for message in batch {
            server.handle_datagram(from, message, now);
            while server.poll_transmit().is_some() {}
        }
        rates.push(batch.len() as f64 / start.elapsed().as_secs_f64());
        check(server, run + 1)?;
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

pub fn run() -> Result<(), String> {
    let start = Instant::now();
    let mut server = MapServer::new(config(), WallClock::system(), start);
    let registers: Vec<Vec<Vec<u8>>> = (0..RUNS)
        .map(|run| {
            (0..MESSAGES)
                .map(|i| register((run * MESSAGES + i) as u64))
                .collect()
        })
        .collect();
    let registers_per_sec = rate(&mut server, &registers, |s, runs| {
        let accepted = s.stats().registers_accepted;
        let expected = (runs * MESSAGES) as u64;
        (accepted == expected && s.stats().map_notifies_sent == expected)
            .then_some(())
            .ok_or_else(|| format!("accepted {accepted} of {expected}: {:?}", s.stats()))
    })?;
    let requests: Vec<Vec<Vec<u8>>> = (0..RUNS)
        .map(|_| (0..MESSAGES as u32).map(request).collect())
        .collect();
    let requests_per_sec = rate(&mut server, &requests, |s, runs| {
        let forwarded = s.stats().requests_forwarded;
        (forwarded == (runs * MESSAGES) as u64)
            .then_some(())
            .ok_or_else(|| format!("forwarded {forwarded}: {:?}", s.stats()))
    })?;
    let negatives: Vec<Vec<Vec<u8>>> = (0..RUNS)
        .map(|_| {
            (0..MESSAGES as u32)
                .map(|n| request_for(n, v4(0x0b00_0000 | n)))
                .collect()
        })
        .collect();
    let negatives_per_sec = rate(&mut server, &negatives, |_, _| Ok(()))?;
    let idle = idle_with_registrations()?;
    println!("map_registers_per_sec {registers_per_sec:.0} (HMAC verify + Map-Notify signed)");
    println!("map_requests_forwarded_per_sec {requests_per_sec:.0}");
    println!("negative_map_replies_per_sec {negatives_per_sec:.0}");
    println!(
        "idle_with_{IDLE_REGISTRATIONS}_registrations wakeups_per_sec {:.2} cpu_percent {:.3} (serving thread, {} s)",
        idle.wakeups_per_sec,
        idle.cpu_percent,
        IDLE_SECONDS
    );
    println!(
        "RATIO map_register_rate_vs_1m_goal {:.2}",
        registers_per_sec / 1_000_000.0
    );
    println!(
        "RATIO map_request_rate_vs_500k_goal {:.2}",
        requests_per_sec / 500_000.0
    );
    Ok(())
}

const IDLE_REGISTRATIONS: u32 = 200_000;
const IDLE_SECONDS: u64 = 5;

/// An idle map-server's cost.
struct Idle {
    wakeups_per_sec: f64,
    cpu_percent: f64,
}

/// CPU time of the calling thread.
fn thread_cpu() -> Result<Duration, String> {
    let usage = getrusage(UsageWho::RUSAGE_THREAD).map_err(|e| format!("getrusage: {e}"))?;
    let time =
        |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    Ok(time(usage.user_time()) + time(usage.system_time()))
}

/// lisp-ms's loop on a loopback socket, holding 200k host registrations of one site and
/// receiving nothing: how often it wakes and how much CPU its thread uses.
fn idle_with_registrations() -> Result<Idle, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    socket.set_nonblocking(true).map_err(|e| format!("{e}"))?;
    let mut config = config();
    config.listen = vec![socket.local_addr().map_err(|e| format!("{e}"))?];
    config.site.truncate(1);
    config.site[0].prefixes = vec!["2001:db8::/32".parse().map_err(|e| format!("{e}"))?];
    config.site[0].limits.max_prefixes = IDLE_REGISTRATIONS;
    config.site[0].limits.max_more_specifics = IDLE_REGISTRATIONS;
    let now = Instant::now();
    let mut server = MapServer::new(config, WallClock::system(), now);
    let from: SocketAddr = "192.0.2.9:4342".parse().map_err(|e| format!("{e}"))?;
    for n in 0..IDLE_REGISTRATIONS / 200 {
        let records = (0..200)
            .map(|i| {
                host_record(IpAddr::V6(Ipv6Addr::from(
                    0x2001_0db8_u128 << 96 | u128::from(n * 200 + i),
                )))
            })
            .collect();
        server.handle_datagram(
            from,
            &signed_register(u64::from(n) + 1, records, "key-of-site-0"),
            now,
        );
    }
    let registered = server.registrations().len();
    if registered != IDLE_REGISTRATIONS as usize {
        return Err(format!(
            "registered {registered} of {IDLE_REGISTRATIONS}: {:?}",
            server.stats()
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(RunnerStats::default());
    let serving = {
        let (stop, stats) = (stop.clone(), stats.clone());
        std::thread::spawn(move || -> Result<Duration, String> {
            let before = thread_cpu()?;
            runner::serve(
                &mut server,
                &[socket],
                &mut Endpoints::default(),
                &stop,
                &stats,
            )?;
            Ok(thread_cpu()? - before)
        })
    };
    std::thread::sleep(Duration::from_secs(IDLE_SECONDS));
    stop.store(true, Ordering::Relaxed);
    let cpu = serving
        .join()
        .map_err(|_| "serving thread panicked".to_owned())??;
    let seconds = IDLE_SECONDS as f64;
    Ok(Idle {
        wakeups_per_sec: stats.wakeups.load(Ordering::Relaxed) as f64 / seconds,
        cpu_percent: 100.0 * cpu.as_secs_f64() / seconds,
    })
}
