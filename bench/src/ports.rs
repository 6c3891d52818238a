//! The I/O floor every data-path figure sits on: cycles per packet to transmit a burst of 64-byte
//! frames on one port of a ring pair and receive it on the other, through the safe layer.
//! Also the safe layer's overhead check: a TX+RX round of 32 packets should cost a handful of cycles
//! per packet (DESIGN section 8: one C call per burst costs 1–2 cycles per packet).

use dpdk_bindings::{
    ring_port_pair, time, EalBuilder, MbufBurst, Mempool, MempoolConfig, Port, PortConfig,
    MAX_BURST,
};

const ROUNDS: u64 = 2_000_000;
const RUNS: usize = 5;

pub fn run() -> Result<(), dpdk_bindings::Error> {
    let eal = EalBuilder::new("bench-ports")
        .args([
            "--no-huge",
            "-m",
            "512",
            "--no-shconf",
            "--no-pci",
            "--no-telemetry",
        ])
        .args(["--lcores", "0@0", "--log-level=lib.eal:error"])
        .init()?;
    let pool = Mempool::new(&eal, "bench_ports", MempoolConfig::default())?;
    let (a, b) = ring_port_pair(&eal, "bench", 1024)?;
    let mut port_a = Port::configure(&eal, a, &pool, PortConfig::default())?;
    let mut port_b = Port::configure(&eal, b, &pool, PortConfig::default())?;
    port_a.start()?;
    port_b.start()?;
    let mut tx = port_a.tx_queue(0)?;
    let mut rx = port_b.rx_queue(0)?;

    let mut burst = MbufBurst::new();
    pool.alloc_bulk(&mut burst, MAX_BURST)?;
    for mbuf in burst.as_mut_slice() {
        if let Some(data) = mbuf.append(64) {
            data.fill(0x5a);
        }
    }
    let hz = time::tsc_hz(&eal);
    let mut per_packet = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = time::tsc();
        for _ in 0..ROUNDS {
            tx.tx_burst(&mut burst);
            rx.rx_burst(&mut burst);
        }
        let cycles = time::tsc() - start;
        per_packet.push(cycles as f64 / (ROUNDS * MAX_BURST as u64) as f64);
    }
    per_packet.sort_by(f64::total_cmp);
    let median = per_packet[RUNS / 2];
    println!("ports_txrx_cycles_per_packet {median:.2}");
    println!("ports_txrx_mpps {:.1}", hz as f64 / median / 1e6);
    println!("tsc_hz {hz}");
    Ok(())
}
