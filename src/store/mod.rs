//! Persistence: the `Store` traits and their two engines.
//!
//! The traits are narrow (`UserStore`, `UrlStore`, `EventStore`) so a part
//! that only writes events depends only on `EventStore`. Both engines share
//! one SQL body (`sql.rs`), expanded for each sqlx driver, so their behaviour
//! cannot drift. Driver errors become `StoreError` here; nothing above this
//! module sees `sqlx`.

mod error;
mod import;
mod postgres;
mod query;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use crate::domain::{
    Event, Link, NewEvent, NewShortUrl, NewUser, RedirectEvent, ShortCode, ShortUrl, UrlPatch,
    User, UserPatch,
};

pub use error::{ConflictField, StoreError};
pub use import::{ImportOutcome, ImportedEvent, ImportedUrl};
pub use postgres::PgStore;
pub use query::{EventFilter, Page, UrlFilter};
pub use sqlite::SqliteStore;

pub type StoreResult<T> = Result<T, StoreError>;

/// A list answer that arrives row by row, so memory does not grow with it.
pub type RowStream<T> = BoxStream<'static, StoreResult<T>>;

/// The outcome of a change to a URL: the row as it is now, and whether any
/// field changed (no change means no event and no cache invalidation).
#[derive(Debug, Clone)]
pub struct UrlChange {
    pub url: ShortUrl,
    pub changed: bool,
    /// The code's target before the change, for cache invalidation.
    pub short_code: String,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, new: &NewUser) -> StoreResult<User>;
    async fn get_user(&self, id: i64) -> StoreResult<User>;
    fn list_users(&self, page: Page) -> RowStream<User>;
    async fn update_user(&self, id: i64, patch: &UserPatch) -> StoreResult<User>;
    /// Deletes the user and every URL they own (a `deleted` event each), and
    /// returns the short codes that stopped resolving.
    async fn delete_user(&self, id: i64) -> StoreResult<Vec<String>>;
    /// Inserts rows one by one; an existing id is accepted untouched.
    async fn import_users(&self, rows: &[NewUser]) -> StoreResult<Vec<ImportOutcome>>;
}

#[async_trait]
pub trait UrlStore: Send + Sync {
    /// Creates the URL, registers its code for good and writes its `created`
    /// event, in one transaction.
    async fn create_url(&self, new: &NewShortUrl) -> StoreResult<ShortUrl>;
    async fn get_url(&self, id: i64) -> StoreResult<ShortUrl>;
    fn list_urls(&self, filter: UrlFilter, page: Page) -> RowStream<ShortUrl>;
    /// Applies the patch and writes one `updated` event per changed field.
    async fn update_url(&self, id: i64, patch: &UrlPatch) -> StoreResult<UrlChange>;
    /// Deletes the URL and writes its `deleted` event; the code stays retired.
    async fn delete_url(&self, id: i64) -> StoreResult<ShortUrl>;
    /// What a redirect needs; `None` for a code that does not resolve.
    async fn find_link(&self, code: &ShortCode) -> StoreResult<Option<Link>>;
    async fn import_urls(&self, rows: &[ImportedUrl]) -> StoreResult<Vec<ImportOutcome>>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    async fn create_event(&self, new: &NewEvent) -> StoreResult<Event>;
    async fn get_event(&self, id: i64) -> StoreResult<Event>;
    fn list_events(&self, filter: EventFilter, page: Page) -> RowStream<Event>;
    /// Appends a batch of redirect events: one statement, one commit.
    async fn append_redirects(&self, batch: &[RedirectEvent]) -> StoreResult<()>;
    async fn import_events(&self, rows: &[ImportedEvent]) -> StoreResult<Vec<ImportOutcome>>;
}

/// A connection pool's state, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub name: &'static str,
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

#[async_trait]
pub trait Store: UserStore + UrlStore + EventStore {
    /// Which engine this is, for logs and `/health/ready`.
    fn engine(&self) -> &'static str;
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// One cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;
    /// Moves id sequences past every stored id, after imports with explicit ids.
    async fn sync_id_sequences(&self) -> StoreResult<()>;
    async fn close(&self);
    /// Each pool's size, idle count and limit.
    fn pool_stats(&self) -> Vec<PoolStats>;
}

/// Opens the store a database URL names: `postgres://…` or `sqlite:…`.
pub async fn connect(database_url: &str, max_connections: u32) -> StoreResult<Arc<dyn Store>> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(
            PgStore::connect(database_url, max_connections).await?,
        ))
    } else if database_url.starts_with("sqlite:") {
        Ok(Arc::new(
            SqliteStore::connect(database_url, max_connections).await?,
        ))
    } else {
        Err(StoreError::Config(
            "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into(),
        ))
    }
}
