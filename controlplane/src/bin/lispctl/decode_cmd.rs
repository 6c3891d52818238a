//! `lispctl decode`: every field of a LISP message or packet, from hex (as the seed prints it,
//! or a pasted `tcpdump -xx` dump), a raw file, a pcap or a pcapng (dumpcap's default), each
//! captured packet read by its link type.

use std::path::PathBuf;

use controlplane::decode::{decode, guess, parse_hex, Input};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;

use super::Kind;

/// The decoded text; an `error: ` line in it marks what could not be decoded.
pub fn decode_command(
    hex: &[String],
    file: Option<PathBuf>,
    kind: Option<Kind>,
) -> Result<String, String> {
    let Some(path) = file else {
        if hex.is_empty() {
            return Err("give hex bytes or --file".into());
        }
        let text = hex.join(" ");
        if let Some(packets) = tcpdump_packets(&text) {
            let packets = packets.collect::<Result<Vec<_>, _>>()?;
            let input = kind.map_or(Input::Ethernet, Input::from);
            return Ok(listing(packets.iter().map(|p| (p.as_slice(), Ok(input)))));
        }
        let bytes = parse_hex(&text)?;
        return Ok(decode(
            &bytes,
            kind.map_or_else(|| guess(&bytes), Input::from),
        ));
    };
    let raw = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let context = |e: pcap_file::PcapError| format!("{}: {e}", path.display());
    match raw.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => pcapng(&raw, kind).map_err(context),
        Some(
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d],
        ) => pcap(&raw, kind).map_err(context),
        _ => Ok(decode(&raw, kind.map_or_else(|| guess(&raw), Input::from))),
    }
}

/// How a capture's packets are read: link-header bytes to skip and what follows, or why they
/// cannot be.
type LinkRead = Result<(usize, Input), String>;

/// How to read a capture's packets of `link` (unless `--as` says otherwise): Ethernet frames,
/// raw IP, or IP behind a Linux cooked or BSD loopback header of fixed length.
fn link_input(link: DataLink, kind: Option<Kind>) -> LinkRead {
    if let Some(kind) = kind {
        return Ok((0, Input::from(kind)));
    }
    match link {
        DataLink::ETHERNET => Ok((0, Input::Ethernet)),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Ok((0, Input::Ip)),
        DataLink::LINUX_SLL => Ok((16, Input::Ip)),
        DataLink::LINUX_SLL2 => Ok((20, Input::Ip)),
        DataLink::NULL | DataLink::LOOP => Ok((4, Input::Ip)),
        other => Err(format!(
            "link type {} ({other:?}) is not decoded; give --as",
            u32::from(other)
        )),
    }
}

/// Each packet decoded by its link type, numbered.
fn listing<'a>(packets: impl Iterator<Item = (&'a [u8], Result<Input, String>)>) -> String {
    let mut out = String::new();
    for (index, (data, input)) in packets.enumerate() {
        out.push_str(&format!("--- packet {index} ({} bytes)\n", data.len()));
        match input {
            Ok(input) => out.push_str(&decode(data, input)),
            Err(e) => out.push_str(&format!("error: {e}\n")),
        }
    }
    out
}

/// A captured packet as [`listing`] takes it: past its link header and read as `link` says,
/// or with the reason it cannot be.
fn readable<'a>(data: &'a [u8], link: &LinkRead) -> (&'a [u8], Result<Input, String>) {
    match link {
        Ok((skip, input)) => match data.get(*skip..) {
            Some(packet) => (packet, Ok(*input)),
            None => (
                data,
                Err(format!(
                    "{} bytes: shorter than its {skip}-byte link header",
                    data.len()
                )),
            ),
        },
        Err(e) => (data, Err(e.clone())),
    }
}

fn pcap(raw: &[u8], kind: Option<Kind>) -> Result<String, pcap_file::PcapError> {
    let mut reader = PcapReader::new(raw)?;
    let link = link_input(reader.header().datalink, kind);
    let mut packets = Vec::new();
    while let Some(packet) = reader.next_packet() {
        packets.push(packet?.data.into_owned());
    }
    Ok(listing(packets.iter().map(|data| readable(data, &link))))
}

fn pcapng(raw: &[u8], kind: Option<Kind>) -> Result<String, pcap_file::PcapError> {
    let mut reader = PcapNgReader::new(raw)?;
    let mut packets: Vec<(Vec<u8>, LinkRead)> = Vec::new();
    while let Some(block) = reader.next_block() {
        let (data, interface) = match block? {
            Block::EnhancedPacket(packet) => (packet.data.into_owned(), packet.interface_id),
            Block::SimplePacket(packet) => (packet.data.into_owned(), 0),
            _ => continue,
        };
        let link = reader
            .interfaces()
            .get(interface as usize)
            .ok_or_else(|| format!("no interface {interface} described before its packet"))
            .and_then(|i| link_input(i.linktype, kind));
        packets.push((data, link));
    }
    Ok(listing(
        packets.iter().map(|(data, link)| readable(data, link)),
    ))
}

/// The packets of a pasted `tcpdump -xx` dump (lines `0x0010:  4500 0054 ...` under each
/// packet's summary line), or `None` when `text` is not one.
fn tcpdump_packets(text: &str) -> Option<impl Iterator<Item = Result<Vec<u8>, String>>> {
    let offset = |word: &str| {
        word.strip_prefix("0x")
            .and_then(|w| w.strip_suffix(':'))
            .and_then(|w| usize::from_str_radix(w, 16).ok())
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words.iter().any(|w| offset(w) == Some(0)) {
        return None;
    }
    // A packet starts at offset 0; its hex runs from each offset to the next non-hex word.
    let mut packets: Vec<String> = Vec::new();
    let mut in_hex = false;
    for word in words {
        match offset(word) {
            Some(0) => {
                packets.push(String::new());
                in_hex = true;
            }
            Some(_) => in_hex = true,
            None if in_hex && word.len() <= 4 && word.chars().all(|c| c.is_ascii_hexdigit()) => {
                if let Some(packet) = packets.last_mut() {
                    packet.push_str(word);
                }
            }
            None => in_hex = false,
        }
    }
    Some(packets.into_iter().map(|hex| parse_hex(&hex)))
}
