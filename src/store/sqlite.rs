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

    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Other)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
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
}
