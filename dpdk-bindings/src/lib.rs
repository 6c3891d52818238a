//! Safe access to the system DPDK 22.11: EAL, packet-buffer pools and mbufs, ethdev ports and
//! queues, worker lcores, rings, ring-backed port pairs, and telemetry commands.
//!
//! This is the project's only crate with FFI `unsafe`; every unsafe block states its invariant.
//! Every DPDK object holds an [`Eal`] handle, so EAL cleanup happens after the last of them.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

mod capture;
mod eal;
mod error;
mod fib;
pub mod lcore;
mod mbuf;
mod mempool;
mod port;
mod ring;
mod ring_port;
pub mod sys;
mod telemetry;
pub mod time;

pub use capture::CaptureServer;
pub use eal::{Eal, EalBuilder, VDEV_ONLY_ARGS};
pub use error::{Error, Result};
pub use fib::{Fib4, Fib6};
pub use mbuf::{Drain, Mbuf, MbufBurst, MAX_BURST};
pub use mempool::{Mempool, MempoolConfig};
pub use port::{
    attach_vdev, LinkStatus, Port, PortConfig, PortId, PortStats, RxQueue, TxQueue, MAX_QUEUES,
};
pub use ring::{spsc_ring, RingConsumer, RingProducer};
pub use ring_port::ring_port_pair;
pub use telemetry::register_counters;
