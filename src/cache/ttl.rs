//! A bounded concurrent map from string keys to shared values, each entry
//! with its own time to live: the storage under the per-replica link tier
//! and the API-key cache.
//!
//! quick_cache evicts by S3-FIFO, so a scan of one-off keys cannot push
//! out the popular ones, and a read is a shard's read lock and one hash
//! probe: no background maintenance, no per-read bookkeeping queue. It has
//! no expiry of its own; an entry carries its deadline, an expired one
//! reads as absent and stays (counted against the capacity) until it is
//! overwritten or evicted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

/// Longer TTLs are cut to this (an `Instant` cannot reach `Duration::MAX`).
const LONGEST_TTL: Duration = Duration::from_secs(100 * 365 * 86_400);

/// A value and the moment it stops being served.
struct Stamped<V> {
    value: Arc<V>,
    expires_at: Instant,
}

impl<V> Clone for Stamped<V> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            expires_at: self.expires_at,
        }
    }
}

pub struct TtlMap<V> {
    entries: Cache<Box<str>, Stamped<V>>,
}

impl<V> TtlMap<V> {
    /// A map that holds about `capacity` entries at most.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
        }
    }

    /// The value under `key`, unless there is none or it has expired.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let stamped = self.entries.get(key)?;
        (Instant::now() < stamped.expires_at).then_some(stamped.value)
    }

    /// Stores `value` under `key` for `ttl`, replacing what was there.
    pub fn insert(&self, key: &str, value: Arc<V>, ttl: Duration) {
        let expires_at = Instant::now() + ttl.min(LONGEST_TTL);
        self.entries
            .insert(key.into(), Stamped { value, expires_at });
    }

    pub fn remove(&self, key: &str) {
        self.entries.remove(key);
    }

    pub fn clear(&self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_until_its_own_deadline() {
        let map = TtlMap::new(16);
        map.insert("short", Arc::new(1), Duration::from_millis(30));
        map.insert("long", Arc::new(2), Duration::from_secs(60));
        map.insert("forever", Arc::new(3), Duration::MAX);
        assert_eq!(map.get("short").as_deref(), Some(&1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(map.get("short"), None);
        assert_eq!(map.get("long").as_deref(), Some(&2));
        assert_eq!(map.get("forever").as_deref(), Some(&3));
        map.insert("short", Arc::new(4), Duration::from_secs(60));
        assert_eq!(map.get("short").as_deref(), Some(&4));
    }

    #[test]
    fn removed_and_cleared_entries_are_gone() {
        let map = TtlMap::new(16);
        map.insert("a", Arc::new(1), Duration::from_secs(60));
        map.insert("b", Arc::new(2), Duration::from_secs(60));
        map.remove("a");
        assert_eq!(map.get("a"), None);
        assert_eq!(map.get("b").as_deref(), Some(&2));
        map.clear();
        assert_eq!(map.get("b"), None);
    }

    #[test]
    fn popular_keys_survive_a_scan_of_one_off_keys() {
        let map = TtlMap::new(1_000);
        let ttl = Duration::from_secs(60);
        for round in 0..3 {
            for hot in 0..200 {
                let key = format!("hot{hot}");
                if map.get(&key).is_none() {
                    map.insert(&key, Arc::new(round), ttl);
                }
            }
        }
        for cold in 0..20_000 {
            map.insert(&format!("cold{cold}"), Arc::new(0), ttl);
        }
        let kept = (0..200)
            .filter(|hot| map.get(&format!("hot{hot}")).is_some())
            .count();
        assert!(
            kept >= 180,
            "only {kept} of 200 popular keys survived the scan"
        );
    }
}
