//! The BGP-like IPv4 map-cache the data-path suites share: 1M unique prefixes of /16 to /24
//! (mostly /24, as in a DFZ table) outside 10.0.0.0/8, where the benchmarks put their own EIDs,
//! and outside 192.0.0.0/16, where they put their RLOCs.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use rand::rngs::SmallRng;
use rand::RngExt;

pub const DEFAULT_COUNT: usize = 1_000_000;

/// The table size: `BENCH_PREFIXES` if set (smaller tables for profiling), else 1M.
pub fn count() -> usize {
    std::env::var("BENCH_PREFIXES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_COUNT)
}

/// `count` unique prefixes, drawn from `rng`.
pub fn bgp_like_v4(rng: &mut SmallRng, count: usize) -> Vec<Ipv4Net> {
    let reserved: Ipv4Net = Ipv4Net::new(Ipv4Addr::new(192, 0, 0, 0), 16).expect("valid /16");
    let mut seen = HashSet::with_capacity(count);
    let mut prefixes = Vec::with_capacity(count);
    while prefixes.len() < count {
        let len = [16u8, 20, 22, 24, 24, 24, 24][rng.random_range(0..7usize)];
        let addr = Ipv4Addr::from(rng.random_range(0x0b00_0000u32..0xe000_0000));
        let Ok(net) = Ipv4Net::new(addr, len) else {
            continue;
        };
        let net = net.trunc();
        if reserved.contains(&net) || net.contains(&reserved) || !seen.insert(net) {
            continue;
        }
        prefixes.push(net);
    }
    prefixes
}

/// A host address inside `net`, drawn from `rng`.
pub fn host_in(rng: &mut SmallRng, net: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()) | (rng.random::<u32>() & !u32::from(net.netmask())))
}
