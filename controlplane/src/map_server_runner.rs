//! The I/O around the map-server machine: UDP sockets, a loop that sleeps in `poll(2)` until a
//! datagram arrives or the machine's next timer is due (so an idle map-server costs nothing
//! whatever it holds), and log lines for what the machine reports.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::decode::{decode, Input};
use crate::map_server::{Event, MapServer};
use crate::map_server_endpoints::Endpoints;
use crate::rate_limit::Budget;

/// The longest sleep, so that a stop request is seen without a signal.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// The longest sleep while management or metrics clients may be waiting.
const ENDPOINT_POLL: Duration = Duration::from_millis(20);

/// Refusals logged per second at most; the rest are counted in the stop report only.
const REFUSALS_LOGGED_PER_SEC: u32 = 20;

/// What the loop did, readable while it runs.
#[derive(Debug, Default)]
pub struct RunnerStats {
    /// Returns from `poll(2)`: what idle cost is measured in.
    pub wakeups: AtomicU64,
    pub datagrams: AtomicU64,
    pub refusals_not_logged: AtomicU64,
}

/// Binds every listen address, non-blocking.
pub fn bind(listen: &[SocketAddr]) -> Result<Vec<UdpSocket>, String> {
    listen
        .iter()
        .map(|address| {
            let socket =
                UdpSocket::bind(address).map_err(|e| format!("cannot listen on {address}: {e}"))?;
            socket
                .set_nonblocking(true)
                .map_err(|e| format!("{address}: {e}"))?;
            Ok(socket)
        })
        .collect()
}

/// The addresses of this host's interfaces (what a listener on 0.0.0.0 or :: answers on).
pub fn host_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    interfaces
        .filter_map(|i| i.address)
        .filter_map(|a| {
            a.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        .collect()
}

/// Serves `server` on `sockets`, and its management and metrics `endpoints`, until `stop` is set.
pub fn serve(
    server: &mut MapServer,
    sockets: &[UdpSocket],
    endpoints: &mut Endpoints,
    stop: &AtomicBool,
    stats: &RunnerStats,
) -> Result<(), String> {
    let mut buffer = vec![0u8; 65536];
    let mut log_budget = Budget::new(REFUSALS_LOGGED_PER_SEC);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let sleep = server
            .poll_timeout()
            .map_or(MAX_SLEEP, |due| due.saturating_duration_since(now))
            .min(if endpoints.any() {
                ENDPOINT_POLL
            } else {
                MAX_SLEEP
            });
        let mut fds: Vec<PollFd> = sockets
            .iter()
            .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
            .collect();
        let timeout = PollTimeout::try_from(sleep).unwrap_or(PollTimeout::MAX);
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        stats.wakeups.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        for socket in sockets {
            while let Ok((n, from)) = socket.recv_from(&mut buffer) {
                stats.datagrams.fetch_add(1, Ordering::Relaxed);
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
            log(event, now, &mut log_budget, stats);
        }
        endpoints.poll(server, stats, now);
    }
    Ok(())
}

fn log(event: Event, now: Instant, budget: &mut Budget, stats: &RunnerStats) {
    match event {
        Event::Registered { site, prefix, by } => {
            tracing::info!("registered {site} {prefix} by {by}")
        }
        Event::LocatorsChanged {
            site,
            prefix,
            by,
            locators,
        } => {
            let locators: Vec<String> = locators
                .iter()
                .map(|(address, priority)| format!("{address} priority {priority}"))
                .collect();
            tracing::info!(
                "registration of {site} {prefix} by {by} changed: {}",
                locators.join(", ")
            )
        }
        Event::Expired { site, prefix, by } => {
            tracing::info!("registration expired {site} {prefix} by {by}")
        }
        Event::Refused { from, site, reason } => {
            if !budget.take(now) {
                stats.refusals_not_logged.fetch_add(1, Ordering::Relaxed);
                return;
            }
            match site {
                Some(site) => {
                    tracing::warn!("refused a message of site {site} from {from}: {reason}")
                }
                None => tracing::warn!("refused a message from {from}: {reason}"),
            }
        }
    }
}
