//! Where a packet goes at layer 2: the next hop toward a destination (itself when on-link, else
//! the port's gateway) and the MAC of a next hop. The control core learns MACs and publishes new
//! tables; a data core that meets a next hop with no MAC asks for it through [`WantedNeighbours`].

use std::net::IpAddr;
use std::sync::Arc;

use crossbeam::queue::ArrayQueue;
use hashbrown::HashMap;
use ipnet::IpNet;

/// Next hops a data core needed but had no MAC for, queued (lock-free, bounded, lossy when full)
/// for the control core to resolve. The packet itself is dropped and counted.
#[derive(Debug, Clone)]
pub struct WantedNeighbours(Arc<ArrayQueue<IpAddr>>);

impl WantedNeighbours {
    pub fn new(capacity: usize) -> Self {
        Self(Arc::new(ArrayQueue::new(capacity.max(1))))
    }

    /// Asks for `next_hop` (ignored when the queue is full: the control core is behind anyway).
    pub fn want(&self, next_hop: IpAddr) {
        let _ = self.0.push(next_hop);
    }

    /// The next address asked for.
    pub fn take(&self) -> Option<IpAddr> {
        self.0.pop()
    }
}

/// Why a packet has no MAC to go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoMac {
    /// No on-link prefix and no gateway of the family covers the destination.
    NoRoute,
    /// The next hop is known but its MAC is not (yet): the control core should resolve it.
    Unresolved(IpAddr),
}

/// Whether `net` holds `address`, reading only the address's own family: `IpNet::contains`
/// copies the whole `IpAddr` (16 bytes of octets) whatever its family, which for an IPv4 address
/// just written (4 bytes) is a store-forwarding stall per packet.
#[inline]
pub fn covers(net: &IpNet, address: IpAddr) -> bool {
    match (net, address) {
        (IpNet::V4(net), IpAddr::V4(address)) => net.contains(&address),
        (IpNet::V6(net), IpAddr::V6(address)) => net.contains(&address),
        _ => false,
    }
}

/// Next hops and MACs of one port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Neighbours {
    /// The port's own prefixes: addresses inside them are on-link.
    pub on_link: Vec<IpNet>,
    /// Gateways, at most one per family.
    pub gateways: Vec<IpAddr>,
    /// Known MACs (hashbrown's default hasher: looked up per packet, where SipHash costs more
    /// than the rest of the Ethernet rewrite).
    pub macs: HashMap<IpAddr, [u8; 6]>,
}

impl Neighbours {
    /// The next hop toward `destination`.
    #[inline]
    pub fn next_hop(&self, destination: IpAddr) -> Option<IpAddr> {
        if self.on_link.iter().any(|net| covers(net, destination)) {
            return Some(destination);
        }
        self.gateways
            .iter()
            .copied()
            .find(|g| g.is_ipv4() == destination.is_ipv4())
    }

    /// The MAC to send a packet for `destination` to.
    #[inline]
    pub fn mac_for(&self, destination: IpAddr) -> Result<[u8; 6], NoMac> {
        let next_hop = self.next_hop(destination).ok_or(NoMac::NoRoute)?;
        self.mac_of(next_hop)
    }

    /// The MAC of `next_hop` (one of [`Self::next_hop`]'s answers).
    #[inline]
    pub fn mac_of(&self, next_hop: IpAddr) -> Result<[u8; 6], NoMac> {
        self.macs
            .get(&next_hop)
            .copied()
            .ok_or(NoMac::Unresolved(next_hop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_link_or_via_gateway() {
        let n = Neighbours {
            on_link: vec!["192.0.2.0/24".parse().unwrap()],
            gateways: vec!["192.0.2.254".parse().unwrap()],
            macs: [
                ("192.0.2.254".parse().unwrap(), [2, 0, 0, 0, 0, 0xfe]),
                ("192.0.2.7".parse().unwrap(), [2, 0, 0, 0, 0, 7]),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(
            n.mac_for("192.0.2.7".parse().unwrap()),
            Ok([2, 0, 0, 0, 0, 7])
        );
        assert_eq!(
            n.mac_for("198.51.100.1".parse().unwrap()),
            Ok([2, 0, 0, 0, 0, 0xfe])
        );
        assert_eq!(
            n.mac_for("192.0.2.8".parse().unwrap()),
            Err(NoMac::Unresolved("192.0.2.8".parse().unwrap())),
            "on-link but unresolved"
        );
        assert_eq!(
            n.mac_for("2001:db8::1".parse().unwrap()),
            Err(NoMac::NoRoute),
            "no IPv6 gateway"
        );
    }
}
