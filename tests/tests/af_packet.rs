//! A DPDK `net_af_packet` port on a veth exchanges real packets with the kernel of a test network
//! namespace: ARP answered by that kernel, a UDP datagram received by a socket there.
//! Needs root (namespaces); it fails with a clear message otherwise.

use dpdk_bindings::EalBuilder;
use tests::smoke::{run_exchange, DPDK_IP};

#[test]
fn af_packet_port_talks_to_a_kernel_in_a_namespace() {
    let eal = EalBuilder::new("af-packet-test")
        .args(dpdk_bindings::VDEV_ONLY_ARGS)
        .args(["--lcores", "0@0"])
        .init()
        .expect("EAL init");
    let payload = b"datagram through net_af_packet";
    let report = run_exchange(&eal, payload).unwrap_or_else(|e| panic!("exchange failed: {e}"));
    assert_ne!(report.kernel_mac, [0; 6]);
    assert_ne!(report.kernel_mac, report.port_mac);
    assert_eq!(report.udp_payload, payload);
    assert_eq!(report.udp_source.ip().octets(), DPDK_IP);
    assert_eq!(report.udp_source.port(), 5555);
    assert!(
        report.stats.tx_packets >= 2,
        "ARP + UDP sent: {:?}",
        report.stats
    );
    assert!(
        report.stats.rx_packets >= 1,
        "ARP reply received: {:?}",
        report.stats
    );
    assert_eq!(report.pool_in_use_after, 0, "every mbuf back in the pool");
    let leftover = tests::netns::run("ip", &["netns", "list"]).expect("ip netns list");
    assert!(!leftover.contains(&report.namespace), "namespace removed");
}
