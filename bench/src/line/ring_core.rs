//! The in-process figure: lispd's data-core loop (`DataCore::poll`, the code a lispd data core
//! runs) over crossed ring-port pairs, no memif copy, against the reference ITR/ETR built from
//! DPDK's parts (`reference`) and a 5-tuple-swap forwarder (what testpmd's `5tswap` does: swap
//! MACs, addresses and ports) over identical ring pairs. All get the same frames, a ring's worth
//! at a time, and are timed only while they drain it. The proxy roles and the RTR run the same
//! loop on frames changed only in the inner address that makes them take their path.

use std::net::IpAddr;
use std::sync::Arc;

use dataplane::dpdk::{DataCore, PortIo, Side};
use dataplane::mapcache::{
    Action, DatabaseWriter, Instances, LocalEid, Locator, MapCacheWriter, Mapping,
};
use dataplane::pipeline::{
    feedback_channel, CoreCounters, EchoNonces, LocalRlocs, MissLog, Neighbours, Nonces,
    PathConfig, PuntLimiter,
};
use dataplane::rcu::Qsbr;
use dataplane::wire::checksum::checksum;
use dpdk_bindings::{
    ring_port_pair, spsc_ring, time, Eal, MbufBurst, Mempool, MempoolConfig, Port, PortConfig,
    RingConsumer, RxQueue, TxQueue, MAX_BURST,
};
use ipnet::{IpNet, Ipv4Net};

use super::frames::Link;
use super::generator::Direction;
use super::reference::{Queues, ReferenceEtr, ReferenceItr};
use super::{World, EID_LINK, RLOC_LINK};
use crate::five_tuple;

/// Frames queued per measured drain (a ring's worth: 32 bursts).
const RING_DEPTH: u32 = 1024;
const ROUNDS: usize = 2000;

/// A forwarder's two ends and the generator's two ends of the crossed ring pairs.
struct Rings {
    host_tx: TxQueue,
    host_rx: RxQueue,
    remote_tx: TxQueue,
    remote_rx: RxQueue,
    eid: Port,
    rloc: Port,
}

fn rings(eal: &Eal, pool: &Mempool, name: &str) -> Result<Rings, String> {
    let open = |id| -> Result<Port, String> {
        let mut port =
            Port::configure(eal, id, pool, PortConfig::default()).map_err(|e| e.to_string())?;
        port.start().map_err(|e| e.to_string())?;
        Ok(port)
    };
    let (host, eid) =
        ring_port_pair(eal, &format!("{name}_eid"), RING_DEPTH).map_err(|e| e.to_string())?;
    let (rloc, remote) =
        ring_port_pair(eal, &format!("{name}_rloc"), RING_DEPTH).map_err(|e| e.to_string())?;
    let (host, remote) = (open(host)?, open(remote)?);
    Ok(Rings {
        host_tx: host.tx_queue(0).map_err(|e| e.to_string())?,
        host_rx: host.rx_queue(0).map_err(|e| e.to_string())?,
        remote_tx: remote.tx_queue(0).map_err(|e| e.to_string())?,
        remote_rx: remote.rx_queue(0).map_err(|e| e.to_string())?,
        eid: open(eid)?,
        rloc: open(rloc)?,
    })
}

/// A data core over `rings` with the punt ring's consumer end (kept alive, never read: nothing
/// in the measured traffic is punted).
fn data_core(
    eal: &Eal,
    pool: &Mempool,
    (rings, name): (&Rings, &str),
    world: &World<'_>,
    path: PathConfig,
) -> Result<(DataCore, RingConsumer), String> {
    let qsbr = Qsbr::new(2);
    let mut cache = MapCacheWriter::new(
        world.map_cache.len() as u32 + 16,
        Instances::default(),
        qsbr.clone(),
    );
    let remote = Mapping {
        action: Action::Encapsulate,
        instance_id: None,
        map_version: 0,
        locators: vec![Locator::new(IpAddr::V4(world.remote_rloc), 1, 100, true)],
    };
    for &prefix in world.map_cache {
        cache
            .insert(IpNet::V4(prefix), remote.clone())
            .map_err(|e| e.to_string())?;
    }
    cache.publish();
    let mut database = DatabaseWriter::new(Instances::default(), qsbr.clone());
    database
        .insert(IpNet::V4(world.eid_prefix), 0)
        .map_err(|e| e.to_string())?;
    database.publish();
    // The generator's side of each link is also its gateway: a proxy-ETR forwards non-LISP
    // destinations there.
    let side =
        |port: &Port, link: Link, on_link: IpNet, hosts: &[IpAddr]| -> Result<Side, String> {
            let io = PortIo {
                rx: vec![port.rx_queue(0).map_err(|e| e.to_string())?],
                tx: port.tx_queue(0).map_err(|e| e.to_string())?,
                mac: link.dut,
            };
            Ok(Side::one_port(
                io,
                LocalEid::default(),
                Neighbours {
                    on_link: vec![on_link],
                    gateways: hosts.first().copied().into_iter().collect(),
                    macs: hosts.iter().map(|&h| (h, link.generator)).collect(),
                },
            ))
        };
    let hosts: Vec<IpAddr> = world.hosts.iter().map(|&h| IpAddr::V4(h)).collect();
    let rloc_net = Ipv4Net::new(world.rloc, 24)
        .map_err(|e| e.to_string())?
        .trunc();
    let (punt, punted) =
        spsc_ring(eal, &format!("{name}_punt"), 1024).map_err(|e| e.to_string())?;
    let core = DataCore {
        eid: side(&rings.eid, EID_LINK, IpNet::V4(world.eid_prefix), &hosts)?,
        rloc: side(
            &rings.rloc,
            RLOC_LINK,
            IpNet::V4(rloc_net),
            &[IpAddr::V4(world.remote_rloc)],
        )?,
        punt,
        pool: pool.clone(),
        reader: qsbr.register().map_err(|e| e.to_string())?,
        map_cache: cache.shared(),
        database: database.shared(),
        instances: Arc::new(Instances::default()),
        instances_updates: None,
        local: Arc::new(LocalRlocs {
            v4: Some(world.rloc),
            all: vec![IpAddr::V4(world.rloc)],
            status_bits: 1,
            ..LocalRlocs::default()
        }),
        local_updates: None,
        config: Arc::new(path),
        config_updates: None,
        tracer: Arc::default(),
        counters: Arc::new(CoreCounters::default()),
        instance_counters: Arc::default(),
        feedback: feedback_channel(1024).0,
        nonces: Nonces::new(1),
        echo: Arc::new(EchoNonces::default()),
        echo_updates: None,
        punt_limiter: PuntLimiter::new(1024, u64::MAX / 2),
        misses: MissLog::default(),
        idle_sleep: std::time::Duration::ZERO,
    };
    Ok((core, punted))
}

/// Median busy cycles per packet of `forward` draining a ring's worth of `templates`, and how
/// many packets came out the far side in all.
fn drain_cycles(
    pool: &Mempool,
    rings: &mut Rings,
    direction: Direction,
    templates: &[Vec<u8>],
    mut forward: impl FnMut() -> usize,
) -> Result<(f64, u64), String> {
    let mut per_round = Vec::with_capacity(ROUNDS);
    let mut burst = MbufBurst::new();
    let mut next = 0;
    let mut forwarded = 0u64;
    for _ in 0..ROUNDS {
        let tx = match direction {
            Direction::Itr => &mut rings.host_tx,
            Direction::Etr => &mut rings.remote_tx,
        };
        let mut queued = 0;
        while queued < RING_DEPTH as usize - MAX_BURST {
            pool.alloc_bulk(&mut burst, MAX_BURST)
                .map_err(|e| e.to_string())?;
            for mbuf in burst.as_mut_slice() {
                mbuf.write_packet(&templates[next])
                    .ok_or("a template does not fit an mbuf")?;
                next = (next + 1) % templates.len();
            }
            queued += tx.tx_burst(&mut burst);
            burst.free_all();
        }
        let start = time::tsc();
        let mut handled = 0;
        while handled < queued {
            let n = forward();
            if n == 0 {
                break;
            }
            handled += n;
        }
        per_round.push((time::tsc() - start) as f64 / queued as f64);
        // Out of either side: a proxy-ETR sends decapsulated traffic back to the underlay.
        for rx in [&mut rings.remote_rx, &mut rings.host_rx] {
            while rx.rx_burst(&mut burst) > 0 {
                forwarded += burst.len() as u64;
                burst.free_all();
            }
        }
    }
    per_round.sort_by(f64::total_cmp);
    Ok((per_round[ROUNDS / 2], forwarded))
}

/// Cycles per packet of lispd's data core and of the 5-tuple swap, for each direction.
pub fn run(eal: &Eal, world: &World<'_>, templates: [&[Vec<u8>]; 2]) -> Result<(), String> {
    let pool = Mempool::new(
        eal,
        "ring_core",
        MempoolConfig {
            size: 4 * RING_DEPTH + 1023,
            ..MempoolConfig::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let mut lispd_rings = rings(eal, &pool, "lispd")?;
    let (mut core, _punted) = data_core(
        eal,
        &pool,
        (&lispd_rings, "lispd"),
        world,
        PathConfig::default(),
    )?;
    // The proxy roles on their own cores: a proxy-ITR fed frames from a non-LISP source, a
    // proxy-ETR fed LISP frames for a non-LISP destination.
    let mut pitr_rings = rings(eal, &pool, "pitr")?;
    let (mut pitr, _pitr_punted) = data_core(
        eal,
        &pool,
        (&pitr_rings, "pitr"),
        world,
        PathConfig {
            require_local_source: false,
            ..PathConfig::default()
        },
    )?;
    let mut petr_rings = rings(eal, &pool, "petr")?;
    let (mut petr, _petr_punted) = data_core(
        eal,
        &pool,
        (&petr_rings, "petr"),
        world,
        PathConfig {
            proxy_etr: true,
            ..PathConfig::default()
        },
    )?;
    // An RTR fed LISP frames for remote EIDs (in the map-cache): decapsulated and encapsulated
    // again toward the remote RLOC.
    let mut rtr_rings = rings(eal, &pool, "rtr")?;
    let (mut rtr, _rtr_punted) = data_core(
        eal,
        &pool,
        (&rtr_rings, "rtr"),
        world,
        PathConfig {
            reencapsulate: true,
            ..PathConfig::default()
        },
    )?;
    let mut swap_rings = rings(eal, &pool, "swap")?;
    let (mut swap_eid_rx, mut swap_eid_tx) = (
        swap_rings.eid.rx_queue(0).map_err(|e| e.to_string())?,
        swap_rings.eid.tx_queue(0).map_err(|e| e.to_string())?,
    );
    let (mut swap_rloc_rx, mut swap_rloc_tx) = (
        swap_rings.rloc.rx_queue(0).map_err(|e| e.to_string())?,
        swap_rings.rloc.tx_queue(0).map_err(|e| e.to_string())?,
    );
    let mut reference_rings = rings(eal, &pool, "reference")?;
    let queues = |rx: &Port, tx: &Port| -> Result<Queues, String> {
        Ok(Queues {
            rx: rx.rx_queue(0).map_err(|e| e.to_string())?,
            tx: tx.tx_queue(0).map_err(|e| e.to_string())?,
        })
    };
    let mut reference_itr = ReferenceItr::new(
        eal,
        world,
        RLOC_LINK,
        vec![queues(&reference_rings.eid, &reference_rings.rloc)?],
    )?;
    let mut reference_etr = ReferenceEtr::new(
        eal,
        world,
        EID_LINK,
        vec![queues(&reference_rings.rloc, &reference_rings.eid)?],
    )?;
    let mut ratios = Vec::new();
    let mut lispd_cycles = Vec::new();
    // Frames each direction's forwarders put out (all of them): the proxies must match.
    let mut frames_out = Vec::new();
    for (direction, templates) in [Direction::Itr, Direction::Etr].into_iter().zip(templates) {
        let mut burst = MbufBurst::new();
        let (swap, swapped) = drain_cycles(&pool, &mut swap_rings, direction, templates, || {
            let (rx, tx) = match direction {
                Direction::Itr => (&mut swap_eid_rx, &mut swap_rloc_tx),
                Direction::Etr => (&mut swap_rloc_rx, &mut swap_eid_tx),
            };
            let n = rx.rx_burst(&mut burst);
            for mbuf in burst.as_mut_slice() {
                five_tuple::swap_frame(mbuf.data_mut());
            }
            tx.tx_burst(&mut burst);
            burst.free_all();
            n
        })?;
        let (lispd, forwarded) =
            drain_cycles(&pool, &mut lispd_rings, direction, templates, || {
                core.poll()
            })?;
        let (reference, referenced) = drain_cycles(
            &pool,
            &mut reference_rings,
            direction,
            templates,
            || match direction {
                Direction::Itr => reference_itr.poll(),
                Direction::Etr => reference_etr.poll(),
            },
        )?;
        if forwarded != swapped || referenced != swapped {
            return Err(format!(
                "{} in-process: the data core forwarded {forwarded} packets, the reference \
                 {referenced}, 5tswap {swapped}",
                direction.name()
            ));
        }
        let name = direction.name();
        if direction == Direction::Itr {
            println!(
                "line_ring_reference_rte_fib_lookup_cycles_per_key {:.1}",
                reference_itr.lookup_cycles(templates)
            );
        }
        println!("line_ring_lispd_{name}_cycles_per_packet {lispd:.1}");
        println!("line_ring_reference_{name}_cycles_per_packet {reference:.1}");
        println!("line_ring_5tswap_{name}_cycles_per_packet {swap:.1}");
        ratios.push((name, lispd / swap, lispd / reference));
        lispd_cycles.push(lispd);
        frames_out.push(swapped);
    }
    let [itr_frames, etr_frames] = templates;
    let outside = |prefix: [u8; 2]| {
        move |i: usize| {
            let host = (i as u16).to_be_bytes();
            [prefix[0], prefix[1], host[0], host[1]]
        }
    };
    let remote_eid = |i: usize| {
        let prefix = world.map_cache[i % world.map_cache.len()];
        let host = u32::from(prefix.network()) | u32::from(prefix.prefix_len() < 32);
        host.to_be_bytes()
    };
    let proxy_cases = [
        (
            "pitr",
            Direction::Itr,
            with_inner_address(itr_frames, ETHERNET + 12, outside([198, 19])),
        ),
        (
            "petr",
            Direction::Etr,
            with_inner_address(etr_frames, ENCAPSULATED + 16, outside([198, 18])),
        ),
    ];
    let mut proxy_cycles = Vec::new();
    for (role, direction, frames) in proxy_cases {
        let (rings, core) = match direction {
            Direction::Itr => (&mut pitr_rings, &mut pitr),
            Direction::Etr => (&mut petr_rings, &mut petr),
        };
        let (cycles, forwarded) = drain_cycles(&pool, rings, direction, &frames, || core.poll())?;
        let expected = frames_out[usize::from(direction == Direction::Etr)];
        if forwarded != expected {
            return Err(format!(
                "the {role} forwarded {forwarded} packets of {expected}"
            ));
        }
        println!("line_ring_lispd_{role}_cycles_per_packet {cycles:.1}");
        proxy_cycles.push((role, direction, cycles));
    }
    let rtr_frames = with_inner_address(etr_frames, ENCAPSULATED + 16, remote_eid);
    let (rtr_cycles, reencapsulated) =
        drain_cycles(&pool, &mut rtr_rings, Direction::Etr, &rtr_frames, || {
            rtr.poll()
        })?;
    if reencapsulated != frames_out[1] {
        return Err(format!(
            "the RTR forwarded {reencapsulated} packets of {}",
            frames_out[1]
        ));
    }
    println!("line_ring_lispd_rtr_cycles_per_packet {rtr_cycles:.1}");
    for (name, vs_swap, vs_reference) in &ratios {
        println!("RATIO {name}_ring_cycles_vs_5tswap {vs_swap:.3}");
        println!("RATIO {name}_ring_cycles_vs_reference {vs_reference:.3}");
    }
    for (role, direction, cycles) in proxy_cycles {
        let plain = ratios
            .iter()
            .zip(&lispd_cycles)
            .find(|((name, ..), _)| *name == direction.name())
            .map_or(f64::NAN, |(_, lispd)| *lispd);
        println!(
            "RATIO {role}_cycles_vs_{} {:.3}",
            direction.name(),
            cycles / plain
        );
    }
    let itr_plus_etr: f64 = lispd_cycles.iter().sum();
    println!(
        "RATIO rtr_cycles_vs_itr_plus_etr {:.3}",
        rtr_cycles / itr_plus_etr
    );
    Ok(())
}

const ETHERNET: usize = 14;
/// Where the inner IPv4 header of an encapsulated frame starts (Ethernet, IPv4, UDP, LISP).
const ENCAPSULATED: usize = ETHERNET + 20 + 8 + 8;

/// `frames` with the IPv4 address at `offset` of the `i`-th one replaced by `address(i)`, the
/// header checksum of the IPv4 header it is in recomputed.
fn with_inner_address(
    frames: &[Vec<u8>],
    offset: usize,
    address: impl Fn(usize) -> [u8; 4],
) -> Vec<Vec<u8>> {
    let header = if offset >= ENCAPSULATED {
        ENCAPSULATED
    } else {
        ETHERNET
    };
    frames
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            let mut frame = frame.clone();
            frame[offset..offset + 4].copy_from_slice(&address(i));
            frame[header + 10..header + 12].fill(0);
            let sum = checksum(&frame[header..header + 20]);
            frame[header + 10..header + 12].copy_from_slice(&sum.to_be_bytes());
            frame
        })
        .collect()
}
