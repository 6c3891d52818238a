//! A `show-cache` of a large map-cache is written page by page (issue 20, item 7): each page is
//! bounded however large the cache, the pages together are the one JSON response line lispctl
//! reads, in prefix order, and a listing resumes correctly when the cache changes under it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use controlplane::management::{self, CacheListing, Reply, LISTING_PAGE};
use controlplane::mobility::Mobility;
use controlplane::xtr::{Xtr, XtrSetup};
use dataplane::mapcache::{Action, Locator, Mapping};
use ipnet::IpNet;
use serde_json::Value;

mod idle_appliance;
use idle_appliance::view;

fn xtr_with_entries(count: u32, now: Instant) -> Xtr {
    let mut xtr = XtrSetup {
        database: vec![],
        rlocs: vec!["192.0.2.1".parse().unwrap()],
        map_servers: vec![],
        map_resolvers: vec![],
        mobility: Mobility::new(false, false, vec![]),
        map_cache_limit: count + 10,
        ..XtrSetup::default()
    }
    .build(now);
    for i in 0..count {
        xtr.map_cache
            .insert(prefix(i), mapping(i))
            .expect("room for every entry");
    }
    xtr.map_cache.publish();
    xtr
}

fn prefix(i: u32) -> IpNet {
    IpNet::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (i << 8))), 24).unwrap()
}

fn mapping(i: u32) -> Mapping {
    Mapping {
        action: Action::Encapsulate,
        instance_id: None,
        map_version: 0,
        locators: vec![Locator::new(
            IpAddr::V4(Ipv4Addr::from(0xc612_0000 + (i % 4096))),
            1,
            100,
            true,
        )],
    }
}

/// Writes the whole listing; returns the bytes and the entries each page held.
fn list(listing: &mut CacheListing, xtr: &Xtr, now: Instant) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut pages = Vec::new();
    loop {
        let before = out.len();
        let done = listing.next_page(xtr, now, &mut out);
        let page = &out[before..];
        pages.push(page.windows(9).filter(|w| w == b"\"prefix\":").count());
        if done {
            return (out, pages);
        }
    }
}

#[test]
fn a_hundred_thousand_entries_are_listed_in_bounded_pages() {
    let now = Instant::now();
    let mut xtr = xtr_with_entries(100_000, now);
    let request = r#"{"version": 1, "command": "show-cache"}"#;
    let Reply::Listing(mut listing) = management::respond(request, &mut xtr, &view(), now) else {
        panic!("a whole-cache listing is streamed");
    };
    let (out, pages) = list(&mut listing, &xtr, now);
    assert!(
        pages.iter().all(|&n| n <= LISTING_PAGE),
        "every page is bounded"
    );
    assert_eq!(pages.len(), 100_000 / LISTING_PAGE + 1);
    assert_eq!(out.last(), Some(&b'\n'));
    let response: Value = serde_json::from_slice(&out).expect("one JSON line");
    assert_eq!(response["ok"], true);
    let entries = response["result"].as_array().unwrap();
    assert_eq!(entries.len(), 100_000);
    let prefixes: Vec<IpNet> = entries
        .iter()
        .map(|e| e["prefix"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(prefixes.windows(2).all(|w| w[0] < w[1]), "in prefix order");
}

#[test]
fn a_listing_resumes_after_its_last_entry_when_the_cache_changes() {
    let now = Instant::now();
    let mut xtr = xtr_with_entries(1000, now);
    let mut listing = CacheListing::default();
    let mut out = Vec::new();
    assert!(!listing.next_page(&xtr, now, &mut out));
    // Between pages: an entry already listed goes, one not yet listed goes, one is added.
    xtr.map_cache.remove(None, &prefix(0)).unwrap();
    xtr.map_cache.remove(None, &prefix(900)).unwrap();
    xtr.map_cache.insert(prefix(5000), mapping(5000)).unwrap();
    while !listing.next_page(&xtr, now, &mut out) {}
    let response: Value = serde_json::from_slice(&out).unwrap();
    let prefixes: Vec<String> = response["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["prefix"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        prefixes.len(),
        1000,
        "1000 - 1 not yet listed removed + 1 added"
    );
    assert!(
        prefixes.contains(&prefix(0).to_string()),
        "listed before it went"
    );
    assert!(!prefixes.contains(&prefix(900).to_string()));
    assert!(prefixes.contains(&prefix(5000).to_string()));
}

#[test]
fn an_empty_cache_is_an_empty_list() {
    let now = Instant::now();
    let xtr = xtr_with_entries(0, now);
    let (out, _) = list(&mut CacheListing::default(), &xtr, now);
    let response: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(response["result"], Value::Array(vec![]));
}

/// The entries of a listing's JSON line.
fn listed(out: &[u8]) -> Vec<IpNet> {
    let response: Value = serde_json::from_slice(out).expect("one JSON line");
    response["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["prefix"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// `within` lists only what lies inside the prefix, visiting only those keys; `count` stops
/// early; both stay paged.
#[test]
fn a_listing_filtered_by_prefix_and_count() {
    let now = Instant::now();
    // 10.0.0.0/24 .. 10.1.134.0/24: 10.1.0.0/16 holds the /24s 256..=390.
    let mut xtr = xtr_with_entries(100_000, now);
    let covering: IpNet = "10.1.0.0/16".parse().unwrap();
    xtr.map_cache.insert(covering, mapping(1)).unwrap();
    xtr.map_cache
        .insert("10.0.0.0/8".parse().unwrap(), mapping(2))
        .unwrap();
    xtr.map_cache.publish();
    let request = r#"{"version": 1, "command": "show-cache", "within": "10.1.0.0/16"}"#;
    let Reply::Listing(mut listing) = management::respond(request, &mut xtr, &view(), now) else {
        panic!("streamed");
    };
    let (out, pages) = list(&mut listing, &xtr, now);
    let prefixes = listed(&out);
    assert_eq!(
        prefixes.len(),
        256 + 1,
        "the /16 itself and its /24s, not the /8"
    );
    assert!(prefixes.iter().all(|p| covering.contains(p)));
    assert!(pages.iter().all(|&n| n <= LISTING_PAGE));

    let request =
        r#"{"version": 1, "command": "show-cache", "within": "10.1.0.0/16", "count": 10}"#;
    let Reply::Listing(mut listing) = management::respond(request, &mut xtr, &view(), now) else {
        panic!("streamed");
    };
    let (out, _) = list(&mut listing, &xtr, now);
    assert_eq!(listed(&out), prefixes[..10]);

    let mut everything = CacheListing::new(None, Some(LISTING_PAGE * 2));
    let (out, pages) = list(&mut everything, &xtr, now);
    assert_eq!(listed(&out).len(), LISTING_PAGE * 2);
    assert_eq!(pages.len(), 2, "stops at the count");

    let elsewhere = CacheListing::new(Some((None, "192.168.0.0/16".parse().unwrap())), None);
    let (out, _) = list(&mut { elsewhere }, &xtr, now);
    assert!(listed(&out).is_empty());
}
