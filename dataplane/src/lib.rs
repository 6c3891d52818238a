//! The xTR data plane in pure Rust over byte slices: header views, LPM, map-cache, local database,
//! RCU publication and the burst pipeline. Testable without DPDK; the DPDK glue stays thin.

#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod lpm;
pub mod mailbox;
pub mod mapcache;
pub mod pipeline;
pub mod rcu;
pub mod wire;
mod words;
