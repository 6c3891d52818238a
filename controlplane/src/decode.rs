//! A human decoder for any LISP control message or data packet, in the spirit of the seed's debug
//! output: every field, named, with its raw and readable value. Used by `lispctl decode`.

use std::fmt::Write;

use dataplane::wire::ethernet::{self, EthernetFrame};
use dataplane::wire::ipv4::{Ipv4Packet, PROTOCOL_UDP};
use dataplane::wire::ipv6::Ipv6Packet;
use dataplane::wire::lisp::{LispHeader, CONTROL_PORT, DATA_PORT};
use dataplane::wire::udp::UdpPacket;
use dataplane::wire::WireResult;

use crate::wire::cpm::{self, CpmRepr};
use crate::wire::data_map_notify::DataMapNotifyRepr;
use crate::wire::ecm::EcmRepr;
use crate::wire::info::InfoRepr;
use crate::wire::map_reply::MapReplyRepr;
use crate::wire::map_request::MapRequestRepr;
use crate::wire::record::EidRecord;
use crate::wire::registration::{Authenticated, MapNotifyRepr, MapRegisterRepr};
use crate::wire::MessageType;

/// Parses hex as the seed prints it: optional `0x`, any whitespace or line breaks.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text
        .split_whitespace()
        .map(|part| {
            part.strip_prefix("0x")
                .or_else(|| part.strip_prefix("0X"))
                .unwrap_or(part)
        })
        .collect();
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("not hex: {:?}", &digits[i..i + 2]))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the bytes look like and how to read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A LISP control message (UDP 4342 payload).
    Control,
    /// An Ethernet frame.
    Ethernet,
    /// An IPv4 or IPv6 packet.
    Ip,
}

/// Decodes `bytes` as `input`; errors name the field where decoding stopped.
pub fn decode(bytes: &[u8], input: Input) -> String {
    let mut out = String::new();
    let result = match input {
        Input::Control => control(bytes, &mut out, ""),
        Input::Ethernet => frame(bytes, &mut out),
        Input::Ip => ip(bytes, &mut out, ""),
    };
    if let Err(e) = result {
        let _ = writeln!(out, "error: {e}");
    }
    out
}

/// Guesses the input kind: an IPv4 header whose total length is the input length, an IPv6
/// version nibble, a control-message type nibble, else Ethernet.
pub fn guess(bytes: &[u8]) -> Input {
    let ipv4_length = bytes
        .get(2..4)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    match bytes.first() {
        Some(&b) if b >> 4 == 4 && b & 0x0f >= 5 && ipv4_length == Some(bytes.len()) => Input::Ip,
        Some(&b) if b >> 4 == 6 => Input::Ip,
        Some(&b) if matches!(b >> 4, 1..=5 | 7 | 8 | 15) => Input::Control,
        _ => Input::Ethernet,
    }
}

fn frame(bytes: &[u8], out: &mut String) -> WireResult<()> {
    let eth = EthernetFrame::new_checked(bytes)?;
    let mac = |m: [u8; 6]| m.map(|b| format!("{b:02x}")).join(":");
    let _ = writeln!(
        out,
        "Ethernet {} -> {}",
        mac(eth.source()),
        mac(eth.destination())
    );
    if let Some(vlan) = eth.vlan_id() {
        let _ = writeln!(out, "  vlan              = {vlan}");
    }
    let _ = writeln!(out, "  ethertype         = 0x{:04x}", eth.ethertype());
    match eth.ethertype() {
        ethernet::ETHERTYPE_IPV4 | ethernet::ETHERTYPE_IPV6 => ip(eth.payload(), out, "  "),
        ethernet::ETHERTYPE_ARP => {
            let _ = writeln!(out, "  ARP ({} bytes)", eth.payload().len());
            Ok(())
        }
        _ => Ok(()),
    }
}

fn ip(bytes: &[u8], out: &mut String, indent: &str) -> WireResult<()> {
    let (protocol, payload) = match bytes.first().map(|b| b >> 4) {
        Some(6) => {
            let p = Ipv6Packet::new_checked(bytes)?;
            let upper = p.upper_layer()?;
            let _ = writeln!(
                out,
                "{indent}IPv6 {} -> {} hop-limit {} traffic-class 0x{:02x} flow {} next-header {}",
                p.src_addr(),
                p.dst_addr(),
                p.hop_limit(),
                p.traffic_class(),
                p.flow_label(),
                upper.protocol
            );
            let end = 40 + usize::from(p.payload_len());
            (upper.protocol, &bytes[upper.offset..end])
        }
        _ => {
            let p = Ipv4Packet::new_checked(bytes)?;
            let _ = writeln!(
                out,
                "{indent}IPv4 {} -> {} ttl {} tos 0x{:02x} protocol {} length {} checksum {}",
                p.src_addr(),
                p.dst_addr(),
                p.ttl(),
                p.tos(),
                p.protocol(),
                p.total_len(),
                if p.verify_checksum() { "ok" } else { "BAD" }
            );
            (
                p.protocol(),
                &bytes[p.header_len()..usize::from(p.total_len())],
            )
        }
    };
    if protocol != PROTOCOL_UDP {
        return Ok(());
    }
    let udp = UdpPacket::new_checked(payload)?;
    let _ = writeln!(
        out,
        "{indent}UDP {} -> {} length {} checksum 0x{:04x}",
        udp.src_port(),
        udp.dst_port(),
        udp.len(),
        udp.checksum()
    );
    let inner = format!("{indent}  ");
    match udp.dst_port() {
        DATA_PORT => lisp_data(udp.payload(), out, &inner),
        CONTROL_PORT => control(udp.payload(), out, &inner),
        _ => match udp.src_port() {
            // An RTR sends to a NAT's translated port from 4342: LISP data, as the Map-Notify
            // it relays (Data-Map-Notify) and the traffic it carries are.
            CONTROL_PORT if DataMapNotifyRepr::parse(udp.payload()).is_ok() => {
                let _ = writeln!(out, "{inner}Data-Map-Notify (from an RTR, as LISP data)");
                lisp_data(udp.payload(), out, &inner)
            }
            CONTROL_PORT => control(udp.payload(), out, &inner),
            _ => Ok(()),
        },
    }
}

fn lisp_data(bytes: &[u8], out: &mut String, indent: &str) -> WireResult<()> {
    let h = LispHeader::new_checked(bytes)?;
    let _ = writeln!(out, "{indent}LISP data header");
    let flag = |b: bool| u8::from(b);
    let _ = writeln!(
        out,
        "{indent}  flags             = N={} L={} E={} V={} I={}",
        flag(h.nonce_present()),
        flag(h.lsb_enabled()),
        flag(h.echo_nonce_request()),
        flag(h.map_version_present()),
        flag(h.instance_id_present())
    );
    if let Some(nonce) = h.nonce() {
        let _ = writeln!(out, "{indent}  nonce             = 0x{nonce:06x}");
    }
    if let Some((s, d)) = h.map_versions() {
        let _ = writeln!(
            out,
            "{indent}  map_versions      = source {s} destination {d}"
        );
    }
    if let Some(iid) = h.instance_id() {
        let _ = writeln!(out, "{indent}  instance_id       = {iid}");
    }
    if let Some(lsb) = h.locator_status_bits() {
        let _ = writeln!(out, "{indent}  locator_status    = 0x{lsb:08x}");
    }
    ip(&bytes[8..], out, indent)
}

fn control(bytes: &[u8], out: &mut String, indent: &str) -> WireResult<()> {
    let kind = MessageType::of(bytes)?;
    let _ = writeln!(out, "{indent}raw = 0x{}", hex(bytes));
    let field = |out: &mut String, name: &str, value: String| {
        let _ = writeln!(out, "{indent}  {name:<18}= {value}");
    };
    let flag = |b: bool| u8::from(b).to_string();
    match kind {
        MessageType::MapRequest => {
            let m = MapRequestRepr::parse(bytes)?;
            let _ = writeln!(out, "{indent}Map-Request");
            field(out, "lisp_type", "1".into());
            for (name, value) in [
                ("authoritative (A)", m.authoritative),
                ("map_data (M)", m.map_reply.is_some()),
                ("rloc_probe (P)", m.probe),
                ("smr (S)", m.smr),
                ("pitr (p)", m.pitr),
                ("smr_invoked (s)", m.smr_invoked),
                ("local_xtr (L)", m.local_xtr),
                ("dont_reply (D)", m.dont_map_reply),
            ] {
                field(out, name, flag(value));
            }
            field(out, "itr_rloc_count", m.itr_rlocs.len().to_string());
            field(out, "record_count", m.records.len().to_string());
            field(out, "lisp_nonce", nonce(m.nonce));
            field(out, "source_eid", m.source_eid.to_string());
            for (i, rloc) in m.itr_rlocs.iter().enumerate() {
                field(out, &format!("itr_rloc {i}"), rloc.to_string());
            }
            for (i, r) in m.records.iter().enumerate() {
                field(
                    out,
                    &format!("eid_prefix {i}"),
                    format!("{}/{}", r.eid, r.mask_len),
                );
            }
            if let Some(record) = &m.map_reply {
                records(out, indent, std::slice::from_ref(record));
            }
        }
        MessageType::MapReply => {
            let m = MapReplyRepr::parse(bytes)?;
            let _ = writeln!(out, "{indent}Map-Reply");
            field(out, "lisp_type", "2".into());
            field(out, "rloc_probe (P)", flag(m.probe));
            field(out, "echo_nonce (E)", flag(m.echo_nonce_capable));
            field(out, "security (S)", flag(m.security));
            field(out, "record_count", m.records.len().to_string());
            field(out, "lisp_nonce", nonce(m.nonce));
            records(out, indent, &m.records);
        }
        MessageType::MapRegister => {
            let m = MapRegisterRepr::parse(bytes)?;
            let _ = writeln!(out, "{indent}Map-Register");
            field(out, "lisp_type", "3".into());
            field(out, "proxy_reply (P)", flag(m.proxy_reply));
            field(out, "security (S)", flag(m.security));
            field(out, "xtr_id_present (I)", flag(m.body.xtr.is_some()));
            field(out, "rtr (R)", flag(m.rtr));
            field(out, "want_map_notify", flag(m.want_map_notify));
            authenticated(out, indent, &m.body);
        }
        MessageType::MapNotify | MessageType::MapNotifyAck => {
            let m = MapNotifyRepr::parse(bytes)?;
            let _ = writeln!(
                out,
                "{indent}{}",
                if m.ack {
                    "Map-Notify-Ack"
                } else {
                    "Map-Notify"
                }
            );
            field(out, "lisp_type", if m.ack { "5" } else { "4" }.into());
            field(out, "xtr_id_present (I)", flag(m.body.xtr.is_some()));
            field(out, "rtr (R)", flag(m.rtr));
            authenticated(out, indent, &m.body);
        }
        MessageType::Info => {
            let m = InfoRepr::parse(bytes)?;
            let _ = writeln!(
                out,
                "{indent}{}",
                if m.reply {
                    "Info-Reply"
                } else {
                    "Info-Request"
                }
            );
            field(out, "lisp_type", "7".into());
            field(out, "reply (R)", flag(m.reply));
            field(out, "lisp_nonce", nonce(m.nonce));
            field(out, "key_id", m.key_id.to_string());
            field(out, "algorithm_id", m.algorithm_id.to_string());
            field(out, "auth_data", format!("0x{}", hex(&m.auth_data)));
            field(out, "ttl (minutes)", m.ttl.to_string());
            field(out, "eid_prefix", format!("{}/{}", m.eid, m.eid_mask_len));
            if let Some(nat) = &m.nat {
                field(out, "ms_port", nat.ms_port.to_string());
                field(out, "etr_port", nat.etr_port.to_string());
                field(out, "global_etr_rloc", nat.global_etr_rloc.to_string());
                field(out, "ms_rloc", nat.ms_rloc.to_string());
                field(out, "private_etr_rloc", nat.private_etr_rloc.to_string());
                for (i, rtr) in nat.rtr_rlocs.iter().enumerate() {
                    field(out, &format!("rtr_rloc {i}"), rtr.to_string());
                }
            }
        }
        MessageType::Ecm => {
            let m = EcmRepr::parse(bytes)?;
            let _ = writeln!(out, "{indent}Encapsulated Control Message");
            field(out, "lisp_type", "8".into());
            field(out, "security (S)", flag(m.security));
            field(out, "ddt (D)", flag(m.ddt));
            field(out, "to_etr (E) / for an RTR (R)", flag(m.to_etr));
            field(
                out,
                "to_map_server (M) / relayed by an RTR (N)",
                flag(m.to_map_server),
            );
            field(
                out,
                "inner",
                format!(
                    "{}:{} -> {}:{} ttl {}",
                    m.inner_source,
                    m.source_port,
                    m.inner_destination,
                    m.destination_port,
                    m.inner_ttl
                ),
            );
            return control(&m.message, out, &format!("{indent}  "));
        }
        MessageType::SharedExtension => {
            let m = CpmRepr::parse(bytes)?;
            let _ = writeln!(
                out,
                "{indent}Change Priority Message (type 15, sub-type {})",
                cpm::CPM_SUBTYPE
            );
            field(
                out,
                "roles",
                format!(
                    "H={} S={} D={}",
                    flag(m.roles.hypervisor),
                    flag(m.roles.source_site),
                    flag(m.roles.destination_site)
                ),
            );
            field(out, "lisp_nonce", nonce(m.nonce));
            field(out, "key_id", m.key_id.to_string());
            field(out, "algorithm_id", m.algorithm_id.to_string());
            field(out, "auth_data", format!("0x{}", hex(&m.auth_data)));
            field(
                out,
                "priority/weight",
                format!("{}/{}", m.priority, m.weight),
            );
            field(out, "eid_prefix", format!("{}/{}", m.eid, m.mask_len));
            for (i, c) in m.correspondents.iter().enumerate() {
                field(out, &format!("correspondent {i}"), c.to_string());
            }
        }
    }
    Ok(())
}

fn nonce(n: u64) -> String {
    format!("0x{:08x}-0x{:08x}", n >> 32, n & 0xffff_ffff)
}

fn authenticated(out: &mut String, indent: &str, body: &Authenticated) {
    let field = |out: &mut String, name: &str, value: String| {
        let _ = writeln!(out, "{indent}  {name:<18}= {value}");
    };
    let algorithm = match body.algorithm_id {
        1 => "HMAC-SHA-1",
        2 => "HMAC-SHA-256",
        _ => "unknown",
    };
    field(out, "record_count", body.records.len().to_string());
    field(out, "lisp_nonce", nonce(body.nonce));
    field(
        out,
        "key_id",
        format!(
            "{} (key {}, algorithm {} = {algorithm})",
            u16::from_be_bytes([body.key_id, body.algorithm_id]),
            body.key_id,
            body.algorithm_id
        ),
    );
    field(out, "key_len", body.auth_data.len().to_string());
    field(out, "auth_data", format!("0x{}", hex(&body.auth_data)));
    records(out, indent, &body.records);
    if let Some(xtr) = &body.xtr {
        field(out, "xtr_id", format!("0x{}", hex(&xtr.xtr_id)));
        field(out, "site_id", xtr.site_id.to_string());
    }
}

fn records(out: &mut String, indent: &str, records: &[EidRecord]) {
    for (i, r) in records.iter().enumerate() {
        let _ = writeln!(out, "{indent}  #Record{i}");
        let _ = writeln!(out, "{indent}  -------------");
        let line = |out: &mut String, name: &str, value: String| {
            let _ = writeln!(out, "{indent}  {name:<18}= {value}");
        };
        line(out, "record_ttl", r.ttl.to_string());
        line(out, "loc_count", r.locators.len().to_string());
        line(out, "eid_mask_len", r.mask_len.to_string());
        line(
            out,
            "action",
            format!("{} ({:?})", r.action.bits(), r.action),
        );
        line(out, "authoritative", u8::from(r.authoritative).to_string());
        line(out, "map_version", r.map_version.to_string());
        line(out, "eid_prefix", format!("{}/{}", r.eid, r.mask_len));
        for (j, l) in r.locators.iter().enumerate() {
            let _ = writeln!(
                out,
                "{indent}  RLOC {j}: priority {} weight {} mpriority {} mweight {} local {} probed {} reachable {} locator {}",
                l.priority,
                l.weight,
                l.multicast_priority,
                l.multicast_weight,
                u8::from(l.local),
                u8::from(l.probed),
                u8::from(l.reachable),
                l.address
            );
        }
    }
}
