//! Bad input gives clear errors, never a panic or a hang: EAL arguments, vdevs, ports, queues, names.
//! One test, because the EAL state it walks through is process-wide.

mod common;

use common::TEST_EAL_ARGS;
use dpdk_bindings::{
    attach_vdev, lcore, ring_port_pair, spsc_ring, EalBuilder, Error, Mempool, MempoolConfig, Port,
    PortConfig, PortId,
};

#[test]
fn every_bad_request_is_a_clear_error() {
    let bad = EalBuilder::new("errors")
        .args(TEST_EAL_ARGS)
        .arg("--no-such-eal-option")
        .init()
        .expect_err("unknown EAL option");
    let text = bad.to_string();
    assert!(text.contains("rte_eal_init"), "{text}");
    assert!(
        text.contains("--no-such-eal-option"),
        "names the arguments: {text}"
    );

    let help = EalBuilder::new("errors")
        .arg("--help")
        .init()
        .expect_err("--help");
    assert!(matches!(help, Error::InvalidArgument(_)), "{help}");

    let eal = EalBuilder::new("errors")
        .args(TEST_EAL_ARGS)
        .args(["--lcores", "0@0"])
        .init()
        .expect("good arguments after a bad attempt");
    let again = EalBuilder::new("errors").args(TEST_EAL_ARGS).init();
    assert!(matches!(again, Err(Error::EalAlreadyInitialised)));

    let probe = attach_vdev(&eal, "net_pcap_bad0,rx_pcap=/nonexistent/in.pcap")
        .expect_err("vdev whose file does not exist");
    assert!(probe.to_string().contains("rte_dev_probe"), "{probe}");
    let unknown = attach_vdev(&eal, "net_no_such_driver0").expect_err("unknown driver");
    assert!(
        unknown.to_string().contains("net_no_such_driver0"),
        "{unknown}"
    );

    assert!(matches!(PortId::new(&eal, 200), Err(Error::NoSuchPort(_))));
    assert!(matches!(
        PortId::by_name(&eal, "nope"),
        Err(Error::NoSuchPort(_))
    ));

    let pool = Mempool::new(
        &eal,
        "errors_pool",
        MempoolConfig {
            size: 255,
            cache_size: 0,
            ..Default::default()
        },
    )
    .expect("pool");
    let duplicate = Mempool::new(&eal, "errors_pool", MempoolConfig::default()).expect_err("dup");
    assert!(duplicate.to_string().contains("errors_pool"), "{duplicate}");

    let (a, _b) = ring_port_pair(&eal, "errors", 64).expect("pair");
    let too_many = Port::configure(
        &eal,
        a,
        &pool,
        PortConfig {
            rx_queues: 4,
            ..Default::default()
        },
    )
    .expect_err("ring port has one queue");
    assert!(
        too_many.to_string().contains("device supports"),
        "{too_many}"
    );
    let zero = Port::configure(
        &eal,
        a,
        &pool,
        PortConfig {
            tx_queues: 0,
            ..Default::default()
        },
    )
    .expect_err("zero queues");
    assert!(matches!(zero, Error::InvalidArgument(_)));

    let mut port = Port::configure(&eal, a, &pool, PortConfig::default()).expect("configure");
    port.start().expect("start");
    let rx = port.rx_queue(0).expect("first handle");
    assert!(
        matches!(port.rx_queue(0), Err(Error::Queue { .. })),
        "given out once"
    );
    assert!(
        matches!(port.tx_queue(3), Err(Error::Queue { .. })),
        "not configured"
    );
    assert!(
        matches!(port.stop(), Err(Error::PortBusy(_))),
        "queue still held"
    );
    drop(rx);
    port.stop().expect("stop once the queue is gone");

    let _ring = spsc_ring(&eal, "errors_ring", 16).expect("ring");
    assert!(
        spsc_ring(&eal, "errors_ring", 16).is_err(),
        "duplicate ring name"
    );
    assert!(matches!(
        lcore::launch(&eal, 5, || ()),
        Err(Error::Lcore { .. })
    ));
    assert_eq!(pool.in_use(), 0);
}
