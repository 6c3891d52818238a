//! ITR encapsulation and ETR decapsulation cycles per packet for 64-byte inner packets over a
//! 1M-prefix map-cache, in bursts of 32 over recycled buffers, next to a baseline that only swaps
//! the 5-tuple of the same buffers (testpmd's `5tswap`) in the same run.
//!
//! The map-cache holds 1M BGP-like IPv4 prefixes spread over 4096 distinct RLOC sets (sites);
//! prefixes with the same RLOC set share one forwarding entry, as they do in `MapCacheWriter`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use dataplane::mapcache::{
    Action, DatabaseWriter, Instances, LocalEid, Locator, MapCacheWriter, Mapping,
};
use dataplane::pipeline::{
    decapsulate, encapsulate, encapsulate_burst, AllowedSources, CoreCounters, Counter, EchoNonces,
    EtrContext, EtrVerdict, ItrContext, ItrVerdict, LocalRlocs, MissLog, Nonces, PacketBuffer,
    PathConfig, VecBuffer,
};
use dataplane::rcu::Qsbr;
use dataplane::wire::ipv4::{Ipv4Repr, PROTOCOL_UDP};
use dataplane::wire::udp;
use dpdk_bindings::time;
use ipnet::IpNet;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::{five_tuple, prefixes};

const SITES: u32 = 4096;
const BURST: usize = 32;
const BUFFERS: usize = 64 * BURST;
const ROUNDS: usize = 400;
fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROUNDS)
}
const RUNS: usize = 5;
const HEADROOM: usize = 128;

fn inner_packet(src: Ipv4Addr, dst: Ipv4Addr, sport: u16) -> Vec<u8> {
    let mut p = vec![0u8; 64];
    Ipv4Repr {
        src,
        dst,
        protocol: PROTOCOL_UDP,
        payload_len: 44,
        ttl: 64,
        tos: 0,
    }
    .emit(&mut p);
    udp::write_header(&mut p[20..], sport, 80, 36);
    p
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median cycles per packet of `work` on every burst of buffers, `ROUNDS` times.
fn cycles(
    buffers: &mut [VecBuffer],
    templates: &[Vec<u8>],
    mut work: impl FnMut(&mut [VecBuffer]),
) -> f64 {
    median(
        (0..RUNS)
            .map(|_| {
                let start = time::tsc();
                for _ in 0..rounds() {
                    for (burst, templates) in buffers.chunks_mut(BURST).zip(templates.chunks(BURST))
                    {
                        for (buffer, template) in burst.iter_mut().zip(templates) {
                            buffer.reset(HEADROOM, template);
                        }
                        work(burst);
                    }
                }
                (time::tsc() - start) as f64 / (rounds() * buffers.len()) as f64
            })
            .collect(),
    )
}

pub fn run() -> Result<(), String> {
    let mut rng = SmallRng::seed_from_u64(4341);
    let qsbr = Qsbr::new(2);
    let prefix_count = prefixes::count();
    let mut cache = MapCacheWriter::new(
        prefix_count as u32 + 1024,
        Instances::default(),
        qsbr.clone(),
    );
    let installed = prefixes::bgp_like_v4(&mut rng, prefix_count);
    for &net in &installed {
        let site = rng.random_range(0..SITES);
        let mapping = Mapping {
            action: Action::Encapsulate,
            instance_id: None,
            map_version: 0,
            locators: vec![
                Locator::new(IpAddr::V4(Ipv4Addr::from(0xc633_0000 | site)), 1, 50, true),
                Locator::new(IpAddr::V4(Ipv4Addr::from(0xc634_0000 | site)), 1, 50, true),
            ],
        };
        cache
            .insert(IpNet::V4(net), mapping)
            .map_err(|e| e.to_string())?;
    }
    // The peer site whose EIDs the ETR part delivers to.
    let peer = Mapping {
        action: Action::Encapsulate,
        instance_id: None,
        map_version: 0,
        locators: vec![Locator::new(
            IpAddr::V4(Ipv4Addr::new(198, 51, 0, 0)),
            1,
            100,
            true,
        )],
    };
    cache
        .insert(
            "10.2.0.0/16"
                .parse()
                .map_err(|e: ipnet::AddrParseError| e.to_string())?,
            peer,
        )
        .map_err(|e| e.to_string())?;
    cache.publish();
    let mut database = DatabaseWriter::new(Instances::default(), qsbr.clone());
    database
        .insert(
            "10.0.0.0/8"
                .parse()
                .map_err(|e: ipnet::AddrParseError| e.to_string())?,
            0,
        )
        .map_err(|e| e.to_string())?;
    database
        .insert(
            "192.0.2.0/24"
                .parse()
                .map_err(|e: ipnet::AddrParseError| e.to_string())?,
            0,
        )
        .map_err(|e| e.to_string())?;
    database.publish();
    let local = LocalRlocs {
        v4: Some(Ipv4Addr::new(192, 0, 2, 1)),
        all: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))],
        status_bits: 1,
        icmp_v4: Some(Ipv4Addr::new(10, 0, 0, 1)),
        ..LocalRlocs::default()
    };
    let config = PathConfig::default();

    // Inner packets from our EIDs to random hosts inside random installed prefixes.
    let templates: Vec<Vec<u8>> = (0..BUFFERS)
        .map(|i| {
            let net = installed[rng.random_range(0..installed.len())];
            inner_packet(
                Ipv4Addr::new(10, 1, (i >> 8) as u8, i as u8),
                prefixes::host_in(&mut rng, net),
                1024 + i as u16,
            )
        })
        .collect();
    let mut buffers: Vec<VecBuffer> = (0..BUFFERS)
        .map(|_| VecBuffer::new(HEADROOM, &[0; 64], 2048))
        .collect();

    let reader = qsbr.register().map_err(|e| e.to_string())?;
    let (shared, db) = (cache.shared(), database.shared());
    let counters = CoreCounters::default();
    let mut nonces = Nonces::new(1);
    let no_echo = EchoNonces::default();

    let swap = cycles(&mut buffers, &templates, |burst| {
        burst
            .iter_mut()
            .for_each(|b| five_tuple::swap_packet(b.data_mut()))
    });
    let mut ctx = ItrContext {
        ingress: LocalEid::default(),
        map_cache: shared.view(&reader),
        database: db.view(&reader),
        local: &local,
        config: &config,
        counters: &counters,
        nonces: &mut nonces,
        echo: &no_echo,
        misses: &mut MissLog::default(),
    };
    let mut encapsulated = 0u64;
    let mut verdicts = [ItrVerdict::Drop(Counter::DropMalformed); BURST];
    let itr = cycles(&mut buffers, &templates, |burst| {
        encapsulate_burst(&mut ctx, burst, &mut verdicts);
        encapsulated += verdicts
            .iter()
            .filter(|v| matches!(v, ItrVerdict::Encapsulated { .. }))
            .count() as u64;
    });
    if encapsulated != (RUNS * rounds() * BUFFERS) as u64 {
        return Err(format!("only {encapsulated} packets were encapsulated"));
    }

    // ETR input: the same packets encapsulated toward us.
    let etr_local = LocalRlocs {
        all: vec![IpAddr::V4(Ipv4Addr::new(198, 51, 0, 0))],
        ..local.clone()
    };
    let outer: Vec<Vec<u8>> = templates
        .iter()
        .map(|t| {
            let mut b = VecBuffer::new(HEADROOM, t, 2048);
            let mut p = t.clone();
            p[16..20].copy_from_slice(&[10, 2, 0, 1]);
            b.reset(HEADROOM, &p);
            encapsulate(&mut ctx, &mut b);
            b.data().to_vec()
        })
        .collect();
    let _ = black_box(&ctx);
    let mut etr_database = DatabaseWriter::new(Instances::default(), qsbr.clone());
    etr_database
        .insert(
            "10.2.0.0/16"
                .parse()
                .map_err(|e: ipnet::AddrParseError| e.to_string())?,
            0,
        )
        .map_err(|e| e.to_string())?;
    etr_database.publish();
    let etr_db = etr_database.shared();
    let (mut feedback, _receiver) = dataplane::pipeline::feedback_channel(1024);
    let mut etr = EtrContext {
        database: etr_db.view(&reader),
        instances: &Instances::default(),
        local: &etr_local,
        counters: &counters,
        feedback: &mut feedback,
        echo: &no_echo,
        proxy_etr: false,
        proxy_etr_allowed: &AllowedSources::default(),
        reencapsulate: false,
    };
    let swap_outer = cycles(&mut buffers, &outer, |burst| {
        burst
            .iter_mut()
            .for_each(|b| five_tuple::swap_packet(b.data_mut()))
    });
    let mut decapsulated = 0u64;
    let decap = cycles(&mut buffers, &outer, |burst| {
        for b in burst {
            decapsulated += u64::from(matches!(
                decapsulate(&mut etr, b),
                EtrVerdict::Decapsulated { .. }
            ));
        }
    });
    if decapsulated != (RUNS * rounds() * BUFFERS) as u64 {
        return Err(format!("only {decapsulated} packets were decapsulated"));
    }

    println!(
        "encap_prefixes {prefix_count} rloc_sets {SITES} entries_in_use {}",
        cache.entries_in_use()
    );
    println!("encap_cycles_per_packet {itr:.1}");
    println!("decap_cycles_per_packet {decap:.1}");
    println!("five_tuple_swap_cycles_per_packet {swap:.1} (inner buffers) {swap_outer:.1} (outer buffers)");
    println!("RATIO encap_cycles_vs_5tuple_swap {:.3}", itr / swap);
    println!(
        "RATIO decap_cycles_vs_5tuple_swap {:.3}",
        decap / swap_outer
    );
    Ok(())
}
