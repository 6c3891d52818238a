//! `cargo run --release -p bench -- SUITE`: each suite prints one line per figure and one
//! `RATIO name value` line per side-by-side comparison (ours divided by the baseline).

mod control;
mod eal;
mod encap;
mod five_tuple;
mod instances;
mod line;
mod lpm;
mod memory;
mod ms;
mod ports;
mod prefixes;
mod update;
mod wire;

use std::process::ExitCode;

const SUITES: [(&str, &str); 10] = [
    (
        "control",
        "the xTR control core answering Map-Requests (direct and ECM) vs the 100k/s goal",
    ),
    (
        "ms",
        "lisp-ms: authenticated Map-Registers/s and ECM Map-Requests/s vs the 200k/500k goals",
    ),
    (
        "encap",
        "ITR encap / ETR decap cycles per 64-byte packet over a 1M-prefix map-cache vs 5-tuple swap",
    ),
    (
        "update",
        "IPv4 lookup rate on one core while the other applies 10k updates/s, vs no updates",
    ),
    (
        "lpm",
        "LPM cycles per lookup, update rates and memory vs rte_fib / rte_fib6 (1M IPv4, 100k IPv6)",
    ),
    (
        "instances",
        "memory per empty instance, and IPv4 lookup cycles with 1M prefixes over 1,000 instances vs one",
    ),
    (
        "line",
        "lispd vs the reference ITR/ETR (rte_fib + templates) in a ring pair and behind net_memif, and vs dpdk-testpmd 5tswap: Mpps, cycles/packet, p50/p99 latency (1M prefixes)",
    ),
    (
        "memory",
        "cycles per random read by working-set size, overlapped as in a burst and dependent",
    ),
    (
        "ports",
        "I/O floor: TX+RX burst cycles per packet over an in-process ring port pair",
    ),
    (
        "wire",
        "codec costs: Map-Request and LISP header parse/emit, HMAC-SHA-256 of a Map-Register",
    ),
];

fn main() -> ExitCode {
    let suite = std::env::args().nth(1).unwrap_or_default();
    let result = match suite.as_str() {
        "memory" => memory::run(),
        "ports" => ports::run().map_err(|e| e.to_string()),
        "wire" => wire::run(),
        "lpm" => lpm::run(),
        "instances" => instances::run(),
        "update" => update::run(),
        "encap" => encap::run(),
        "control" => control::run(),
        "ms" => ms::run(),
        "line" => line::run(),
        // The reference forwarder as `line`'s DUT, in a process of its own.
        line::REFERENCE_DUT => match std::env::args().nth(2) {
            Some(socket) => line::run_reference_dut(std::path::Path::new(&socket)),
            None => Err(format!("usage: bench {} SOCKET", line::REFERENCE_DUT)),
        },
        _ => {
            eprintln!("usage: bench SUITE\nsuites:");
            for (name, what) in SUITES {
                eprintln!("  {name:8} {what}");
            }
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench {suite}: {e}");
            ExitCode::FAILURE
        }
    }
}
