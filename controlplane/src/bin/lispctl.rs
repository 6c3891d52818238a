//! `lispctl`: the operator's command-line client. Today: `lispctl decode`, the human decoder for
//! LISP control messages and data packets (hex on the command line, a raw file, or a pcap).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use controlplane::decode::{decode, guess, parse_hex, Input};

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
    }
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
