//! The xTR control core answering Map-Requests for its EIDs: requests per second through the
//! whole `Xtr` machine (parse, direct or ECM, longest match in a 10,000-prefix database, Map-Reply
//! emitted), against the goal of 100k per second on one core.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use controlplane::management::{CacheListing, LISTING_PAGE};
use controlplane::mobility::Mobility;
use controlplane::responder::ResponderLimits;
use controlplane::wire::address::Address;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord, RequestRecord};
use controlplane::xtr::{Xtr, XtrSetup, XtrTimers};
use dataplane::mapcache::{self, Mapping};

const PREFIXES: u32 = 10_000;
const REQUESTS: usize = 4096;
const RUNS: usize = 5;
const GOAL_PER_SEC: f64 = 100_000.0;

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n))
}

/// Our database: 10,000 /24s inside 10.0.0.0/8, each behind our RLOC.
fn database() -> Vec<EidRecord> {
    (0..PREFIXES)
        .map(|i| EidRecord {
            ttl: 1440,
            mask_len: 24,
            action: Action::NoAction,
            authoritative: true,
            map_version: 0,
            eid: Address::from(v4(0x0a00_0000 | (i << 8))),
            locators: vec![LocatorRecord::unicast(
                Address::from(v4(0xc000_0201)),
                1,
                100,
                true,
            )],
        })
        .collect()
}

/// The machine, its answer budgets out of the way: this measures the cost of an answer.
fn xtr(database: Vec<EidRecord>) -> Xtr {
    let now = Instant::now();
    let rlocs = vec![v4(0xc000_0201)];
    XtrSetup {
        database,
        rlocs,
        map_servers: vec![],
        map_resolvers: vec![],
        mobility: Mobility::new(false, false, vec![]),
        map_cache_limit: 2 * PREFIXES,
        timers: XtrTimers {
            responder: ResponderLimits {
                per_itr_rloc_per_sec: u32::MAX,
                overall_per_sec: u32::MAX,
                ..ResponderLimits::default()
            },
            ..XtrTimers::default()
        },
        ..XtrSetup::default()
    }
    .build(now)
}

/// Requests for random hosts of the database, direct or inside an ECM.
fn requests(encapsulated: bool) -> Vec<Vec<u8>> {
    (0..REQUESTS)
        .map(|i| {
            let prefix = (i as u32).wrapping_mul(2_654_435_761) % PREFIXES;
            let eid = v4(0x0a00_0000 | (prefix << 8) | 7);
            let request = MapRequestRepr::query(
                i as u64,
                Address::from(v4(0x0b00_0001)),
                vec![Address::from(v4(0xc000_0209))],
                vec![RequestRecord {
                    mask_len: 32,
                    eid: Address::from(eid),
                }],
            );
            let mut message = Vec::new();
            request.emit(&mut message).expect("emit");
            if !encapsulated {
                return message;
            }
            let mut bytes = Vec::new();
            EcmRepr {
                security: false,
                ddt: false,
                to_etr: true,
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
        })
        .collect()
}

/// Median requests per second answered, over several runs of 100k requests.
fn answered_per_sec(xtr: &mut Xtr, requests: &[Vec<u8>]) -> Result<f64, String> {
    let from: SocketAddr = "192.0.2.9:4342".parse().map_err(|e| format!("{e}"))?;
    let total = 100_000;
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        let before = xtr.stats().map_requests_answered;
        let now = Instant::now();
        let start = Instant::now();
        for request in requests.iter().cycle().take(total) {
            xtr.handle_datagram(from, request, now);
            while xtr.poll_transmit().is_some() {}
        }
        let elapsed = start.elapsed().as_secs_f64();
        let answered = xtr.stats().map_requests_answered - before;
        if answered != total as u64 {
            return Err(format!("answered {answered} of {total}"));
        }
        rates.push(total as f64 / elapsed);
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[RUNS / 2])
}

/// The longest single page of a whole-cache listing, and the whole listing, with `entries`
/// learned-looking /24s in the map-cache (the page is what one control-loop turn spends).
fn listing_times(entries: u32) -> Result<(Duration, Duration, usize), String> {
    let mut machine = XtrSetup {
        database: vec![],
        rlocs: vec![v4(0xc000_0201)],
        map_servers: vec![],
        map_resolvers: vec![],
        mobility: Mobility::new(false, false, vec![]),
        map_cache_limit: entries + 16,
        ..XtrSetup::default()
    }
    .build(Instant::now());
    for i in 0..entries {
        let prefix =
            ipnet::IpNet::new(v4(0x0a00_0000 + (i << 8)), 24).map_err(|e| e.to_string())?;
        let mapping = Mapping {
            action: mapcache::Action::Encapsulate,
            instance_id: None,
            map_version: 0,
            locators: vec![mapcache::Locator::new(
                v4(0xc612_0000 + i % 4096),
                1,
                100,
                true,
            )],
        };
        machine
            .map_cache
            .insert(prefix, mapping)
            .map_err(|e| e.to_string())?;
    }
    let now = Instant::now();
    let mut listing = CacheListing::default();
    let mut out = Vec::new();
    let (mut longest, started) = (Duration::ZERO, Instant::now());
    loop {
        out.clear();
        let page = Instant::now();
        let done = listing.next_page(&machine, now, &mut out);
        longest = longest.max(page.elapsed());
        if done {
            return Ok((longest, started.elapsed(), machine.map_cache.len()));
        }
    }
}

pub fn run() -> Result<(), String> {
    let mut longest_page = Duration::ZERO;
    for entries in [100_000, 1_000_000] {
        let (page, whole, listed) = listing_times(entries)?;
        println!(
            "show_cache entries {listed} longest_page_us {:.0} whole_listing_ms {:.0} ({LISTING_PAGE} entries per page, one page per control-loop turn)",
            page.as_secs_f64() * 1e6,
            whole.as_secs_f64() * 1e3
        );
        longest_page = longest_page.max(page);
    }
    println!(
        "RATIO show_cache_longest_page_vs_10ms_goal {:.3}",
        longest_page.as_secs_f64() / 0.010
    );
    let mut machine = xtr(database());
    let direct = answered_per_sec(&mut machine, &requests(false))?;
    let ecm = answered_per_sec(&mut machine, &requests(true))?;
    println!(
        "map_requests_answered_per_sec direct {direct:.0} (µs each {:.2})",
        1e6 / direct
    );
    println!(
        "map_requests_answered_per_sec ecm {ecm:.0} (µs each {:.2})",
        1e6 / ecm
    );
    println!(
        "RATIO map_request_rate_vs_100k_goal {:.2}",
        direct.min(ecm) / GOAL_PER_SEC
    );
    Ok(())
}
