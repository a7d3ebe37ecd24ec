//! The per-replica tier: a bounded map (`TtlMap`, S3-FIFO eviction, so a
//! scan of one-off codes cannot push out the popular ones) of code → link,
//! with negative entries for unknown codes, each with its own TTL.
//!
//! A look-up here never awaits. An invalidation bumps `epoch`; a fill that
//! started before the bump is thrown away, so a slow store read can never
//! put back the value a write just removed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::ttl::TtlMap;
use crate::domain::Link;

/// A cached answer: the link, or `None` for "no such code".
#[derive(Debug)]
pub struct Cached {
    pub link: Option<Link>,
}

pub struct LocalCache {
    /// Each entry lives for its own TTL (positive, negative or degraded).
    entries: TtlMap<Cached>,
    epoch: AtomicU64,
}

impl LocalCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: TtlMap::new(capacity),
            epoch: AtomicU64::new(0),
        }
    }

    pub fn get(&self, code: &str) -> Option<Arc<Cached>> {
        self.entries.get(code)
    }

    /// Read before a fill starts; pass it to `insert_unless_invalidated`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches an answer unless an invalidation happened since `seen_epoch`.
    pub fn insert_unless_invalidated(
        &self,
        code: &str,
        link: Option<Link>,
        ttl: Duration,
        seen_epoch: u64,
    ) {
        if self.epoch() != seen_epoch {
            return;
        }
        self.entries.insert(code, Arc::new(Cached { link }), ttl);
        // An invalidation may have landed between the check and the insert.
        if self.epoch() != seen_epoch {
            self.entries.remove(code);
        }
    }

    pub fn invalidate(&self, code: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(code);
    }

    /// Forgets everything (after missed invalidations were possible).
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(target: &str) -> Link {
        Link {
            url_id: 1,
            user_id: 1,
            original_url: target.into(),
            is_active: true,
            expires_at: None,
            max_redirects: None,
        }
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_dropped() {
        let cache = LocalCache::new(100);
        let seen = cache.epoch();
        cache.invalidate("abc");
        cache.insert_unless_invalidated(
            "abc",
            Some(link("https://old")),
            Duration::from_secs(60),
            seen,
        );
        assert!(cache.get("abc").is_none());
        let seen = cache.epoch();
        cache.insert_unless_invalidated(
            "abc",
            Some(link("https://new")),
            Duration::from_secs(60),
            seen,
        );
        assert_eq!(
            &*cache
                .get("abc")
                .unwrap()
                .link
                .as_ref()
                .unwrap()
                .original_url,
            "https://new"
        );
    }

    #[test]
    fn negative_answers_are_cached_and_cleared() {
        let cache = LocalCache::new(100);
        cache.insert_unless_invalidated("nope", None, Duration::from_secs(5), cache.epoch());
        assert!(cache.get("nope").is_some_and(|c| c.link.is_none()));
        cache.clear();
        assert!(cache.get("nope").is_none());
    }
}
