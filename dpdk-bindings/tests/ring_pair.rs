//! Packets through a crossed ring port pair, mbuf headroom operations, SPSC rings and lcore launch.

mod common;

use common::{eal, frame, pool};
use dpdk_bindings::{lcore, ring_port_pair, spsc_ring, MbufBurst, Port, PortConfig, MAX_BURST};

#[test]
fn packets_sent_on_one_port_arrive_intact_on_the_other() {
    let (eal, _serial) = eal();
    let pool = pool(eal, "rp_pool");
    let (a, b) = ring_port_pair(eal, "rp", 1024).expect("ring pair");
    let mut port_a = Port::configure(eal, a, &pool, PortConfig::default()).expect("configure A");
    let mut port_b = Port::configure(eal, b, &pool, PortConfig::default()).expect("configure B");
    port_a.start().expect("start A");
    port_b.start().expect("start B");
    let mut tx = port_a.tx_queue(0).expect("A tx");
    let mut rx = port_b.rx_queue(0).expect("B rx");

    let sizes = [60usize, 64, 128, 1000, 1514];
    let sent: Vec<Vec<u8>> = (0..40)
        .map(|i| frame(sizes[i % sizes.len()], i as u8))
        .collect();
    for chunk in sent.chunks(MAX_BURST) {
        let mut burst = MbufBurst::new();
        for bytes in chunk {
            let mut mbuf = pool.alloc().expect("mbuf");
            mbuf.write_packet(bytes).expect("fits");
            burst.push(mbuf).expect("room");
        }
        assert_eq!(tx.tx_burst(&mut burst), chunk.len());
        assert!(burst.is_empty());
    }

    let mut received = Vec::new();
    let mut burst = MbufBurst::new();
    while rx.rx_burst(&mut burst) > 0 {
        received.extend(burst.as_slice().iter().map(|m| m.data().to_vec()));
        burst.free_all();
    }
    assert_eq!(received, sent);
    assert_eq!(port_a.stats().expect("stats").tx_packets, 40);
    assert_eq!(port_b.stats().expect("stats").rx_packets, 40);

    drop((tx, rx));
    port_a.stop().expect("stop A");
    port_b.stop().expect("stop B");
    assert_eq!(pool.in_use(), 0, "every mbuf is back in the pool");
}

#[test]
fn unsent_mbufs_stay_with_the_caller() {
    let (eal, _serial) = eal();
    let pool = pool(eal, "full_pool");
    // A 16-slot ring: a 32-packet burst cannot all fit.
    let (a, b) = ring_port_pair(eal, "full", 16).expect("ring pair");
    let mut port_a = Port::configure(eal, a, &pool, PortConfig::default()).expect("configure A");
    let mut port_b = Port::configure(eal, b, &pool, PortConfig::default()).expect("configure B");
    port_a.start().expect("start A");
    port_b.start().expect("start B");
    let mut tx = port_a.tx_queue(0).expect("A tx");
    let mut rx = port_b.rx_queue(0).expect("B rx");

    let mut burst = MbufBurst::new();
    pool.alloc_bulk(&mut burst, MAX_BURST).expect("bulk alloc");
    for (i, mbuf) in burst.as_mut_slice().iter_mut().enumerate() {
        mbuf.write_packet(&frame(64, i as u8)).expect("fits");
    }
    let sent = tx.tx_burst(&mut burst);
    assert_eq!(sent, 16);
    assert_eq!(burst.len(), MAX_BURST - 16);
    // The first unsent packet is the 17th of the burst.
    assert_eq!(burst.as_slice()[0].data(), frame(64, 16).as_slice());
    assert_eq!(pool.in_use(), MAX_BURST as u32);

    drop(burst);
    let mut got = MbufBurst::new();
    assert_eq!(rx.rx_burst(&mut got), 16);
    drop(got);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn headroom_and_tailroom_operations() {
    let (eal, _serial) = eal();
    let pool = pool(eal, "room_pool");
    let mut mbuf = pool.alloc().expect("mbuf");
    let headroom = mbuf.headroom();
    assert!(headroom >= 64, "DPDK default headroom is 128");
    mbuf.append(10)
        .expect("append")
        .copy_from_slice(b"0123456789");
    assert_eq!(mbuf.data(), b"0123456789");

    let front = mbuf.prepend(4).expect("prepend");
    front[..4].copy_from_slice(b"HDR:");
    assert_eq!(mbuf.data(), b"HDR:0123456789");
    assert_eq!(mbuf.headroom(), headroom - 4);
    assert_eq!(mbuf.packet_len(), 14);

    assert_eq!(mbuf.trim_front(4).expect("trim front"), b"0123456789");
    mbuf.trim_back(5).expect("trim back");
    assert_eq!(mbuf.data(), b"01234");

    assert!(
        mbuf.prepend(mbuf.headroom() + 1).is_none(),
        "headroom exhausted"
    );
    assert!(
        mbuf.append(mbuf.tailroom() + 1).is_none(),
        "tailroom exhausted"
    );
    assert!(
        mbuf.trim_front(6).is_none(),
        "cannot trim more than the packet"
    );
    assert!(mbuf.trim_back(6).is_none());
    assert_eq!(mbuf.data(), b"01234", "failed operations change nothing");

    let mut burst = MbufBurst::new();
    pool.alloc_bulk(&mut burst, 3).expect("bulk");
    let mut drained = burst.drain();
    assert!(drained.next().is_some());
    drop(drained);
    assert!(burst.is_empty(), "drain empties the burst");
    assert_eq!(
        pool.in_use(),
        1,
        "undrained mbufs were freed with the iterator"
    );

    burst.push(mbuf).expect("room");
    let mut rejected = Vec::new();
    pool.alloc_bulk(&mut burst, 3).expect("bulk");
    burst.retain(|m| !m.is_empty(), |m| rejected.push(m));
    assert_eq!(burst.len(), 1);
    assert_eq!(rejected.len(), 3);
    drop(rejected);
    drop(burst);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn ring_hands_mbufs_to_a_worker_lcore() {
    let (eal, _serial) = eal();
    let pool = pool(eal, "spsc_pool");
    let (mut producer, mut consumer) = spsc_ring(eal, "punt", 64).expect("ring");
    let workers = lcore::workers(eal);
    assert_eq!(workers, vec![1]);

    let total = 500usize;
    let worker = lcore::launch(eal, 1, move || {
        assert_eq!(lcore::current(), Some(1));
        let mut burst = MbufBurst::new();
        let mut seen = Vec::with_capacity(total);
        while seen.len() < total {
            consumer.dequeue_burst(&mut burst);
            seen.extend(burst.as_slice().iter().map(|m| m.data()[14]));
            burst.free_all();
        }
        seen
    })
    .expect("launch");

    let mut burst = MbufBurst::new();
    for i in 0..total {
        let mut mbuf = pool.alloc().expect("mbuf");
        mbuf.write_packet(&frame(60, i as u8)).expect("fits");
        while let Err(back) = burst.push(mbuf) {
            producer.enqueue_burst(&mut burst);
            mbuf = back;
        }
    }
    while !burst.is_empty() {
        producer.enqueue_burst(&mut burst);
    }
    let seen = worker.join().expect("worker finished");
    let expected: Vec<u8> = (0..total).map(|i| i as u8).collect();
    assert_eq!(seen, expected, "order and content preserved");
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn a_panic_on_a_worker_comes_back_to_join() {
    let (eal, _serial) = eal();
    let worker = lcore::launch(eal, 1, || -> u32 { panic!("boom on lcore") }).expect("launch");
    assert!(worker.join().is_err());
    // The lcore is usable again.
    assert_eq!(
        lcore::launch(eal, 1, || 7).expect("relaunch").join().ok(),
        Some(7)
    );
    assert!(
        lcore::launch(eal, 0, || 0).is_err(),
        "main lcore is not a worker"
    );
}
