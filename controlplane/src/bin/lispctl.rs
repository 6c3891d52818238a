//! `lispctl`: the operator's command-line client: `lispctl decode`, the human decoder for LISP
//! control messages and data packets (hex on the command line, a raw file, or a pcap), and
//! `lispctl cpm`, which sends a Change Priority Message for hypervisor scripts.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use controlplane::decode::{decode, guess, parse_hex, Input};
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::cpm::{CpmRepr, CpmRoles};
use ipnet::IpNet;

#[derive(Parser)]
#[command(name = "lispctl", version, about = "Control and inspect lispd")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every field of a LISP message or packet.
    Decode {
        /// Hex bytes (as the seed prints them: `0x3000...`, spaces and line breaks allowed).
        hex: Vec<String>,
        /// Read raw bytes from a file instead (a `.pcap` is decoded packet by packet as Ethernet).
        #[arg(short, long, conflicts_with = "hex")]
        file: Option<PathBuf>,
        /// What the bytes are; guessed when omitted.
        #[arg(long = "as", value_enum)]
        kind: Option<Kind>,
    },
    /// Send a Change Priority Message to an xTR: a VM's EID arrived at (or left) its site.
    Cpm {
        /// The xTR (one of its RLOCs; port 4342 unless given).
        #[arg(long)]
        to: String,
        /// Send from this address (the one the xTR knows this hypervisor by).
        #[arg(long)]
        from: Option<IpAddr>,
        /// The key shared with the xTR (`[[cpm.sender]]`).
        #[arg(long)]
        key: String,
        #[arg(long, value_enum, default_value = "hmac-sha256")]
        algorithm: Algorithm,
        /// The VM's EID (a prefix, usually /32 or /128).
        #[arg(long)]
        eid: IpNet,
        /// What the receiving xTR is to the move.
        #[arg(long, value_enum)]
        role: Role,
        /// New priority of the receiver's locators (default: 1 when arrived, 255 when left).
        #[arg(long)]
        priority: Option<u8>,
        #[arg(long, default_value_t = 100)]
        weight: u8,
        /// An address the VM was talking to (repeatable): its ITR gets an SMR.
        #[arg(long = "correspondent")]
        correspondents: Vec<IpAddr>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Algorithm {
    HmacSha1,
    HmacSha256,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    /// The VM arrived at the receiver's site (H+D).
    Arrived,
    /// The VM left the receiver's site (H+S).
    Left,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// A LISP control message (UDP 4342 payload).
    Control,
    /// An IPv4/IPv6 packet.
    Ip,
    /// An Ethernet frame.
    Ethernet,
}

impl From<Kind> for Input {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Control => Input::Control,
            Kind::Ip => Input::Ip,
            Kind::Ethernet => Input::Ethernet,
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Decode { hex, file, kind } => match decode_command(&hex, file, kind) {
            Ok(text) => {
                print!("{text}");
                if text.contains("error: ") {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("lispctl decode: {e}");
                ExitCode::from(2)
            }
        },
        Command::Cpm {
            to,
            from,
            key,
            algorithm,
            eid,
            role,
            priority,
            weight,
            correspondents,
        } => {
            let roles = CpmRoles {
                hypervisor: true,
                source_site: role == Role::Left,
                destination_site: role == Role::Arrived,
            };
            let default_priority = if role == Role::Arrived { 1 } else { 255 };
            let cpm = CpmRepr {
                roles,
                nonce: fresh_nonce(),
                key_id: 0,
                algorithm_id: 0,
                auth_data: Vec::new(),
                priority: priority.unwrap_or(default_priority),
                weight,
                mask_len: eid.prefix_len(),
                eid: Address::from(eid.network()),
                correspondents: correspondents.into_iter().map(Address::from).collect(),
            };
            let algorithm = match algorithm {
                Algorithm::HmacSha1 => AuthAlgorithm::HmacSha1,
                Algorithm::HmacSha256 => AuthAlgorithm::HmacSha256,
            };
            match send_cpm(&to, from, &cpm, algorithm, key.as_bytes()) {
                Ok(destination) => {
                    println!(
                        "lispctl: CPM sent to {destination}: {eid} {} priority {}",
                        if role == Role::Arrived {
                            "arrived"
                        } else {
                            "left"
                        },
                        cpm.priority
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("lispctl cpm: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// A nonce no earlier CPM from this host used: the clock in nanoseconds mixed with the PID.
fn fresh_nonce() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(48)
}

fn send_cpm(
    to: &str,
    from: Option<IpAddr>,
    cpm: &CpmRepr,
    algorithm: AuthAlgorithm,
    key: &[u8],
) -> Result<SocketAddr, String> {
    let destination: SocketAddr = to
        .parse()
        .or_else(|_| to.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 4342)))
        .map_err(|_| format!("--to {to:?}: expected an address or address:port"))?;
    let bind = match (from, destination) {
        (Some(ip), _) => SocketAddr::new(ip, 0),
        (None, SocketAddr::V4(_)) => SocketAddr::from(([0u8; 4], 0)),
        (None, SocketAddr::V6(_)) => SocketAddr::from(([0u16; 8], 0)),
    };
    let socket = UdpSocket::bind(bind).map_err(|e| format!("bind {bind}: {e}"))?;
    let mut bytes = Vec::new();
    cpm.emit_signed(algorithm, key, &mut bytes)
        .map_err(|e| format!("encoding: {e}"))?;
    socket
        .send_to(&bytes, destination)
        .map_err(|e| format!("send to {destination}: {e}"))?;
    Ok(destination)
}

fn decode_command(
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
