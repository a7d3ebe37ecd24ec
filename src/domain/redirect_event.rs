//! A redirect waiting to be logged, and the `details` object it becomes.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::Visitor;

/// Kept small on purpose: thousands may queue at once, and its JSON
/// `details` are only built by the writer.
#[derive(Debug, Clone)]
pub struct RedirectEvent {
    pub url_id: i64,
    pub user_id: i64,
    pub timestamp: NaiveDateTime,
    pub short_code: Box<str>,
    pub referrer: Option<Box<str>>,
    /// Shared with the agent cache (`analytics`).
    pub user_agent: Option<std::sync::Arc<str>>,
    /// What the reports group by (kept beside `details`, not in it).
    pub visitor: Visitor,
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
