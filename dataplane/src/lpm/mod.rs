//! Longest-prefix match for IPv4 and IPv6 keys: lock-free reads of immutable versions, one writer
//! that derives each new version by copying only the path it changes.
//!
//! Layout: the top 16 bits index a direct root (256 pages of 256 slots, so an update copies one
//! 4 KiB page and the 2 KiB page table); below, each 8-bit stride is a node compressed to one slot
//! per run of equal sub-blocks with a popcount-ranked bitmap. A /24-heavy IPv4 table of 1M
//! prefixes stays small enough for the last-level cache, where DIR-24-8's 64 MiB table cannot.

mod node;
mod table;

pub use node::MAX_VALUE;
pub use table::{mask, Key, LpmError, LpmTable, LpmWriter};

use std::net::{Ipv4Addr, Ipv6Addr};

/// The key of an IPv4 address.
#[inline]
pub fn ipv4_key(addr: Ipv4Addr) -> Key {
    u128::from(u32::from(addr)) << 96
}

/// The key of an IPv6 address.
#[inline]
pub fn ipv6_key(addr: Ipv6Addr) -> Key {
    u128::from(addr)
}
