//! One call per use case. Each write here is the whole operation: the store
//! transaction (the change and its events), then the cache invalidation on
//! every replica, so no handler sequences them itself and no new endpoint
//! can forget a step. Authorization lives here too (`auth`): every method
//! takes the `Caller` and checks it before anything else.
//!
//! - `users`, `urls`, `events`: the resources' reads and writes.
//! - `redirects`: resolving a short link and recording its `redirect` event.
//! - `import`: the hackathon CSV files, for `/users/bulk` and `kurz import`.

mod auth;
mod deny;
mod event_import;
mod events;
pub mod import;
mod keys;
mod redirects;
mod stats;
mod urls;
mod users;

use std::sync::Arc;

use crate::analytics::Analytics;
use crate::cache::Links;
use crate::events::EventSink;
use crate::store::{Store, StoreError};

pub use auth::AuthMode;
pub use import::{ImportReport, RowError};
pub use keys::CreatedKey;
pub use redirects::{Redirect, Visit};

/// What a use case can fail with, beyond what the store reports.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// An uploaded file as a whole cannot be read (not UTF-8, no header).
    #[error("{0}")]
    BadFile(String),
    /// A value breaks a rule only the service can check (the deny-list).
    #[error(transparent)]
    Invalid(crate::domain::DomainError),
    /// The caller's key may not do this at all (only the admin may).
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something of kurz's own failed (a worker thread panicked).
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// The use cases, over the store, the cache tiers and the event queue.
/// Cheap to clone.
#[derive(Clone)]
pub struct Service {
    store: Arc<Store>,
    links: Links,
    events: EventSink,
    auth: Arc<auth::Authenticator>,
    deny: Arc<deny::DenyListFile>,
    analytics: Arc<Analytics>,
}

impl Service {
    /// `analytics` reads redirects (the configured salt and country
    /// database).
    pub fn new(
        store: Arc<Store>,
        links: Links,
        events: EventSink,
        auth: AuthMode,
        analytics: Analytics,
    ) -> Self {
        Self {
            store,
            links,
            events,
            auth: Arc::new(auth::Authenticator::new(auth)),
            deny: Arc::default(),
            analytics: Arc::new(analytics),
        }
    }

    /// Refuses targets on the domains listed in `path` (reloaded by
    /// `reload_deny_list`, on SIGHUP).
    pub fn with_deny_list(mut self, path: Option<std::path::PathBuf>) -> std::io::Result<Self> {
        self.deny = Arc::new(deny::DenyListFile::load(path)?);
        Ok(self)
    }

    /// The store, for readiness and pool metrics.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The cache tiers, for readiness.
    pub fn links(&self) -> &Links {
        &self.links
    }
}
