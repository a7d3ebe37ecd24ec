//! Rows of the hackathon CSV files, already parsed, and what became of each.

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use crate::domain::{ShortCode, TargetUrl};

/// What an import did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Inserted,
    /// The id was already there; the stored row was left as it is.
    AlreadyPresent,
    /// Refused, with the reason.
    Rejected(&'static str),
}

#[derive(Debug, Clone)]
pub struct ImportedUrl {
    pub id: i64,
    pub user_id: i64,
    pub short_code: ShortCode,
    pub target: TargetUrl,
    pub title: Option<String>,
    pub is_active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct ImportedEvent {
    pub id: i64,
    pub url_id: Option<i64>,
    pub user_id: Option<i64>,
    pub event_type: String,
    pub timestamp: NaiveDateTime,
    pub details: Map<String, Value>,
}
