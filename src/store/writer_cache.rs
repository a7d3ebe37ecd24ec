//! The SQLite writer's page cache, sized to the store it writes.
//!
//! Every redirect batch adds one entry per event to the event log's
//! `url_id` and `user_id` indexes. Once the log has grown, each active link
//! and each user has a leaf of its own there, and every batch rewrites all
//! of them; a cache smaller than that set reads most of them back every
//! batch and the writer falls behind (docs/performance.md, "The event
//! path"). So the cache holds one page per active link and per user, half
//! again for the batch's new table pages, between 8 and 64 MiB.

use super::engine::WRITER_CACHE_FLOOR_KIB;
use super::{Engine, Store, StoreResult};

/// The largest: a store with millions of links redirects to only some of
/// them, and the cache must not take the replica's memory.
const MAX_KIB: u64 = 64 * 1024;

impl Store {
    /// Sizes the SQLite writer's page cache to the store (see above) and
    /// returns the size in KiB; `None` on PostgreSQL, which has no such
    /// cache per connection.
    pub async fn fit_writer_cache(&self) -> StoreResult<Option<u64>> {
        let Engine::Sqlite(db) = &self.engine else {
            return Ok(None);
        };
        let mut conn = db.acquire_write().await?;
        let hot: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM urls WHERE is_active) + (SELECT count(*) FROM users)",
        )
        .fetch_one(&mut *conn)
        .await?;
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut *conn)
            .await?;
        let kib = writer_cache_kib(hot, page_size);
        sqlx::query(&format!("PRAGMA cache_size = -{kib}"))
            .execute(&mut *conn)
            .await?;
        Ok(Some(kib))
    }
}

/// One page per hot leaf, half again for new pages, within the bounds.
fn writer_cache_kib(hot_pages: i64, page_size: i64) -> u64 {
    let pages = u64::try_from(hot_pages).unwrap_or(0);
    let page_size = u64::try_from(page_size).unwrap_or(4096);
    (pages.saturating_mul(page_size).saturating_mul(3) / 2 / 1024)
        .clamp(WRITER_CACHE_FLOOR_KIB, MAX_KIB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_follows_the_hot_set_within_its_bounds() {
        assert_eq!(writer_cache_kib(0, 4096), WRITER_CACHE_FLOOR_KIB);
        // The seed data: 1,679 active links and 400 users.
        assert_eq!(writer_cache_kib(2_079, 4096), 12_474);
        assert_eq!(writer_cache_kib(10_000_000, 4096), MAX_KIB);
        assert_eq!(writer_cache_kib(-5, -1), WRITER_CACHE_FLOOR_KIB);
    }
}
