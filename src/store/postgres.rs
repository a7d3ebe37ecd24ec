//! The PostgreSQL engine: one pool for reads and writes, row locks with
//! `FOR UPDATE`, identity sequences moved after imports, and event batches
//! committed without waiting for the WAL flush.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use super::sql::impl_sql_store;

/// Store on a PostgreSQL server; cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Suffix that locks a row read for update inside a transaction.
    const LOCK_ROW: &'static str = " FOR UPDATE";

    /// Unpacks a JSON batch (see `redirect_batch_json`) in array order.
    const APPEND_REDIRECTS: &'static str =
        "INSERT INTO events (url_id, user_id, event_type, timestamp, details) \
         SELECT (e->>0)::bigint, (e->>1)::bigint, 'redirect', (e->>2)::timestamp, e->3 \
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS batch(e, n) ORDER BY n";

    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url).map_err(StoreError::Other)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(3))
            // Connect on first use: the service starts, answers /health and
            // reports not-ready while the database is still coming up.
            .connect_lazy_with(options);
        Ok(Self { pool })
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// Event batches may lose their last few milliseconds on a server crash
    /// (never on a clean stop): one WAL flush is not worth waiting for per
    /// batch of redirect events. URL and user writes keep full durability.
    async fn relax_commit(conn: &mut PgConnection) -> StoreResult<()> {
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(conn)
            .await?;
        Ok(())
    }
}

impl_sql_store!(PgStore, Postgres, PgConnection);

#[async_trait]
impl super::Store for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("src/store/migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(e.into()))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn sync_id_sequences(&self) -> StoreResult<()> {
        // Never moves a sequence backwards: a deleted row's id stays unused.
        for (table, sequence) in [
            ("users", "users_id_seq"),
            ("urls", "urls_id_seq"),
            ("events", "events_id_seq"),
        ] {
            let sql = format!(
                "SELECT setval('{sequence}', GREATEST(\
                   (SELECT COALESCE(MAX(id), 0) FROM {table}), \
                   (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {sequence})\
                 ) + 1, false)"
            );
            sqlx::query(&sql).execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn pool_stats(&self) -> Vec<super::PoolStats> {
        vec![super::PoolStats {
            name: "main",
            size: self.pool.size(),
            idle: self.pool.num_idle(),
            max: self.pool.options().get_max_connections(),
        }]
    }
}
