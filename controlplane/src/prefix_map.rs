//! Longest-prefix match for the control plane (map-server registrations and sites, the
//! responder's database): one hash map keyed by (instance-id, prefix), probed from the longest
//! prefix length in use down, so a lookup costs one hash probe per distinct length present
//! (a handful in practice) instead of a scan of every prefix.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

/// Instance-id (`None` for the default) and prefix, host bits cleared.
pub type Key = (Option<u32>, IpNet);

/// Values by prefix with longest-prefix lookups.
#[derive(Debug, Clone)]
pub struct PrefixMap<V> {
    entries: HashMap<Key, V>,
    /// How many prefixes of each (family, length) there are.
    counts: HashMap<(bool, u8), usize>,
    /// Lengths in use per family (IPv4, IPv6), longest first.
    lengths: [Vec<u8>; 2],
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            counts: HashMap::new(),
            lengths: [Vec::new(), Vec::new()],
        }
    }
}

impl<V> PrefixMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn count(&mut self, prefix: &IpNet, delta: isize) {
        let slot = (prefix.addr().is_ipv6(), prefix.prefix_len());
        let count = self.counts.entry(slot).or_insert(0);
        let was_zero = *count == 0;
        *count = count.saturating_add_signed(delta);
        let is_zero = *count == 0;
        if is_zero {
            self.counts.remove(&slot);
        }
        if was_zero != is_zero {
            let family = usize::from(slot.0);
            let mut lengths: Vec<u8> = self
                .counts
                .keys()
                .filter(|(v6, _)| *v6 == slot.0)
                .map(|(_, len)| *len)
                .collect();
            lengths.sort_unstable_by(|a, b| b.cmp(a));
            self.lengths[family] = lengths;
        }
    }

    /// Inserts or replaces the value of `prefix`; returns the old one.
    pub fn insert(&mut self, instance_id: Option<u32>, prefix: IpNet, value: V) -> Option<V> {
        let prefix = prefix.trunc();
        let old = self.entries.insert((instance_id, prefix), value);
        if old.is_none() {
            self.count(&prefix, 1);
        }
        old
    }

    /// The value of exactly `prefix`, created with `make` when absent.
    pub fn get_or_insert_with(
        &mut self,
        instance_id: Option<u32>,
        prefix: IpNet,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        let prefix = prefix.trunc();
        if !self.entries.contains_key(&(instance_id, prefix)) {
            self.count(&prefix, 1);
        }
        self.entries
            .entry((instance_id, prefix))
            .or_insert_with(make)
    }

    pub fn remove(&mut self, instance_id: Option<u32>, prefix: &IpNet) -> Option<V> {
        let prefix = prefix.trunc();
        let old = self.entries.remove(&(instance_id, prefix));
        if old.is_some() {
            self.count(&prefix, -1);
        }
        old
    }

    /// The value of exactly `prefix`.
    pub fn get(&self, instance_id: Option<u32>, prefix: &IpNet) -> Option<&V> {
        self.entries.get(&(instance_id, prefix.trunc()))
    }

    /// The value of exactly `prefix`, to change it.
    pub fn get_mut(&mut self, instance_id: Option<u32>, prefix: &IpNet) -> Option<&mut V> {
        self.entries.get_mut(&(instance_id, prefix.trunc()))
    }

    /// The longest prefix covering `address` in `instance_id`, with its value.
    pub fn longest(&self, instance_id: Option<u32>, address: IpAddr) -> Option<(&Key, &V)> {
        self.lengths[usize::from(address.is_ipv6())]
            .iter()
            .find_map(|&len| {
                let prefix = IpNet::new(address, len).ok()?.trunc();
                self.entries.get_key_value(&(instance_id, prefix))
            })
    }

    /// Keeps the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Key, &mut V) -> bool) {
        let mut removed = Vec::new();
        self.entries.retain(|key, value| {
            let kept = keep(key, value);
            if !kept {
                removed.push(key.1);
            }
            kept
        });
        for prefix in removed {
            self.count(&prefix, -1);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &V)> {
        self.entries.iter()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.values_mut()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_match_follows_inserts_and_removes() {
        let mut map = PrefixMap::new();
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        map.insert(None, net("10.0.0.0/8"), 8);
        map.insert(None, net("10.1.0.0/16"), 16);
        map.insert(Some(7), net("10.1.2.0/24"), 24);
        map.insert(None, net("2001:db8::/32"), 32);
        let at = |map: &PrefixMap<i32>, iid, a: &str| {
            map.longest(iid, a.parse().unwrap()).map(|(_, v)| *v)
        };
        assert_eq!(at(&map, None, "10.1.2.3"), Some(16));
        assert_eq!(at(&map, Some(7), "10.1.2.3"), Some(24));
        assert_eq!(at(&map, None, "10.2.0.1"), Some(8));
        assert_eq!(at(&map, None, "11.0.0.1"), None);
        assert_eq!(at(&map, None, "2001:db8::1"), Some(32));
        map.remove(None, &net("10.1.0.0/16"));
        assert_eq!(
            at(&map, None, "10.1.2.3"),
            Some(8),
            "the shorter one is uncovered"
        );
        map.retain(|(_, p), _| p.prefix_len() != 8);
        assert_eq!(at(&map, None, "10.1.2.3"), None);
        assert_eq!(map.len(), 2);
        assert_eq!(map.lengths[0], vec![24]);
    }
}
