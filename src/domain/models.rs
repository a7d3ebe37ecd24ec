//! The records kurz keeps (users, short URLs, events) and the validated
//! inputs that create or change them.
//!
//! The records double as the wire shapes: their field names and timestamp
//! format are the contract's, so one `Serialize` serves every response.
//! `sqlx::FromRow` is derived here too so the store can read rows straight
//! into them; no SQL lives in this module.

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{serialize_timestamp, Email, EventType, ShortCode, TargetUrl, Title, Username};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    #[serde(serialize_with = "serialize_timestamp")]
    #[schema(value_type = String, example = "2025-09-19T22:25:05")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct ShortUrl {
    pub id: i64,
    pub user_id: i64,
    pub short_code: String,
    pub original_url: String,
    pub title: Option<String>,
    pub is_active: bool,
    #[serde(serialize_with = "serialize_timestamp")]
    #[schema(value_type = String, example = "2025-09-19T22:25:05")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "serialize_timestamp")]
    #[schema(value_type = String, example = "2025-09-19T22:25:05")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Event {
    pub id: i64,
    pub url_id: Option<i64>,
    pub user_id: Option<i64>,
    pub event_type: String,
    #[serde(serialize_with = "serialize_timestamp")]
    #[schema(value_type = String, example = "2025-09-19T22:25:05")]
    pub timestamp: NaiveDateTime,
    /// Always a JSON object.
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub details: Value,
}

/// What a redirect needs to know about a code, and nothing more.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Link {
    pub url_id: i64,
    pub user_id: i64,
    pub original_url: String,
    pub is_active: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    /// Kept when given (imports), assigned by the store otherwise.
    pub id: Option<i64>,
    pub username: Username,
    pub email: Email,
    pub created_at: NaiveDateTime,
}

/// A partial update; `None` leaves the field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<Username>,
    pub email: Option<Email>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        self.username.is_none() && self.email.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct NewShortUrl {
    pub user_id: i64,
    pub target: TargetUrl,
    pub title: Option<Title>,
    /// A custom alias; a random code is generated when absent.
    pub alias: Option<ShortCode>,
}

/// A partial update; for `title`, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UrlPatch {
    pub title: Option<Option<Title>>,
    pub is_active: Option<bool>,
    pub target: Option<TargetUrl>,
}

impl UrlPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.is_active.is_none() && self.target.is_none()
    }
}

/// A redirect waiting to be logged. Kept small on purpose: thousands may
/// queue at once, and its JSON `details` are only built by the writer.
#[derive(Debug, Clone)]
pub struct RedirectEvent {
    pub url_id: i64,
    pub user_id: i64,
    pub timestamp: NaiveDateTime,
    pub short_code: Box<str>,
    pub referrer: Option<Box<str>>,
    pub user_agent: Option<Box<str>>,
}

/// The `details` object of a redirect event, as stored.
#[derive(Serialize)]
pub struct RedirectDetails<'a> {
    pub short_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
}

impl RedirectEvent {
    pub fn details(&self) -> RedirectDetails<'_> {
        RedirectDetails {
            short_code: &self.short_code,
            referrer: self.referrer.as_deref(),
            user_agent: self.user_agent.as_deref(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub url_id: Option<i64>,
    pub user_id: Option<i64>,
    pub event_type: EventType,
    pub timestamp: NaiveDateTime,
    pub details: Map<String, Value>,
}
