//! `lispctl decode`: every field of a LISP message or packet, from hex, a raw file or a pcap.

use std::path::PathBuf;

use controlplane::decode::{decode, guess, parse_hex, Input};

use super::Kind;

pub fn decode_command(
    hex: &[String],
    file: Option<PathBuf>,
    kind: Option<Kind>,
) -> Result<String, String> {
    let Some(path) = file else {
        if hex.is_empty() {
            return Err("give hex bytes or --file".into());
        }
        let bytes = parse_hex(&hex.join(" "))?;
        return Ok(decode(
            &bytes,
            kind.map_or_else(|| guess(&bytes), Input::from),
        ));
    };
    let raw = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !is_pcap(&raw) {
        return Ok(decode(&raw, kind.map_or_else(|| guess(&raw), Input::from)));
    }
    let mut reader = pcap_file::pcap::PcapReader::new(&raw[..])
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = String::new();
    let mut index = 0;
    while let Some(packet) = reader.next_packet() {
        let packet = packet.map_err(|e| format!("{}: packet {index}: {e}", path.display()))?;
        out.push_str(&format!(
            "--- packet {index} ({} bytes)\n",
            packet.data.len()
        ));
        out.push_str(&decode(
            &packet.data,
            kind.map_or(Input::Ethernet, Input::from),
        ));
        index += 1;
    }
    Ok(out)
}

fn is_pcap(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(..4),
        Some(
            [0xd4, 0xc3, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0xc3, 0xd4]
                | [0x4d, 0x3c, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0x3c, 0x4d]
        )
    )
}
