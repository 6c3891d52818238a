//! `line`: lispd as a DUT behind two `net_memif` links, driven by our own generator, next to
//! `dpdk-testpmd` in `5tswap` mode and the reference ITR/ETR built from DPDK's parts
//! (`reference`, in a process of its own) in the same position (same memif links, same CPUs:
//! the generator on CPU 0, the DUT's forwarding lcore on CPU 1). Before that, the same three
//! forwarders in an in-process ring pair (`ring_core`), without memif's copies.
//!
//! For each DUT and direction (ITR: EID frames in, encapsulated out; ETR: the reverse):
//! saturation for a few seconds gives Mpps, the DUT's own busy cycles per packet (testpmd's
//! `--record-core-cycles`, lispd's `busy_cycles`/`received` counters) show what its core spends,
//! and traffic paced at half the saturation rate gives p50/p99 latency from payload timestamps.
//! lispd holds a 1M-prefix map-cache (`BENCH_PREFIXES` for smaller runs; `BENCH_LINE=ring` stops
//! after the in-process figure).

mod dut;
mod frames;
mod generator;
mod reference;
mod reference_dut;
mod ring_core;

pub use reference_dut::{run as run_reference_dut, SUBCOMMAND as REFERENCE_DUT};

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dataplane::wire::lisp::DATA_PORT;
use dpdk_bindings::MAX_BURST;
use hdrhistogram::Histogram;
use ipnet::Ipv4Net;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::{eal, prefixes};
use dut::{Lispd, Testpmd};
use frames::{Expect, Flow, Link, EID_FRAME_LEN, EID_UDP_PORT, LISP_FRAME_LEN};
use generator::{Counts, Direction, Generator, Traffic};
use reference_dut::ReferenceDut;

const WARMUP: Duration = Duration::from_millis(500);
/// Saturation runs in windows; the median window's rate is reported (shared VMs are noisy).
const SATURATION: Duration = Duration::from_secs(2);
const WINDOWS: usize = 3;
const PACED: Duration = Duration::from_secs(2);
/// Latency is measured at this share of the saturation rate.
const PACED_LOAD: f64 = 0.5;
/// Distinct flows per direction, each to a random host in a random map-cache prefix.
const FLOWS: usize = 8192;
const HOSTS: u8 = 16;
const LINK_TIMEOUT: Duration = Duration::from_secs(30);
const LISPD_START_TIMEOUT: Duration = Duration::from_secs(300);

const EID_LINK: Link = Link {
    generator: [0x02, 0x4c, 0, 0, 0, 0x01],
    dut: [0x02, 0x4c, 0, 0, 0x01, 0x01],
};
const RLOC_LINK: Link = Link {
    generator: [0x02, 0x4c, 0, 0, 0, 0x02],
    dut: [0x02, 0x4c, 0, 0, 0x01, 0x02],
};
const DUT_RLOC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const REMOTE_RLOC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const EID_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);

/// The addressing both forwarders under test are given: the map-cache (every prefix toward the
/// remote RLOC), our EID prefix with its hosts (static neighbours) and our RLOC.
pub struct World<'a> {
    pub map_cache: &'a [Ipv4Net],
    pub remote_rloc: Ipv4Addr,
    pub rloc: Ipv4Addr,
    pub eid_gateway: Ipv4Addr,
    pub eid_prefix: Ipv4Net,
    pub hosts: &'a [Ipv4Addr],
}

/// The devargs of one end (`role` "server" for the generator, "client" for the DUT) of memif
/// link `id`, with the MAC that end uses.
fn memif_devargs(socket: &Path, id: u8, role: &str, mac: [u8; 6]) -> String {
    format!(
        "net_memif{id},role={role},id={id},socket={},socket-abstract=no,mac={}",
        socket.display(),
        config::MacAddr(mac)
    )
}

/// One DUT in one direction.
struct Measurement {
    saturated: Counts,
    mpps: f64,
    paced_mpps: f64,
    latency: Histogram<u64>,
}

/// Warm-up (which must get something back), saturation, then paced traffic with latencies.
fn measure(generator: &mut Generator, traffic: &Traffic<'_>) -> Result<Measurement, String> {
    let warm = generator.drive(traffic, WARMUP, None, None)?;
    if warm.received == 0 {
        return Err(format!(
            "{} direction: nothing came back during warm-up ({} sent, {} unexpected)",
            traffic.direction.name(),
            warm.sent,
            warm.unexpected
        ));
    }
    let mut saturated = Counts::default();
    let mut rates = Vec::with_capacity(WINDOWS);
    for _ in 0..WINDOWS {
        let window = generator.drive(traffic, SATURATION, None, None)?;
        rates.push(window.received as f64 / SATURATION.as_secs_f64() / 1e6);
        saturated.add(window);
    }
    rates.sort_by(f64::total_cmp);
    let mpps = rates[WINDOWS / 2];
    let paced_pps = mpps * 1e6 * PACED_LOAD;
    let burst_gap = (MAX_BURST as f64 * generator.tsc_hz() as f64 / paced_pps) as u64;
    let mut latency =
        Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| e.to_string())?;
    let paced = generator.drive(traffic, PACED, Some(burst_gap), Some(&mut latency))?;
    Ok(Measurement {
        saturated,
        mpps,
        paced_mpps: paced.received as f64 / PACED.as_secs_f64() / 1e6,
        latency,
    })
}

fn report(dut: &str, direction: Direction, m: &Measurement, cycles: Option<f64>) {
    let name = format!("line_{dut}_{}", direction.name());
    let s = m.saturated;
    println!(
        "{name}_mpps {:.2} (sent {} received {} unexpected {})",
        m.mpps, s.sent, s.received, s.unexpected
    );
    if let Some(cycles) = cycles {
        println!("{name}_cycles_per_packet {cycles:.1}");
    }
    println!(
        "{name}_latency_ns p50 {} p99 {} max {} (at {:.2} Mpps)",
        m.latency.value_at_quantile(0.5),
        m.latency.value_at_quantile(0.99),
        m.latency.max(),
        m.paced_mpps
    );
}

/// The lispd binary of this build: rebuilt first when running under cargo, so it is never stale.
fn lispd_binary() -> Result<PathBuf, String> {
    let binary = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("lispd");
    if let Ok(cargo) = std::env::var("CARGO") {
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "lispd", "--bin", "lispd"])
            .status()
            .map_err(|e| format!("cannot build lispd: {e}"))?;
        if !status.success() {
            return Err("building lispd failed".into());
        }
    }
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!(
            "{} is missing: cargo build --release -p lispd --bin lispd",
            binary.display()
        ))
    }
}

/// Both directions' frames over `FLOWS` flows between our hosts and the map-cache's prefixes.
fn templates(rng: &mut SmallRng, map_cache: &[Ipv4Net], hosts: &[Ipv4Addr]) -> [Vec<Vec<u8>>; 2] {
    let flows: Vec<(Ipv4Addr, Ipv4Addr, u16)> = (0..FLOWS)
        .map(|i| {
            let prefix = map_cache[rng.random_range(0..map_cache.len())];
            let remote = prefixes::host_in(rng, prefix);
            (hosts[i % hosts.len()], remote, 1024 + i as u16)
        })
        .collect();
    let itr = flows
        .iter()
        .map(|&(host, remote, src_port)| {
            frames::eid_frame(
                EID_LINK,
                Flow {
                    src: host,
                    dst: remote,
                    src_port,
                },
            )
        })
        .collect();
    let etr = flows
        .iter()
        .map(|&(host, remote, src_port)| {
            let flow = Flow {
                src: remote,
                dst: host,
                src_port,
            };
            frames::lisp_frame(RLOC_LINK, REMOTE_RLOC, DUT_RLOC, flow)
        })
        .collect();
    [itr, etr]
}

/// What an ITR or ETR (lispd, the reference) sends back in `direction`: LISP frames toward
/// the RLOC side, the inner frames toward the EID side.
fn lispd_expect(direction: Direction) -> Expect {
    match direction {
        Direction::Itr => Expect {
            len: LISP_FRAME_LEN,
            udp_port: Some(DATA_PORT),
        },
        Direction::Etr => Expect {
            len: EID_FRAME_LEN,
            udp_port: Some(EID_UDP_PORT),
        },
    }
}

/// Removes the run's directory (memif socket, lispd config and socket) however the run ends.
struct RunDir(PathBuf);

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The map-cache prefixes, our EID prefix and hosts every DUT is given (the same in the
/// reference DUT's process: the same seed), and the random source after them.
fn world_parts() -> (Vec<Ipv4Net>, Ipv4Net, Vec<Ipv4Addr>, SmallRng) {
    let mut rng = SmallRng::seed_from_u64(4341);
    let map_cache = prefixes::bgp_like_v4(&mut rng, prefixes::count());
    let eid_prefix = Ipv4Net::new(EID_GATEWAY, 24)
        .expect("a /24 is a valid prefix")
        .trunc();
    let hosts: Vec<Ipv4Addr> = (0..HOSTS)
        .map(|i| Ipv4Addr::new(10, 1, 0, 10 + i))
        .collect();
    (map_cache, eid_prefix, hosts, rng)
}

pub fn run() -> Result<(), String> {
    let lispd_binary = lispd_binary()?;
    let (map_cache, eid_prefix, hosts, mut rng) = world_parts();
    let [itr_frames, etr_frames] = templates(&mut rng, &map_cache, &hosts);
    let traffic = |direction, expect| Traffic {
        direction,
        templates: match direction {
            Direction::Itr => &itr_frames,
            Direction::Etr => &etr_frames,
        },
        expect,
    };

    let dir = RunDir(std::env::temp_dir().join(format!("lisp-line-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).map_err(|e| e.to_string())?;
    let socket = dir.0.join("memif.sock");
    let eal = eal::init("bench-line", 256, false).map_err(|e| e.to_string())?;
    let mut generator = Generator::new(&eal, &socket, EID_LINK, RLOC_LINK)?;
    let (_, dut_hugepages) = eal::memory_args(dut::DUT_MEMORY_MIB);
    println!(
        "line_setup prefixes {} flows {FLOWS} frames {EID_FRAME_LEN}/{LISP_FRAME_LEN} bytes, DUT memory {}",
        map_cache.len(),
        if dut_hugepages { "hugepages" } else { "no-huge" }
    );

    let world = World {
        map_cache: &map_cache,
        remote_rloc: REMOTE_RLOC,
        rloc: DUT_RLOC,
        eid_gateway: EID_GATEWAY,
        eid_prefix,
        hosts: &hosts,
    };
    ring_core::run(&eal, &world, [&itr_frames, &etr_frames])?;
    // `BENCH_LINE=ring`: the in-process figure alone, for profiling the data core.
    if std::env::var("BENCH_LINE").is_ok_and(|parts| parts == "ring") {
        return Ok(());
    }

    let mut testpmd_mpps = [0.0; 2];
    let mut testpmd_cycles = [0.0; 2];
    for (i, direction) in [Direction::Itr, Direction::Etr].into_iter().enumerate() {
        let testpmd = Testpmd::start(&dir.0, &socket, EID_LINK, RLOC_LINK)?;
        generator.wait_for_links(LINK_TIMEOUT)?;
        let len = match direction {
            Direction::Itr => EID_FRAME_LEN,
            Direction::Etr => LISP_FRAME_LEN,
        };
        let expect = Expect {
            len,
            udp_port: None,
        };
        let measured = measure(&mut generator, &traffic(direction, expect))?;
        let cycles = testpmd.stop()?;
        report("testpmd", direction, &measured, Some(cycles));
        testpmd_mpps[i] = measured.mpps;
        testpmd_cycles[i] = cycles;
    }

    let reference = ReferenceDut::start(&dir.0, &socket)?;
    generator.wait_for_links(LINK_TIMEOUT)?;
    let mut reference_mpps = [0.0; 2];
    let mut reference_measured = Vec::new();
    for (i, direction) in [Direction::Itr, Direction::Etr].into_iter().enumerate() {
        let measured = measure(&mut generator, &traffic(direction, lispd_expect(direction)))?;
        reference_mpps[i] = measured.mpps;
        reference_measured.push((direction, measured));
    }
    let reference_cycles = reference.stop()?;
    for (direction, measured) in &reference_measured {
        let cycles = match direction {
            Direction::Itr => reference_cycles.itr,
            Direction::Etr => reference_cycles.etr,
        };
        report("reference", *direction, measured, Some(cycles));
    }

    let started = Instant::now();
    let lispd = Lispd::start(
        &lispd_binary,
        &dir.0,
        &socket,
        (EID_LINK, RLOC_LINK),
        &world,
        LISPD_START_TIMEOUT,
    )?;
    generator.wait_for_links(LINK_TIMEOUT)?;
    println!(
        "line_lispd_start_s {:.1} (configuration with {} map-cache entries loaded, ports up)",
        started.elapsed().as_secs_f64(),
        map_cache.len()
    );
    let mut ratios = Vec::new();
    for (i, direction) in [Direction::Itr, Direction::Etr].into_iter().enumerate() {
        let before = lispd.snapshot()?;
        let measured = measure(&mut generator, &traffic(direction, lispd_expect(direction)))?;
        let after = lispd.snapshot()?;
        let cycles = after.cycles_per_packet_since(&before);
        report("lispd", direction, &measured, cycles);
        for (name, count) in after.drops_since(&before) {
            println!("line_lispd_{}_{name} {count}", direction.name());
        }
        ratios.push((
            format!("{}_mpps_vs_testpmd", direction.name()),
            measured.mpps / testpmd_mpps[i],
        ));
        ratios.push((
            format!("{}_memif_mpps_vs_reference", direction.name()),
            measured.mpps / reference_mpps[i],
        ));
        if let Some(cycles) = cycles {
            ratios.push((
                format!("{}_cycles_vs_testpmd", direction.name()),
                cycles / testpmd_cycles[i],
            ));
            let reference = match direction {
                Direction::Itr => reference_cycles.itr,
                Direction::Etr => reference_cycles.etr,
            };
            ratios.push((
                format!("{}_memif_cycles_vs_reference", direction.name()),
                cycles / reference,
            ));
        }
    }
    let stopped = lispd.stop()?;
    if let Some(core) = stopped
        .lines()
        .find(|l| l.trim_start().starts_with("data core "))
    {
        println!("line_lispd_stop_report {}", core.trim());
    }
    for (name, ratio) in ratios {
        println!("RATIO {name} {ratio:.3}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flow_stays_inside_the_map_cache_and_our_eid_prefix() {
        let mut rng = SmallRng::seed_from_u64(1);
        let map_cache = prefixes::bgp_like_v4(&mut rng, 1000);
        let hosts = [Ipv4Addr::new(10, 1, 0, 10)];
        let [itr, etr] = templates(&mut rng, &map_cache, &hosts);
        let destination = |frame: &[u8], at: usize| {
            Ipv4Addr::new(frame[at], frame[at + 1], frame[at + 2], frame[at + 3])
        };
        for (inner, outer) in itr.iter().zip(&etr) {
            let remote = destination(inner, 14 + 16);
            assert!(map_cache.iter().any(|net| net.contains(&remote)));
            assert_eq!(
                destination(outer, LISP_FRAME_LEN - EID_FRAME_LEN + 14 + 16),
                hosts[0]
            );
        }
    }

    #[test]
    fn run_dir_is_removed() {
        let path = std::env::temp_dir().join(format!("lisp-line-test-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create");
        drop(RunDir(path.clone()));
        assert!(!path.exists());
    }
}
