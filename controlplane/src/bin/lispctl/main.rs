//! `lispctl`: the operator's command-line client. Over lispd's management socket: `show`,
//! `map get|add|del`, `flush`, `register`, `log` (tables for people, `--json` for scripts).
//! Standalone: `decode`, the human decoder for LISP messages and packets, and `cpm`, which sends
//! a Change Priority Message for hypervisor scripts.

mod api;
mod cpm_cmd;
mod decode_cmd;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use controlplane::decode::Input;
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::cpm::{CpmRepr, CpmRoles};
use ipnet::IpNet;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(name = "lispctl", version, about = "Control and inspect lispd")]
struct Cli {
    /// The management socket (default: lispd's `/run/lispd/lispd.sock`, or lisp-ms's
    /// `/run/lisp-ms/lisp-ms.sock` with `--ms`).
    #[arg(short, long, global = true)]
    socket: Option<PathBuf>,
    /// Talk to lisp-ms (`show sites|registrations|stats`) instead of lispd.
    #[arg(long, global = true)]
    ms: bool,
    /// Print lispd's answer as JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show lispd's tables and counters.
    Show {
        #[command(subcommand)]
        what: Show,
    },
    /// Read and change the map-cache.
    Map {
        #[command(subcommand)]
        change: Map,
    },
    /// Drop every mapping learned from Map-Replies.
    Flush,
    /// Send Map-Registers to every map-server now.
    Register,
    /// Re-read lispd's configuration file and apply it (as SIGHUP does); a file that does not
    /// validate, or changes what needs a restart, changes nothing and the answer says why.
    Reload,
    /// Record what becomes of the next N packets (class, lookup outcome, RLOC or drop reason);
    /// answered when they have passed, or after 10 s with what passed.
    Trace { count: u32 },
    /// Set lispd's log level (error, warn, info, debug, trace).
    Log { level: String },
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
    /// Write the man page and bash/zsh completions under DIR (for packaging).
    #[command(hide = true)]
    GenerateDocs { dir: PathBuf },
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
        /// The instance (tenant) the VM's EID is in (default instance when omitted).
        #[arg(long, visible_alias = "instance")]
        instance_id: Option<u32>,
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

#[derive(Subcommand)]
enum Show {
    /// The map-cache (or the entry an EID's longest match reaches), streamed however large.
    Cache {
        eid: Option<IpAddr>,
        /// The instance the EID is in (default instance when omitted).
        #[arg(long, visible_alias = "instance")]
        instance_id: Option<u32>,
        /// Only the entries inside this prefix (equal or more specific).
        #[arg(long, conflicts_with = "eid")]
        within: Option<IpNet>,
        /// At most this many entries.
        #[arg(long, conflicts_with = "eid")]
        count: Option<usize>,
    },
    /// Our EID prefixes and their locators (of one instance with --instance).
    Db {
        #[arg(long, visible_alias = "instance")]
        instance_id: Option<u32>,
    },
    /// Registration state per map-server.
    Servers,
    /// Learned neighbours per port.
    Neighbours,
    /// Each instance (tenant): its interfaces, map-cache and database sizes, and packets.
    Instances,
    /// Data-core and control-plane counters (lisp-ms: its counters).
    Stats,
    /// lisp-ms: its sites and how many of their prefixes are registered.
    Sites,
    /// lisp-ms: every registration, merged per prefix.
    Registrations,
}

#[derive(Subcommand)]
enum Map {
    /// The map-cache entry an EID's longest match reaches.
    Get {
        eid: IpAddr,
        #[arg(long, visible_alias = "instance")]
        instance_id: Option<u32>,
    },
    /// Install a static mapping: `lispctl map add 10.3.0.0/16 --locator 192.0.2.7:1:100`.
    Add {
        prefix: IpNet,
        /// ADDRESS[:PRIORITY[:WEIGHT]] (IPv6 in brackets: `[2001:db8::1]:1:100`); repeatable.
        #[arg(long = "locator")]
        locators: Vec<String>,
        /// encapsulate (default with locators), drop (default without), native-forward,
        /// send-map-request.
        #[arg(long)]
        action: Option<String>,
        #[arg(long, visible_alias = "instance")]
        instance_id: Option<u32>,
        /// Install it even inside one of lispd's own EID prefixes.
        #[arg(long)]
        force: bool,
    },
    /// Remove the mapping of exactly this prefix.
    Del {
        prefix: IpNet,
        #[arg(long, visible_alias = "instance")]
        instance_id: Option<u32>,
    },
}

/// `ADDRESS[:PRIORITY[:WEIGHT]]` (the syntax of a `map_cache_file`) as the management API's JSON.
fn parse_locator(text: &str) -> Result<Value, String> {
    let locator = config::bulk::parse_locator(text)?;
    Ok(json!({"address": locator.address, "priority": locator.priority, "weight": locator.weight}))
}

/// Renders a management result as a table.
type Render = fn(&Value) -> String;

/// The request for a management command and how to show its result.
fn management_request(command: &Command, ms: bool) -> Result<(Value, Render), String> {
    fn done(result: &Value) -> String {
        format!("{result}\n")
    }
    if ms {
        return match command {
            Command::Show { what: Show::Sites } => {
                Ok((json!({"command": "show-sites"}), api::sites_table))
            }
            Command::Show {
                what: Show::Registrations,
            } => Ok((
                json!({"command": "show-registrations"}),
                api::registrations_table,
            )),
            Command::Show { what: Show::Stats } => {
                Ok((json!({"command": "show-stats"}), api::ms_stats_table))
            }
            _ => Err("lisp-ms answers show sites, show registrations and show stats".into()),
        };
    }
    Ok(match command {
        Command::Show { what } => match what {
            Show::Cache {
                eid,
                instance_id,
                within,
                count,
            } => (
                json!({"command": "show-cache", "eid": eid, "instance_id": instance_id,
                       "within": within, "count": count}),
                api::cache_table as Render,
            ),
            Show::Db { instance_id } => (
                json!({"command": "show-database", "instance_id": instance_id}),
                api::database_table,
            ),
            Show::Servers => (json!({"command": "show-servers"}), api::servers_table),
            Show::Neighbours => (json!({"command": "show-neighbours"}), api::neighbours_table),
            Show::Instances => (json!({"command": "show-instances"}), api::instances_table),
            Show::Stats => (json!({"command": "show-stats"}), api::stats_table),
            Show::Sites | Show::Registrations => {
                return Err("show sites and show registrations are lisp-ms's: add --ms".into())
            }
        },
        Command::Map { change } => match change {
            Map::Get { eid, instance_id } => (
                json!({"command": "show-cache", "eid": eid, "instance_id": instance_id}),
                api::cache_table,
            ),
            Map::Add {
                prefix,
                locators,
                action,
                instance_id,
                force,
            } => {
                let locators = locators
                    .iter()
                    .map(|l| parse_locator(l))
                    .collect::<Result<Vec<_>, _>>()?;
                (
                    json!({"command": "map-add", "prefix": prefix, "locators": locators,
                           "action": action, "instance_id": instance_id, "force": force}),
                    done,
                )
            }
            Map::Del {
                prefix,
                instance_id,
            } => (
                json!({"command": "map-del", "prefix": prefix, "instance_id": instance_id}),
                done,
            ),
        },
        Command::Flush => (json!({"command": "flush"}), done),
        Command::Register => (json!({"command": "register"}), done),
        Command::Reload => (json!({"command": "reload"}), done),
        Command::Trace { count } => (
            json!({"command": "trace", "count": count}),
            api::trace_table,
        ),
        Command::Log { level } => (json!({"command": "set-log-level", "level": level}), done),
        Command::Decode { .. } | Command::Cpm { .. } | Command::GenerateDocs { .. } => {
            return Err("not a management command".into())
        }
    })
}

/// Asks lispd and prints its answer.
fn manage(cli: &Cli) -> ExitCode {
    let (request, render) = match management_request(&cli.command, cli.ms) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("lispctl: {e}");
            return ExitCode::from(2);
        }
    };
    let socket = cli.socket.clone().unwrap_or_else(|| {
        PathBuf::from(if cli.ms {
            "/run/lisp-ms/lisp-ms.sock"
        } else {
            "/run/lispd/lispd.sock"
        })
    });
    match api::call(&socket, request) {
        Ok(result) if cli.json => {
            println!("{result}");
            ExitCode::SUCCESS
        }
        Ok(result) => {
            print!("{}", render(&result));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lispctl: {e}");
            ExitCode::FAILURE
        }
    }
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
    let cli = Cli::parse();
    match cli.command {
        Command::GenerateDocs { dir } => match controlplane::docs::write(Cli::command(), &dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
        Command::Decode { hex, file, kind } => match decode_cmd::decode_command(&hex, file, kind) {
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
            instance_id,
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
                nonce: cpm_cmd::fresh_nonce(),
                key_id: 0,
                algorithm_id: 0,
                auth_data: Vec::new(),
                priority: priority.unwrap_or(default_priority),
                weight,
                mask_len: eid.prefix_len(),
                eid: Address::in_instance(Address::from(eid.network()), instance_id),
                correspondents: correspondents.into_iter().map(Address::from).collect(),
            };
            let algorithm = match algorithm {
                Algorithm::HmacSha1 => AuthAlgorithm::HmacSha1,
                Algorithm::HmacSha256 => AuthAlgorithm::HmacSha256,
            };
            match cpm_cmd::send_cpm(&to, from, &cpm, algorithm, key.as_bytes()) {
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
        _ => manage(&cli),
    }
}
