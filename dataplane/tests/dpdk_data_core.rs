//! The data-core loop over real DPDK ports: two crossed ring-port pairs stand for the EID-side and
//! RLOC-side links. IPv4 and IPv6 EID packets leave encapsulated, byte for byte; LISP packets come
//! back out as their inner packets; ARP and map-cache misses reach the punt ring; every mbuf
//! returns to the pool.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use dataplane::dpdk::{DataCore, PortIo, Side};
use dataplane::mapcache::{
    Action, DatabaseWriter, Instances, LocalEid, Locator, MapCacheWriter, Mapping,
};
use dataplane::pipeline::PacketBuffer as _;
use dataplane::pipeline::PuntLimiter;
use dataplane::pipeline::{
    encapsulate, feedback_channel, CoreCounters, Counter, ItrContext, LocalRlocs, MissLog,
    Neighbours, Nonces, PathConfig, VecBuffer,
};
use dataplane::rcu::Qsbr;
use dataplane::wire::datagram;
use dataplane::wire::ipv4::Ipv4Packet;
use dataplane::wire::lisp::{LispHeader, DATA_PORT};
use dataplane::wire::udp::UdpPacket;
use dpdk_bindings::{
    ring_port_pair, spsc_ring, EalBuilder, MbufBurst, Mempool, MempoolConfig, Port, PortConfig,
    RxQueue, TxQueue, VDEV_ONLY_ARGS,
};

const HOST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
const REMOTE_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x22];
const OUR_RLOC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const REMOTE_RLOC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PETR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);
const PETR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x99];

fn udp_packet(src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
    datagram::build(
        SocketAddr::new(src, 5000),
        SocketAddr::new(dst, 6000),
        payload,
    )
    .unwrap()
}

fn frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, l3: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + l3.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(l3);
    f
}

fn send(pool: &Mempool, tx: &mut TxQueue, frames: &[Vec<u8>]) {
    let mut burst = MbufBurst::new();
    for f in frames {
        let mut m = pool.alloc().expect("mbuf");
        m.write_packet(f).expect("fits");
        burst.push(m).expect("room");
    }
    assert_eq!(tx.tx_burst(&mut burst), frames.len());
}

fn receive(rx: &mut RxQueue) -> Vec<Vec<u8>> {
    let mut burst = MbufBurst::new();
    let mut out = Vec::new();
    while rx.rx_burst(&mut burst) > 0 {
        out.extend(burst.drain().map(|m| m.data().to_vec()));
    }
    out
}

#[test]
fn data_core_forwards_between_real_ports() {
    let eal = EalBuilder::new("dpdk-data-core")
        .args(VDEV_ONLY_ARGS)
        .args(["--lcores", "0@0"])
        .init()
        .expect("EAL");
    let pool = Mempool::new(
        &eal,
        "core_pool",
        MempoolConfig {
            size: 2047,
            cache_size: 0,
            ..MempoolConfig::default()
        },
    )
    .expect("pool");
    let open = |id| {
        let mut p = Port::configure(&eal, id, &pool, PortConfig::default()).expect("configure");
        p.start().expect("start");
        p
    };
    let (host_side, core_eid_id) = ring_port_pair(&eal, "eid", 256).expect("eid pair");
    let (core_rloc_id, remote_side) = ring_port_pair(&eal, "rloc", 256).expect("rloc pair");
    let (host, core_eid, core_rloc, remote) = (
        open(host_side),
        open(core_eid_id),
        open(core_rloc_id),
        open(remote_side),
    );
    let (eid_mac, rloc_mac) = (
        core_eid.mac_address().unwrap(),
        core_rloc.mac_address().unwrap(),
    );
    let (mut host_tx, mut host_rx) = (host.tx_queue(0).unwrap(), host.rx_queue(0).unwrap());
    let (mut remote_tx, mut remote_rx) = (remote.tx_queue(0).unwrap(), remote.rx_queue(0).unwrap());

    let qsbr = Qsbr::new(2);
    let mut cache = MapCacheWriter::new(64, Instances::default(), qsbr.clone());
    let remote_site = Mapping {
        action: Action::Encapsulate,
        instance_id: None,
        map_version: 0,
        locators: vec![Locator::new(IpAddr::V4(REMOTE_RLOC), 1, 100, true)],
    };
    cache
        .insert("10.2.0.0/24".parse().unwrap(), remote_site.clone())
        .unwrap();
    cache
        .insert("2001:db8:b::/64".parse().unwrap(), remote_site)
        .unwrap();
    cache.publish();
    let mut database = DatabaseWriter::new(Instances::default(), qsbr.clone());
    database.insert("10.1.0.0/24".parse().unwrap(), 0).unwrap();
    database
        .insert("2001:db8:a::/64".parse().unwrap(), 0)
        .unwrap();
    database.publish();
    let local = LocalRlocs {
        v4: Some(OUR_RLOC),
        all: vec![IpAddr::V4(OUR_RLOC)],
        status_bits: 1,
        icmp_v4: Some(Ipv4Addr::new(10, 1, 0, 1)),
        ..LocalRlocs::default()
    };
    let (punt_tx, mut punt_rx) = spsc_ring(&eal, "punt", 256).expect("punt ring");
    let counters = Arc::new(CoreCounters::default());
    let host_v4: IpAddr = "10.1.0.10".parse().unwrap();
    let host_v6: IpAddr = "2001:db8:a::10".parse().unwrap();
    let mut core = DataCore {
        eid: Side::one_port(
            PortIo {
                rx: vec![core_eid.rx_queue(0).unwrap()],
                tx: core_eid.tx_queue(0).unwrap(),
                mac: eid_mac,
            },
            LocalEid::default(),
            Neighbours {
                on_link: vec![
                    "10.1.0.0/24".parse().unwrap(),
                    "2001:db8:a::/64".parse().unwrap(),
                ],
                gateways: vec![],
                macs: [(host_v4, HOST_MAC), (host_v6, HOST_MAC)]
                    .into_iter()
                    .collect(),
            },
        ),
        rloc: Side::one_port(
            PortIo {
                rx: vec![core_rloc.rx_queue(0).unwrap()],
                tx: core_rloc.tx_queue(0).unwrap(),
                mac: rloc_mac,
            },
            LocalEid::default(),
            Neighbours {
                on_link: vec!["192.0.2.0/24".parse().unwrap()],
                gateways: vec![],
                macs: [
                    (IpAddr::V4(REMOTE_RLOC), REMOTE_MAC),
                    (IpAddr::V4(PETR), PETR_MAC),
                ]
                .into_iter()
                .collect(),
            },
        ),
        punt: punt_tx,
        pool: pool.clone(),
        reader: qsbr.register().unwrap(),
        map_cache: cache.shared(),
        database: database.shared(),
        instances: Arc::new(Instances::default()),
        instances_updates: None,
        local: Arc::new(local.clone()),
        local_updates: None,
        config: Arc::new(PathConfig::default()),
        config_updates: None,
        tracer: Arc::default(),
        counters: counters.clone(),
        instance_counters: Arc::default(),
        feedback: feedback_channel(64).0,
        nonces: Nonces::new(9),
        echo: Arc::new(dataplane::pipeline::EchoNonces::default()),
        echo_updates: None,
        punt_limiter: PuntLimiter::new(256, u64::MAX / 2),
        misses: MissLog::default(),
        idle_sleep: std::time::Duration::ZERO,
    };

    // ITR: IPv4 and IPv6 EID packets leave encapsulated toward the remote RLOC's MAC.
    let inner4 = udp_packet(host_v4, "10.2.0.20".parse().unwrap(), b"hello v4");
    let inner6 = udp_packet(host_v6, "2001:db8:b::20".parse().unwrap(), b"hello v6");
    let arp = frame([0xff; 6], HOST_MAC, 0x0806, &[0u8; 28]);
    let miss = udp_packet(host_v4, "10.9.0.1".parse().unwrap(), b"unknown");
    let miss_again = udp_packet(host_v4, "10.9.0.2".parse().unwrap(), b"same /24");
    send(
        &pool,
        &mut host_tx,
        &[
            frame(eid_mac, HOST_MAC, 0x0800, &inner4),
            frame(eid_mac, HOST_MAC, 0x86dd, &inner6),
            arp.clone(),
            frame(eid_mac, HOST_MAC, 0x0800, &miss),
            frame(eid_mac, HOST_MAC, 0x0800, &miss_again),
        ],
    );
    assert_eq!(core.poll(), 5);
    let out = receive(&mut remote_rx);
    assert_eq!(out.len(), 2);
    for (frame_bytes, inner) in out.iter().zip([&inner4, &inner6]) {
        assert_eq!(&frame_bytes[0..6], &REMOTE_MAC);
        assert_eq!(&frame_bytes[6..12], &rloc_mac);
        assert_eq!(&frame_bytes[12..14], &[0x08, 0x00], "outer IPv4");
        let ip = Ipv4Packet::new_checked(&frame_bytes[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.src_addr(), ip.dst_addr()), (OUR_RLOC, REMOTE_RLOC));
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(udp.dst_port(), DATA_PORT);
        assert!(LispHeader::new_checked(udp.payload())
            .unwrap()
            .nonce_present());
        assert_eq!(
            &udp.payload()[8..],
            inner.as_slice(),
            "inner packet byte for byte"
        );
    }
    let mut punted = MbufBurst::new();
    punt_rx.dequeue_burst(&mut punted);
    let punted: Vec<Vec<u8>> = punted.drain().map(|m| m.data().to_vec()).collect();
    assert_eq!(punted.len(), 2, "ARP and the map-cache miss");
    assert_eq!(punted[0], arp);
    assert_eq!(
        &punted[1][14..],
        miss.as_slice(),
        "the miss is punted as the whole frame"
    );
    assert_eq!(counters.get(Counter::Encapsulated), 2);
    assert_eq!(counters.get(Counter::PuntMapCacheMiss), 2);
    assert_eq!(
        counters.get(Counter::DropPuntRateLimited),
        1,
        "one punt per /24 per interval"
    );
    assert_eq!(counters.get(Counter::PuntControl), 1);

    // ETR: a LISP packet from the remote RLOC comes out on the EID side as its inner packet.
    let reply = udp_packet("10.2.0.20".parse().unwrap(), host_v4, b"reply");
    let encapsulated = {
        let reader = qsbr.register().unwrap();
        let mut back = MapCacheWriter::new(4, Instances::default(), qsbr.clone());
        back.insert(
            "10.1.0.0/24".parse().unwrap(),
            Mapping {
                action: Action::Encapsulate,
                instance_id: None,
                map_version: 0,
                locators: vec![Locator::new(IpAddr::V4(OUR_RLOC), 1, 100, true)],
            },
        )
        .unwrap();
        back.publish();
        let mut remote_db = DatabaseWriter::new(Instances::default(), qsbr.clone());
        remote_db.insert("10.2.0.0/24".parse().unwrap(), 0).unwrap();
        remote_db.publish();
        let (shared, db) = (back.shared(), remote_db.shared());
        let remote_local = LocalRlocs {
            v4: Some(REMOTE_RLOC),
            all: vec![IpAddr::V4(REMOTE_RLOC)],
            ..LocalRlocs::default()
        };
        let scratch = CoreCounters::default();
        let mut nonces = Nonces::new(1);
        let mut ctx = ItrContext {
            ingress: LocalEid::default(),
            map_cache: shared.view(&reader),
            database: db.view(&reader),
            local: &remote_local,
            config: &PathConfig::default(),
            counters: &scratch,
            nonces: &mut nonces,
            echo: &dataplane::pipeline::EchoNonces::default(),
            misses: &mut MissLog::default(),
        };
        let mut buffer = VecBuffer::new(128, &reply, 512);
        encapsulate(&mut ctx, &mut buffer);
        buffer.data().to_vec()
    };
    send(
        &pool,
        &mut remote_tx,
        &[frame(rloc_mac, REMOTE_MAC, 0x0800, &encapsulated)],
    );
    assert_eq!(core.poll(), 1);
    let delivered = receive(&mut host_rx);
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0], frame(HOST_MAC, eid_mac, 0x0800, &reply));
    assert_eq!(counters.get(Counter::Decapsulated), 1);

    // With a PETR for misses, published as the control core does, unknown destinations leave
    // encapsulated to it while a report of the first miss per prefix (its addresses, not a copy
    // of the packet) reaches the control core.
    let (settings, updates) = dataplane::mailbox::mailbox();
    core.config_updates = Some(updates);
    settings.publish(Arc::new(PathConfig {
        petr: Some(IpAddr::V4(PETR)),
        petr_for_misses: true,
        ..PathConfig::default()
    }));
    let to_petr = [
        udp_packet(host_v4, "10.8.0.1".parse().unwrap(), b"first"),
        udp_packet(host_v4, "10.8.0.2".parse().unwrap(), b"second"),
    ];
    send(
        &pool,
        &mut host_tx,
        &to_petr
            .iter()
            .map(|p| frame(eid_mac, HOST_MAC, 0x0800, p))
            .collect::<Vec<_>>(),
    );
    assert_eq!(core.poll(), 2);
    let out = receive(&mut remote_rx);
    assert_eq!(out.len(), 2, "both misses go to the PETR");
    for (frame_bytes, inner) in out.iter().zip(&to_petr) {
        assert_eq!(&frame_bytes[0..6], &PETR_MAC);
        let ip = Ipv4Packet::new_checked(&frame_bytes[14..]).unwrap();
        assert_eq!((ip.src_addr(), ip.dst_addr()), (OUR_RLOC, PETR));
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(udp.dst_port(), DATA_PORT);
        assert_eq!(&udp.payload()[8..], inner.as_slice());
    }
    let mut punted = MbufBurst::new();
    punt_rx.dequeue_burst(&mut punted);
    let reports: Vec<(u16, Vec<u8>)> = punted
        .drain()
        .map(|m| (m.input_port(), m.data().to_vec()))
        .collect();
    assert_eq!(reports.len(), 1, "one report for the first miss per prefix");
    let (port, report) = &reports[0];
    assert_eq!(
        *port,
        core_eid.id().raw(),
        "reported as a miss from the EID side"
    );
    let ip = Ipv4Packet::new_checked(&report[14..]).unwrap();
    assert_eq!(
        (ip.src_addr(), ip.dst_addr(), ip.payload().len()),
        (
            "10.1.0.10".parse::<std::net::Ipv4Addr>().unwrap(),
            "10.8.0.1".parse().unwrap(),
            0
        ),
        "source and destination, no copy of the packet"
    );
    assert_eq!(counters.get(Counter::MissToPetr), 2);
    assert_eq!(counters.get(Counter::DropPuntRateLimited), 2);

    drop(core);
    drop(punt_rx);
    drop((host_tx, host_rx, remote_tx, remote_rx));
    drop((host, core_eid, core_rloc, remote));
    assert_eq!(pool.in_use(), 0, "every mbuf is back in the pool");
}
