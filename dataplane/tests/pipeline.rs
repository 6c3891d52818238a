//! ITR encapsulation and ETR decapsulation over plain buffers: all four family combinations
//! round-trip bit-exactly, outer fields are right, checksums verify independently, and every
//! other outcome has its verdict and counter.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dataplane::mapcache::{
    Action, DatabaseWriter, Instances, LocalEid, Locator, MapCacheWriter, Mapping,
};
use dataplane::pipeline::{
    decapsulate, encapsulate, overhead, AllowedSources, CoreCounters, Counter, EchoNonces,
    EtrContext, EtrVerdict, ItrContext, ItrVerdict, LocalRlocs, LocatorFeedback, MissLog, Nonces,
    PacketBuffer, PathConfig, VecBuffer,
};
use dataplane::rcu::Qsbr;
use dataplane::wire::checksum::{finish, pseudo_header_v6, sum};
use dataplane::wire::ipv4::{Ipv4Packet, Ipv4Repr, PROTOCOL_UDP};
use dataplane::wire::ipv6::{Ipv6Packet, Ipv6Repr};
use dataplane::wire::lisp::{LispHeader, LispRepr, CONTROL_PORT, DATA_PORT};
use dataplane::wire::udp::{self, UdpPacket};
use ipnet::IpNet;

const RLOC_A4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const RLOC_B4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
fn rloc_a6() -> Ipv6Addr {
    "2001:db8:ff::1".parse().unwrap()
}
fn rloc_b6() -> Ipv6Addr {
    "2001:db8:ff::2".parse().unwrap()
}

/// An inner UDP packet from `src` to `dst` with `payload_len` bytes of payload.
fn inner_packet(src: IpAddr, dst: IpAddr, payload_len: usize, tos: u8) -> Vec<u8> {
    let (header, mut bytes) = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut b = vec![0u8; 20 + 8 + payload_len];
            Ipv4Repr {
                src: s,
                dst: d,
                protocol: PROTOCOL_UDP,
                payload_len: (8 + payload_len) as u16,
                ttl: 33,
                tos,
            }
            .emit(&mut b);
            (20, b)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut b = vec![0u8; 40 + 8 + payload_len];
            Ipv6Repr {
                src: s,
                dst: d,
                next_header: PROTOCOL_UDP,
                payload_len: (8 + payload_len) as u16,
                hop_limit: 33,
                traffic_class: tos,
                flow_label: 0,
            }
            .emit(&mut b);
            (40, b)
        }
        _ => unreachable!(),
    };
    udp::write_header(&mut bytes[header..], 1234, 80, payload_len as u16);
    for (i, b) in bytes[header + 8..].iter_mut().enumerate() {
        *b = i as u8;
    }
    bytes
}

struct Site {
    qsbr: std::sync::Arc<Qsbr>,
    cache: MapCacheWriter,
    database: DatabaseWriter,
    instances: Instances,
    /// The instance of the EID port packets come from.
    ingress: LocalEid,
    local: LocalRlocs,
    echo: EchoNonces,
}

/// Site A: EIDs 10.1.0.0/24 and 2001:db8:a::/64; knows site B (10.2.0.0/24, 2001:db8:b::/64) at
/// `remote` RLOCs, with instance-id `iid`.
fn site(own: (Ipv4Addr, Ipv6Addr), remote: IpAddr, iid: Option<u32>) -> Site {
    let qsbr = Qsbr::new(2);
    let instances = Instances::new(iid).unwrap();
    let mut cache = MapCacheWriter::new(1024, instances.clone(), qsbr.clone());
    let mapping = Mapping {
        action: Action::Encapsulate,
        instance_id: iid,
        map_version: 0,
        locators: vec![Locator::new(remote, 1, 100, true)],
    };
    for prefix in ["10.2.0.0/24", "2001:db8:b::/64"] {
        cache
            .insert(prefix.parse().unwrap(), mapping.clone())
            .unwrap();
    }
    cache.publish();
    let mut database = DatabaseWriter::new(instances.clone(), qsbr.clone());
    for prefix in [
        "10.1.0.0/24",
        "2001:db8:a::/64",
        "10.2.0.0/24",
        "2001:db8:b::/64",
    ] {
        database
            .insert(prefix.parse::<IpNet>().unwrap(), iid.unwrap_or(0))
            .unwrap();
    }
    database.publish();
    let local = LocalRlocs {
        v4: Some(own.0),
        v6: Some(own.1),
        all: vec![IpAddr::V4(own.0), IpAddr::V6(own.1)],
        status_bits: 1,
        icmp_v4: Some(Ipv4Addr::new(10, 1, 0, 1)),
        icmp_v6: Some("2001:db8:a::1".parse().unwrap()),
        ..LocalRlocs::default()
    };
    let ingress = LocalEid {
        instance_id: iid,
        table: instances.table(iid).unwrap(),
    };
    Site {
        qsbr,
        cache,
        database,
        instances,
        ingress,
        local,
        echo: EchoNonces::default(),
    }
}

fn run_itr(site: &Site, config: &PathConfig, packet: &mut VecBuffer) -> (ItrVerdict, CoreCounters) {
    run_itr_from(site, site.ingress, config, packet)
}

/// [`run_itr`] for a packet that came in on an EID port of instance `ingress`.
fn run_itr_from(
    site: &Site,
    ingress: LocalEid,
    config: &PathConfig,
    packet: &mut VecBuffer,
) -> (ItrVerdict, CoreCounters) {
    let reader = site.qsbr.register().unwrap();
    let (cache, database) = (site.cache.shared(), site.database.shared());
    let counters = CoreCounters::default();
    let mut nonces = Nonces::new(7);
    let mut ctx = ItrContext {
        ingress,
        map_cache: cache.view(&reader),
        database: database.view(&reader),
        local: &site.local,
        config,
        counters: &counters,
        nonces: &mut nonces,
        echo: &site.echo,
        misses: &mut MissLog::default(),
    };
    let verdict = encapsulate(&mut ctx, packet);
    (verdict, counters)
}

/// Decapsulates at `site`: the verdict, the counters and what went to the control core.
fn run_etr(
    site: &Site,
    packet: &mut VecBuffer,
) -> (EtrVerdict, CoreCounters, Option<LocatorFeedback>) {
    run_etr_as(site, packet, EtrRole::Etr)
}

/// What an ETR does with LISP data for EIDs that are not its own.
#[derive(Clone, PartialEq)]
enum EtrRole {
    /// Drops it.
    Etr,
    /// Forwards it natively.
    ProxyEtr,
    /// Forwards it natively for the ITRs the list admits.
    ProxyEtrFor(Box<AllowedSources>),
    /// Encapsulates it again.
    Rtr,
}

/// [`run_etr`] in `role`.
fn run_etr_as(
    site: &Site,
    packet: &mut VecBuffer,
    role: EtrRole,
) -> (EtrVerdict, CoreCounters, Option<LocatorFeedback>) {
    let reader = site.qsbr.register().unwrap();
    let database = site.database.shared();
    let counters = CoreCounters::default();
    let (mut feedback, receiver) = dataplane::pipeline::feedback_channel(16);
    let mut ctx = EtrContext {
        database: database.view(&reader),
        instances: &site.instances,
        local: &site.local,
        counters: &counters,
        feedback: &mut feedback,
        echo: &site.echo,
        proxy_etr: matches!(role, EtrRole::ProxyEtr | EtrRole::ProxyEtrFor(_)),
        proxy_etr_allowed: match &role {
            EtrRole::ProxyEtrFor(allowed) => allowed.as_ref(),
            _ => &AllowedSources::default(),
        },
        reencapsulate: role == EtrRole::Rtr,
    };
    (decapsulate(&mut ctx, packet), counters, receiver.pop())
}

/// A proxy-ETR (RFC 6832) decapsulates traffic for non-LISP destinations and hands it on for
/// native forwarding; an ETR drops it. A proxy-ITR encapsulates from sources outside its
/// database (no local-source check), an ITR drops them.
#[test]
fn proxy_roles_forward_to_and_from_non_lisp_space() {
    let mut a = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_B4), None);
    let b = site((RLOC_B4, rloc_b6()), IpAddr::V4(RLOC_A4), None);
    let to_internet = Mapping {
        action: Action::Encapsulate,
        instance_id: None,
        map_version: 0,
        locators: vec![Locator::new(IpAddr::V4(RLOC_B4), 1, 100, true)],
    };
    a.cache
        .insert("198.51.100.0/24".parse().unwrap(), to_internet)
        .unwrap();
    a.cache.publish();
    let (src, internet): (IpAddr, IpAddr) = (
        "10.1.0.10".parse().unwrap(),
        "198.51.100.7".parse().unwrap(),
    );
    let encapsulated = |a: &Site| {
        let mut buffer = VecBuffer::new(128, &inner_packet(src, internet, 64, 0), 2048);
        let (verdict, _) = run_itr(a, &PathConfig::default(), &mut buffer);
        assert_eq!(
            verdict,
            ItrVerdict::Encapsulated {
                rloc: IpAddr::V4(RLOC_B4)
            }
        );
        buffer
    };
    let mut buffer = encapsulated(&a);
    let (verdict, counters, _) = run_etr_as(&b, &mut buffer, EtrRole::Etr);
    assert_eq!(verdict, EtrVerdict::Drop(Counter::DropNotOurEid));
    assert_eq!(counters.get(Counter::DropNotOurEid), 1);
    let mut buffer = encapsulated(&a);
    let (verdict, counters, _) = run_etr_as(&b, &mut buffer, EtrRole::ProxyEtr);
    assert_eq!(
        verdict,
        EtrVerdict::NativeForward {
            destination: internet
        }
    );
    assert_eq!(counters.get(Counter::ProxyEtrForwarded), 1);
    assert_eq!(
        buffer.data(),
        inner_packet(src, internet, 64, 0),
        "stripped to the inner packet"
    );
    // With a list of ITRs it forwards for, only for those.
    let only = |net: &str| {
        EtrRole::ProxyEtrFor(Box::new(
            AllowedSources::new(&[net.parse().unwrap()]).unwrap(),
        ))
    };
    let mut buffer = encapsulated(&a);
    let (verdict, counters, _) = run_etr_as(&b, &mut buffer, only("192.0.2.0/30"));
    assert!(matches!(verdict, EtrVerdict::NativeForward { .. }));
    assert_eq!(counters.get(Counter::ProxyEtrForwarded), 1);
    let mut buffer = encapsulated(&a);
    let (verdict, counters, _) = run_etr_as(&b, &mut buffer, only("198.51.100.0/24"));
    assert_eq!(verdict, EtrVerdict::Drop(Counter::DropProxyEtrNotAllowed));
    assert_eq!(counters.get(Counter::DropProxyEtrNotAllowed), 1);

    // From non-LISP space toward site B's EIDs.
    let from_internet = || {
        VecBuffer::new(
            128,
            &inner_packet(internet, "10.2.0.20".parse().unwrap(), 64, 0),
            2048,
        )
    };
    let (verdict, _) = run_itr(&a, &PathConfig::default(), &mut from_internet());
    assert_eq!(verdict, ItrVerdict::Drop(Counter::DropNotLocalSource));
    let pitr = PathConfig {
        require_local_source: false,
        ..PathConfig::default()
    };
    let (verdict, counters) = run_itr(&a, &pitr, &mut from_internet());
    assert_eq!(
        verdict,
        ItrVerdict::Encapsulated {
            rloc: IpAddr::V4(RLOC_B4)
        }
    );
    assert_eq!(counters.get(Counter::Encapsulated), 1);
}

#[test]
fn all_four_family_combinations_round_trip() {
    for (inner_v6, outer_v6) in [(false, false), (true, false), (false, true), (true, true)] {
        let (remote, own_b) = if outer_v6 {
            (IpAddr::V6(rloc_b6()), (RLOC_B4, rloc_b6()))
        } else {
            (IpAddr::V4(RLOC_B4), (RLOC_B4, rloc_b6()))
        };
        let a = site((RLOC_A4, rloc_a6()), remote, Some(0x00abcd));
        let b = site(own_b, IpAddr::V4(RLOC_A4), Some(0x00abcd));
        let (src, dst): (IpAddr, IpAddr) = if inner_v6 {
            (
                "2001:db8:a::10".parse().unwrap(),
                "2001:db8:b::20".parse().unwrap(),
            )
        } else {
            ("10.1.0.10".parse().unwrap(), "10.2.0.20".parse().unwrap())
        };
        let original = inner_packet(src, dst, 100, 0xb9);
        let mut buffer = VecBuffer::new(128, &original, 2048);
        let config = PathConfig::default();
        let (verdict, counters) = run_itr(&a, &config, &mut buffer);
        assert_eq!(
            verdict,
            ItrVerdict::Encapsulated { rloc: remote },
            "inner v6 {inner_v6} outer v6 {outer_v6}"
        );
        assert_eq!(counters.get(Counter::Encapsulated), 1);
        let outer = buffer.data().to_vec();
        assert_eq!(outer.len(), original.len() + overhead(outer_v6));
        check_outer(&outer, &original, outer_v6, remote);

        let (verdict, counters, _) = run_etr(&b, &mut buffer);
        assert_eq!(
            verdict,
            EtrVerdict::Decapsulated {
                destination: dst,
                table: b.ingress.table
            }
        );
        assert_eq!(counters.get(Counter::Decapsulated), 1);
        assert_eq!(buffer.data(), original.as_slice(), "bit-exact inner packet");
    }
}

/// Checks every outer field against an independent reading.
fn check_outer(outer: &[u8], inner: &[u8], outer_v6: bool, remote: IpAddr) {
    let (udp_at, src, dst) = if outer_v6 {
        let ip = Ipv6Packet::new_checked(outer).unwrap();
        assert_eq!(
            (ip.next_header(), ip.hop_limit(), ip.traffic_class()),
            (PROTOCOL_UDP, 33, 0xb9)
        );
        assert_eq!(usize::from(ip.payload_len()), outer.len() - 40);
        (40, IpAddr::V6(ip.src_addr()), IpAddr::V6(ip.dst_addr()))
    } else {
        let ip = Ipv4Packet::new_checked(outer).unwrap();
        assert!(ip.verify_checksum(), "outer IPv4 header checksum");
        assert_eq!(
            (ip.protocol(), ip.ttl(), ip.tos()),
            (PROTOCOL_UDP, 33, 0xb9),
            "TTL and DSCP/ECN copied from inner"
        );
        assert!(ip.dont_fragment());
        assert_eq!(usize::from(ip.total_len()), outer.len());
        (20, IpAddr::V4(ip.src_addr()), IpAddr::V4(ip.dst_addr()))
    };
    assert_eq!(dst, remote);
    assert_eq!(
        src,
        if outer_v6 {
            IpAddr::V6(rloc_a6())
        } else {
            IpAddr::V4(RLOC_A4)
        }
    );
    let udp = UdpPacket::new_checked(&outer[udp_at..]).unwrap();
    assert_eq!(udp.dst_port(), DATA_PORT);
    assert!(
        udp.src_port() >= 0xc000,
        "source port from the flow hash range"
    );
    assert_eq!(usize::from(udp.len()), outer.len() - udp_at);
    if outer_v6 {
        // Independent computation: pseudo-header + datagram with the field as sent sums to 0.
        let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) else {
            unreachable!()
        };
        assert_ne!(udp.checksum(), 0);
        assert_eq!(
            finish(
                pseudo_header_v6(s, d, PROTOCOL_UDP, u32::from(udp.len())) + sum(&outer[udp_at..])
            ),
            0
        );
    } else {
        assert_eq!(udp.checksum(), 0, "IPv4 outer UDP checksum is 0");
    }
    let lisp = LispHeader::new_checked(udp.payload()).unwrap();
    assert!(lisp.nonce_present() && lisp.instance_id_present() && lisp.lsb_enabled());
    assert_eq!(lisp.instance_id(), Some(0x00abcd));
    assert_eq!(lisp.locator_status_bits(), Some(1));
    assert_eq!(&udp.payload()[8..], inner);
}

/// `base` with its map-cache and database replaced: instances 7 and 9, `database` entries
/// (prefix, instance-id), and `map_cache` entries (prefix, instance-id, RLOC).
fn with_instances(base: Site, database: &[(&str, u32)], map_cache: &[(&str, u32, IpAddr)]) -> Site {
    let instances = Instances::new([7, 9]).unwrap();
    let mut cache = MapCacheWriter::new(16, instances.clone(), base.qsbr.clone());
    for &(prefix, iid, rloc) in map_cache {
        let mapping = Mapping {
            action: Action::Encapsulate,
            instance_id: Some(iid),
            map_version: 0,
            locators: vec![Locator::new(rloc, 1, 100, true)],
        };
        cache.insert(prefix.parse().unwrap(), mapping).unwrap();
    }
    cache.publish();
    let mut db = DatabaseWriter::new(instances.clone(), base.qsbr.clone());
    for &(prefix, iid) in database {
        db.insert(prefix.parse().unwrap(), iid).unwrap();
    }
    db.publish();
    Site {
        cache,
        database: db,
        instances,
        ..base
    }
}

/// Two tenants use the same addresses on two EID ports (instances 7 and 9) and reach the same
/// remote prefix at different RLOCs: the ITR takes the instance from the ingress port, looks
/// up source and destination in that instance, and carries its instance-id; the ETR delivers
/// only within the instance the header names, and drops an instance it does not serve.
#[test]
fn instances_keep_overlapping_eid_spaces_apart() {
    let (rloc_7, rloc_9) = (IpAddr::V4(RLOC_B4), IpAddr::V6(rloc_b6()));
    let a = with_instances(
        site((RLOC_A4, rloc_a6()), rloc_7, None),
        &[("10.1.0.0/24", 7), ("10.1.0.0/24", 9)],
        &[("10.2.0.0/24", 7, rloc_7), ("10.2.0.0/24", 9, rloc_9)],
    );
    let b = with_instances(
        site((RLOC_B4, rloc_b6()), IpAddr::V4(RLOC_A4), None),
        &[("10.2.0.0/24", 7)],
        &[],
    );
    let port = |iid: u32| LocalEid {
        instance_id: Some(iid),
        table: a.instances.table(Some(iid)).unwrap(),
    };
    let config = PathConfig::default();
    let (src, dst): (IpAddr, IpAddr) = ("10.1.0.10".parse().unwrap(), "10.2.0.20".parse().unwrap());
    let mut sent = Vec::new();
    for (iid, rloc) in [(7, rloc_7), (9, rloc_9)] {
        let original = inner_packet(src, dst, 64, 0);
        let mut buffer = VecBuffer::new(128, &original, 2048);
        let (verdict, _) = run_itr_from(&a, port(iid), &config, &mut buffer);
        assert_eq!(verdict, ItrVerdict::Encapsulated { rloc }, "instance {iid}");
        let lisp_at = if rloc.is_ipv6() { 48 } else { 28 };
        let lisp = LispHeader::new_checked(&buffer.data()[lisp_at..]).unwrap();
        assert_eq!(lisp.instance_id(), Some(iid));
        sent.push(buffer);
    }
    let mut other_tenant = sent.pop().unwrap();
    let mut tenant_7 = sent.pop().unwrap();
    let (verdict, _, _) = run_etr(&b, &mut tenant_7);
    assert_eq!(
        verdict,
        EtrVerdict::Decapsulated {
            destination: dst,
            table: b.instances.table(Some(7)).unwrap()
        }
    );
    let (verdict, counters, _) = run_etr(&b, &mut other_tenant);
    assert_eq!(verdict, EtrVerdict::Drop(Counter::DropNotOurEid));
    assert_eq!(counters.get(Counter::DropNotOurEid), 1);

    // An instance-id B does not serve at all.
    let mut from_5 = VecBuffer::new(128, &inner_packet(src, dst, 64, 0), 2048);
    let five = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_B4), Some(5));
    let (verdict, _) = run_itr(&five, &config, &mut from_5);
    assert!(matches!(verdict, ItrVerdict::Encapsulated { .. }));
    let (verdict, counters, _) = run_etr(&b, &mut from_5);
    assert_eq!(verdict, EtrVerdict::Drop(Counter::DropUnknownInstance));
    assert_eq!(counters.get(Counter::DropUnknownInstance), 1);

    // A source the ingress port's instance does not hold.
    let stranger = inner_packet("10.1.8.10".parse().unwrap(), dst, 64, 0);
    let mut buffer = VecBuffer::new(128, &stranger, 2048);
    let (verdict, _) = run_itr_from(&a, port(7), &config, &mut buffer);
    assert_eq!(
        verdict,
        ItrVerdict::Drop(Counter::DropNotLocalSource),
        "a source outside the port's instance"
    );
}

#[test]
fn flows_keep_their_port_and_rloc() {
    let a = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_B4), None);
    let config = PathConfig::default();
    let encap = |sport: u16| {
        let mut p = inner_packet(
            "10.1.0.10".parse().unwrap(),
            "10.2.0.20".parse().unwrap(),
            10,
            0,
        );
        p[20..22].copy_from_slice(&sport.to_be_bytes());
        let mut b = VecBuffer::new(128, &p, 256);
        run_itr(&a, &config, &mut b);
        u16::from_be_bytes([b.data()[20], b.data()[21]])
    };
    assert_eq!(encap(1000), encap(1000), "stable per flow");
    let ports: std::collections::HashSet<u16> = (0..64).map(|p| encap(2000 + p)).collect();
    assert!(
        ports.len() > 32,
        "different flows spread over source ports: {}",
        ports.len()
    );
}

#[test]
fn too_big_packets_get_icmp_toward_their_source() {
    let mut a = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_B4), None);
    a.local.uplink_v4.mtu = 1000;
    let config = PathConfig::default();
    let src: IpAddr = "10.1.0.10".parse().unwrap();
    let mut b = VecBuffer::new(
        128,
        &inner_packet(src, "10.2.0.20".parse().unwrap(), 1000, 0),
        2048,
    );
    let (verdict, counters) = run_itr(&a, &config, &mut b);
    assert_eq!(verdict, ItrVerdict::TooBig { destination: src });
    assert_eq!(counters.get(Counter::TooBigSent), 1);
    let ip = Ipv4Packet::new_checked(b.data()).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(
        (ip.dst_addr(), ip.protocol()),
        (Ipv4Addr::new(10, 1, 0, 10), 1)
    );
    let icmp = dataplane::wire::icmp::IcmpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!(
        (icmp.msg_type(), icmp.code(), icmp.mtu_v4()),
        (3, 4, 1000 - 36)
    );
    assert!(icmp.verify_checksum_v4());
    assert_eq!(b.data().len(), 576, "quotes up to the IPv4 minimum MTU");

    let src6: IpAddr = "2001:db8:a::10".parse().unwrap();
    let mut b = VecBuffer::new(
        128,
        &inner_packet(src6, "2001:db8:b::20".parse().unwrap(), 1000, 0),
        2048,
    );
    let (verdict, _) = run_itr(&a, &config, &mut b);
    assert_eq!(verdict, ItrVerdict::TooBig { destination: src6 });
    let ip = Ipv6Packet::new_checked(b.data()).unwrap();
    let icmp = dataplane::wire::icmp::IcmpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!((icmp.msg_type(), icmp.mtu_v6()), (2, 1000 - 36));
    assert!(icmp.verify_checksum_v6(ip.src_addr(), ip.dst_addr()));
}

#[test]
fn every_other_outcome_has_a_verdict_and_a_counter() {
    let mut a = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_B4), None);
    for (prefix, action) in [
        ("10.3.0.0/16", Action::Drop),
        ("10.4.0.0/16", Action::NativeForward),
        ("10.5.0.0/16", Action::SendMapRequest),
    ] {
        a.cache
            .insert(
                prefix.parse().unwrap(),
                Mapping {
                    action,
                    instance_id: None,
                    map_version: 0,
                    locators: vec![],
                },
            )
            .unwrap();
    }
    a.cache
        .insert(
            "10.6.0.0/16".parse().unwrap(),
            Mapping {
                action: Action::Encapsulate,
                instance_id: None,
                map_version: 0,
                locators: vec![Locator::new(IpAddr::V4(RLOC_B4), 1, 100, false)],
            },
        )
        .unwrap();
    a.cache.publish();
    let config = PathConfig::default();
    let from = "10.1.0.10".parse().unwrap();
    let cases: [(IpAddr, IpAddr, ItrVerdict); 6] = [
        (
            from,
            "10.3.0.1".parse().unwrap(),
            ItrVerdict::Drop(Counter::DropNegativeEntry),
        ),
        (
            from,
            "10.4.0.1".parse().unwrap(),
            ItrVerdict::NativeForward {
                destination: "10.4.0.1".parse().unwrap(),
            },
        ),
        (
            from,
            "10.5.0.1".parse().unwrap(),
            ItrVerdict::Punt {
                destination: "10.5.0.1".parse().unwrap(),
            },
        ),
        (
            from,
            "10.6.0.1".parse().unwrap(),
            ItrVerdict::Drop(Counter::DropNoReachableLocator),
        ),
        (
            from,
            "10.99.0.1".parse().unwrap(),
            ItrVerdict::Punt {
                destination: "10.99.0.1".parse().unwrap(),
            },
        ),
        (
            "10.77.0.1".parse().unwrap(),
            "10.2.0.20".parse().unwrap(),
            ItrVerdict::Drop(Counter::DropNotLocalSource),
        ),
    ];
    for (src, dst, expected) in cases {
        let mut b = VecBuffer::new(128, &inner_packet(src, dst, 10, 0), 256);
        assert_eq!(run_itr(&a, &config, &mut b).0, expected, "{src} -> {dst}");
    }
    let mut garbage = VecBuffer::new(128, &[0x45, 0, 0], 256);
    assert_eq!(
        run_itr(&a, &config, &mut garbage).0,
        ItrVerdict::Drop(Counter::DropMalformed)
    );
    let mut no_headroom = VecBuffer::new(
        10,
        &inner_packet(from, "10.2.0.20".parse().unwrap(), 10, 0),
        256,
    );
    assert_eq!(
        run_itr(&a, &config, &mut no_headroom).0,
        ItrVerdict::Drop(Counter::DropNoHeadroom)
    );

    // ETR side.
    let b = site((RLOC_B4, rloc_b6()), IpAddr::V4(RLOC_A4), None);
    let mut encapsulated = VecBuffer::new(
        128,
        &inner_packet(from, "10.2.0.20".parse().unwrap(), 10, 0),
        256,
    );
    run_itr(&a, &config, &mut encapsulated);
    let good = encapsulated.data().to_vec();
    let mut wrong_rloc = good.clone();
    wrong_rloc[19] = 99;
    let mut bad_checksum = good.clone();
    bad_checksum[10] ^= 0xff;
    let mut wrong_port = good.clone();
    wrong_port[22..24].copy_from_slice(&4342u16.to_be_bytes());
    let mut n_and_v = good.clone();
    n_and_v[28] |= 0x90;
    let mut not_our_eid = good.clone();
    not_our_eid[36 + 16..36 + 20].copy_from_slice(&[10, 9, 9, 9]);
    let mut fixed = Ipv4Packet::new_checked(&mut wrong_rloc[..]).unwrap();
    fixed.fill_checksum();
    let mut inner_fixed = Ipv4Packet::new_checked(&mut not_our_eid[36..]).unwrap();
    inner_fixed.fill_checksum();
    for (bytes, expected) in [
        (wrong_rloc, Counter::DropNotOurRloc),
        (bad_checksum, Counter::DropBadOuterChecksum),
        (wrong_port, Counter::DropNotLispData),
        (n_and_v, Counter::DropBadLispHeader),
        (not_our_eid, Counter::DropNotOurEid),
        (good[..30].to_vec(), Counter::DropMalformed),
    ] {
        let mut buffer = VecBuffer::new(0, &bytes, 256);
        let (verdict, counters, _) = run_etr(&b, &mut buffer);
        assert_eq!(verdict, EtrVerdict::Drop(expected));
        assert_eq!(counters.get(expected), 1);
    }
}

#[test]
fn identical_mappings_share_one_entry() {
    let qsbr = Qsbr::new(1);
    let mut cache = MapCacheWriter::new(4, Instances::default(), qsbr);
    let mapping = |last: u8| Mapping {
        action: Action::Encapsulate,
        instance_id: None,
        map_version: 0,
        locators: vec![Locator::new(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)),
            1,
            100,
            true,
        )],
    };
    for i in 0..100u8 {
        cache
            .insert(format!("10.{i}.0.0/16").parse().unwrap(), mapping(1))
            .unwrap();
    }
    cache
        .insert("10.200.0.0/16".parse().unwrap(), mapping(2))
        .unwrap();
    cache.publish();
    assert_eq!(
        cache.entries_in_use(),
        2,
        "101 prefixes, 2 distinct mappings, capacity 4"
    );
    assert_eq!(
        cache
            .lookup(None, "10.7.1.1".parse().unwrap())
            .map(|(p, _)| p),
        Some("10.7.0.0/16".parse().unwrap())
    );
    cache
        .remove(None, &"10.200.0.0/16".parse().unwrap())
        .unwrap();
    assert_eq!(cache.lookup(None, "10.200.1.1".parse().unwrap()), None);
}

#[test]
fn burst_encapsulation_matches_one_by_one() {
    let a = site((RLOC_A4, rloc_a6()), IpAddr::V6(rloc_b6()), Some(9));
    let config = PathConfig::default();
    let pairs: Vec<(IpAddr, IpAddr)> = (0..40u8)
        .map(|i| match i % 4 {
            0 => (
                "10.1.0.10".parse().unwrap(),
                format!("10.2.0.{i}").parse().unwrap(),
            ),
            1 => (
                "2001:db8:a::10".parse().unwrap(),
                format!("2001:db8:b::{i}").parse().unwrap(),
            ),
            2 => (
                "10.1.0.10".parse().unwrap(),
                format!("10.9.0.{i}").parse().unwrap(),
            ),
            _ => ("10.50.0.1".parse().unwrap(), "10.2.0.1".parse().unwrap()),
        })
        .collect();
    let packets: Vec<Vec<u8>> = pairs
        .iter()
        .map(|&(s, d)| inner_packet(s, d, 20, 0))
        .collect();

    let reader = a.qsbr.register().unwrap();
    let (cache, database) = (a.cache.shared(), a.database.shared());
    let counters = CoreCounters::default();
    let run = |burst: bool| {
        let mut nonces = Nonces::new(3);
        let mut ctx = ItrContext {
            ingress: a.ingress,
            map_cache: cache.view(&reader),
            database: database.view(&reader),
            local: &a.local,
            config: &config,
            counters: &counters,
            nonces: &mut nonces,
            echo: &a.echo,
            misses: &mut MissLog::default(),
        };
        let mut buffers: Vec<VecBuffer> = packets
            .iter()
            .map(|p| VecBuffer::new(128, p, 512))
            .collect();
        let mut verdicts = vec![ItrVerdict::Drop(Counter::DropMalformed); buffers.len()];
        if burst {
            dataplane::pipeline::encapsulate_burst(&mut ctx, &mut buffers, &mut verdicts);
        } else {
            for (b, v) in buffers.iter_mut().zip(verdicts.iter_mut()) {
                *v = encapsulate(&mut ctx, b);
            }
        }
        (
            verdicts,
            buffers
                .iter()
                .map(|b| b.data().to_vec())
                .collect::<Vec<_>>(),
        )
    };
    let (single, single_bytes) = run(false);
    let (burst, burst_bytes) = run(true);
    assert_eq!(burst, single);
    assert_eq!(
        burst_bytes, single_bytes,
        "same bytes, nonces included (same seed, same order)"
    );
    assert!(single
        .iter()
        .any(|v| matches!(v, ItrVerdict::Encapsulated { .. })));
    assert!(single.iter().any(|v| matches!(v, ItrVerdict::Punt { .. })));
    assert!(single
        .iter()
        .any(|v| matches!(v, ItrVerdict::Drop(Counter::DropNotLocalSource))));
}

/// Site B, and a packet site A's ITR encapsulated toward it.
fn encapsulated_from_a_to_b() -> (Site, VecBuffer) {
    let a = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_B4), None);
    let b = site((RLOC_B4, rloc_b6()), IpAddr::V4(RLOC_A4), None);
    let mut buffer = VecBuffer::new(
        128,
        &inner_packet(
            "10.1.0.10".parse().unwrap(),
            "10.2.0.20".parse().unwrap(),
            10,
            0,
        ),
        256,
    );
    run_itr(&a, &PathConfig::default(), &mut buffer);
    (b, buffer)
}

#[test]
fn etr_reports_locator_status_bits_to_the_control_core() {
    let (b, mut buffer) = encapsulated_from_a_to_b();
    let (verdict, _, report) = run_etr(&b, &mut buffer);
    assert!(matches!(verdict, EtrVerdict::Decapsulated { .. }));
    let report = report.expect("status bits reported");
    assert_eq!(
        (report.rloc, report.status_bits),
        (IpAddr::V4(RLOC_A4), Some(1))
    );
}

/// A LISP packet whose inner packet is malformed changes no locator state: nothing is reported.
#[test]
fn a_malformed_inner_packet_reports_nothing() {
    let (b, mut buffer) = encapsulated_from_a_to_b();
    // The inner IPv4 header (after outer IPv4, UDP and LISP) claims a version it does not have.
    buffer.data_mut()[20 + 8 + 8] = 0x75;
    let (verdict, _, report) = run_etr(&b, &mut buffer);
    assert_eq!(verdict, EtrVerdict::Drop(Counter::DropMalformed));
    assert_eq!(report, None, "no status bits from a malformed packet");
}

/// A asks B to echo a nonce (E bit); B's ETR reports the request; B's ITR, told to echo it,
/// sends it back without the E bit; A's ETR recognises its own nonce coming back.
#[test]
fn echo_nonce_round_trip() {
    let (nonce, a_rloc, b_rloc) = (0x00c0_ffee, IpAddr::V4(RLOC_A4), IpAddr::V4(RLOC_B4));
    let mut a = site((RLOC_A4, rloc_a6()), b_rloc, None);
    let mut b = site((RLOC_B4, rloc_b6()), a_rloc, None);
    a.echo = EchoNonces::new([], [(b_rloc, nonce)]);
    // One packet from `from`'s ITR to `to`'s ETR: the LISP header it carried and what `to`
    // reported. `site` maps 10.2.0.0/24 to the other site's RLOC at both sites and both
    // databases hold both prefixes, so the same addresses serve both ways.
    let send = |from: &Site, to: &Site| {
        let inner = inner_packet(
            "10.1.0.10".parse().unwrap(),
            "10.2.0.20".parse().unwrap(),
            10,
            0,
        );
        let mut buffer = VecBuffer::new(128, &inner, 256);
        run_itr(from, &PathConfig::default(), &mut buffer);
        let header = LispRepr::parse(&LispHeader::new_checked(&buffer.data()[28..]).unwrap());
        let (_, _, report) = run_etr(to, &mut buffer);
        (header, report)
    };

    let (header, report) = send(&a, &b);
    assert_eq!(
        (header.nonce, header.echo_nonce_request),
        (Some(nonce), true)
    );
    let report = report.expect("the request is reported");
    assert_eq!((report.echo_nonce, report.echoed), (Some(nonce), false));

    b.echo = EchoNonces::new([(a_rloc, nonce)], []);
    let (_, report) = send(&a, &b);
    assert_eq!(
        report.map(|r| r.echo_nonce),
        Some(None),
        "a request B already echoes is not reported again"
    );
    let (header, report) = send(&b, &a);
    assert_eq!(
        (header.nonce, header.echo_nonce_request),
        (Some(nonce), false)
    );
    let report = report.expect("the echo is reported");
    assert_eq!((report.rloc, report.echoed), (b_rloc, true));

    b.echo = EchoNonces::default();
    let (_, report) = send(&b, &a);
    assert!(
        !report.is_some_and(|r| r.echoed),
        "a fresh nonce is no echo"
    );
}

#[test]
fn frames_are_classified() {
    use dataplane::pipeline::{classify, Class};
    let a = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_B4), None);
    let b = site((RLOC_B4, rloc_b6()), IpAddr::V4(RLOC_A4), None);
    let ethernet = |ethertype: u16, l3: &[u8]| {
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(l3);
        f
    };
    let plain = inner_packet(
        "10.1.0.10".parse().unwrap(),
        "10.2.0.20".parse().unwrap(),
        10,
        0,
    );
    assert_eq!(
        classify(&ethernet(0x0800, &plain), &b.local),
        (Class::Ip, 14)
    );
    let mut encapsulated = VecBuffer::new(128, &plain, 256);
    run_itr(&a, &PathConfig::default(), &mut encapsulated);
    assert_eq!(
        classify(&ethernet(0x0800, encapsulated.data()), &b.local).0,
        Class::LispData
    );
    assert_eq!(
        classify(&ethernet(0x0800, encapsulated.data()), &a.local).0,
        Class::Ip,
        "not for our RLOC"
    );
    let mut control = encapsulated.data().to_vec();
    control[22..24].copy_from_slice(&4342u16.to_be_bytes());
    assert_eq!(
        classify(&ethernet(0x0800, &control), &b.local).0,
        Class::LispControl
    );
    // Fragments of a datagram to our RLOC (first and later): to the control core to reassemble.
    let mut first = control.clone();
    first[6] = 0x20; // MF
    let mut later = control.clone();
    later[6..8].copy_from_slice(&0x00b9u16.to_be_bytes()); // offset 185 * 8
    for fragment in [&first, &later] {
        assert_eq!(
            classify(&ethernet(0x0800, fragment), &b.local).0,
            Class::FragmentToUs
        );
        assert_eq!(
            classify(&ethernet(0x0800, fragment), &a.local).0,
            Class::Ip,
            "a fragment for someone else is traffic"
        );
    }
    assert_eq!(
        classify(&ethernet(0x0806, &[0; 28]), &b.local).0,
        Class::Arp
    );
    let mut ns = vec![0u8; 40 + 24];
    Ipv6Repr {
        src: rloc_a6(),
        dst: rloc_b6(),
        next_header: 58,
        payload_len: 24,
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut ns);
    ns[40] = 135;
    assert_eq!(
        classify(&ethernet(0x86dd, &ns), &b.local).0,
        Class::NeighbourDiscovery
    );
    assert_eq!(classify(&[0u8; 10], &b.local).0, Class::Other);
    let mut tagged = ethernet(0x8100, &[0, 5, 0x08, 0x00]);
    tagged.extend_from_slice(&plain);
    assert_eq!(classify(&tagged, &b.local), (Class::Ip, 18));
}

#[test]
fn a_locator_of_ours_is_delivered_locally_with_the_ttl_decremented() {
    // Site A's own EIDs map to site A's RLOCs (a VM that moved here): no encapsulation.
    let mut a = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_B4), None);
    for (prefix, rloc) in [
        ("10.9.0.50/32", IpAddr::V4(RLOC_A4)),
        ("2001:db8:9::50/128", IpAddr::V6(rloc_a6())),
    ] {
        a.cache
            .insert(
                prefix.parse().unwrap(),
                Mapping {
                    action: Action::Encapsulate,
                    instance_id: None,
                    map_version: 0,
                    locators: vec![Locator::new(rloc, 1, 100, true)],
                },
            )
            .unwrap();
    }
    a.cache.publish();
    let config = PathConfig::default();
    for (src, dst) in [
        ("10.1.0.10", "10.9.0.50"),
        ("2001:db8:a::10", "2001:db8:9::50"),
    ] {
        let (src, dst): (IpAddr, IpAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        let original = inner_packet(src, dst, 20, 0);
        let mut b = VecBuffer::new(128, &original, 256);
        let (verdict, counters) = run_itr(&a, &config, &mut b);
        assert_eq!(verdict, ItrVerdict::Local { destination: dst });
        assert_eq!(counters.get(Counter::DeliveredLocally), 1);
        let out = b.data();
        assert_eq!(out.len(), original.len(), "not encapsulated");
        if dst.is_ipv4() {
            let ip = Ipv4Packet::new_checked(out).unwrap();
            assert_eq!(ip.ttl(), 32);
            assert!(ip.verify_checksum(), "checksum updated incrementally");
            assert_eq!(&out[12..], &original[12..]);
        } else {
            assert_eq!(out[7], 32, "hop limit");
            assert_eq!(&out[8..], &original[8..]);
        }
        let mut expiring = inner_packet(src, dst, 20, 0);
        let ttl_at = if dst.is_ipv4() { 8 } else { 7 };
        expiring[ttl_at] = 1;
        let mut b = VecBuffer::new(128, &expiring, 256);
        assert_eq!(
            run_itr(&a, &config, &mut b).0,
            ItrVerdict::Drop(Counter::DropTtlExpired)
        );
    }
}

#[test]
fn natively_forwarded_traffic_goes_to_the_petr_when_one_is_configured() {
    let mut a = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_B4), None);
    a.cache
        .insert(
            "0.0.0.0/1".parse().unwrap(),
            Mapping {
                action: Action::NativeForward,
                instance_id: None,
                map_version: 0,
                locators: vec![],
            },
        )
        .unwrap();
    a.cache.publish();
    let (src, dst): (IpAddr, IpAddr) = ("10.1.0.10".parse().unwrap(), "8.8.4.4".parse().unwrap());
    let petr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));
    let original = inner_packet(src, dst, 20, 0);

    let mut b = VecBuffer::new(128, &original, 256);
    let (verdict, _) = run_itr(&a, &PathConfig::default(), &mut b);
    assert_eq!(verdict, ItrVerdict::NativeForward { destination: dst });

    let config = PathConfig {
        petr: Some(petr),
        ..PathConfig::default()
    };
    let mut b = VecBuffer::new(128, &original, 256);
    let (verdict, counters) = run_itr(&a, &config, &mut b);
    assert_eq!(verdict, ItrVerdict::Encapsulated { rloc: petr });
    assert_eq!(counters.get(Counter::NativeForward), 1);
    assert_eq!(counters.get(Counter::Encapsulated), 1);
    let outer = Ipv4Packet::new_checked(b.data()).unwrap();
    assert_eq!(IpAddr::V4(outer.dst_addr()), petr);
    assert_eq!(
        &b.data()[36..],
        &original[..],
        "the inner packet is carried intact"
    );
}

/// NAT traversal through an RTR: an ITR sends to the RTR that registered an EID behind a NAT;
/// the RTR decapsulates and encapsulates again toward the xTR's translated address and port,
/// from port 4342 (the port the NAT opened); the xTR behind the NAT sends everything, misses
/// included, to its RTR; and a control message the RTR sends it as data goes to its control core.
#[test]
fn an_rtr_carries_traffic_to_and_from_an_xtr_behind_a_nat() {
    const RLOC_RTR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 9);
    let public = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    let behind_nat: IpNet = "10.9.0.0/24".parse().unwrap();
    let mut a = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_B4), None);
    a.cache.insert(behind_nat, one_locator(RLOC_RTR)).unwrap();
    a.cache.publish();
    let mut rtr = site((RLOC_RTR, "2001:db8:ff::9".parse().unwrap()), public, None);
    let translated = Mapping {
        action: Action::Encapsulate,
        instance_id: None,
        map_version: 0,
        locators: vec![Locator {
            nat_port: Some(61_000),
            ..Locator::new(public, 1, 100, true)
        }],
    };
    rtr.cache.insert(behind_nat, translated).unwrap();
    let xtr_rloc = Ipv4Addr::new(192, 168, 1, 2);
    rtr.cache
        .insert("192.168.1.0/24".parse().unwrap(), one_locator(xtr_rloc))
        .unwrap();
    rtr.cache.publish();

    let (src, dst): (IpAddr, IpAddr) = ("10.1.0.10".parse().unwrap(), "10.9.0.5".parse().unwrap());
    let original = inner_packet(src, dst, 64, 0);
    let mut buffer = VecBuffer::new(128, &original, 2048);
    let (verdict, _) = run_itr(&a, &PathConfig::default(), &mut buffer);
    assert_eq!(
        verdict,
        ItrVerdict::Encapsulated {
            rloc: IpAddr::V4(RLOC_RTR)
        }
    );
    let (verdict, counters, _) = run_etr_as(&rtr, &mut buffer, EtrRole::Rtr);
    assert_eq!(verdict, EtrVerdict::Reencapsulate { destination: dst });
    assert_eq!(counters.get(Counter::RtrDecapsulated), 1);
    assert_eq!(buffer.data(), original, "stripped to the inner packet");
    let any_source = PathConfig {
        require_local_source: false,
        ..PathConfig::default()
    };
    let (verdict, _) = run_itr(&rtr, &any_source, &mut buffer);
    assert_eq!(verdict, ItrVerdict::Encapsulated { rloc: public });
    let outer = buffer.data();
    assert_eq!(&outer[12..16], &RLOC_RTR.octets(), "from the RTR's locator");
    assert_eq!(u16::from_be_bytes([outer[20], outer[21]]), CONTROL_PORT);
    assert_eq!(u16::from_be_bytes([outer[22], outer[23]]), 61_000);
    assert_eq!(&outer[36..], original.as_slice());

    // A packet of an instance the RTR does not serve (it serves the default one).
    let mut other_instance = site((RLOC_A4, rloc_a6()), IpAddr::V4(RLOC_RTR), Some(5));
    other_instance
        .cache
        .insert(
            behind_nat,
            Mapping {
                instance_id: Some(5),
                ..one_locator(RLOC_RTR)
            },
        )
        .unwrap();
    other_instance.cache.publish();
    let mut buffer = VecBuffer::new(128, &original, 2048);
    run_itr(&other_instance, &PathConfig::default(), &mut buffer);
    let (verdict, _, _) = run_etr_as(&rtr, &mut buffer, EtrRole::Rtr);
    assert_eq!(verdict, EtrVerdict::Drop(Counter::DropUnknownInstance));

    // The xTR behind the NAT: site B's EIDs and a miss both go to the RTR.
    let via_rtr = PathConfig {
        rtr: Some(IpAddr::V4(RLOC_RTR)),
        ..PathConfig::default()
    };
    let xtr = site((xtr_rloc, rloc_a6()), IpAddr::V4(RLOC_B4), None);
    for destination in ["10.2.0.20", "10.77.0.1"] {
        let mut buffer = VecBuffer::new(
            128,
            &inner_packet(src, destination.parse().unwrap(), 64, 0),
            2048,
        );
        let (verdict, _) = run_itr(&xtr, &via_rtr, &mut buffer);
        assert_eq!(
            verdict,
            ItrVerdict::Encapsulated {
                rloc: IpAddr::V4(RLOC_RTR)
            },
            "{destination} goes by the RTR"
        );
    }

    // A Data-Map-Notify: LISP data whose inner packet is for the xTR's own locator.
    let notify = inner_packet(IpAddr::V4(RLOC_RTR), IpAddr::V4(xtr_rloc), 32, 0);
    let mut buffer = VecBuffer::new(128, &notify, 2048);
    run_itr(&rtr, &any_source, &mut buffer);
    let (verdict, counters, _) = run_etr(&xtr, &mut buffer);
    assert_eq!(verdict, EtrVerdict::ToControl);
    assert_eq!(counters.get(Counter::DecapsulatedControl), 1);
    assert_eq!(buffer.data(), notify.as_slice());
}

/// A mapping of one locator at `rloc`.
fn one_locator(rloc: Ipv4Addr) -> Mapping {
    Mapping {
        action: Action::Encapsulate,
        instance_id: None,
        map_version: 0,
        locators: vec![Locator::new(IpAddr::V4(rloc), 1, 100, true)],
    }
}
