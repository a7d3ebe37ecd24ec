//! The two engines: how each connects, and the few statements in which
//! PostgreSQL and SQLite differ. Everything else is one SQL body in the
//! resource files, run on either engine through `on_engine!`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Database, Pool, Postgres, QueryBuilder, Sqlite, Transaction};

use super::statement_pool::{Reach, StatementConn, StatementPool};
use super::{StoreError, StoreResult};

/// What differs between the engines, as constants the shared code reads.
pub(crate) trait EngineSql: Database {
    /// Suffix that locks a row read for update inside a transaction. SQLite
    /// has no row locks; its single writer connection is the lock.
    const LOCK_ROW: &'static str;
    /// Unpacks a JSON array of `[url_id, user_id, event_type, timestamp,
    /// details]` rows (see `events::batch_json`) into the event log, in
    /// array order: one statement whatever the batch size, always prepared.
    const INSERT_EVENT_BATCH: &'static str;
    /// How a write transaction starts. SQLite: `BEGIN IMMEDIATE`, so it takes
    /// the write lock up front (waiting under the busy timeout) instead of
    /// failing at its first write when another process committed meanwhile
    /// (a read transaction cannot be upgraded then, and SQLite does not wait).
    const BEGIN_WRITE: Option<&'static str>;
}

impl EngineSql for Postgres {
    const LOCK_ROW: &'static str = " FOR UPDATE";
    const INSERT_EVENT_BATCH: &'static str =
        "INSERT INTO events (url_id, user_id, event_type, timestamp, details) \
         SELECT (e->>0)::bigint, (e->>1)::bigint, e->>2, (e->>3)::timestamp, e->4 \
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS batch(e, n) ORDER BY n";
    const BEGIN_WRITE: Option<&'static str> = None;
}

impl EngineSql for Sqlite {
    const LOCK_ROW: &'static str = "";
    const INSERT_EVENT_BATCH: &'static str =
        "INSERT INTO events (url_id, user_id, event_type, timestamp, details) \
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), \
                json_extract(value, '$[3]'), json_extract(value, '$[4]') \
         FROM json_each($1) ORDER BY key";
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
}

/// One engine's pools. PostgreSQL runs transactions on sqlx's pool and
/// every other statement on a pool of its own (`statements`); SQLite
/// has one writer connection (write transactions queue in the process and
/// never meet SQLITE_BUSY) and a few read-only connections beside it (WAL).
pub(crate) struct Db<DB: Database> {
    /// Transactions, and on SQLite every write.
    pub(crate) write: Pool<DB>,
    /// Where statements outside a transaction get connections, a pool
    /// that skips sqlx's ping on release (store/statement_pool.rs): on
    /// SQLite its read-only connections (reads only).
    pub(crate) statements: StatementPool<DB>,
}

impl<DB: Database> Clone for Db<DB> {
    fn clone(&self) -> Self {
        Self {
            write: self.write.clone(),
            statements: self.statements.clone(),
        }
    }
}

impl<DB: EngineSql> Db<DB> {
    /// A write transaction, timing the wait for its connection.
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, DB>> {
        match DB::BEGIN_WRITE {
            Some(begin) => timed_acquire("write", self.write.begin_with(begin)).await,
            None => timed_acquire("write", self.write.begin()).await,
        }
    }

    /// A connection for a single write.
    pub(crate) async fn acquire_write(&self) -> StoreResult<PoolConnection<DB>> {
        timed_acquire("write", self.write.acquire()).await
    }

    /// A connection for a statement outside a transaction (every read, and
    /// on PostgreSQL a new link's one statement), timing the wait under
    /// the pool's name.
    pub(crate) async fn acquire_statement(&self) -> StoreResult<StatementConn<DB>> {
        timed_acquire(self.statements.name(), self.statements.acquire()).await
    }

    /// `sql` followed by the engine's row-lock suffix.
    pub(crate) fn locked(&self, sql: &str) -> String {
        format!("{sql}{}", DB::LOCK_ROW)
    }

    /// A query builder of this engine, for statements with optional filters.
    pub(crate) fn builder(&self, sql: impl Into<String>) -> QueryBuilder<'static, DB> {
        QueryBuilder::new(sql)
    }
}

/// Awaits a connection (or a transaction's first round trip) and records
/// the wait in `kurz_db_pool_acquire_seconds{pool}`.
async fn timed_acquire<T, E: Into<StoreError>>(
    pool: &'static str,
    acquire: impl std::future::Future<Output = Result<T, E>>,
) -> StoreResult<T> {
    let started = std::time::Instant::now();
    let acquired = acquire.await.map_err(Into::into)?;
    metrics::histogram!("kurz_db_pool_acquire_seconds", "pool" => pool)
        .record(started.elapsed().as_secs_f64());
    Ok(acquired)
}

/// A pooled PostgreSQL connection idle at least this long is pinged before
/// it is handed out; one used more recently is handed out as it is.
///
/// sqlx pings every connection on its way back into the pool (a round trip
/// that also flushes a dropped query's leftovers), and by default again on
/// its way out: two round trips to the server around every statement. Under
/// load a connection is back in use within milliseconds of the first ping,
/// so the second one only costs the server and the request a round trip.
/// A connection idle for longer may have outlived a server restart; it is
/// pinged, and a dead one is replaced before any request sees it. What is
/// left: a connection released less than this before the server went away
/// and taken again less than this after it came back answers its first
/// statement with 503 (docs/failure-modes.md).
pub(crate) const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// How long a request waits for a pooled connection (or for a new one to
/// open) before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How many connections each PostgreSQL pool may open, for a
/// `max_connections` setting: all of it for statements outside a
/// transaction (reads, a new link's one statement), half of it for
/// transactions, but at least three (an import holds its lock on one and
/// writes two chunks at once on two more). Returns `(statements,
/// transactions)`.
pub(crate) fn pool_sizes(max_connections: u32) -> (u32, u32) {
    (max_connections, (max_connections / 2).max(3))
}

/// Opens PostgreSQL's pools: sqlx's for transactions, and one for every
/// other statement (store/statement_pool.rs), sized by `pool_sizes`. It
/// connects on first use: the service starts, answers /health and reports
/// not-ready while the database comes up.
pub(crate) fn connect_postgres(url: &str, max_connections: u32) -> StoreResult<Db<Postgres>> {
    let options = PgConnectOptions::from_str(url).map_err(StoreError::Other)?;
    let (statement_connections, transaction_connections) = pool_sizes(max_connections);
    let statements = StatementPool::new(
        "statements",
        options.clone(),
        Reach::Server,
        statement_connections,
        ACQUIRE_TIMEOUT,
    )?;
    let pool = PgPoolOptions::new()
        .max_connections(transaction_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options);
    Ok(Db {
        write: pool,
        statements,
    })
}

/// Most read connections SQLite gets: more readers than cores only queue.
pub const SQLITE_MAX_READERS: u32 = 8;

/// The smallest SQLite writer page cache, in pages (8 MiB of 4 KiB pages,
/// 2 MiB of 1 KiB ones): the writer connection opens with it, and
/// `writer_cache` sizes it up to the store.
pub(crate) const WRITER_CACHE_FLOOR_PAGES: u64 = 2_048;

/// Each SQLite reader's page cache, in KiB (SQLite's default is 2,000 KiB
/// a connection). Readers look up single links and users, a list's rows
/// and an event page's: pages the operating system's file cache holds as
/// well. At the default, the readers' caches grew by 12 MiB while links
/// were created (the code filter's rebuilds scan the code table through
/// them), a fifth of a replica's memory budget (docs/performance.md,
/// "Where SQLite's memory goes, and smaller reader caches").
pub(crate) const SQLITE_READER_CACHE_KIB: u32 = 256;

/// The page size of a new SQLite file (an existing file keeps its own).
/// Every event batch rewrites the leaf that ends each active link's and
/// each user's run in the event log's indexes, so the writer's cache must
/// hold one page per active link and user; at 1 KiB a page that set is a
/// quarter of what it is at SQLite's default 4 KiB. A batch's new rows fill
/// four times as many pages, which costs the writer about a third more CPU
/// per event (docs/performance.md, "1 KiB pages, and a smaller log queue").
pub(crate) const SQLITE_PAGE_SIZE: u32 = 1_024;

/// WAL written between automatic checkpoints, in bytes (see
/// `connect_sqlite`); `checkpoint_by_bytes` turns it into the file's pages.
pub(crate) const WAL_CHECKPOINT_BYTES: u64 = 32 * 1024 * 1024;

/// Opens (creating if missing) a WAL-mode SQLite file. The writer keeps the
/// hot index pages of the event log in memory (`WRITER_CACHE_FLOOR_PAGES`
/// at open; the event writer sizes it to the store, `writer_cache`) and
/// checkpoints every 32 MiB of WAL whatever the file's page size (one large
/// event batch rewrites a few MiB of index pages; SQLite's default of 1,000
/// pages would checkpoint after nearly every batch); readers only need the
/// small link and user tables. Readers: `max_connections`, at most
/// `SQLITE_MAX_READERS` (a documented rule, see docs/configuration).
pub(crate) async fn connect_sqlite(url: &str, max_connections: u32) -> StoreResult<Db<Sqlite>> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(StoreError::Other)?
        .create_if_missing(true)
        .page_size(SQLITE_PAGE_SIZE)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    // The one writer connection is kept for good: its page cache is sized
    // to the store after it opens (`writer_cache`), and a replacement would
    // open with the floor again.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| Box::pin(checkpoint_by_bytes(conn)))
        .connect_with(
            options
                .clone()
                .pragma("cache_size", WRITER_CACHE_FLOOR_PAGES.to_string()),
        )
        .await?;
    // Reads take connections from a pool that never pings them
    // (store/statement_pool.rs, `Reach::InProcess`): a SQLite connection
    // is a file handle inside the process, nothing can hang up on it, and
    // a ping is one more hand-off to the connection's thread.
    let statements = StatementPool::new(
        "read",
        options
            .read_only(true)
            .pragma("cache_size", format!("-{SQLITE_READER_CACHE_KIB}")),
        Reach::InProcess,
        max_connections.min(SQLITE_MAX_READERS),
        Duration::from_secs(10),
    )?;
    Ok(Db { write, statements })
}

/// The page size of the file `conn` has open, in bytes: a file made before
/// `SQLITE_PAGE_SIZE` keeps 4 KiB pages.
pub(crate) async fn file_page_size(conn: &mut sqlx::SqliteConnection) -> Result<u64, sqlx::Error> {
    let raw: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut *conn)
        .await?;
    Ok(page_bytes(raw))
}

/// A page size as SQLite reports it, in bytes; nonsense reads as SQLite's
/// default, 4 KiB, and nothing is taken below its smallest, 512 bytes.
pub(crate) fn page_bytes(raw: i64) -> u64 {
    u64::try_from(raw).unwrap_or(4096).max(512)
}

/// Sets the writer's automatic checkpoint to `WAL_CHECKPOINT_BYTES` in the
/// file's own pages.
async fn checkpoint_by_bytes(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let pages = WAL_CHECKPOINT_BYTES / file_page_size(conn).await?;
    sqlx::query(&format!("PRAGMA wal_autocheckpoint = {pages}"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl<DB: EngineSql> Db<DB> {
    /// See `EngineSql::INSERT_EVENT_BATCH`.
    pub(crate) fn insert_event_batch(&self) -> &'static str {
        DB::INSERT_EVENT_BATCH
    }
}

#[cfg(test)]
mod tests {
    use super::pool_sizes;

    #[test]
    fn statements_get_the_whole_setting_and_transactions_half_but_room_for_an_import() {
        assert_eq!(pool_sizes(16), (16, 8));
        assert_eq!(pool_sizes(4), (4, 3));
        assert_eq!(pool_sizes(1), (1, 3));
    }
}
