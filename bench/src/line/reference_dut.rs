//! The reference forwarder (`reference`) as a DUT over the same memif links as testpmd and
//! lispd: a child process (`bench line-reference-dut SOCKET`, EAL once per process) that
//! forwards both directions on one lcore pinned to CPU 1 and reports, when its stdin closes,
//! the busy cycles per packet of each direction.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{ChildStdin, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dpdk_bindings::{time, EalBuilder, Mempool, MempoolConfig, Port, PortConfig, PortId};

use super::dut::{client_vdev, Process, DUT_MEMORY_MIB};
use super::generator::QUEUES;
use super::reference::{Queues, ReferenceEtr, ReferenceItr};
use super::{world_parts, World, EID_LINK, RLOC_LINK};
use crate::eal;

/// The name the child is started with.
pub const SUBCOMMAND: &str = "line-reference-dut";

/// The parent's handle on the running child.
pub struct ReferenceDut {
    process: Process,
    stdin: Option<ChildStdin>,
}

/// Busy cycles per packet the child spent, by direction.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceCycles {
    pub itr: f64,
    pub etr: f64,
}

impl ReferenceDut {
    pub fn start(dir: &Path, socket: &Path) -> Result<Self, String> {
        let mut command = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
        command.current_dir(dir).args([SUBCOMMAND]).arg(socket);
        let (process, stdin) = Process::spawn("reference DUT", &mut command)?;
        Ok(Self { process, stdin })
    }

    /// Ends forwarding (the child stops when its stdin closes) and returns its cycles.
    pub fn stop(mut self) -> Result<ReferenceCycles, String> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let output = self.process.finish(Duration::from_secs(30))?;
        let figure = |name: &str| {
            output
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .ok_or_else(|| format!("the reference DUT reported no {name}:\n{output}"))
        };
        Ok(ReferenceCycles {
            itr: figure("reference_itr_cycles_per_packet")?,
            etr: figure("reference_etr_cycles_per_packet")?,
        })
    }
}

/// The child: forwards until stdin closes, then prints its cycles per packet.
pub fn run(socket: &Path) -> Result<(), String> {
    let (map_cache, eid_prefix, hosts, _) = world_parts();
    let world = World {
        map_cache: &map_cache,
        remote_rloc: super::REMOTE_RLOC,
        rloc: super::DUT_RLOC,
        eid_gateway: super::EID_GATEWAY,
        eid_prefix,
        hosts: &hosts,
    };
    let (memory, _) = eal::memory_args(DUT_MEMORY_MIB);
    let eal = EalBuilder::new("bench-reference-dut")
        .args([
            "--lcores",
            "0@1",
            "--file-prefix",
            &format!("line-reference-{}", std::process::id()),
            "--no-pci",
            "--no-telemetry",
            "--log-level=lib.eal:error",
        ])
        .args(memory)
        .args([
            client_vdev(socket, 0, EID_LINK),
            client_vdev(socket, 1, RLOC_LINK),
        ])
        .init()
        .map_err(|e| e.to_string())?;
    let pool = Mempool::new(
        &eal,
        "reference_mbufs",
        MempoolConfig {
            size: 16383,
            cache_size: 256,
            data_room: 2176,
        },
    )
    .map_err(|e| e.to_string())?;
    let open = |id: u8| -> Result<Port, String> {
        let port = PortId::by_name(&eal, &format!("net_memif{id}")).map_err(|e| e.to_string())?;
        let config = PortConfig {
            rx_queues: QUEUES,
            tx_queues: QUEUES,
            ..PortConfig::default()
        };
        Port::configure(&eal, port, &pool, config).map_err(|e| e.to_string())
    };
    let (mut eid, mut rloc) = (open(0)?, open(1)?);
    let pairs = |rx: &Port, tx: &Port| -> Result<Vec<Queues>, String> {
        (0..QUEUES)
            .map(|q| {
                Ok(Queues {
                    rx: rx.rx_queue(q).map_err(|e| e.to_string())?,
                    tx: tx.tx_queue(q).map_err(|e| e.to_string())?,
                })
            })
            .collect()
    };
    let mut itr = ReferenceItr::new(&eal, &world, RLOC_LINK, pairs(&eid, &rloc)?)?;
    let mut etr = ReferenceEtr::new(&eal, &world, EID_LINK, pairs(&rloc, &eid)?)?;
    // Links come up only now, with the tables built: the generator waits for them.
    for port in [&mut eid, &mut rloc] {
        port.start().map_err(|e| e.to_string())?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read(&mut [0u8; 1]);
        stopping.store(true, Ordering::Relaxed);
    });
    let (mut itr_busy, mut itr_packets, mut etr_busy, mut etr_packets) = (0u64, 0u64, 0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let start = time::tsc();
        let n = itr.poll();
        let middle = time::tsc();
        if n > 0 {
            itr_busy += middle - start;
            itr_packets += n as u64;
        }
        let n = etr.poll();
        if n > 0 {
            etr_busy += time::tsc() - middle;
            etr_packets += n as u64;
        }
    }
    let per_packet = |busy: u64, packets: u64| busy as f64 / packets.max(1) as f64;
    println!(
        "reference_itr_cycles_per_packet {:.1}",
        per_packet(itr_busy, itr_packets)
    );
    println!(
        "reference_etr_cycles_per_packet {:.1}",
        per_packet(etr_busy, etr_packets)
    );
    Ok(())
}
