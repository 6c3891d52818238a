//! The one place the data cores' counters are read and summed: telemetry, management, metrics
//! and the stop report all take them from here.

use hashbrown::HashMap;

use dataplane::mapcache::Instances;
use dataplane::pipeline::{total, CoreCounters, Counter};

use super::data_cores::DataCoreLink;

/// Every counter with its name, summed over `cores`.
pub fn totals<'a>(
    cores: impl Iterator<Item = &'a CoreCounters> + Clone,
) -> Vec<(&'static str, u64)> {
    Counter::ALL
        .iter()
        .map(|&c| (c.name(), total(cores.clone(), c)))
        .collect()
}

/// Every counter summed over the data cores.
pub fn data_totals(links: &[DataCoreLink]) -> Vec<(&'static str, u64)> {
    totals(links.iter().map(|l| &*l.counters))
}

/// Each data core's lcore and counters.
pub fn per_core(links: &[DataCoreLink]) -> Vec<(u32, Vec<(&'static str, u64)>)> {
    links
        .iter()
        .map(|l| (l.lcore, totals(std::iter::once(&*l.counters))))
        .collect()
}

/// A table's (encapsulated, decapsulated) packets summed over the data cores.
pub fn table_packets(links: &[DataCoreLink], table: usize) -> (u64, u64) {
    links.iter().fold((0, 0), |(e, d), link| {
        let (encapsulated, decapsulated) = link.instance_counters.get(table);
        (e + encapsulated, d + decapsulated)
    })
}

/// Each instance served with its packets since it took its table: `baselines` holds what a
/// reused table had counted before (see [`dataplane::pipeline::InstanceCounters`]).
pub fn instance_packets(
    links: &[DataCoreLink],
    instances: &Instances,
    baselines: &HashMap<usize, (u64, u64)>,
) -> Vec<(u32, u64, u64)> {
    instances
        .tables()
        .map(|(id, table)| {
            let (encapsulated, decapsulated) = table_packets(links, table);
            let (e0, d0) = baselines.get(&table).copied().unwrap_or_default();
            (id, encapsulated - e0, decapsulated - d0)
        })
        .collect()
}
