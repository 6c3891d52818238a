//! A data core's next-hop MACs for one side, by interface and next hop: the neighbour table's
//! hash probe cost about a fifth of a decapsulated packet's cycles, and traffic goes to a
//! working set of hosts, gateways and RLOCs far smaller than the table. Direct-mapped,
//! owned by one core (no sharing, no locks), emptied whenever the side's interface set is
//! republished (the only way a MAC changes), so it never answers with a stale MAC.

use std::net::IpAddr;

use crate::pipeline::{AddressWords, Neighbours, NoMac};

/// Slots (a power of two): 12 KiB per side.
const SLOTS: usize = 256;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    filled: bool,
    interface: u32,
    next_hop: AddressWords,
    mac: [u8; 6],
}

#[inline(always)]
fn slot(interface: usize, next_hop: AddressWords) -> usize {
    let folded = next_hop.folded() ^ (interface as u64).rotate_left(32);
    (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// The cache: the last MAC resolved per slot.
#[derive(Debug)]
pub struct MacCache {
    slots: Box<[Slot]>,
}

impl Default for MacCache {
    fn default() -> Self {
        Self {
            slots: vec![Slot::default(); SLOTS].into_boxed_slice(),
        }
    }
}

impl MacCache {
    /// The MAC of `next_hop` on `interface`, if cached.
    #[inline(always)]
    pub fn get(&self, interface: usize, next_hop: AddressWords) -> Option<[u8; 6]> {
        let slot = self.slots.get(slot(interface, next_hop))?;
        (slot.filled && slot.next_hop == next_hop && slot.interface as usize == interface)
            .then_some(slot.mac)
    }

    /// The MAC to send a packet for `destination` to on `interface`, whose neighbours are
    /// `neighbours`: from the cache by next hop, else from the neighbour table (and cached).
    #[inline(always)]
    pub fn resolve(
        &mut self,
        interface: usize,
        neighbours: &Neighbours,
        destination: IpAddr,
    ) -> Result<[u8; 6], NoMac> {
        let next_hop = neighbours.next_hop(destination).ok_or(NoMac::NoRoute)?;
        // By next hop: traffic through a gateway to many destinations shares one slot.
        let key = AddressWords::from(next_hop);
        if let Some(mac) = self.get(interface, key) {
            return Ok(mac);
        }
        let mac = neighbours.mac_of(next_hop)?;
        self.insert(interface, key, mac);
        Ok(mac)
    }

    /// Remembers `mac` for `next_hop` on `interface`, in place of what shared its slot.
    #[inline]
    pub fn insert(&mut self, interface: usize, next_hop: AddressWords, mac: [u8; 6]) {
        if let Some(slot) = self.slots.get_mut(slot(interface, next_hop)) {
            *slot = Slot {
                filled: true,
                interface: interface as u32,
                next_hop,
                mac,
            };
        }
    }

    /// Forgets everything (the interface set changed).
    pub fn clear(&mut self) {
        self.slots.fill(Slot::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> AddressWords {
        AddressWords::from(text.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn answers_only_for_the_same_interface_family_and_address() {
        let mut cache = MacCache::default();
        let mac = [2, 0, 0, 0, 0, 1];
        cache.insert(3, words("10.0.0.1"), mac);
        assert_eq!(cache.get(3, words("10.0.0.1")), Some(mac));
        assert_eq!(cache.get(4, words("10.0.0.1")), None, "another interface");
        assert_eq!(cache.get(3, words("10.0.0.2")), None, "another address");
        assert_eq!(
            cache.get(3, words("::a00:1")),
            None,
            "the IPv6 address with the same bits"
        );
        cache.clear();
        assert_eq!(cache.get(3, words("10.0.0.1")), None, "cleared");
    }

    #[test]
    fn a_colliding_entry_replaces_the_old_one() {
        let mut cache = MacCache::default();
        let first = words("10.0.0.1");
        let other = (2..100_000u32)
            .map(|i| AddressWords::from(IpAddr::from(std::net::Ipv4Addr::from(i))))
            .find(|&w| slot(0, w) == slot(0, first))
            .expect("some address shares the slot");
        cache.insert(0, first, [1; 6]);
        cache.insert(0, other, [2; 6]);
        assert_eq!(cache.get(0, first), None);
        assert_eq!(cache.get(0, other), Some([2; 6]));
    }
}
