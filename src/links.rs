//! `Links`: how a redirect finds its target, and how writes make every
//! reader see the change.
//!
//! Handlers resolve codes and invalidate them only through this type, so the
//! rule "a write is visible to every reader before its answer is sent" lives
//! in one place.

use std::sync::Arc;

use crate::domain::{Link, ShortCode};
use crate::store::{Store, StoreResult};

#[derive(Clone)]
pub struct Links {
    store: Arc<dyn Store>,
}

impl Links {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The link behind a code; `None` when it does not resolve.
    pub async fn resolve(&self, code: &ShortCode) -> StoreResult<Option<Link>> {
        self.store.find_link(code).await
    }

    /// Called after a write changed or removed what `code` resolves to.
    pub async fn invalidate(&self, code: &str) {
        self.invalidate_all(std::slice::from_ref(&code.to_owned()))
            .await;
    }

    /// Called after a write changed or removed several codes at once.
    pub async fn invalidate_all(&self, _codes: &[String]) {
        // Every resolve reads the store, so a committed write is already
        // what the next redirect sees.
    }

    /// The cache tier's health for readiness; `None` when there is no shared cache.
    pub async fn health(&self) -> Option<&'static str> {
        None
    }
}
