//! Forwarding entries: what a map-cache hit means for a packet. Each entry is an immutable record
//! in a word arena (so data cores read it without locks), with its RLOC choice precomputed:
//!
//! ```text
//! word 0      action | locator count << 8 | has instance-id << 16
//! word 1      instance-id
//! word 2      map-version
//! words 3..7  selection table: 32 buckets × 4-bit locator index (0xf = none)
//! words 8..   8 locators × 5 words: family | priority << 8 | weight << 16 | up << 24 |
//!             NAT port present << 25, then the address as four big-endian words (IPv4 in the
//!             first, its NAT port in the second)
//! ```
//! A flow hash picks a bucket, so choosing an RLOC is O(1) and stable per flow; buckets are dealt
//! among the reachable locators of the best priority in proportion to their weights.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::lpm::ArenaFull;
use crate::rcu::{Qsbr, Retired};

use crate::words::Words;

/// Most locators an entry holds.
pub const MAX_LOCATORS: usize = 8;
/// Buckets of the selection table.
pub const BUCKETS: usize = 32;
const RECORD: usize = 48;
const LOCATORS_AT: usize = 8;
const NO_LOCATOR: u32 = 0xf;

/// What to do with a packet whose destination matches the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Encapsulate,
    Drop,
    NativeForward,
    SendMapRequest,
}

impl Action {
    fn bits(self) -> u32 {
        match self {
            Self::Encapsulate => 0,
            Self::Drop => 1,
            Self::NativeForward => 2,
            Self::SendMapRequest => 3,
        }
    }

    fn from_bits(bits: u32) -> Self {
        match bits & 0xff {
            0 => Self::Encapsulate,
            2 => Self::NativeForward,
            3 => Self::SendMapRequest,
            _ => Self::Drop,
        }
    }
}

/// One RLOC of a mapping with its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Locator {
    pub address: IpAddr,
    pub priority: u8,
    pub weight: u8,
    /// Reachable (RLOC probing, locator-status bits).
    pub up: bool,
    /// The UDP port a NAT translated this (IPv4) locator's port 4341 to, as an RTR learns it
    /// for an xTR behind that NAT: data goes there, from port 4342, instead of to 4341.
    /// IPv6 locators have no room for it and never carry one (NAT traversal is IPv4's).
    pub nat_port: Option<u16>,
}

impl Destination {
    /// An RLOC reached at the LISP data port (no NAT in between).
    #[inline(always)]
    pub fn at_data_port(address: IpAddr) -> Self {
        Self {
            address,
            nat_port: None,
        }
    }
}

impl Locator {
    /// A locator reached at the LISP data port.
    pub fn new(address: IpAddr, priority: u8, weight: u8, up: bool) -> Self {
        Self {
            address,
            priority,
            weight,
            up,
            nat_port: None,
        }
    }
}

/// Where an ITR sends: a locator, and the NAT port it is reached at, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination {
    pub address: IpAddr,
    pub nat_port: Option<u16>,
}

/// A mapping as the control plane installs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mapping {
    pub action: Action,
    pub instance_id: Option<u32>,
    pub map_version: u16,
    pub locators: Vec<Locator>,
}

/// The selection table: buckets dealt to the best-priority reachable locators by weight.
fn selection(locators: &[Locator]) -> [u32; BUCKETS] {
    let mut table = [NO_LOCATOR; BUCKETS];
    let usable = |l: &&Locator| l.up && l.priority != 255;
    let Some(best) = locators.iter().filter(usable).map(|l| l.priority).min() else {
        return table;
    };
    let chosen: Vec<(usize, u32)> = locators
        .iter()
        .enumerate()
        .filter(|(_, l)| usable(l) && l.priority == best)
        .map(|(i, l)| (i, u32::from(l.weight)))
        .collect();
    let total: u32 = chosen.iter().map(|(_, w)| w).sum();
    let weights: Vec<(usize, u32)> = if total == 0 {
        chosen.iter().map(|&(i, _)| (i, 1)).collect()
    } else {
        chosen
    };
    let total: u32 = weights.iter().map(|(_, w)| w).sum();
    // Deal buckets by largest remainder, interleaved so consecutive hashes spread.
    let mut credit: Vec<i64> = vec![0; weights.len()];
    for bucket in &mut table {
        for (c, (_, w)) in credit.iter_mut().zip(&weights) {
            *c += i64::from(*w);
        }
        let (pick, _) = credit
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, -(*i as i64)))
            .expect("non-empty");
        credit[pick] -= i64::from(total);
        *bucket = weights[pick].0 as u32;
    }
    table
}

/// The [`MAX_LOCATORS`] locators an entry keeps of a larger set: the usable ones first (up,
/// priority below 255), best (lowest) priority first, then by weight; wire order breaks ties. A
/// mapping whose best locators come last on the wire keeps them (the control plane keeps all of
/// them for probing and failover, and re-publishes when their state changes).
fn kept_locators(locators: &[Locator]) -> Vec<Locator> {
    let mut ranked: Vec<(usize, &Locator)> = locators.iter().enumerate().collect();
    if ranked.len() > MAX_LOCATORS {
        ranked.sort_by_key(|(i, l)| (!(l.up && l.priority < 255), l.priority, !l.weight, *i));
        ranked.truncate(MAX_LOCATORS);
        ranked.sort_by_key(|(i, _)| *i);
    }
    ranked.into_iter().map(|(_, l)| *l).collect()
}

fn encode(mapping: &Mapping) -> [u32; RECORD] {
    let mut r = [0u32; RECORD];
    let locators = kept_locators(&mapping.locators);
    let count = locators.len();
    r[0] = mapping.action.bits()
        | (count as u32) << 8
        | u32::from(mapping.instance_id.is_some()) << 16;
    r[1] = mapping.instance_id.unwrap_or(0) & 0x00ff_ffff;
    r[2] = u32::from(mapping.map_version);
    let table = selection(&locators);
    for (i, chunk) in table.chunks(8).enumerate() {
        r[3 + i] = chunk
            .iter()
            .enumerate()
            .fold(0, |acc, (j, &b)| acc | b << (4 * j));
    }
    for (i, l) in locators.iter().enumerate() {
        let at = LOCATORS_AT + 5 * i;
        let family = if l.address.is_ipv4() { 4 } else { 6 };
        let nat_port = l.nat_port.filter(|_| l.address.is_ipv4());
        r[at] = family
            | u32::from(l.priority) << 8
            | u32::from(l.weight) << 16
            | u32::from(l.up) << 24
            | u32::from(nat_port.is_some()) << 25;
        let octets = match l.address {
            IpAddr::V4(a) => {
                let mut o = [0u8; 16];
                o[..4].copy_from_slice(&a.octets());
                o[4..6].copy_from_slice(&nat_port.unwrap_or(0).to_be_bytes());
                o
            }
            IpAddr::V6(a) => a.octets(),
        };
        for (w, chunk) in octets.chunks(4).enumerate() {
            r[at + 1 + w] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
    }
    r
}

/// The shared record arena.
#[derive(Debug)]
pub struct EntryTable {
    words: Words,
}

impl EntryTable {
    pub fn view(&self) -> EntryView<'_> {
        EntryView { words: &self.words }
    }
}

/// Read access for one burst.
#[derive(Debug, Clone, Copy)]
pub struct EntryView<'a> {
    words: &'a Words,
}

impl<'a> EntryView<'a> {
    /// Starts loading what the ITR reads of entry `index`: action, selection table and the first
    /// three locators, the record's first two cache lines (16 words each).
    #[inline(always)]
    pub fn prefetch(&self, index: u32) {
        let base = index as usize * RECORD;
        self.words.prefetch(base);
        self.words.prefetch(base + 16);
    }

    #[inline]
    pub fn get(&self, index: u32) -> EntryRef<'a> {
        EntryRef {
            words: self.words,
            base: index as usize * RECORD,
        }
    }
}

/// One entry, read field by field.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    words: &'a Words,
    base: usize,
}

impl EntryRef<'_> {
    #[inline]
    fn word(&self, i: usize) -> u32 {
        self.words.get_or(self.base + i, 0)
    }

    #[inline]
    pub fn action(&self) -> Action {
        Action::from_bits(self.word(0))
    }

    #[inline]
    pub fn instance_id(&self) -> Option<u32> {
        (self.word(0) >> 16 & 1 == 1).then(|| self.word(1))
    }

    pub fn map_version(&self) -> u16 {
        self.word(2) as u16
    }

    /// The locator a flow with `hash` uses, if any is reachable.
    #[inline]
    pub fn select(&self, hash: u32) -> Option<Destination> {
        let bucket = (hash as usize) % BUCKETS;
        let index = self.word(3 + bucket / 8) >> (4 * (bucket % 8)) & 0xf;
        (index != NO_LOCATOR).then(|| Destination {
            address: self.address(index as usize),
            nat_port: self.nat_port(index as usize),
        })
    }

    /// The NAT port of locator `i`, if it has one.
    #[inline(always)]
    fn nat_port(&self, i: usize) -> Option<u16> {
        let at = LOCATORS_AT + 5 * i;
        (self.word(at) >> 25 & 1 == 1).then(|| (self.word(at + 2) >> 16) as u16)
    }

    /// The address of locator `i`, built in registers (the data path's only locator read).
    #[inline(always)]
    fn address(&self, i: usize) -> IpAddr {
        let at = LOCATORS_AT + 5 * i;
        if self.word(at) & 0xff == 4 {
            IpAddr::V4(Ipv4Addr::from(self.word(at + 1)))
        } else {
            let high = u64::from(self.word(at + 1)) << 32 | u64::from(self.word(at + 2));
            let low = u64::from(self.word(at + 3)) << 32 | u64::from(self.word(at + 4));
            IpAddr::V6(Ipv6Addr::from(u128::from(high) << 64 | u128::from(low)))
        }
    }

    /// Locator `i` (control-plane reads, tests).
    pub fn locator(&self, i: usize) -> Locator {
        let meta = self.word(LOCATORS_AT + 5 * i);
        Locator {
            address: self.address(i),
            priority: (meta >> 8) as u8,
            weight: (meta >> 16) as u8,
            up: meta >> 24 & 1 == 1,
            nat_port: self.nat_port(i),
        }
    }

    pub fn locator_count(&self) -> usize {
        (self.word(0) >> 8 & 0xff) as usize
    }
}

/// Installs and retires entries (control core only).
#[derive(Debug)]
pub struct EntryWriter {
    shared: Arc<EntryTable>,
    capacity: u32,
    next: u32,
    free: Vec<u32>,
    retired: Retired<u32>,
    qsbr: Arc<Qsbr>,
}

impl EntryWriter {
    pub fn new(capacity: u32, qsbr: Arc<Qsbr>) -> Self {
        Self {
            shared: Arc::new(EntryTable {
                words: Words::new(capacity as usize * RECORD),
            }),
            capacity,
            next: 0,
            free: Vec::new(),
            retired: Retired::default(),
            qsbr,
        }
    }

    pub fn table(&self) -> Arc<EntryTable> {
        self.shared.clone()
    }

    /// Writes `mapping` into a free record and returns its index.
    pub fn install(&mut self, mapping: &Mapping) -> Result<u32, ArenaFull> {
        for index in self.retired.reclaim(&self.qsbr) {
            self.free.push(index);
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.next < self.capacity => {
                self.next += 1;
                self.next - 1
            }
            None => {
                return Err(ArenaFull {
                    capacity: self.capacity as usize,
                })
            }
        };
        let base = index as usize * RECORD;
        for (i, w) in encode(mapping).into_iter().enumerate() {
            self.shared.words.set(base + i, w);
        }
        Ok(index)
    }

    /// Retires an entry that the next publication no longer reaches.
    pub fn retire(&mut self, index: u32) {
        self.retired.retire(index);
    }

    /// Marks the end of a publication (`token` from the QSBR domain).
    pub fn published(&mut self, token: u64) {
        self.retired.published(token);
    }

    /// Entries in use (installed and not yet reusable).
    pub fn in_use(&self) -> usize {
        self.next as usize - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locator(last: u8, priority: u8, weight: u8, up: bool) -> Locator {
        Locator::new(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)),
            priority,
            weight,
            up,
        )
    }

    #[test]
    fn weights_are_relative() {
        // RFC 9301's example: 30, 20, 20, 10 → 37.5%, 25%, 25%, 12.5%.
        let locators = [
            locator(1, 1, 30, true),
            locator(2, 1, 20, true),
            locator(3, 1, 20, true),
            locator(4, 1, 10, true),
        ];
        let table = selection(&locators);
        let share = |i: u32| table.iter().filter(|&&b| b == i).count();
        assert_eq!(
            (share(0), share(1), share(2), share(3)),
            (BUCKETS * 3 / 8, BUCKETS / 4, BUCKETS / 4, BUCKETS / 8)
        );
    }

    #[test]
    fn selection_follows_priority_weight_and_state() {
        let table = selection(&[
            locator(1, 1, 75, true),
            locator(2, 1, 25, true),
            locator(3, 2, 100, true),
        ]);
        let first = table.iter().filter(|&&b| b == 0).count();
        assert_eq!((first, BUCKETS - first), (24, 8), "75/25 of 32 buckets");
        assert!(!table.contains(&2), "priority 2 is a backup");

        let failover = selection(&[
            locator(1, 1, 75, false),
            locator(2, 1, 25, false),
            locator(3, 2, 100, true),
        ]);
        assert!(
            failover.iter().all(|&b| b == 2),
            "backup takes over when the best are down"
        );

        let none = selection(&[locator(1, 255, 100, true), locator(2, 1, 100, false)]);
        assert!(none.iter().all(|&b| b == NO_LOCATOR));

        let even = selection(&[locator(1, 1, 0, true), locator(2, 1, 0, true)]);
        assert_eq!(
            even.iter().filter(|&&b| b == 0).count(),
            16,
            "all-zero weights split evenly"
        );
    }

    #[test]
    fn a_mapping_with_twelve_locators_keeps_its_best_eight() {
        let qsbr = Qsbr::new(1);
        let mut writer = EntryWriter::new(1, qsbr);
        let mut locators: Vec<Locator> = (1..=8).map(|i| locator(i, 255, 100, true)).collect();
        locators.extend((9..=12).map(|i| locator(i, 1, 25, true)));
        let mapping = Mapping {
            action: Action::Encapsulate,
            instance_id: None,
            map_version: 0,
            locators,
        };
        let index = writer.install(&mapping).unwrap();
        let table = writer.table();
        let entry = table.view().get(index);
        assert_eq!(entry.locator_count(), MAX_LOCATORS);
        let picks: std::collections::HashSet<IpAddr> = (0..256)
            .filter_map(|h| entry.select(h).map(|d| d.address))
            .collect();
        let best: std::collections::HashSet<IpAddr> = (9..=12)
            .map(|i| IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)))
            .collect();
        assert_eq!(
            picks, best,
            "traffic goes to the usable locators that came last"
        );
    }

    #[test]
    fn records_read_back() {
        let qsbr = Qsbr::new(1);
        let mut writer = EntryWriter::new(4, qsbr);
        let mapping = Mapping {
            action: Action::Encapsulate,
            instance_id: Some(0x123456),
            map_version: 7,
            locators: vec![
                locator(1, 1, 50, true),
                Locator::new("2001:db8::9".parse().unwrap(), 1, 50, true),
            ],
        };
        let index = writer.install(&mapping).unwrap();
        let table = writer.table();
        let entry = table.view().get(index);
        assert_eq!(
            (entry.action(), entry.instance_id(), entry.map_version()),
            (Action::Encapsulate, Some(0x123456), 7)
        );
        assert_eq!(entry.locator_count(), 2);
        assert_eq!(entry.locator(1), mapping.locators[1]);
        let picks: std::collections::HashSet<IpAddr> = (0..64)
            .filter_map(|h| entry.select(h).map(|d| d.address))
            .collect();
        assert_eq!(picks.len(), 2, "both locators used");
        assert_eq!(
            entry.select(5),
            entry.select(5 + BUCKETS as u32),
            "stable per hash"
        );
        for _ in 0..3 {
            writer.install(&mapping).unwrap();
        }
        assert!(writer.install(&mapping).is_err(), "capacity is enforced");
    }

    #[test]
    fn an_ipv4_locator_keeps_its_nat_port_and_an_ipv6_one_has_none() {
        let qsbr = Qsbr::new(1);
        let mut writer = EntryWriter::new(2, qsbr);
        let behind_nat = Locator {
            nat_port: Some(61_000),
            ..locator(7, 1, 100, true)
        };
        let v6 = Locator {
            nat_port: Some(61_000),
            ..Locator::new("2001:db8::7".parse().unwrap(), 1, 100, true)
        };
        let table = writer.table();
        for (locator, port) in [(behind_nat, Some(61_000)), (v6, None)] {
            let index = writer
                .install(&Mapping {
                    action: Action::Encapsulate,
                    instance_id: None,
                    map_version: 0,
                    locators: vec![locator],
                })
                .unwrap();
            let entry = table.view().get(index);
            assert_eq!(
                entry.select(0),
                Some(Destination {
                    address: locator.address,
                    nat_port: port
                })
            );
            assert_eq!(entry.locator(0).nat_port, port);
        }
    }
}
