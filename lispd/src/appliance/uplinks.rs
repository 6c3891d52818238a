//! Which of our locators are usable: a locator is usable while its port's link is up (polled
//! with `rte_eth_link_get_nowait`, which every PMD answers) and the port's gateway of its family
//! answers ([`GatewayWatch`]; the only signal where the PMD reports no carrier, as af_packet).
//! Each transition is counted and logged at WARN; a change of the usable set is handed to the
//! caller, which republishes our locators and tells the control plane.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use config::PortRole;
use controlplane::gateway_watch::{GatewayTimers, GatewayWatch};
use dpdk_bindings::Mempool;

use super::control::{self, ControlStats};
use super::interfaces::ControlPort;
use super::ports::OpenPort;

/// How often each port's link is read.
const LINK_POLL: Duration = Duration::from_millis(100);

/// The uplinks' state.
#[derive(Debug)]
pub struct Uplinks {
    watch: GatewayWatch,
    next_link_poll: Instant,
    unusable: Vec<IpAddr>,
}

impl Uplinks {
    /// Watches the gateways of every RLOC-side port of `ports`.
    pub fn new(ports: &[ControlPort], now: Instant) -> Self {
        let mut watch = GatewayWatch::new(GatewayTimers::default());
        for port in ports.iter().filter(|p| p.role == PortRole::Rloc) {
            for &gateway in &port.neighbours.gateways {
                watch.watch((port.port_id, gateway), now);
            }
        }
        Self {
            watch,
            next_link_poll: now,
            unusable: Vec::new(),
        }
    }

    /// Our locators unusable now.
    pub fn unusable(&self) -> &[IpAddr] {
        &self.unusable
    }

    /// A frame from `from` arrived on `port`.
    pub fn heard(&mut self, port: u16, from: IpAddr) {
        self.watch.heard((port, from));
    }

    /// Reads links that are due, asks gateways that are due, and returns the new set of unusable
    /// locators when it changed. `open` are the devices of `ports` (interfaces).
    pub fn poll(
        &mut self,
        ports: &mut [ControlPort],
        open: &[OpenPort],
        pool: &Mempool,
        now: Instant,
        stats: &mut ControlStats,
    ) -> Option<Vec<IpAddr>> {
        let mut changed = false;
        if now >= self.next_link_poll {
            self.next_link_poll = now + LINK_POLL;
            for device in open {
                let up = device.port.link_status().map_or(true, |link| link.up);
                let id = device.port.id().raw();
                // The port's interfaces (its untagged side, its VLANs) share its link.
                let mut interfaces = ports.iter_mut().filter(|p| p.port_id == id).peekable();
                if interfaces.peek().is_none_or(|p| p.link_up == up) {
                    continue;
                }
                for interface in interfaces {
                    interface.link_up = up;
                }
                stats.link_transitions += 1;
                changed = true;
                tracing::warn!(
                    "port {}: link {}",
                    device.config.name,
                    if up { "up" } else { "down" }
                );
            }
        }
        if self.watch.poll_timeout().is_some_and(|due| due <= now) {
            self.watch.handle_timeout(now);
        }
        while let Some((port_id, gateway)) = self.watch.poll_probe() {
            if let Some(port) = ports.iter_mut().find(|p| p.port_id == port_id && p.link_up) {
                stats.gateway_probes_sent += u64::from(control::ask(port, gateway, pool));
            }
        }
        while let Some(((port_id, gateway), alive)) = self.watch.poll_change() {
            stats.gateway_transitions += 1;
            changed = true;
            let name = ports
                .iter()
                .find(|p| p.port_id == port_id)
                .map_or("?", |p| p.name.as_str());
            if alive {
                tracing::warn!("port {name}: gateway {gateway} answers again");
            } else {
                tracing::warn!("port {name}: gateway {gateway} stopped answering");
            }
        }
        if !changed {
            return None;
        }
        let unusable = self.unusable_locators(ports);
        if unusable == self.unusable {
            return None;
        }
        tracing::warn!("usable locators changed; unusable now: {unusable:?}");
        self.unusable = unusable.clone();
        Some(unusable)
    }

    /// Addresses of RLOC-side ports whose link is down or whose gateway of the address's family
    /// does not answer.
    fn unusable_locators(&self, ports: &[ControlPort]) -> Vec<IpAddr> {
        let mut unusable: Vec<IpAddr> = ports
            .iter()
            .filter(|p| p.role == PortRole::Rloc)
            .flat_map(|port| {
                port.addresses.iter().copied().filter(move |address| {
                    !port.link_up
                        || port.neighbours.gateways.iter().any(|g| {
                            g.is_ipv6() == address.is_ipv6()
                                && !self.watch.is_alive((port.port_id, *g))
                        })
                })
            })
            .collect();
        unusable.sort_unstable();
        unusable
    }
}
