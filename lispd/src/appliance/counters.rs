//! The one place the data cores' counters are read and summed: telemetry, management, metrics
//! and the stop report all take them from here.

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
