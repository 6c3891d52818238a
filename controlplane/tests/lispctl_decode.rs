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

#[test]
fn decodes_a_lisp_data_packet_and_reports_bad_input() {
    // IPv4 / UDP 4341 / LISP (N, I: iid 7) / inner IPv4 ICMP echo.
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
