//! Mappings learned from Map-Replies: installed into the map-cache with their TTL and removed when
//! it runs out (the next packet misses and asks again). Configured (static) entries are never
//! replaced or expired. When the map-cache is full, the learned entry nearest to its expiry makes
//! room: the data cores keep no per-entry hit record, so that is the cheapest honest
//! approximation of least-recently-used available to the control core.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dataplane::mapcache::{MapCacheError, MapCacheWriter};
use ipnet::IpNet;

use crate::resolution::Install;

/// What happened to one install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// New or refreshed, expiring at the given time.
    Cached(Instant),
    /// TTL 0: used by nobody, as RFC 9301 says such a mapping is not cached.
    NotCached,
    /// A configured entry holds the prefix.
    StaticKept,
}

/// Expiry bookkeeping for learned map-cache entries.
#[derive(Debug)]
pub struct LearnedMappings {
    expiry: HashMap<IpNet, Instant>,
    limit: usize,
}

impl LearnedMappings {
    /// `limit`: the most map-cache entries (static and learned together).
    pub fn new(limit: usize) -> Self {
        Self {
            expiry: HashMap::new(),
            limit,
        }
    }

    /// Installs `install` (publication is the caller's, after a batch).
    pub fn install(
        &mut self,
        cache: &mut MapCacheWriter,
        install: Install,
        now: Instant,
    ) -> Result<Installed, MapCacheError> {
        if install.ttl_minutes == 0 {
            return Ok(Installed::NotCached);
        }
        let prefix = install.prefix.trunc();
        let learned = self.expiry.contains_key(&prefix);
        if !learned && cache.get(&prefix).is_some() {
            return Ok(Installed::StaticKept);
        }
        if !learned && cache.len() >= self.limit {
            self.evict_one(cache)?;
        }
        cache.insert(prefix, install.mapping)?;
        let expires = now + Duration::from_secs(60 * u64::from(install.ttl_minutes));
        self.expiry.insert(prefix, expires);
        Ok(Installed::Cached(expires))
    }

    fn evict_one(&mut self, cache: &mut MapCacheWriter) -> Result<(), MapCacheError> {
        let Some((&victim, _)) = self.expiry.iter().min_by_key(|(_, at)| **at) else {
            return Ok(());
        };
        self.expiry.remove(&victim);
        cache.remove(&victim).map(drop)
    }

    /// Removes every entry whose TTL ran out; returns the prefixes removed.
    pub fn expire(
        &mut self,
        cache: &mut MapCacheWriter,
        now: Instant,
    ) -> Result<Vec<IpNet>, MapCacheError> {
        let due: Vec<IpNet> = self
            .expiry
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| *p)
            .collect();
        for prefix in &due {
            self.expiry.remove(prefix);
            cache.remove(prefix)?;
        }
        Ok(due)
    }

    /// Removes every learned entry; returns how many.
    pub fn flush(&mut self, cache: &mut MapCacheWriter) -> Result<usize, MapCacheError> {
        let all: Vec<IpNet> = self.expiry.drain().map(|(p, _)| p).collect();
        for prefix in &all {
            cache.remove(prefix)?;
        }
        Ok(all.len())
    }

    /// Stops tracking `prefix` (an operator replaced or removed it).
    pub fn forget(&mut self, prefix: &IpNet) {
        self.expiry.remove(&prefix.trunc());
    }

    /// When [`expire`](Self::expire) next has work.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiry.values().min().copied()
    }

    /// When the learned entry for exactly `prefix` expires.
    pub fn expires_at(&self, prefix: &IpNet) -> Option<Instant> {
        self.expiry.get(&prefix.trunc()).copied()
    }

    pub fn len(&self) -> usize {
        self.expiry.len()
    }

    pub fn is_empty(&self) -> bool {
        self.expiry.is_empty()
    }
}
