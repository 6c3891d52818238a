//! The map-cache: EID prefixes (IPv4 and IPv6 LPM, one table per instance-id) pointing at
//! forwarding entries, published together; and the local database (our EID prefixes), which the
//! ETR checks and which tells the ITR a source's instance.

mod entry;
mod instances;

pub use entry::{
    Action, Destination, EntryRef, EntryView, Locator, Mapping, BUCKETS, MAX_LOCATORS,
};
pub use instances::{InstanceTables, Instances, InstancesError, MAX_INSTANCES, MAX_INSTANCE_ID};

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::ops::Bound;
use std::sync::Arc;

use ipnet::IpNet;

use crate::lpm::{ipv4_key, ipv6_key, Key, Lpm, LpmError, LpmView, LpmWriter};
use crate::rcu::{Qsbr, QsbrReader};
use entry::{EntryTable, EntryWriter};

fn prefix_key(prefix: &IpNet) -> (Key, u8, bool) {
    match prefix {
        IpNet::V4(p) => (ipv4_key(p.network()), p.prefix_len(), false),
        IpNet::V6(p) => (ipv6_key(p.network()), p.prefix_len(), true),
    }
}

/// What data cores hold: the published tables.
#[derive(Debug, Clone)]
pub struct MapCache {
    v4: Arc<Lpm>,
    v6: Arc<Lpm>,
    entries: Arc<EntryTable>,
}

impl MapCache {
    /// The published version for one burst; the borrow of `reader` keeps the core from
    /// reporting a quiescent state while the view is alive.
    #[inline]
    pub fn view<'a>(&'a self, reader: &'a QsbrReader) -> MapCacheView<'a> {
        MapCacheView {
            v4: self.v4.view(reader),
            v6: self.v6.view(reader),
            entries: self.entries.view(),
        }
    }
}

/// The map-cache as one data core sees it during a burst.
#[derive(Debug, Clone, Copy)]
pub struct MapCacheView<'a> {
    pub v4: LpmView<'a>,
    pub v6: LpmView<'a>,
    pub entries: EntryView<'a>,
}

impl<'a> MapCacheView<'a> {
    /// The entry of the longest prefix covering `destination` in instance table `table`.
    #[inline]
    pub fn lookup(&self, table: usize, destination: IpAddr) -> Option<EntryRef<'a>> {
        let index = match destination {
            IpAddr::V4(a) => self.v4.lookup(table, ipv4_key(a)),
            IpAddr::V6(a) => self.v6.lookup(table, ipv6_key(a)),
        }?;
        Some(self.entries.get(index))
    }
}

/// Why a map-cache change failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapCacheError {
    Lpm(LpmError),
    /// No free forwarding entry.
    EntriesFull,
    /// The mapping's instance-id has no table (no local EID prefix is in that instance).
    UnknownInstance(u32),
}

impl std::fmt::Display for MapCacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Lpm(e) => write!(f, "{e}"),
            Self::EntriesFull => write!(f, "map-cache entry table full"),
            Self::UnknownInstance(iid) => {
                write!(
                    f,
                    "instance-id {iid} is not served here (no local EID prefix in it)"
                )
            }
        }
    }
}

impl std::error::Error for MapCacheError {}

impl From<LpmError> for MapCacheError {
    fn from(e: LpmError) -> Self {
        Self::Lpm(e)
    }
}

/// Where an installed entry sorts: its instance's table and its prefix.
pub type InstalledKey = (usize, IpNet);

/// The control core's side: installs, replaces and removes mappings, then publishes.
#[derive(Debug)]
pub struct MapCacheWriter {
    v4: LpmWriter,
    v6: LpmWriter,
    entries: EntryWriter,
    instances: Instances,
    /// By (instance table, prefix), in order so listings can be paged: the entry index and the
    /// mapping.
    installed: BTreeMap<InstalledKey, (u32, Mapping)>,
    /// Prefixes with identical mappings share one entry (a site's prefixes, negative entries):
    /// entry index and how many prefixes use it.
    shared_entries: HashMap<Mapping, (u32, usize)>,
    /// Prefixes installed per instance table.
    per_table: Vec<usize>,
    qsbr: Arc<Qsbr>,
}

impl MapCacheWriter {
    /// A map-cache for up to `max_entries` mappings in `instances` (more may come, up to
    /// [`MAX_INSTANCES`]). The LPM arenas are sized for BGP-like prefix sets spread over many
    /// instances: 48 words per IPv4 prefix and 192 per IPv6 prefix, plus a floor (in one
    /// instance, 1M IPv4 prefixes take 3.4 words each; over 1,000 instances they share fewer
    /// nodes and take 23). The arena is only address space until used.
    pub fn new(max_entries: u32, instances: Instances, qsbr: Arc<Qsbr>) -> Self {
        let n = max_entries as usize;
        Self {
            v4: LpmWriter::new(32, MAX_INSTANCES, 48 * n + (1 << 16), qsbr.clone()),
            v6: LpmWriter::new(128, MAX_INSTANCES, 192 * n + (1 << 16), qsbr.clone()),
            entries: EntryWriter::new(max_entries, qsbr.clone()),
            per_table: vec![0; MAX_INSTANCES],
            instances,
            installed: BTreeMap::new(),
            shared_entries: HashMap::new(),
            qsbr,
        }
    }

    /// The instances this map-cache has tables for.
    pub fn instances(&self) -> &Instances {
        &self.instances
    }

    /// Serves `instances` from now on (see [`InstanceTables`]): an instance that leaves must
    /// have no prefix left ([`Self::prefixes_in`]).
    pub fn set_instances(&mut self, instances: Instances) {
        self.instances = instances;
    }

    /// Every prefix installed in `instance_id`.
    pub fn prefixes_in(&self, instance_id: Option<u32>) -> Vec<IpNet> {
        let Ok(table) = self.table(instance_id) else {
            return Vec::new();
        };
        self.installed
            .keys()
            .filter(|(t, _)| *t == table)
            .map(|(_, prefix)| *prefix)
            .collect()
    }

    /// Each instance-id served and how many prefixes its table holds (kept as they change, so
    /// a metrics scrape does not walk a million entries).
    pub fn len_per_instance(&self) -> impl Iterator<Item = (u32, usize)> + '_ {
        self.instances
            .tables()
            .map(|(id, table)| (id, self.per_table[table]))
    }

    /// What data cores need.
    pub fn shared(&self) -> MapCache {
        MapCache {
            v4: self.v4.table(),
            v6: self.v6.table(),
            entries: self.entries.table(),
        }
    }

    pub fn len(&self) -> usize {
        self.installed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.installed.is_empty()
    }

    fn table(&self, instance_id: Option<u32>) -> Result<usize, MapCacheError> {
        self.instances
            .table(instance_id)
            .ok_or(MapCacheError::UnknownInstance(instance_id.unwrap_or(0)))
    }

    /// The mapping installed for exactly `prefix` in `instance_id`.
    pub fn get(&self, instance_id: Option<u32>, prefix: &IpNet) -> Option<&Mapping> {
        let table = self.table(instance_id).ok()?;
        self.installed.get(&(table, prefix.trunc())).map(|(_, m)| m)
    }

    /// Every installed prefix and mapping (the mapping carries its instance-id).
    pub fn iter(&self) -> impl Iterator<Item = (&IpNet, &Mapping)> {
        self.installed.iter().map(|((_, p), (_, m))| (p, m))
    }

    /// Installed entries in order (by instance table, then prefix, IPv4 first), starting after
    /// `after`: a listing resumes there however the map-cache changed meanwhile.
    pub fn iter_after(
        &self,
        after: Option<InstalledKey>,
    ) -> impl Iterator<Item = (InstalledKey, &Mapping)> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.installed
            .range((start, Bound::Unbounded))
            .map(|(key, (_, mapping))| (*key, mapping))
    }

    /// Installed entries inside `within` (equal or more specific) in `instance_id`, in order,
    /// starting after `after`: only the keys whose address lies in `within` are visited.
    pub fn iter_within(
        &self,
        instance_id: Option<u32>,
        within: IpNet,
        after: Option<InstalledKey>,
    ) -> impl Iterator<Item = (InstalledKey, &Mapping)> {
        let range = self.instances.table(instance_id).and_then(|table| {
            let widest = if within.addr().is_ipv4() { 32 } else { 128 };
            let low = (table, IpNet::new(within.network(), 0).ok()?);
            let high = (table, IpNet::new(within.broadcast(), widest).ok()?);
            let start = match after {
                Some(after) if after >= low => Bound::Excluded(after),
                _ => Bound::Included(low),
            };
            // A listing that went past `within` is over (and `range` refuses a start past its end).
            after
                .is_none_or(|a| a < high)
                .then(|| self.installed.range((start, Bound::Included(high))))
        });
        range
            .into_iter()
            .flatten()
            .filter(move |(key, _)| within.contains(&key.1))
            .map(|(key, (_, mapping))| (*key, mapping))
    }

    fn lpm(&mut self, v6: bool) -> &mut LpmWriter {
        if v6 {
            &mut self.v6
        } else {
            &mut self.v4
        }
    }

    /// The entry for `mapping`, shared with every prefix that has the same one.
    fn acquire(&mut self, mapping: &Mapping) -> Result<u32, MapCacheError> {
        if let Some((index, users)) = self.shared_entries.get_mut(mapping) {
            *users += 1;
            return Ok(*index);
        }
        let index = self
            .entries
            .install(mapping)
            .map_err(|_| MapCacheError::EntriesFull)?;
        self.shared_entries.insert(mapping.clone(), (index, 1));
        Ok(index)
    }

    fn release(&mut self, mapping: &Mapping) {
        if let Some((index, users)) = self.shared_entries.get_mut(mapping) {
            *users -= 1;
            if *users == 0 {
                let index = *index;
                self.shared_entries.remove(mapping);
                self.entries.retire(index);
            }
        }
    }

    /// Installs or replaces the mapping of `prefix` in the mapping's instance (visible after
    /// [`publish`](Self::publish)).
    pub fn insert(&mut self, prefix: IpNet, mapping: Mapping) -> Result<(), MapCacheError> {
        let prefix = prefix.trunc();
        let table = self.table(mapping.instance_id)?;
        if self
            .installed
            .get(&(table, prefix))
            .is_some_and(|(_, m)| *m == mapping)
        {
            return Ok(());
        }
        let index = self.acquire(&mapping)?;
        let (key, len, v6) = prefix_key(&prefix);
        if let Err(e) = self.lpm(v6).insert(table, key, len, index) {
            self.release(&mapping);
            return Err(e.into());
        }
        match self.installed.insert((table, prefix), (index, mapping)) {
            Some((_, old)) => self.release(&old),
            None => self.per_table[table] += 1,
        }
        Ok(())
    }

    /// Removes the mapping of `prefix` in `instance_id`; returns whether there was one.
    pub fn remove(
        &mut self,
        instance_id: Option<u32>,
        prefix: &IpNet,
    ) -> Result<bool, MapCacheError> {
        let prefix = prefix.trunc();
        let Ok(table) = self.table(instance_id) else {
            return Ok(false);
        };
        if !self.installed.contains_key(&(table, prefix)) {
            return Ok(false);
        }
        let (key, len, v6) = prefix_key(&prefix);
        self.lpm(v6).remove(table, key, len)?;
        if let Some((_, old)) = self.installed.remove(&(table, prefix)) {
            self.release(&old);
            self.per_table[table] -= 1;
        }
        Ok(true)
    }

    /// Makes every change since the last publication visible to data cores.
    pub fn publish(&mut self) {
        self.v4.publish();
        self.v6.publish();
        self.entries.published(self.qsbr.start());
    }

    /// The installed prefix and mapping that the longest match of `destination` in
    /// `instance_id` reaches, for the control core (walks the prefix lengths; not a data-path
    /// operation).
    pub fn lookup(
        &self,
        instance_id: Option<u32>,
        destination: IpAddr,
    ) -> Option<(IpNet, Mapping)> {
        let table = self.table(instance_id).ok()?;
        let max = if destination.is_ipv4() { 32 } else { 128 };
        (0..=max).rev().find_map(|len| {
            let prefix = IpNet::new(destination, len).ok()?.trunc();
            self.installed
                .get(&(table, prefix))
                .map(|(_, m)| (prefix, m.clone()))
        })
    }

    /// Forwarding entries in use, including retired ones not yet reusable.
    pub fn entries_in_use(&self) -> usize {
        self.entries.in_use()
    }
}

/// Our own EID prefixes: the ETR delivers only to these; the ITR encapsulates only from these.
#[derive(Debug, Clone)]
pub struct Database {
    v4: Arc<Lpm>,
    v6: Arc<Lpm>,
}

impl Database {
    #[inline]
    pub fn view<'a>(&'a self, reader: &'a QsbrReader) -> DatabaseView<'a> {
        DatabaseView {
            v4: self.v4.view(reader),
            v6: self.v6.view(reader),
        }
    }
}

/// An instance as the data path uses it: its instance-id and its tables' index (a local EID's,
/// or an EID-side port's). The default is the default instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalEid {
    /// `None` for the default instance.
    pub instance_id: Option<u32>,
    pub table: usize,
}

impl LocalEid {
    /// A database entry's value (its instance-id) found in `table`.
    #[inline(always)]
    fn found(instance_id: u32, table: usize) -> Self {
        Self {
            instance_id: (instance_id != 0).then_some(instance_id),
            table,
        }
    }
}

/// The database during one burst: a table per instance (the map-cache's tables), so the same
/// prefix may be local in several instances (tenants with one address plan).
#[derive(Debug, Clone, Copy)]
pub struct DatabaseView<'a> {
    pub v4: LpmView<'a>,
    pub v6: LpmView<'a>,
}

impl DatabaseView<'_> {
    /// The local EID prefix covering `address` in instance table `table`, if it is ours.
    /// Inlined: called per packet by both ITR and ETR, and its small result would otherwise come
    /// back through memory.
    #[inline(always)]
    pub fn lookup(&self, table: usize, address: IpAddr) -> Option<LocalEid> {
        let value = match address {
            IpAddr::V4(a) => self.v4.lookup(table, ipv4_key(a)),
            IpAddr::V6(a) => self.v6.lookup(table, ipv6_key(a)),
        }?;
        Some(LocalEid::found(value, table))
    }
}

/// The control core's side of the database.
#[derive(Debug)]
pub struct DatabaseWriter {
    v4: LpmWriter,
    v6: LpmWriter,
    instances: Instances,
}

impl DatabaseWriter {
    /// An empty database whose prefixes may be in any of `instances` (the map-cache's), with
    /// room for a few prefixes in each instance there may be (a prefix alone in a compact table
    /// takes a node per level: up to 4 cache lines for IPv4, 16 for IPv6).
    pub fn new(instances: Instances, qsbr: Arc<Qsbr>) -> Self {
        let room = |per_instance: usize| (1 << 18) + MAX_INSTANCES * per_instance;
        Self {
            v4: LpmWriter::new(32, MAX_INSTANCES, room(256), qsbr.clone()),
            v6: LpmWriter::new(128, MAX_INSTANCES, room(1024), qsbr),
            instances,
        }
    }

    fn table(&self, instance_id: u32) -> Result<usize, MapCacheError> {
        self.instances
            .table(Some(instance_id))
            .ok_or(MapCacheError::UnknownInstance(instance_id))
    }

    /// Serves `instances` from now on (see [`InstanceTables`]): an instance that leaves must
    /// have no prefix left.
    pub fn set_instances(&mut self, instances: Instances) {
        self.instances = instances;
    }

    pub fn shared(&self) -> Database {
        Database {
            v4: self.v4.table(),
            v6: self.v6.table(),
        }
    }

    /// Adds a local EID prefix in `instance_id` (0 = default).
    pub fn insert(&mut self, prefix: IpNet, instance_id: u32) -> Result<(), MapCacheError> {
        let table = self.table(instance_id)?;
        let (key, len, v6) = prefix_key(&prefix.trunc());
        let lpm = if v6 { &mut self.v6 } else { &mut self.v4 };
        lpm.insert(table, key, len, instance_id).map(drop)?;
        Ok(())
    }

    /// Removes `prefix` of `instance_id` (0 = default); whether it was there.
    pub fn remove(&mut self, prefix: IpNet, instance_id: u32) -> Result<bool, MapCacheError> {
        let table = self.table(instance_id)?;
        let (key, len, v6) = prefix_key(&prefix.trunc());
        let lpm = if v6 { &mut self.v6 } else { &mut self.v4 };
        Ok(lpm.remove(table, key, len).map(|old| old.is_some())?)
    }

    pub fn publish(&mut self) {
        self.v4.publish();
        self.v6.publish();
    }
}
