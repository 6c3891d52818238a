//! A data core's ports and the interfaces on them. A port is what DPDK gives (RX queues, one
//! TX queue, a MAC); an interface is what routing sees (an instance, on-link prefixes,
//! neighbours): a port's untagged frames, or one 802.1Q VLAN of it. VLAN interfaces share
//! their port's queues, so a thousand tenants cost no more queues than one. The interfaces of
//! a side are one immutable [`InterfaceSet`] the control core publishes whole when a neighbour
//! table changes or a reload adds or removes VLANs: a data core checks one mailbox per side.

use std::sync::Arc;

use dpdk_bindings::{RxQueue, TxQueue};

use super::mac_cache::MacCache;
use crate::mailbox::Subscriber;
use crate::mapcache::LocalEid;
use crate::pipeline::{Neighbours, WantedNeighbours};
use crate::wire::ethernet::EthernetFrame;

/// One port as a data core uses it: its RX queues (usually one; some devices, like af_packet
/// with `qpairs`, spread receive over as many queues as they transmit on), its TX queue and MAC.
#[derive(Debug)]
pub struct PortIo {
    pub rx: Vec<RxQueue>,
    pub tx: TxQueue,
    pub mac: [u8; 6],
}

/// One interface: a port's untagged frames or one VLAN of it.
#[derive(Debug, Clone)]
pub struct Interface {
    /// Its port, by index into the side's ports.
    pub port: usize,
    /// Frames leave tagged with it; tagged frames with it arrive here.
    pub vlan: Option<u16>,
    /// The port's MAC, kept here for the per-packet path.
    pub mac: [u8; 6],
    /// An EID-side interface's instance: every packet it receives is in it, and decapsulated
    /// packets of it leave by it (the default instance for RLOC-side ports).
    pub instance: LocalEid,
    pub neighbours: Arc<Neighbours>,
    /// Where next hops without a MAC are reported.
    pub wanted: WantedNeighbours,
}

/// No interface for this VLAN id.
const NONE: u16 = u16::MAX;

/// Where a port's frames go: untagged ones to one interface, tagged ones by VLAN id.
#[derive(Debug, Clone)]
struct Demux {
    untagged: u16,
    /// Interface by VLAN id (a direct table: one load per frame, whatever the VLAN count).
    tagged: Option<Box<[u16; 4096]>>,
}

impl Demux {
    #[inline]
    fn interface_of(&self, frame: &[u8]) -> Option<usize> {
        let vlan = EthernetFrame::new_checked(frame)
            .ok()
            .and_then(|f| f.vlan_id());
        let index = match (vlan, &self.tagged) {
            // VLAN 0 is a priority tag on an untagged frame (802.1Q).
            (None | Some(0), _) => self.untagged,
            (Some(id), Some(tagged)) => tagged[usize::from(id)],
            (Some(_), None) => NONE,
        };
        (index != NONE).then_some(usize::from(index))
    }
}

/// Each of `ports` ports' demultiplexer for `interfaces` (port, VLAN), in order.
fn demux(
    ports: usize,
    interfaces: impl ExactSizeIterator<Item = (usize, Option<u16>)>,
) -> Result<Vec<Demux>, SideError> {
    if interfaces.len() >= usize::from(NONE) {
        return Err(SideError::TooMany);
    }
    let mut demux: Vec<Demux> = (0..ports)
        .map(|_| Demux {
            untagged: NONE,
            tagged: None,
        })
        .collect();
    for (index, (port, vlan)) in interfaces.enumerate() {
        let index = index as u16;
        let of_port = demux
            .get_mut(port)
            .ok_or(SideError::NoSuchPort(usize::from(index), port))?;
        let slot = match vlan {
            None => &mut of_port.untagged,
            Some(id) if (1..=4094).contains(&id) => {
                &mut of_port.tagged.get_or_insert_with(|| Box::new([NONE; 4096]))[usize::from(id)]
            }
            Some(id) => return Err(SideError::BadVlan(id)),
        };
        if *slot != NONE {
            let what = vlan.map_or("untagged frames".to_owned(), |id| format!("VLAN {id}"));
            return Err(SideError::Twice(port, what));
        }
        *slot = index;
    }
    if let Some(port) = demux.iter().position(|d| d.untagged == NONE) {
        return Err(SideError::NoUntagged(port));
    }
    Ok(demux)
}

/// The interfaces of one side's ports, and how each port's frames are sorted to them.
#[derive(Debug, Clone)]
pub struct InterfaceSet {
    pub interfaces: Vec<Interface>,
    demux: Vec<Demux>,
}

/// The ports of one side (EID or RLOC) and their interfaces.
#[derive(Debug)]
pub struct Side {
    pub ports: Vec<PortIo>,
    pub set: Arc<InterfaceSet>,
    /// New interface sets from the control core, picked up at the quiescent point.
    pub updates: Option<Subscriber<InterfaceSet>>,
    /// Next-hop MACs this core resolved in the current set.
    pub(super) macs: MacCache,
}

/// Why a side's ports and interfaces do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SideError {
    #[error("interface {0} is on port {1}, which does not exist")]
    NoSuchPort(usize, usize),
    #[error("port {0} has no untagged interface")]
    NoUntagged(usize),
    #[error("port {0} has two interfaces for {1}")]
    Twice(usize, String),
    #[error("VLAN id {0} out of range (1..=4094)")]
    BadVlan(u16),
    #[error("too many interfaces")]
    TooMany,
    #[error("the interfaces are for {0} ports, the side has {1}")]
    OtherPorts(usize, usize),
}

impl InterfaceSet {
    /// `interfaces` over `ports` ports: each port needs exactly one untagged interface and at
    /// most one per VLAN id.
    pub fn new(ports: usize, interfaces: Vec<Interface>) -> Result<Self, SideError> {
        let demux = demux(ports, interfaces.iter().map(|i| (i.port, i.vlan)))?;
        Ok(Self { interfaces, demux })
    }

    /// Whether `port` carries VLANs (its frames must be sorted by tag).
    #[inline]
    pub(super) fn has_vlans(&self, port: usize) -> bool {
        self.demux[port].tagged.is_some()
    }

    /// The interface of `port` that `frame` arrived on: by its tag, else the untagged one.
    /// `None` for a VLAN the port does not carry.
    #[inline]
    pub(super) fn interface_of(&self, port: usize, frame: &[u8]) -> Option<usize> {
        self.demux[port].interface_of(frame)
    }

    /// The untagged interface of `port`.
    #[inline]
    pub(super) fn untagged(&self, port: usize) -> usize {
        usize::from(self.demux[port].untagged)
    }
}

impl Side {
    /// `ports` with the interfaces of `set` on them (and later sets from `updates`).
    pub fn new(
        ports: Vec<PortIo>,
        set: InterfaceSet,
        updates: Option<Subscriber<InterfaceSet>>,
    ) -> Result<Self, SideError> {
        if set.demux.len() != ports.len() {
            return Err(SideError::OtherPorts(set.demux.len(), ports.len()));
        }
        Ok(Self {
            ports,
            set: Arc::new(set),
            updates,
            macs: MacCache::default(),
        })
    }

    /// `port` with one untagged interface in `instance`, whose neighbours never change: a
    /// fixed side, as the in-process harnesses build it.
    pub fn one_port(port: PortIo, instance: LocalEid, neighbours: Neighbours) -> Self {
        let interface = Interface {
            port: 0,
            vlan: None,
            mac: port.mac,
            instance,
            neighbours: Arc::new(neighbours),
            wanted: WantedNeighbours::new(8),
        };
        let set = InterfaceSet {
            interfaces: vec![interface],
            demux: vec![Demux {
                untagged: 0,
                tagged: None,
            }],
        };
        Self {
            ports: vec![port],
            set: Arc::new(set),
            updates: None,
            macs: MacCache::default(),
        }
    }

    /// Picks up the newest interface set, if the control core published one (and forgets the
    /// MACs resolved in the old one).
    #[inline]
    pub(super) fn refresh(&mut self) {
        if let Some(updates) = &self.updates {
            if updates.refresh(&mut self.set) {
                self.macs.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::{EthernetRepr, ETHERTYPE_IPV4, TAGGED_LEN};

    fn frame(vlan: Option<u16>) -> [u8; TAGGED_LEN] {
        let mut frame = [0u8; TAGGED_LEN];
        EthernetRepr {
            destination: [2, 0, 0, 0, 0, 1],
            source: [2, 0, 0, 0, 0, 2],
            vlan,
            ethertype: ETHERTYPE_IPV4,
        }
        .emit(&mut frame);
        frame
    }

    #[test]
    fn frames_go_to_the_interface_of_their_tag() {
        // Port 0: untagged (0), VLAN 100 (1), VLAN 200 (3); port 1: untagged only (2).
        let ports = demux(
            2,
            [(0, None), (0, Some(100)), (1, None), (0, Some(200))].into_iter(),
        )
        .unwrap();
        assert_eq!(ports[0].interface_of(&frame(None)), Some(0));
        assert_eq!(ports[0].interface_of(&frame(Some(100))), Some(1));
        assert_eq!(ports[0].interface_of(&frame(Some(200))), Some(3));
        assert_eq!(
            ports[0].interface_of(&frame(Some(0))),
            Some(0),
            "priority tag"
        );
        assert_eq!(ports[0].interface_of(&frame(Some(300))), None);
        assert_eq!(ports[1].interface_of(&frame(None)), Some(2));
        assert_eq!(ports[1].interface_of(&frame(Some(100))), None);
        assert_eq!(ports[0].interface_of(&[0u8; 3]), Some(0), "runt: untagged");
    }

    #[test]
    fn inconsistent_interfaces_are_refused() {
        let refused = |ports, interfaces: &[(usize, Option<u16>)]| {
            demux(ports, interfaces.iter().copied()).err()
        };
        assert_eq!(
            refused(1, &[(0, None), (1, None)]),
            Some(SideError::NoSuchPort(1, 1))
        );
        assert_eq!(refused(2, &[(0, None)]), Some(SideError::NoUntagged(1)));
        assert_eq!(
            refused(1, &[(0, None), (0, Some(7)), (0, Some(7))]),
            Some(SideError::Twice(0, "VLAN 7".into()))
        );
        assert_eq!(
            refused(1, &[(0, None), (0, Some(4095))]),
            Some(SideError::BadVlan(4095))
        );
    }
}
