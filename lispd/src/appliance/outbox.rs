//! Control datagrams on their way out, from our usable locator of their family and by the
//! uplink that owns it. A datagram whose next hop has no MAC yet
//! (a Map-Reply to an ITR we never talked to) waits, bounded in number and time, while the
//! neighbour code resolves it, instead of being lost to the first exchange.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dataplane::pipeline::{LocalRlocs, NoMac};
use dpdk_bindings::Mempool;

use super::control::{self, ControlStats};
use super::interfaces::ControlPort;
use super::udp_io;
use controlplane::neighbour_resolution::NeighbourResolution;
use controlplane::Transmit;

/// How long and how many datagrams may wait for a neighbour.
const WAIT: Duration = Duration::from_secs(3);
const MAX_WAITING: usize = 256;

/// Datagrams waiting for a next hop.
#[derive(Debug)]
pub struct Outbox {
    /// Our addresses to send from (the usable ones).
    local: LocalRlocs,
    waiting: VecDeque<(Transmit, Instant)>,
}

impl Outbox {
    pub fn new(local: LocalRlocs) -> Self {
        Self {
            local,
            waiting: VecDeque::new(),
        }
    }

    /// From now on, send from these locators.
    pub fn set_local(&mut self, local: LocalRlocs) {
        self.local = local;
    }

    /// The uplink a datagram to `destination` leaves by, and our address on it.
    fn uplink<'p>(
        &self,
        ports: &'p mut [ControlPort],
        destination: IpAddr,
    ) -> Option<(&'p mut ControlPort, IpAddr)> {
        let source = match destination {
            IpAddr::V4(_) => self.local.v4.map(IpAddr::V4),
            IpAddr::V6(_) => self.local.v6.map(IpAddr::V6),
        }?;
        let port = ports.iter_mut().find(|p| p.addresses.contains(&source))?;
        Some((port, source))
    }

    /// Sends `transmit` from our usable RLOC of its family, or parks it until its next hop
    /// resolves.
    pub fn send(
        &mut self,
        ports: &mut [ControlPort],
        pool: &Mempool,
        resolution: &mut NeighbourResolution,
        transmit: Transmit,
        now: Instant,
        stats: &mut ControlStats,
    ) {
        let destination = transmit.destination.ip();
        let Some((port, source)) = self.uplink(ports, destination) else {
            stats.control_messages_unsent += 1;
            return;
        };
        let mac = match port.neighbours.mac_for(destination) {
            Ok(mac) => mac,
            Err(missing) => {
                if matches!(missing, NoMac::Unresolved(_)) {
                    port.want(destination, false, resolution, now);
                }
                if self.waiting.len() < MAX_WAITING {
                    self.waiting.push_back((transmit, now));
                } else {
                    stats.control_messages_unsent += 1;
                }
                return;
            }
        };
        let sent = udp_io::frame(
            pool,
            (port.mac, mac),
            SocketAddr::new(source, transmit.source_port),
            transmit.destination,
            &transmit.payload,
        )
        .is_some_and(|frame| control::send(port, frame));
        stats.control_messages_sent += u64::from(sent);
        stats.control_messages_unsent += u64::from(!sent);
    }

    /// Retries what waits; what waited too long is counted as unsent.
    pub fn retry(
        &mut self,
        ports: &mut [ControlPort],
        pool: &Mempool,
        resolution: &mut NeighbourResolution,
        now: Instant,
        stats: &mut ControlStats,
    ) {
        for (transmit, since) in std::mem::take(&mut self.waiting) {
            if now.saturating_duration_since(since) > WAIT {
                stats.control_messages_unsent += 1;
            } else if self
                .uplink(ports, transmit.destination.ip())
                .is_some_and(|(port, _)| port.neighbours.mac_for(transmit.destination.ip()).is_ok())
            {
                self.send(ports, pool, resolution, transmit, now, stats);
            } else {
                self.waiting.push_back((transmit, since));
            }
        }
    }
}
