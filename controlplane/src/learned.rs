//! Mappings learned from Map-Replies: installed into the map-cache with their TTL and removed when
//! it runs out (the next packet misses and asks again). Configured (static) entries are never
//! replaced or expired. When the map-cache is full, the learned entry nearest to its expiry makes
//! room: the data cores keep no per-entry hit record, so that is the cheapest honest
//! approximation of least-recently-used available to the control core.
//!
//! Expiry times are kept in a heap beside the map (an entry refreshed or removed leaves a stale
//! item that is skipped when it comes up), so the next expiry, an expiry and an eviction cost a
//! logarithm, not a scan of a million entries on every turn of the control loop.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
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

/// A map-cache key: instance-id (`None` for the default instance, which 0 also names) and prefix.
pub type CacheKey = (Option<u32>, IpNet);

/// The key of `prefix` in `instance_id`, with the default instance spelled one way.
pub fn cache_key(instance_id: Option<u32>, prefix: &IpNet) -> CacheKey {
    (instance_id.filter(|&iid| iid != 0), prefix.trunc())
}

/// Expiry bookkeeping for learned map-cache entries.
#[derive(Debug)]
pub struct LearnedMappings {
    expiry: HashMap<CacheKey, Instant>,
    due: BinaryHeap<Reverse<(Instant, CacheKey)>>,
    limit: usize,
}

impl LearnedMappings {
    /// `limit`: the most map-cache entries (static and learned together).
    pub fn new(limit: usize) -> Self {
        Self {
            expiry: HashMap::new(),
            due: BinaryHeap::new(),
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
        let key = cache_key(install.mapping.instance_id, &install.prefix);
        let learned = self.expiry.contains_key(&key);
        if !learned && cache.get(key.0, &key.1).is_some() {
            return Ok(Installed::StaticKept);
        }
        if !learned && cache.len() >= self.limit {
            self.evict_one(cache)?;
        }
        cache.insert(key.1, install.mapping)?;
        let expires = now + Duration::from_secs(60 * u64::from(install.ttl_minutes));
        self.expiry.insert(key, expires);
        self.due.push(Reverse((expires, key)));
        self.compact();
        Ok(Installed::Cached(expires))
    }

    fn evict_one(&mut self, cache: &mut MapCacheWriter) -> Result<(), MapCacheError> {
        while let Some(Reverse((at, key))) = self.due.pop() {
            if self.expiry.get(&key) == Some(&at) {
                self.expiry.remove(&key);
                return cache.remove(key.0, &key.1).map(drop);
            }
        }
        Ok(())
    }

    /// Drops stale heap items once they outnumber live ones (refreshes leave one each).
    fn compact(&mut self) {
        if self.due.len() > 2 * self.expiry.len() + 64 {
            self.due = self
                .expiry
                .iter()
                .map(|(key, at)| Reverse((*at, *key)))
                .collect();
        }
    }

    /// Removes every entry whose TTL ran out; returns the keys removed.
    pub fn expire(
        &mut self,
        cache: &mut MapCacheWriter,
        now: Instant,
    ) -> Result<Vec<CacheKey>, MapCacheError> {
        let mut due = Vec::new();
        while let Some(&Reverse((at, key))) = self.due.peek() {
            if at > now {
                break;
            }
            self.due.pop();
            if self.expiry.get(&key) == Some(&at) {
                self.expiry.remove(&key);
                cache.remove(key.0, &key.1)?;
                due.push(key);
            }
        }
        Ok(due)
    }

    /// Removes every learned entry; returns how many.
    pub fn flush(&mut self, cache: &mut MapCacheWriter) -> Result<usize, MapCacheError> {
        self.due.clear();
        let all: Vec<CacheKey> = self.expiry.drain().map(|(key, _)| key).collect();
        for key in &all {
            cache.remove(key.0, &key.1)?;
        }
        Ok(all.len())
    }

    /// Stops tracking `prefix` in `instance_id` (an operator replaced or removed it).
    pub fn forget(&mut self, instance_id: Option<u32>, prefix: &IpNet) {
        self.expiry.remove(&cache_key(instance_id, prefix));
    }

    /// When [`expire`](Self::expire) next has work (possibly only a stale item to skip).
    pub fn next_expiry(&self) -> Option<Instant> {
        self.due.peek().map(|Reverse((at, _))| *at)
    }

    /// When the learned entry for exactly `prefix` in `instance_id` expires.
    pub fn expires_at(&self, instance_id: Option<u32>, prefix: &IpNet) -> Option<Instant> {
        self.expiry.get(&cache_key(instance_id, prefix)).copied()
    }

    pub fn len(&self) -> usize {
        self.expiry.len()
    }

    pub fn is_empty(&self) -> bool {
        self.expiry.is_empty()
    }
}
