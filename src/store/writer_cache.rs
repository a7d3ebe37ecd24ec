//! The SQLite writer's page cache, sized to the store it writes.
//!
//! Every redirect batch adds one entry per event to the event log's
//! `url_id` and `user_id` indexes. Once the log has grown, each active link
//! and each user has a leaf of its own there, and every batch rewrites all
//! of them; a cache smaller than that set reads most of them back every
//! batch and the writer falls behind (docs/performance.md, "The event
//! path"). The batch's new table pages are dirty beside them until the
//! commit, and a cache too small for both evicts the hot leaves to make
//! room. So the cache holds one page per active link and per user, a
//! quarter again for the index pages above those leaves (many at 1 KiB a
//! page), and a full batch of new rows, between `WRITER_CACHE_FLOOR_PAGES`
//! and 64 MiB.

use super::engine::{file_page_size, WRITER_CACHE_FLOOR_PAGES};
use super::{Engine, Store, StoreResult};

/// The largest: a store with millions of links redirects to only some of
/// them, and the cache must not take the replica's memory.
const MAX_KIB: u64 = 64 * 1024;

/// Bytes of table pages one redirect event adds (the row with its
/// `details`, and the page's share of cell pointers and free space).
const TABLE_BYTES_PER_EVENT: u64 = 160;

impl Store {
    /// Sizes the SQLite writer's page cache to the store (see above) for
    /// batches of up to `batch_rows` events and returns the size in KiB;
    /// `None` on PostgreSQL, which has no such cache per connection.
    pub async fn fit_writer_cache(&self, batch_rows: usize) -> StoreResult<Option<u64>> {
        let Engine::Sqlite(db) = &self.engine else {
            return Ok(None);
        };
        let mut conn = db.acquire_write().await?;
        let hot: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM urls WHERE is_active) + (SELECT count(*) FROM users)",
        )
        .fetch_one(&mut *conn)
        .await?;
        let page_size = file_page_size(&mut conn).await?;
        let kib = writer_cache_kib(hot, page_size, batch_rows);
        sqlx::query(&format!("PRAGMA cache_size = -{kib}"))
            .execute(&mut *conn)
            .await?;
        Ok(Some(kib))
    }
}

/// Hot leaves and a quarter again, and one batch of new rows, within the
/// bounds.
fn writer_cache_kib(hot_pages: i64, page_size: u64, batch_rows: usize) -> u64 {
    let pages = u64::try_from(hot_pages).unwrap_or(0);
    let floor_kib = WRITER_CACHE_FLOOR_PAGES * page_size / 1024;
    let leaves = pages.saturating_mul(page_size).saturating_mul(5) / 4;
    let rows = u64::try_from(batch_rows)
        .unwrap_or(u64::MAX)
        .saturating_mul(TABLE_BYTES_PER_EVENT);
    (leaves.saturating_add(rows) / 1024).clamp(floor_kib, MAX_KIB)
}

#[cfg(test)]
mod tests {
    use super::super::engine::page_bytes;
    use super::*;

    #[test]
    fn the_cache_follows_the_hot_set_within_its_bounds() {
        // The floor is a number of pages: 8 MiB of 4 KiB pages, 2 MiB of 1 KiB.
        assert_eq!(writer_cache_kib(0, 4096, 0), 8 * 1024);
        assert_eq!(writer_cache_kib(0, 1024, 0), 2 * 1024);
        // The seed data (1,679 active links and 400 users), batches of
        // 20,000: 2,598 KiB of leaves and 3,125 KiB of rows.
        assert_eq!(writer_cache_kib(2_079, 1024, 20_000), 5_723);
        assert_eq!(writer_cache_kib(2_079, 4096, 20_000), 13_520);
        assert_eq!(writer_cache_kib(10_000_000, 1024, 20_000), MAX_KIB);
        assert_eq!(writer_cache_kib(2_079, 1024, usize::MAX), MAX_KIB);
        // Nonsense from the file: SQLite's default page size.
        assert_eq!(writer_cache_kib(-5, page_bytes(-1), 0), 8 * 1024);
    }
}
