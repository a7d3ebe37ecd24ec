//! Credentials of recently used API keys, so an authorized request costs a
//! hash and a map look-up instead of a database round trip. Revocation drops
//! an entry here and, through the invalidation channel, on every replica
//! (entries of the form `key:<prefix>`); the TTL is the safety net.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::ttl::TtlMap;
use crate::domain::KeyCredential;

/// How long a credential is trusted without asking the store again.
const KEY_TTL: Duration = Duration::from_secs(10);
/// Most keys held.
const KEY_CAPACITY: usize = 100_000;

/// A cached credential, with when its use was last written down.
#[derive(Debug)]
pub struct CachedKey {
    pub credential: KeyCredential,
    /// Seconds since the Unix epoch of the last `last_used_at` write (0: none).
    pub last_touch: AtomicU64,
    /// The token, once a request proved it against the stored hash: later
    /// requests compare with it (constant-time) instead of hashing again.
    /// Kept in memory only, for the entry's short life.
    pub verified: std::sync::OnceLock<Box<str>>,
}

pub struct KeyCache {
    entries: TtlMap<CachedKey>,
    epoch: AtomicU64,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self {
            entries: TtlMap::new(KEY_CAPACITY),
            epoch: AtomicU64::new(0),
        }
    }
}

impl KeyCache {
    pub fn get(&self, prefix: &str) -> Option<Arc<CachedKey>> {
        self.entries.get(prefix)
    }

    /// Read before a fill starts; see `insert_unless_invalidated`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches a credential unless a revocation happened since `seen_epoch`.
    pub fn insert_unless_invalidated(
        &self,
        prefix: &str,
        credential: KeyCredential,
        seen_epoch: u64,
    ) -> Arc<CachedKey> {
        let entry = Arc::new(CachedKey {
            credential,
            last_touch: AtomicU64::new(0),
            verified: std::sync::OnceLock::new(),
        });
        if self.epoch() != seen_epoch {
            return entry;
        }
        self.entries.insert(prefix, entry.clone(), KEY_TTL);
        if self.epoch() != seen_epoch {
            self.entries.remove(prefix);
        }
        entry
    }

    pub fn invalidate(&self, prefix: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(prefix);
    }

    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }
}
