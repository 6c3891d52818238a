//! Port smoke: proves DPDK runs on this machine and exchanges real packets with a kernel through
//! the project's safe layer. Exit status 0 only when every step worked.

use std::net::Ipv4Addr;
use std::process::ExitCode;

use dpdk_bindings::EalBuilder;
use tests::smoke::{run_exchange, DPDK_IP, KERNEL_IP};

fn mac(bytes: [u8; 6]) -> String {
    bytes.map(|b| format!("{b:02x}")).join(":")
}

fn main() -> ExitCode {
    let eal = match EalBuilder::new("port-smoke")
        .args(dpdk_bindings::VDEV_ONLY_ARGS)
        .args(["--lcores", "0@0"])
        .init()
    {
        Ok(eal) => eal,
        Err(e) => {
            eprintln!("port-smoke: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("1. EAL up (no hugepages, {} lcore).", eal.lcore_count());
    let payload = b"hello from a DPDK port";
    let report = match run_exchange(&eal, payload) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("port-smoke failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "2. Namespace {} created; DPDK net_af_packet port on veth {} (MAC {}).",
        report.namespace,
        report.dpdk_interface,
        mac(report.port_mac)
    );
    println!(
        "3. ARP: who-has {} tell {} -> answered by the namespace kernel, MAC {} ({:?}).",
        Ipv4Addr::from(KERNEL_IP),
        Ipv4Addr::from(DPDK_IP),
        mac(report.kernel_mac),
        report.arp_round_trip
    );
    println!(
        "4. UDP: a socket in the namespace received {:?} from {}.",
        String::from_utf8_lossy(&report.udp_payload),
        report.udp_source
    );
    println!(
        "5. Port counters: rx {} packets, tx {} packets, rx errors {}, tx errors {}.",
        report.stats.rx_packets,
        report.stats.tx_packets,
        report.stats.rx_errors,
        report.stats.tx_errors
    );
    println!(
        "6. Mbufs still in use after the port closed: {}. Namespace and veth removed.",
        report.pool_in_use_after
    );
    let ok = report.udp_payload == payload
        && report.udp_source.ip() == &Ipv4Addr::from(DPDK_IP)
        && report.pool_in_use_after == 0;
    if ok {
        println!("port smoke: OK");
        ExitCode::SUCCESS
    } else {
        eprintln!("port smoke: FAILED (see above)");
        ExitCode::FAILURE
    }
}
