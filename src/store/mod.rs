//! Persistence: the `Store` and its two engines, PostgreSQL and SQLite.
//!
//! One file per resource (`users`, `urls`, `events`, `import`), each an
//! `impl Store` block of ordinary code. Every method is written once and run
//! on either engine by `on_engine!`, which expands the same body for the
//! engine's concrete sqlx types; the few real differences between the
//! engines are constants in `engine`. Rows are read into the types of
//! `rows` and handed out as domain records. Driver errors become
//! `StoreError` here; nothing above this module sees `sqlx`.
//!
//! The store writes a change and its events in one transaction; it does not
//! know about caches or authorization (that is `service`).

mod code_watch;
mod copy_text;
mod engine;
mod error;
mod event_import;
mod events;
mod import;
mod keys;
mod known_codes;
mod list_turns;
mod partition_order;
mod partitions;
mod pg_redirects;
mod query;
mod report_tiers;
mod rollup_merge;
mod rollup_rebuild;
mod rollup_window;
mod rollups;
mod rows;
mod sqlite_creates;
mod sqlite_redirects;
mod statement_pool;
mod stats;
mod urls;
mod users;
mod writer_cache;

use futures_util::stream::BoxStream;
use sqlx::{Postgres, Sqlite};

use crate::domain::CodeSource;
use engine::Db;

pub use engine::SQLITE_MAX_READERS;
pub use error::{ConflictField, StoreError};
pub use event_import::{ClaimedEvents, EventImport, ImportedEvent};
pub use import::{ImportOutcome, ImportedUrl};
pub use partition_order::OrderedMonth;
pub use partitions::PartitionUpkeep;
pub use query::{EventFilter, Page, UrlFilter};
pub use rollup_window::RollupWindow;

pub type StoreResult<T> = Result<T, StoreError>;

/// A list answer that arrives row by row, so memory does not grow with it.
pub type RowStream<T> = BoxStream<'static, StoreResult<T>>;

/// Runs one body on whichever engine the store holds, with `$db` bound to
/// that engine's `Db`: the SQL and the Rust around it are written once and
/// compiled for each engine's concrete types.
macro_rules! on_engine {
    ($store:expr, |$db:ident| $body:expr) => {
        match &$store.engine {
            $crate::store::Engine::Postgres($db) => $body,
            $crate::store::Engine::Sqlite($db) => $body,
        }
    };
}
pub(crate) use on_engine;

pub(crate) enum Engine {
    Postgres(Db<Postgres>),
    Sqlite(Db<Sqlite>),
}

/// The database, on one engine. Shared behind an `Arc`.
pub struct Store {
    engine: Engine,
    /// Where fresh short codes come from (a fixed sequence in some tests).
    codes: CodeSource,
    /// Visitors this process saw counted (only the event writer uses it).
    seen_visitors: std::sync::Mutex<rollups::SeenVisitors>,
    /// How many lists stream from the database at once.
    list_turns: list_turns::ListTurns,
    /// Which codes may be stored (see `known_codes`, kept by `code_watch`).
    known: std::sync::Arc<known_codes::KnownCodes>,
    /// New links waiting to be written together (SQLite only).
    create_groups: sqlite_creates::CreateGroups,
}

/// A connection pool's state, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub name: &'static str,
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

/// Which engine a database URL names, or why it names none.
pub fn engine_of(database_url: &str) -> Result<&'static str, StoreError> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok("postgres")
    } else if database_url.starts_with("sqlite:") {
        Ok("sqlite")
    } else {
        Err(StoreError::Config(
            "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into(),
        ))
    }
}

impl Store {
    /// Opens the store a database URL names: `postgres://…` or `sqlite:…`.
    pub async fn connect(database_url: &str, max_connections: u32) -> StoreResult<Self> {
        let engine = match engine_of(database_url)? {
            "postgres" => {
                Engine::Postgres(engine::connect_postgres(database_url, max_connections)?)
            }
            _ => Engine::Sqlite(engine::connect_sqlite(database_url, max_connections).await?),
        };
        Ok(Self {
            seen_visitors: std::sync::Mutex::default(),
            engine,
            codes: CodeSource::random(),
            list_turns: list_turns::ListTurns::for_this_machine(),
            known: std::sync::Arc::default(),
            create_groups: sqlite_creates::CreateGroups::default(),
        })
    }

    /// At most `turns` lists stream from the database at once (default:
    /// twice the cores); the others wait their turn.
    pub fn with_list_streams(mut self, turns: u32) -> Self {
        self.list_turns = list_turns::ListTurns::new(turns);
        self
    }

    /// Replaces the source of generated short codes.
    pub fn with_codes(mut self, codes: CodeSource) -> Self {
        self.codes = codes;
        self
    }

    /// Which engine this is, for logs and `/health/ready`.
    pub fn engine(&self) -> &'static str {
        match self.engine {
            Engine::Postgres(_) => "postgres",
            Engine::Sqlite(_) => "sqlite",
        }
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> StoreResult<()> {
        let migrated = match &self.engine {
            Engine::Postgres(db) => {
                sqlx::migrate!("src/store/migrations/postgres")
                    .run(&db.write)
                    .await
            }
            Engine::Sqlite(db) => {
                sqlx::migrate!("src/store/migrations/sqlite")
                    .run(&db.write)
                    .await
            }
        };
        migrated.map_err(|e| StoreError::Other(e.into()))
    }

    /// One cheap round trip, for readiness.
    pub async fn ping(&self) -> StoreResult<()> {
        on_engine!(self, |db| {
            sqlx::query("SELECT 1")
                .execute(&mut *db.acquire_statement().await?)
                .await?;
            Ok(())
        })
    }

    /// Moves id sequences past every stored id, after imports with explicit
    /// ids. Never moves one backwards: a deleted row's id stays unused.
    /// (SQLite's AUTOINCREMENT already moves past every explicit id.)
    pub async fn sync_id_sequences(&self) -> StoreResult<()> {
        let Engine::Postgres(db) = &self.engine else {
            return Ok(());
        };
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
            sqlx::query(&sql).execute(&db.write).await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        on_engine!(self, |db| {
            db.write.close().await;
            db.statements.close();
        })
    }

    /// Each pool's size, idle count and limit. The pool of transactions
    /// is "main" on PostgreSQL and "write" on SQLite, where it holds the
    /// one writer connection.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        fn both<DB: sqlx::Database>(writes: &'static str, db: &Db<DB>) -> Vec<PoolStats> {
            vec![
                PoolStats {
                    name: writes,
                    size: db.write.size(),
                    idle: db.write.num_idle(),
                    max: db.write.options().get_max_connections(),
                },
                db.statements.stats(),
            ]
        }
        match &self.engine {
            Engine::Postgres(db) => both("main", db),
            Engine::Sqlite(db) => both("write", db),
        }
    }
}
