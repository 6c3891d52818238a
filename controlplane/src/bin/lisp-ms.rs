//! `lisp-ms`: a Map-Server and Map-Resolver on ordinary UDP sockets.
//!
//! With no configuration it serves the built-in demo sites on loopback, so the demo needs no file.
//! Logs go to standard output (`RUST_LOG=debug` shows every message decoded).

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use config::MapServerConfig;
use controlplane::decode::{decode, Input};
use controlplane::map_server::{Event, MapServer};
use controlplane::report::nonzero_counters;

#[derive(Parser)]
#[command(name = "lisp-ms", version, about = "LISP Map-Server and Map-Resolver")]
struct Cli {
    /// The TOML configuration (default: the built-in demo sites).
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Listen here instead of the configured addresses (repeatable).
    #[arg(short, long)]
    listen: Vec<SocketAddr>,
    /// Validate the configuration and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match &cli.config {
        Some(path) => match config::load_map_server(path) {
            Ok(config) => config,
            Err(errors) => {
                eprintln!("{errors}");
                return ExitCode::FAILURE;
            }
        },
        None => MapServerConfig::demo(),
    };
    if !cli.listen.is_empty() {
        config.listen = cli.listen;
    }
    if cli.check {
        println!(
            "lisp-ms: configuration OK: {} site(s), listening on {:?}",
            config.site.len(),
            config.listen
        );
        return ExitCode::SUCCESS;
    }
    controlplane::logging::init("info");
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
            eprintln!("lisp-ms: cannot handle signal {signal}: {e}");
            return ExitCode::FAILURE;
        }
    }
    match serve(config, &stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lisp-ms: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: MapServerConfig, stop: &AtomicBool) -> Result<(), String> {
    let sockets = config
        .listen
        .iter()
        .map(|address| {
            let socket =
                UdpSocket::bind(address).map_err(|e| format!("cannot listen on {address}: {e}"))?;
            socket
                .set_nonblocking(true)
                .map_err(|e| format!("{address}: {e}"))?;
            Ok(socket)
        })
        .collect::<Result<Vec<_>, String>>()?;
    let sites: Vec<String> = config.site.iter().map(|s| s.name.clone()).collect();
    println!(
        "lisp-ms: serving sites {} on {:?} (stop with SIGINT or SIGTERM)",
        sites.join(", "),
        config.listen
    );
    let mut server = MapServer::new(config);
    let mut buffer = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let mut idle = true;
        for socket in &sockets {
            while let Ok((n, from)) = socket.recv_from(&mut buffer) {
                idle = false;
                tracing::debug!(
                    "message from {from}:\n{}",
                    decode(&buffer[..n], Input::Control)
                );
                server.handle_datagram(from, &buffer[..n], now);
            }
        }
        if server.poll_timeout().is_some_and(|due| due <= now) {
            server.handle_timeout(now);
        }
        while let Some(transmit) = server.poll_transmit() {
            let socket = sockets.iter().find(|s| {
                s.local_addr()
                    .is_ok_and(|a| a.is_ipv4() == transmit.destination.is_ipv4())
            });
            if let Some(socket) = socket {
                let _ = socket.send_to(&transmit.payload, transmit.destination);
            }
        }
        while let Some(event) = server.poll_event() {
            match event {
                Event::Registered { site, prefix, by } => {
                    tracing::info!("registered {site} {prefix} by {by}")
                }
                Event::Expired { site, prefix, by } => {
                    tracing::info!("registration expired {site} {prefix} by {by}")
                }
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    println!("lisp-ms: stopped");
    for r in server.registrations() {
        println!(
            "  {} {} locators {:?} registrants {}",
            r.site, r.prefix, r.locators, r.registrants
        );
    }
    println!("  {}", nonzero_counters(&server.stats()));
    Ok(())
}
