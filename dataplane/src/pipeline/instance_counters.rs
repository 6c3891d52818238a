//! Per-instance (tenant) packet counts of one data core: packets encapsulated from each
//! instance's hosts and decapsulated toward them, indexed by instance table. Written only by the
//! owning core (load + store), summed over the cores when read. A table's counts start at zero
//! when an instance takes it: the reader subtracts what the table had counted before.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::mapcache::MAX_INSTANCES;

/// One data core's per-instance counts.
#[derive(Debug)]
pub struct InstanceCounters {
    encapsulated: Box<[AtomicU64]>,
    decapsulated: Box<[AtomicU64]>,
}

impl Default for InstanceCounters {
    /// Zeroed memory, mapped in as tenants' counts are first written.
    fn default() -> Self {
        Self {
            encapsulated: bytemuck::allocation::zeroed_slice_box(MAX_INSTANCES),
            decapsulated: bytemuck::allocation::zeroed_slice_box(MAX_INSTANCES),
        }
    }
}

#[inline]
fn add(slots: &[AtomicU64], table: usize, n: u64) {
    if let Some(slot) = slots.get(table) {
        slot.store(slot.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }
}

impl InstanceCounters {
    /// `n` packets of instance table `table` encapsulated; only the owning core calls this.
    #[inline]
    pub fn add_encapsulated(&self, table: usize, n: u64) {
        add(&self.encapsulated, table, n);
    }

    /// `n` packets of instance table `table` decapsulated; only the owning core calls this.
    #[inline]
    pub fn add_decapsulated(&self, table: usize, n: u64) {
        add(&self.decapsulated, table, n);
    }

    /// (encapsulated, decapsulated) of `table` so far.
    pub fn get(&self, table: usize) -> (u64, u64) {
        let read = |slots: &[AtomicU64]| slots.get(table).map_or(0, |s| s.load(Ordering::Relaxed));
        (read(&self.encapsulated), read(&self.decapsulated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_table_and_ignores_tables_beyond() {
        let counters = InstanceCounters::default();
        counters.add_encapsulated(3, 32);
        counters.add_encapsulated(3, 1);
        counters.add_decapsulated(3, 5);
        counters.add_decapsulated(MAX_INSTANCES, 9);
        assert_eq!(counters.get(3), (33, 5));
        assert_eq!(counters.get(0), (0, 0));
        assert_eq!(counters.get(MAX_INSTANCES), (0, 0));
    }
}
