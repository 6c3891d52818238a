//! Reassembly of IP fragments addressed to us, as an I/O-free machine with explicit time, so an
//! SMR or a Map-Reply larger than the path MTU still arrives. Anyone can send fragments, so
//! everything is bounded: [`MAX_DATAGRAMS`] datagrams in progress, [`MAX_BYTES`] held in all,
//! [`MAX_PIECES`] fragments and [`MAX_DATAGRAM`] bytes per datagram, [`TIMEOUT`] to complete;
//! overlapping fragments discard the datagram (RFC 5722), and a full table refuses new
//! datagrams rather than evicting ones in progress.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub const MAX_DATAGRAMS: usize = 64;
pub const MAX_BYTES: usize = 1 << 20;
pub const MAX_PIECES: usize = 64;
pub const MAX_DATAGRAM: usize = 65_535;
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Which datagram a fragment belongs to (RFC 791 / RFC 8200).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DatagramKey {
    pub source: IpAddr,
    pub destination: IpAddr,
    pub ident: u32,
    /// The upper-layer protocol (IPv4) or the first header of the fragmentable part (IPv6).
    pub protocol: u8,
}

/// One fragment: where its data goes and whether more follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub key: DatagramKey,
    pub offset: usize,
    pub more: bool,
    pub data: &'a [u8],
}

/// What the machine did, for `show stats`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReassemblyStats {
    pub fragments_received: u64,
    pub datagrams_reassembled: u64,
    /// Overlapping, misaligned, too many pieces or too large: the datagram is discarded.
    pub fragments_malformed: u64,
    /// A new datagram while [`MAX_DATAGRAMS`] or [`MAX_BYTES`] were taken.
    pub fragments_refused_full: u64,
    pub reassemblies_timed_out: u64,
}

#[derive(Debug)]
struct Partial {
    started: Instant,
    /// (offset, data), sorted by offset, never overlapping.
    pieces: Vec<(usize, Vec<u8>)>,
    /// Known once the last fragment arrived.
    total: Option<usize>,
    bytes: usize,
}

#[derive(Debug, Default)]
pub struct Reassembly {
    partial: HashMap<DatagramKey, Partial>,
    bytes: usize,
    stats: ReassemblyStats,
}

impl Reassembly {
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Adds `fragment`; returns the whole payload when it completed its datagram.
    pub fn add(&mut self, fragment: Fragment<'_>, now: Instant) -> Option<(DatagramKey, Vec<u8>)> {
        self.stats.fragments_received += 1;
        let end = fragment.offset + fragment.data.len();
        let misaligned = fragment.more && fragment.data.len() % 8 != 0;
        if misaligned || fragment.data.is_empty() || end > MAX_DATAGRAM {
            self.discard(&fragment.key);
            self.stats.fragments_malformed += 1;
            return None;
        }
        if !self.partial.contains_key(&fragment.key) {
            if self.partial.len() >= MAX_DATAGRAMS || self.bytes + fragment.data.len() > MAX_BYTES {
                self.stats.fragments_refused_full += 1;
                return None;
            }
            self.partial.insert(
                fragment.key,
                Partial {
                    started: now,
                    pieces: Vec::new(),
                    total: None,
                    bytes: 0,
                },
            );
        }
        if self.bytes + fragment.data.len() > MAX_BYTES {
            self.stats.fragments_refused_full += 1;
            return None;
        }
        let partial = self.partial.get_mut(&fragment.key)?;
        let at = partial
            .pieces
            .partition_point(|(o, _)| *o < fragment.offset);
        let overlaps_before = at > 0 && {
            let (o, d) = &partial.pieces[at - 1];
            o + d.len() > fragment.offset
        };
        let overlaps_after = partial.pieces.get(at).is_some_and(|(o, _)| *o < end);
        let beyond_total = partial
            .total
            .is_some_and(|t| end > t || !fragment.more && end != t);
        let last_too_short = !fragment.more
            && partial
                .pieces
                .last()
                .is_some_and(|(o, d)| o + d.len() > end);
        if overlaps_before
            || overlaps_after
            || beyond_total
            || last_too_short
            || partial.pieces.len() >= MAX_PIECES
        {
            self.discard(&fragment.key);
            self.stats.fragments_malformed += 1;
            return None;
        }
        partial
            .pieces
            .insert(at, (fragment.offset, fragment.data.to_vec()));
        partial.bytes += fragment.data.len();
        self.bytes += fragment.data.len();
        if !fragment.more {
            partial.total = Some(end);
        }
        let complete = partial.total.is_some_and(|total| {
            partial.bytes == total && partial.pieces.first().is_some_and(|(o, _)| *o == 0)
        });
        if !complete {
            return None;
        }
        let partial = self.partial.remove(&fragment.key)?;
        self.bytes -= partial.bytes;
        self.stats.datagrams_reassembled += 1;
        let mut payload = Vec::with_capacity(partial.bytes);
        for (_, data) in partial.pieces {
            payload.extend_from_slice(&data);
        }
        Some((fragment.key, payload))
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.partial.values().map(|p| p.started + TIMEOUT).min()
    }

    /// Drops datagrams not completed within [`TIMEOUT`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let before = self.partial.len();
        let mut freed = 0;
        self.partial.retain(|_, p| {
            let live = now.saturating_duration_since(p.started) < TIMEOUT;
            if !live {
                freed += p.bytes;
            }
            live
        });
        self.bytes -= freed;
        self.stats.reassemblies_timed_out += (before - self.partial.len()) as u64;
    }

    fn discard(&mut self, key: &DatagramKey) {
        if let Some(partial) = self.partial.remove(key) {
            self.bytes -= partial.bytes;
        }
    }
}
