//! Instance-ids (the EID spaces of separate VPNs) and the LPM tables that hold them: table 0 is
//! the default instance (no instance-id, or 0), every other instance-id served has a table of
//! its own. Data cores learn a packet's table from the port or VLAN it arrived on (ITR) or from
//! its instance-id (ETR, through an [`Instances`] snapshot). Instances come and go at run time
//! ([`InstanceTables`]); every LPM has a table for each of [`MAX_INSTANCES`] from the start
//! (an unused one costs address space only).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::rcu::{Qsbr, Retired};

/// Most instances (tables) one xTR serves. Tables beyond the first
/// [`crate::lpm::DIRECT_TABLES`] have compact roots: 8 KiB in four LPMs once touched.
pub const MAX_INSTANCES: usize = 4096;

/// Largest instance-id (24 bits on the wire).
pub const MAX_INSTANCE_ID: u32 = 0x00ff_ffff;

/// The instance-ids served and their tables: a snapshot, as data cores and writers read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instances {
    /// (instance-id, table), by id; always holds the default instance's (0, 0).
    by_id: Vec<(u32, usize)>,
}

/// Why a set of instance-ids cannot have tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstancesError {
    /// More than [`MAX_INSTANCES`], the default included (or no table is free yet: a removed
    /// instance's table is reused only after a grace period).
    TooMany(usize),
    /// An id wider than 24 bits.
    TooWide(u32),
}

impl std::fmt::Display for InstancesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooMany(n) => write!(
                f,
                "{n} instance-ids configured; at most {MAX_INSTANCES} are supported"
            ),
            Self::TooWide(id) => {
                write!(f, "instance-id {id} does not fit 24 bits")
            }
        }
    }
}

impl std::error::Error for InstancesError {}

impl Default for Instances {
    fn default() -> Self {
        Self {
            by_id: vec![(0, 0)],
        }
    }
}

impl Instances {
    /// The default instance and every distinct id of `ids`, tables in ascending id order (so
    /// the default and the lowest ids get the direct-rooted tables).
    pub fn new(ids: impl IntoIterator<Item = u32>) -> Result<Self, InstancesError> {
        let mut ids: Vec<u32> = std::iter::once(0).chain(ids).collect();
        ids.sort_unstable();
        ids.dedup();
        if let Some(&widest) = ids.last().filter(|&&id| id > MAX_INSTANCE_ID) {
            return Err(InstancesError::TooWide(widest));
        }
        if ids.len() > MAX_INSTANCES {
            return Err(InstancesError::TooMany(ids.len()));
        }
        Ok(Self {
            by_id: ids.into_iter().enumerate().map(|(t, id)| (id, t)).collect(),
        })
    }

    /// How many instances are served, the default included.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Always false: the default instance is always served.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every instance-id served, the default one (0) included, in ascending order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_id.iter().map(|&(id, _)| id)
    }

    /// Every instance-id served and its table, by id.
    pub fn tables(&self) -> impl Iterator<Item = (u32, usize)> + '_ {
        self.by_id.iter().copied()
    }

    /// The table of `instance_id` (`None` and 0 are the default instance). Inlined, with the
    /// default instance answered without a search: the ETR asks for every packet.
    #[inline]
    pub fn table(&self, instance_id: Option<u32>) -> Option<usize> {
        let id = instance_id.unwrap_or(0);
        if id == 0 {
            return Some(0);
        }
        self.by_id
            .binary_search_by_key(&id, |&(id, _)| id)
            .ok()
            .map(|i| self.by_id[i].1)
    }
}

/// The writer's side: which table each instance has, which tables are free, and the tables of
/// removed instances, which wait a grace period before another instance takes them (a data core
/// may still map the removed id to its table until it picks up the new snapshot).
#[derive(Debug)]
pub struct InstanceTables {
    current: Instances,
    free: BTreeSet<usize>,
    leaving: Vec<usize>,
    retired: Retired<usize>,
    qsbr: Arc<Qsbr>,
}

impl InstanceTables {
    pub fn new(instances: Instances, qsbr: Arc<Qsbr>) -> Self {
        let used: BTreeSet<usize> = instances.tables().map(|(_, t)| t).collect();
        Self {
            free: (0..MAX_INSTANCES).filter(|t| !used.contains(t)).collect(),
            current: instances,
            leaving: Vec::new(),
            retired: Retired::default(),
            qsbr,
        }
    }

    pub fn current(&self) -> &Instances {
        &self.current
    }

    /// The instances with `ids` served from now on: new ids get free tables (the lowest, so a
    /// direct-rooted one if any is free), removed ids' tables leave at the next
    /// [`published`](Self::published). Their prefixes must be gone from every table first.
    pub fn change(&mut self, ids: &BTreeSet<u32>) -> Result<&Instances, InstancesError> {
        if let Some(&widest) = ids.last().filter(|&&id| id > MAX_INSTANCE_ID) {
            return Err(InstancesError::TooWide(widest));
        }
        self.free.extend(self.retired.reclaim(&self.qsbr));
        let staying: Vec<(u32, usize)> = self
            .current
            .tables()
            .filter(|(id, _)| *id == 0 || ids.contains(id))
            .collect();
        let added: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| id != 0 && self.current.table(Some(id)).is_none())
            .collect();
        if added.len() > self.free.len() {
            return Err(InstancesError::TooMany(staying.len() + added.len()));
        }
        let leaving = self
            .current
            .tables()
            .filter(|(id, _)| *id != 0 && !ids.contains(id))
            .map(|(_, t)| t);
        self.leaving.extend(leaving);
        let mut by_id = staying;
        for id in added {
            let table = self.free.pop_first().expect("counted above");
            by_id.push((id, table));
        }
        by_id.sort_unstable();
        self.current = Instances { by_id };
        Ok(&self.current)
    }

    /// The current snapshot reached every reader: tables of removed instances start their grace
    /// period.
    pub fn published(&mut self) {
        if self.leaving.is_empty() {
            return;
        }
        for table in self.leaving.drain(..) {
            self.retired.retire(table);
        }
        self.retired.published(self.qsbr.start());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_instance_is_table_zero_and_ids_are_deduplicated() {
        let instances = Instances::new([7, 3, 7, 0]).unwrap();
        assert_eq!(instances.len(), 3);
        assert_eq!(instances.table(None), Some(0));
        assert_eq!(instances.table(Some(0)), Some(0));
        assert_eq!(instances.table(Some(7)), Some(2));
        assert_eq!(instances.table(Some(5)), None);
    }

    #[test]
    fn too_many_or_too_wide_instances_are_refused() {
        assert!(Instances::new(1..MAX_INSTANCES as u32).is_ok());
        assert_eq!(
            Instances::new(1..=MAX_INSTANCES as u32),
            Err(InstancesError::TooMany(MAX_INSTANCES + 1))
        );
        assert!(Instances::new([MAX_INSTANCE_ID]).is_ok());
        assert_eq!(
            Instances::new([MAX_INSTANCE_ID + 1]),
            Err(InstancesError::TooWide(MAX_INSTANCE_ID + 1))
        );
    }

    #[test]
    fn a_removed_instance_table_is_reused_only_after_a_grace_period() {
        let qsbr = Qsbr::new(1);
        let mut reader = qsbr.register().unwrap();
        let mut tables = InstanceTables::new(Instances::new([10, 20]).unwrap(), qsbr.clone());
        let ids = |list: &[u32]| list.iter().copied().collect::<BTreeSet<u32>>();
        // 20 leaves, 30 arrives: 30 gets a free table, not 20's.
        let changed = tables.change(&ids(&[10, 30])).unwrap().clone();
        assert_eq!(changed.table(Some(10)), Some(1));
        assert_eq!(changed.table(Some(20)), None);
        assert_eq!(changed.table(Some(30)), Some(3));
        tables.published();
        // Before the reader passes a quiescent point, 20's table stays out of use.
        let changed = tables.change(&ids(&[10, 30, 40])).unwrap().clone();
        assert_eq!(changed.table(Some(40)), Some(4));
        reader.quiescent();
        let changed = tables.change(&ids(&[10, 30, 40, 50])).unwrap().clone();
        assert_eq!(
            changed.table(Some(50)),
            Some(2),
            "20's table, after the grace period"
        );
        assert_eq!(
            tables.change(&ids(&[MAX_INSTANCE_ID + 1])).unwrap_err(),
            InstancesError::TooWide(MAX_INSTANCE_ID + 1)
        );
    }
}
