//! lisp-ms's machine on one core: authenticated Map-Registers per second (HMAC-SHA-256 verify,
//! parse, site and replay checks, merge, a signed Map-Notify back) and ECM Map-Requests per second
//! (forwarded to the registered ETR, or answered negatively), across 1,000 sites, against the
//! goals of 200k and 500k per second.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use config::{MapServerConfig, NegativeAction, ReplayProtection, Site, SiteLimits};
use controlplane::clock::WallClock;
use controlplane::map_server::MapServer;
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord, RequestRecord};
use controlplane::wire::registration::{sign, Authenticated, MapRegisterRepr};

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
    let mut message = MapRegisterRepr {
        proxy_reply: false,
        security: false,
        rtr: false,
        want_map_notify: true,
        body: Authenticated {
            nonce: n + 1,
            key_id: 0,
            algorithm_id: 0,
            auth_data: Vec::new(),
            records: vec![EidRecord {
                ttl: 1440,
                mask_len: 24,
                action: Action::NoAction,
                authoritative: true,
                map_version: 0,
                eid: Address::from(v4(site_prefix(site))),
                locators: vec![LocatorRecord {
                    priority: 1,
                    weight: 100,
                    multicast_priority: 255,
                    multicast_weight: 0,
                    local: true,
                    probed: false,
                    reachable: true,
                    address: Address::from(v4(0xc000_0000 | site)),
                }],
            }],
            xtr: None,
        },
    };
    message.body.prepare_auth(0, AuthAlgorithm::HmacSha256);
    let mut bytes = Vec::new();
    message.emit(&mut bytes).expect("emit");
    sign(&mut bytes, format!("key-of-site-{site}").as_bytes()).expect("sign");
    bytes
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
    println!("map_registers_per_sec {registers_per_sec:.0} (HMAC verify + Map-Notify signed)");
    println!("map_requests_forwarded_per_sec {requests_per_sec:.0}");
    println!("negative_map_replies_per_sec {negatives_per_sec:.0}");
    println!(
        "RATIO map_register_rate_vs_200k_goal {:.2}",
        registers_per_sec / 200_000.0
    );
    println!(
        "RATIO map_request_rate_vs_500k_goal {:.2}",
        requests_per_sec / 500_000.0
    );
    Ok(())
}
