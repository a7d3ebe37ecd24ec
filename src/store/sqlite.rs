//! The SQLite engine: a WAL-mode file with one writer connection and a few
//! readers. A single writer serialises write transactions inside the process,
//! so they never meet SQLITE_BUSY; readers run beside it thanks to WAL.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool};

use super::sql::impl_sql_store;

/// Store in a local SQLite file; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    readers: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// SQLite has no row locks; the single writer connection is the lock.
    const LOCK_ROW: &'static str = "";

    /// Unpacks a JSON batch (see `redirect_batch_json`) in array order.
    const APPEND_REDIRECTS: &'static str =
        "INSERT INTO events (url_id, user_id, event_type, timestamp, details) \
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), 'redirect', \
                json_extract(value, '$[2]'), json_extract(value, '$[3]') \
         FROM json_each($1) ORDER BY key";

    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Other)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // The writer keeps the hot index pages of the event log in memory
        // (16 MiB); readers only need the small link and user tables.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone().pragma("cache_size", "-16384"))
            .await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(max_connections.clamp(1, 8))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { readers, writer })
    }

    fn reader(&self) -> &SqlitePool {
        &self.readers
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// WAL with `synchronous = NORMAL` already commits without an fsync.
    async fn relax_commit(_conn: &mut SqliteConnection) -> StoreResult<()> {
        Ok(())
    }
}

impl_sql_store!(SqliteStore, Sqlite, SqliteConnection);

#[async_trait]
impl super::Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("src/store/migrations/sqlite")
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Other(e.into()))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    async fn sync_id_sequences(&self) -> StoreResult<()> {
        // AUTOINCREMENT already moves past every explicit id.
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }

    fn pool_stats(&self) -> Vec<super::PoolStats> {
        [("write", &self.writer), ("read", &self.readers)]
            .into_iter()
            .map(|(name, pool)| super::PoolStats {
                name,
                size: pool.size(),
                idle: pool.num_idle(),
                max: pool.options().get_max_connections(),
            })
            .collect()
    }
}
