//! Map-servers, map-resolvers, PETRs and PITRs given by host name. Each name is resolved through the host's
//! resolver (`getaddrinfo`: `/etc/hosts`, DNS, whatever NSS is set to) once at start, where a
//! name that does not resolve is an error, and then every `timers.dns_refresh_secs` on a thread of
//! its own, so a slow resolver never stalls the control core. A new address is handed to the
//! control loop; a failed refresh is logged and the last address kept. The standard resolver
//! does not expose record TTLs, so the refresh period is the configured one.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use config::{Config, PortRole};

/// A peer that may be named, by its index in its configuration section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    MapServer(usize),
    MapResolver(usize),
    Petr(usize),
    Pitr(usize),
}

/// A section's peer by index.
type PeerOf = fn(usize) -> Peer;

/// Every peer with its configured address or name, in configuration order per section.
fn peers(config: &Config) -> Vec<(Peer, String)> {
    let sections: [(Vec<&String>, PeerOf); 4] = [
        (
            config.map_server.iter().map(|m| &m.address).collect(),
            Peer::MapServer,
        ),
        (
            config.map_resolver.iter().map(|m| &m.address).collect(),
            Peer::MapResolver,
        ),
        (config.petr.iter().map(|p| &p.address).collect(), Peer::Petr),
        (config.pitr.iter().map(|p| &p.address).collect(), Peer::Pitr),
    ];
    let mut peers = Vec::new();
    for (addresses, peer) in sections {
        for (i, address) in addresses.into_iter().enumerate() {
            peers.push((peer(i), address.clone()));
        }
    }
    peers
}

/// The host name each peer was configured by (`None` for an address), as management shows it:
/// (role, index in its section, name).
pub fn peer_names(config: &Config) -> Vec<(&'static str, usize, Option<String>)> {
    peers(config)
        .into_iter()
        .map(|(peer, name)| {
            let (role, index) = match peer {
                Peer::MapServer(i) => ("map-server", i),
                Peer::MapResolver(i) => ("map-resolver", i),
                Peer::Petr(i) => ("petr", i),
                Peer::Pitr(i) => ("pitr", i),
            };
            (role, index, name.parse::<IpAddr>().is_err().then_some(name))
        })
        .collect()
}

/// A named peer's address changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    pub peer: Peer,
    pub name: String,
    pub address: IpAddr,
}

/// The address of every configured peer, names resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved(Vec<(Peer, IpAddr)>);

impl Resolved {
    /// The addresses of one section, in configuration order (`section` maps an index to the
    /// section's peer).
    pub fn section(&self, section: PeerOf) -> Vec<IpAddr> {
        (0..)
            .map_while(|i| {
                self.0
                    .iter()
                    .find(|(peer, _)| *peer == section(i))
                    .map(|(_, a)| *a)
            })
            .collect()
    }
}

/// The families our uplinks have addresses of, in the order a name's addresses are preferred.
fn families(config: &Config) -> Vec<bool> {
    let mut families = Vec::new();
    for address in config
        .port
        .iter()
        .filter(|p| p.role == PortRole::Rloc)
        .flat_map(|p| &p.addresses)
    {
        let v6 = address.addr().is_ipv6();
        if !families.contains(&v6) {
            families.push(v6);
        }
    }
    families
}

/// `name`'s address of the first of `families` it has one of.
pub fn resolve(name: &str, families: &[bool]) -> Result<IpAddr, String> {
    if let Ok(address) = name.parse::<IpAddr>() {
        return Ok(address);
    }
    let addresses: Vec<IpAddr> = (name, 0)
        .to_socket_addrs()
        .map_err(|e| format!("{name:?} does not resolve: {e}"))?
        .map(|a| a.ip())
        .collect();
    families
        .iter()
        .find_map(|&v6| addresses.iter().copied().find(|a| a.is_ipv6() == v6))
        .ok_or_else(|| {
            format!("{name:?} resolves to {addresses:?}, none of a family our uplinks have")
        })
}

/// Every peer, names resolved now.
pub fn resolve_all(config: &Config) -> Result<Resolved, String> {
    let families = families(config);
    peers(config)
        .into_iter()
        .map(|(peer, name)| {
            let what = match peer {
                Peer::MapServer(_) => "map-server",
                Peer::MapResolver(_) => "map-resolver",
                Peer::Petr(_) => "PETR",
                Peer::Pitr(_) => "PITR",
            };
            resolve(&name, &families)
                .map(|address| (peer, address))
                .map_err(|e| format!("{what} {e}"))
        })
        .collect::<Result<_, _>>()
        .map(Resolved)
}

/// The thread that resolves the named peers again, and where its news arrives.
#[derive(Debug)]
pub struct NameRefresh {
    news: Receiver<Renamed>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NameRefresh {
    /// Starts refreshing the peers of `config` given by name, from the addresses in `resolved`
    /// (which [`resolve_all`] made from the same `config`); no thread when every peer is an
    /// address.
    pub fn start(config: &Config, resolved: &Resolved) -> std::io::Result<Self> {
        let named: Vec<(Peer, String, IpAddr)> = peers(config)
            .into_iter()
            .zip(&resolved.0)
            .filter(|((_, name), _)| name.parse::<IpAddr>().is_err())
            .map(|((peer, name), (_, address))| (peer, name, *address))
            .collect();
        let (sender, news) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = if named.is_empty() {
            None
        } else {
            let period = Duration::from_secs(u64::from(config.timers.dns_refresh_secs));
            let families = families(config);
            let stopping = stop.clone();
            let thread = std::thread::Builder::new()
                .name("lispd-names".into())
                .spawn(move || {
                    let mut named = named;
                    let mut next = Instant::now() + period;
                    while !stopping.load(Ordering::Relaxed) {
                        if Instant::now() < next {
                            std::thread::sleep(Duration::from_millis(50));
                            continue;
                        }
                        next = Instant::now() + period;
                        for (peer, name, known) in &mut named {
                            match resolve(name, &families) {
                                Ok(address) if address != *known => {
                                    *known = address;
                                    let renamed = Renamed {
                                        peer: *peer,
                                        name: name.clone(),
                                        address,
                                    };
                                    if sender.send(renamed).is_err() {
                                        return;
                                    }
                                }
                                Ok(_) => {}
                                Err(e) => tracing::warn!("{e}; keeping {known}, will retry"),
                            }
                        }
                    }
                })?;
            Some(thread)
        };
        Ok(Self { news, stop, thread })
    }

    /// The next peer whose address changed.
    pub fn poll(&self) -> Option<Renamed> {
        self.news.try_recv().ok()
    }
}

impl Drop for NameRefresh {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `address` at the LISP control port.
pub fn control_address(address: IpAddr) -> SocketAddr {
    SocketAddr::new(address, dataplane::wire::lisp::CONTROL_PORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_a_family_we_have_or_fail_clearly() {
        assert_eq!(
            resolve("192.0.2.1", &[true]),
            Ok("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            resolve("localhost", &[false]),
            Ok("127.0.0.1".parse().unwrap())
        );
        let error = resolve("no-such-host.invalid", &[false, true]).unwrap_err();
        assert!(
            error.contains("\"no-such-host.invalid\" does not resolve"),
            "{error}"
        );
    }
}
