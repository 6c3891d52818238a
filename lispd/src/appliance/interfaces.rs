//! The appliance's interfaces (each port's untagged frames and each VLAN on it) as the control
//! core keeps them, and the interface sets it publishes to the data cores: at start, whenever a
//! neighbour table changes, and when a reload adds or removes VLANs (tenants).

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use hashbrown::HashMap;

use config::PortRole;
use controlplane::neighbour_resolution::{Learned, NeighbourResolution};
use dataplane::dpdk::{Interface, InterfaceSet, SideError};
use dataplane::mapcache::{Instances, LocalEid};
use dataplane::pipeline::{Neighbours, WantedNeighbours};
use dpdk_bindings::TxQueue;

use super::ports::OpenPort;
use super::{dpdk, tables, RunError};

/// One interface (a port's untagged frames, or one VLAN of it) as the control core sees it.
#[derive(Debug)]
pub struct ControlPort {
    /// The configured name, for management.
    pub name: String,
    pub role: PortRole,
    /// An EID-side interface's instance (0: the default one).
    pub instance_id: u32,
    /// Its DPDK port.
    pub port_id: u16,
    /// Its port's place among the ports of its side (what the data cores index).
    pub side_port: usize,
    /// Its VLAN: frames to and from it carry this tag.
    pub vlan: Option<u16>,
    /// The link as last polled.
    pub link_up: bool,
    pub mac: [u8; 6],
    pub addresses: Vec<IpAddr>,
    /// The port's control TX queue, shared by the port's interfaces (all on this core).
    pub tx: Rc<RefCell<TxQueue>>,
    /// The control core's copy of the neighbour table (configured plus learned MACs).
    pub neighbours: Neighbours,
    /// The table as the data cores have it (updated when the learned MACs change).
    pub published: Arc<Neighbours>,
    /// The configured neighbours, which resolution never replaces.
    pub configured: HashMap<IpAddr, [u8; 6]>,
    /// Next hops the data cores met without a MAC.
    pub wanted: WantedNeighbours,
}

/// What the control core keeps of each port to make its interfaces: the port, its control TX
/// queue, and its place among the ports of its side.
#[derive(Debug)]
pub struct PortHandles {
    queues: Vec<Rc<RefCell<TxQueue>>>,
    side_ports: Vec<usize>,
    /// How many ports each side has (EID, RLOC).
    pub per_side: (usize, usize),
}

impl PortHandles {
    /// Each port's control TX queue (the last, after the `cores` data cores') and its place on
    /// its side.
    pub fn new(ports: &[OpenPort], cores: u16) -> Result<Self, RunError> {
        let queues = ports
            .iter()
            .map(|open| {
                open.port
                    .tx_queue(cores)
                    .map(|queue| Rc::new(RefCell::new(queue)))
                    .map_err(dpdk(format!("port {} control TX queue", open.config.name)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut per_side = (0, 0);
        let side_ports = ports
            .iter()
            .map(|open| {
                let count = match open.config.role {
                    PortRole::Eid => &mut per_side.0,
                    PortRole::Rloc => &mut per_side.1,
                };
                *count += 1;
                *count - 1
            })
            .collect();
        Ok(Self {
            queues,
            side_ports,
            per_side,
        })
    }

    /// The control core's side of `interface` of `ports`, with its configured neighbours.
    pub fn control_port(
        &self,
        ports: &[OpenPort],
        interface: &config::Interface<'_>,
    ) -> ControlPort {
        let open = &ports[interface.port];
        let neighbours = tables::neighbours(interface);
        ControlPort {
            name: interface.name.to_string(),
            role: interface.role,
            instance_id: interface.instance_id,
            port_id: open.port.id().raw(),
            side_port: self.side_ports[interface.port],
            vlan: interface.vlan,
            link_up: true,
            mac: open.mac,
            addresses: interface.addresses.iter().map(|a| a.addr()).collect(),
            tx: self.queues[interface.port].clone(),
            configured: neighbours.macs.clone(),
            published: Arc::new(neighbours.clone()),
            neighbours,
            wanted: WantedNeighbours::new(64),
        }
    }
}

/// The key of the interface on DPDK port `port_id` with `vlan`: what neighbour resolution knows
/// it by (stable when a reload adds or removes other VLANs).
pub fn interface_key(port_id: u16, vlan: Option<u16>) -> u32 {
    u32::from(port_id) << 16 | u32::from(vlan.unwrap_or(0))
}

impl ControlPort {
    /// What neighbour resolution knows this interface by.
    pub fn key(&self) -> u32 {
        interface_key(self.port_id, self.vlan)
    }

    /// Whether `interface` is configured as this one runs (same port, VLAN, instance,
    /// addresses, gateways and static neighbours).
    pub fn runs(&self, interface: &config::Interface<'_>) -> bool {
        let configured = tables::neighbours(interface);
        self.vlan == interface.vlan
            && self.instance_id == interface.instance_id
            && self.name == interface.name
            && self.addresses
                == interface
                    .addresses
                    .iter()
                    .map(|a| a.addr())
                    .collect::<Vec<_>>()
            && self.neighbours.on_link == configured.on_link
            && self.neighbours.gateways == configured.gateways
            && self.configured == configured.macs
    }

    /// The interface as the data cores use it, its instance's table taken from `instances`.
    pub fn data_interface(&self, instances: &Instances) -> Interface {
        Interface {
            port: self.side_port,
            vlan: self.vlan,
            mac: self.mac,
            instance: LocalEid {
                instance_id: (self.instance_id != 0).then_some(self.instance_id),
                table: instances.table(Some(self.instance_id)).unwrap_or(0),
            },
            neighbours: self.published.clone(),
            wanted: self.wanted.clone(),
        }
    }

    /// Asks `resolution` for the next hop toward `destination`, unless it is configured.
    pub fn want(
        &self,
        destination: IpAddr,
        persistent: bool,
        resolution: &mut NeighbourResolution,
        now: Instant,
    ) {
        if let Some(next_hop) = self.neighbours.next_hop(destination) {
            if !self.configured.contains_key(&next_hop) {
                resolution.want((self.key(), next_hop), persistent, now);
            }
        }
    }

    /// Passes a MAC seen for an on-link `address` to `resolution`.
    pub fn learn(
        &self,
        (address, mac): (IpAddr, [u8; 6]),
        how: Learned,
        resolution: &mut NeighbourResolution,
        now: Instant,
    ) {
        let on_link = self
            .neighbours
            .on_link
            .iter()
            .any(|net| net.contains(&address));
        if on_link && mac != [0; 6] && mac[0] & 1 == 0 && !self.configured.contains_key(&address) {
            resolution.learn((self.key(), address), mac, how, now);
        }
    }

    /// Rebuilds the table from the configured and learned MACs, for the data cores.
    pub fn publish(&mut self, resolution: &NeighbourResolution) {
        self.neighbours.macs = self
            .configured
            .iter()
            .map(|(a, m)| (*a, *m))
            .chain(resolution.macs(self.key()))
            .collect();
        self.published = Arc::new(self.neighbours.clone());
    }

    /// Our address to ask for `target` from: one on the same subnet when we have one (a host
    /// only answers senders it can route back to), else any of the family; never link-local.
    pub fn address_for(&self, target: IpAddr) -> Option<IpAddr> {
        let usable = |a: &&IpAddr| {
            a.is_ipv6() == target.is_ipv6()
                && !matches!(a, IpAddr::V6(v) if v.segments()[0] == 0xfe80)
        };
        let same_subnet = self.addresses.iter().filter(usable).find(|a| {
            self.neighbours
                .on_link
                .iter()
                .any(|net| net.contains(*a) && net.contains(&target))
        });
        same_subnet
            .or_else(|| self.addresses.iter().find(usable))
            .copied()
    }
}

/// Where a punted frame arrived: its DPDK port and VLAN (an interface).
pub type Arrival = (u16, Option<u16>);

/// The place among `ports` of the interface a frame arrived on.
pub fn arrived_on(ports: &[ControlPort], (port_id, vlan): Arrival) -> Option<usize> {
    ports
        .iter()
        .position(|p| p.port_id == port_id && p.vlan == vlan)
}

/// Every address of `ports`: punted datagrams to them are for the control plane.
pub fn our_addresses(ports: &[ControlPort]) -> Vec<IpAddr> {
    ports
        .iter()
        .flat_map(|p| p.addresses.iter().copied())
        .collect()
}

/// Each side's interface set as the data cores get it (EID, RLOC), the instances' tables from
/// `instances`.
pub fn interface_sets(
    ports: &[ControlPort],
    instances: &Instances,
    (eid_ports, rloc_ports): (usize, usize),
) -> Result<(InterfaceSet, InterfaceSet), SideError> {
    let side = |role: PortRole| {
        ports
            .iter()
            .filter(move |p| p.role == role)
            .map(|p| p.data_interface(instances))
            .collect::<Vec<_>>()
    };
    Ok((
        InterfaceSet::new(eid_ports, side(PortRole::Eid))?,
        InterfaceSet::new(rloc_ports, side(PortRole::Rloc))?,
    ))
}
