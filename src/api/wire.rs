//! The response shapes: what the API answers, documented from the same
//! structs that are serialized. Built from domain records; field names and
//! the timestamp format are the contract's.

use chrono::NaiveDateTime;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::domain::{self, format_timestamp};

pub fn timestamp<S: Serializer>(value: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    let formatted = format_timestamp(value);
    match formatted.ascii() {
        // A plain string: no trip through the formatting machinery.
        Some(bytes) => match std::str::from_utf8(&bytes) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.collect_str(&formatted),
        },
        None => s.collect_str(&formatted),
    }
}

pub fn optional_timestamp<S: Serializer>(
    value: &Option<NaiveDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => timestamp(value, s),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    #[schema(minimum = 1)]
    pub id: i64,
    pub username: String,
    pub email: String,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", example = "2025-09-19T22:25:05")]
    pub created_at: NaiveDateTime,
}

impl From<domain::User> for User {
    fn from(user: domain::User) -> Self {
        Self {
            id: user.id.get(),
            username: user.username,
            email: user.email,
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShortUrl {
    #[schema(minimum = 1)]
    pub id: i64,
    #[schema(minimum = 1)]
    pub user_id: i64,
    pub short_code: String,
    pub original_url: String,
    pub title: Option<String>,
    pub is_active: bool,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", example = "2025-09-19T22:25:05")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", example = "2025-09-19T22:25:05")]
    pub updated_at: NaiveDateTime,
    /// From this moment (UTC) redirects answer 410. Left out when unset,
    /// so a link without expiry has exactly the contract's eight fields.
    #[serde(
        serialize_with = "optional_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", example = "2030-01-31T23:59:59")]
    pub expires_at: Option<NaiveDateTime>,
    /// After this many redirects they answer 410. Left out when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub max_redirects: Option<i64>,
}

impl From<domain::ShortUrl> for ShortUrl {
    fn from(url: domain::ShortUrl) -> Self {
        Self {
            id: url.id.get(),
            user_id: url.user_id.get(),
            short_code: url.short_code,
            original_url: url.original_url,
            title: url.title,
            is_active: url.is_active,
            created_at: url.created_at,
            updated_at: url.updated_at,
            expires_at: url.expires_at,
            max_redirects: url.max_redirects,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    #[schema(minimum = 1)]
    pub id: i64,
    pub url_id: Option<i64>,
    pub user_id: Option<i64>,
    pub event_type: String,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", example = "2025-09-19T22:25:05")]
    pub timestamp: NaiveDateTime,
    /// Always a JSON object.
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
}

impl From<domain::Event> for Event {
    fn from(event: domain::Event) -> Self {
        Self {
            id: event.id.get(),
            url_id: event.url_id,
            user_id: event.user_id,
            event_type: event.event_type,
            timestamp: event.timestamp,
            details: event.details,
        }
    }
}

/// Every error answer: a message, and per-field problems for a 400.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<std::collections::BTreeMap<String, String>>,
}
