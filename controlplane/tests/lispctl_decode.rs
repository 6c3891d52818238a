//! `lispctl decode` as an operator runs it.

use std::process::Command;

use dataplane::wire::ipv4::{Ipv4Repr, PROTOCOL_ICMP, PROTOCOL_UDP};
use dataplane::wire::lisp::{LispRepr, DATA_PORT};
use dataplane::wire::udp;

const SEED_MAP_REGISTER: &str = include_str!("data/seed-map-register.hex");

fn lispctl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lispctl"))
        .args(args)
        .output()
        .expect("run lispctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn decodes_the_seed_map_register_from_hex() {
    let (code, stdout, stderr) = lispctl(&["decode", SEED_MAP_REGISTER]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("lisp_nonce        = 0x59f066a1-0x2bab660c"),
        "{stdout}"
    );
    assert!(stdout.contains("#Record3"), "{stdout}");
}

/// IPv4 / UDP 4341 / LISP (N, I: iid 7) / inner IPv4 ICMP echo.
fn lisp_data_packet() -> Vec<u8> {
    let mut inner = vec![0u8; 28];
    let ip = |src, dst, protocol, payload_len| Ipv4Repr {
        src,
        dst,
        protocol,
        payload_len,
        ttl: 64,
        tos: 0,
    };
    ip([10, 1, 0, 1].into(), [10, 2, 0, 9].into(), PROTOCOL_ICMP, 8).emit(&mut inner);
    inner[20] = 8;
    let mut packet = vec![0u8; 20 + 8 + 8 + inner.len()];
    ip(
        [192, 0, 2, 1].into(),
        [192, 0, 2, 2].into(),
        PROTOCOL_UDP,
        16 + inner.len() as u16,
    )
    .emit(&mut packet);
    udp::write_header(&mut packet[20..], 49320, DATA_PORT, 8 + inner.len() as u16);
    LispRepr {
        nonce: Some(0xabcdef),
        instance_id: Some(7),
        ..LispRepr::default()
    }
    .emit(&mut packet[28..]);
    packet[36..].copy_from_slice(&inner);
    packet
}

#[test]
fn decodes_a_lisp_data_packet_and_reports_bad_input() {
    let packet = lisp_data_packet();
    let hex: String = packet.iter().map(|b| format!("{b:02x}")).collect();
    let (code, stdout, _) = lispctl(&["decode", "--as", "ip", &hex]);
    assert!(stdout.contains("checksum ok"), "{stdout}");
    assert!(stdout.contains("UDP 49320 -> 4341"), "{stdout}");
    assert!(stdout.contains("instance_id       = 7"), "{stdout}");
    assert!(stdout.contains("IPv4 10.1.0.1 -> 10.2.0.9"), "{stdout}");
    assert_eq!(code, 0, "{stdout}");

    let (code, stdout, _) = lispctl(&["decode", "--as", "control", "30000004"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("error: truncated before registration header"),
        "{stdout}"
    );

    let (code, _, stderr) = lispctl(&["decode", "zz"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not hex"), "{stderr}");
}

/// The packet behind an Ethernet header.
fn frame(packet: &[u8]) -> Vec<u8> {
    let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    frame.extend_from_slice(packet);
    frame
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("lispctl-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// dumpcap's default format, with an Ethernet and a raw-IP interface: each packet is read by its
/// interface's link type.
#[test]
fn decodes_pcapng_by_each_interfaces_link_type() {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::DataLink;
    let packet = lisp_data_packet();
    let mut writer = PcapNgWriter::new(Vec::new()).unwrap();
    for link in [DataLink::ETHERNET, DataLink::RAW] {
        writer
            .write_pcapng_block(InterfaceDescriptionBlock::new(link, 65535))
            .unwrap();
    }
    for (interface, data) in [(0, frame(&packet)), (1, packet.clone())] {
        writer
            .write_pcapng_block(EnhancedPacketBlock {
                interface_id: interface,
                timestamp: std::time::Duration::ZERO,
                original_len: data.len() as u32,
                data: data.into(),
                options: vec![],
            })
            .unwrap();
    }
    let path = temp_file("two.pcapng", &writer.into_inner());
    let (code, stdout, stderr) = lispctl(&["decode", "--file", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout.matches("instance_id       = 7").count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("--- packet 1 (64 bytes)"), "{stdout}");
    std::fs::remove_file(path).ok();
}

/// A pcap of Linux cooked captures is read past its 16-byte header; a link type it cannot read
/// is an error, not garbage.
#[test]
fn honours_the_pcap_link_type() {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    use pcap_file::DataLink;
    let write = |datalink: DataLink, data: &[u8]| {
        let header = PcapHeader {
            datalink,
            ..PcapHeader::default()
        };
        let mut writer = PcapWriter::with_header(Vec::new(), header).unwrap();
        writer
            .write_packet(&PcapPacket::new(
                std::time::Duration::ZERO,
                data.len() as u32,
                data,
            ))
            .unwrap();
        writer.into_writer()
    };
    let mut cooked = vec![0u8; 16];
    cooked[14..16].copy_from_slice(&[0x08, 0x00]);
    cooked.extend_from_slice(&lisp_data_packet());
    let path = temp_file("sll.pcap", &write(DataLink::LINUX_SLL, &cooked));
    let (code, stdout, _) = lispctl(&["decode", "--file", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("instance_id       = 7"), "{stdout}");
    let path = temp_file("ieee.pcap", &write(DataLink::IEEE802_11, &cooked));
    let (code, stdout, _) = lispctl(&["decode", "--file", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("error: link type 105"), "{stdout}");
    std::fs::remove_file(path).ok();
}

/// A pasted `tcpdump -xx` dump: summary lines, offsets and 16-bit groups.
#[test]
fn decodes_a_pasted_tcpdump_dump() {
    let frame = frame(&lisp_data_packet());
    let mut dump =
        String::from("12:00:00.000000 IP 192.0.2.1.49320 > 192.0.2.2.4341: UDP, length 44\n");
    for (line, chunk) in frame.chunks(16).enumerate() {
        dump.push_str(&format!("\t0x{:04x}:  ", line * 16));
        for group in chunk.chunks(2) {
            dump.push_str(&group.iter().map(|b| format!("{b:02x}")).collect::<String>());
            dump.push(' ');
        }
        dump.push('\n');
    }
    let twice = format!("{dump}{dump}");
    let (code, stdout, stderr) = lispctl(&["decode", &twice]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout.matches("instance_id       = 7").count(),
        2,
        "{stdout}"
    );
}

/// An Info-Reply (NAT traversal) with every field of its NAT-Traversal LCAF.
#[test]
fn decodes_an_info_reply() {
    use controlplane::wire::address::Address;
    use controlplane::wire::info::{InfoRepr, NatTraversal};
    let reply = InfoRepr {
        reply: true,
        nonce: 0xfeed,
        key_id: 0,
        algorithm_id: 2,
        auth_data: vec![0; 32],
        ttl: 1440,
        eid_mask_len: 24,
        eid: Address::Ipv4("10.1.0.0".parse().unwrap()),
        nat: Some(NatTraversal {
            ms_port: 4342,
            etr_port: 61001,
            global_etr_rloc: Address::Ipv4("203.0.113.7".parse().unwrap()),
            ms_rloc: Address::Ipv4("192.0.2.100".parse().unwrap()),
            private_etr_rloc: Address::Ipv4("10.0.0.2".parse().unwrap()),
            rtr_rlocs: vec![Address::Ipv4("192.0.2.50".parse().unwrap())],
        }),
    };
    let mut bytes = Vec::new();
    reply.emit(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let (code, stdout, stderr) = lispctl(&["decode", &hex]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for expected in [
        "Info-Reply",
        "etr_port          = 61001",
        "global_etr_rloc   = 203.0.113.7",
        "rtr_rloc 0        = 192.0.2.50",
        "eid_prefix        = 10.1.0.0/24",
    ] {
        assert!(stdout.contains(expected), "{expected}:\n{stdout}");
    }
}

/// What an RTR sends an xTR behind a NAT: from 4342 to the translated port, LISP data whose
/// inner datagram carries the map-server's Map-Notify.
#[test]
fn decodes_a_data_map_notify() {
    use controlplane::wire::data_map_notify::DataMapNotifyRepr;
    use controlplane::wire::registration::{Authenticated, MapNotifyRepr};
    use dataplane::wire::datagram;
    let mut notify = Vec::new();
    MapNotifyRepr {
        ack: false,
        rtr: false,
        body: Authenticated {
            nonce: 0x1234,
            key_id: 0,
            algorithm_id: 0,
            auth_data: Vec::new(),
            records: Vec::new(),
            xtr: None,
        },
    }
    .emit(&mut notify)
    .unwrap();
    let mut payload = Vec::new();
    DataMapNotifyRepr {
        lisp: LispRepr {
            nonce: Some(0x42),
            ..LispRepr::default()
        },
        inner_source: "192.0.2.100:4342".parse().unwrap(),
        inner_destination: "10.0.0.2:4342".parse().unwrap(),
        inner_ttl: 64,
        notify,
    }
    .emit(&mut payload)
    .unwrap();
    let packet = datagram::build(
        "192.0.2.50:4342".parse().unwrap(),
        "203.0.113.7:61001".parse().unwrap(),
        &payload,
    )
    .unwrap();
    let hex: String = packet.iter().map(|b| format!("{b:02x}")).collect();
    let (code, stdout, stderr) = lispctl(&["decode", &hex]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for expected in [
        "UDP 4342 -> 61001",
        "Data-Map-Notify",
        "IPv4 192.0.2.100 -> 10.0.0.2",
        "Map-Notify",
        "lisp_nonce        = 0x00000000-0x00001234",
    ] {
        assert!(stdout.contains(expected), "{expected}:\n{stdout}");
    }
}
