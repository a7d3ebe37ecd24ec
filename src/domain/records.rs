//! The records kurz keeps: users, short links, events, and the small
//! projection of a link that a redirect needs.
//!
//! Plain data: the store builds them from its rows, the API turns them into
//! its wire shapes. Nothing here knows about SQL or HTTP.

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use super::Id;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Id,
    pub username: String,
    pub email: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShortUrl {
    pub id: Id,
    pub user_id: Id,
    pub short_code: String,
    pub original_url: String,
    pub title: Option<String>,
    pub is_active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// From this moment on the link answers 410.
    pub expires_at: Option<NaiveDateTime>,
    /// After this many redirects the link answers 410.
    pub max_redirects: Option<i64>,
}

/// An entry of the event log. Its `url_id`/`user_id` are kept as written:
/// the log outlives what it describes, and imported history may name ids
/// that never existed here.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Id,
    pub url_id: Option<i64>,
    pub user_id: Option<i64>,
    pub event_type: String,
    pub timestamp: NaiveDateTime,
    /// Always a JSON object.
    pub details: Map<String, Value>,
}

/// What a redirect needs to know about a code, and nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url_id: i64,
    pub user_id: i64,
    /// Shared with the cache entry it came from: a hit copies no text.
    pub original_url: std::sync::Arc<str>,
    pub is_active: bool,
    pub expires_at: Option<NaiveDateTime>,
    /// A budget that only the store can count exactly (every replica
    /// spends from it), so such a link's redirects ask the store.
    pub max_redirects: Option<i64>,
}
