//! Validated inputs that create or change records, and the pure rules that
//! turn a partial update into what the store writes and which events it logs.

use chrono::NaiveDateTime;
use serde_json::{json, Map, Value};

use super::{
    format_timestamp, Email, EventType, Id, MaxRedirects, ShortCode, ShortUrl, TargetUrl, Title,
    User, Username,
};

#[derive(Debug, Clone)]
pub struct NewUser {
    /// Kept when given (imports), assigned by the store otherwise.
    pub id: Option<Id>,
    pub username: Username,
    pub email: Email,
    pub created_at: NaiveDateTime,
}

/// A partial update; `None` leaves the field as it is. Never empty: the API
/// refuses a PUT that names no field.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<Username>,
    pub email: Option<Email>,
}

/// The full row an effective user update writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserUpdate {
    pub username: String,
    pub email: String,
    pub email_key: String,
    /// A changed username gives up any shared (imported duplicate) status.
    pub username_changed: bool,
}

impl UserPatch {
    /// What the update writes, or `None` when it changes nothing.
    pub fn apply(&self, current: &User) -> Option<UserUpdate> {
        let username_changed = self
            .username
            .as_ref()
            .is_some_and(|u| u.as_str() != current.username);
        let email_changed = self
            .email
            .as_ref()
            .is_some_and(|e| e.as_str() != current.email);
        if !username_changed && !email_changed {
            return None;
        }
        let username = match &self.username {
            Some(u) => u.as_str().to_owned(),
            None => current.username.clone(),
        };
        let (email, email_key) = match &self.email {
            Some(e) => (e.as_str().to_owned(), e.key()),
            None => (current.email.clone(), current.email.to_lowercase()),
        };
        Some(UserUpdate {
            username,
            email,
            email_key,
            username_changed,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewShortUrl {
    pub user_id: Id,
    pub target: TargetUrl,
    pub title: Option<Title>,
    /// A custom alias; a random code is generated when absent.
    pub alias: Option<ShortCode>,
    pub expires_at: Option<NaiveDateTime>,
    pub max_redirects: Option<MaxRedirects>,
}

/// A partial update; for the nullable fields, `Some(None)` clears them.
#[derive(Debug, Clone, Default)]
pub struct UrlPatch {
    pub title: Option<Option<Title>>,
    pub is_active: Option<bool>,
    pub target: Option<TargetUrl>,
    pub expires_at: Option<Option<NaiveDateTime>>,
    pub max_redirects: Option<Option<MaxRedirects>>,
}

/// The fields an effective link update writes, and one `updated` event
/// detail (`{"field", "new_value"}`) per field that really changed.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlUpdate {
    pub title: Option<String>,
    pub is_active: bool,
    pub original_url: String,
    pub expires_at: Option<NaiveDateTime>,
    pub max_redirects: Option<i64>,
    pub changes: Vec<Map<String, Value>>,
}

impl UrlPatch {
    /// What the update writes, or `None` when no field changes.
    pub fn apply(&self, current: &ShortUrl) -> Option<UrlUpdate> {
        let mut next = UrlUpdate {
            title: current.title.clone(),
            is_active: current.is_active,
            original_url: current.original_url.clone(),
            expires_at: current.expires_at,
            max_redirects: current.max_redirects,
            changes: Vec::new(),
        };
        if let Some(title) = &self.title {
            let title = title.as_ref().map(|t| t.as_str().to_owned());
            if title != current.title {
                next.changes.push(field_change("title", json!(title)));
                next.title = title;
            }
        }
        if let Some(active) = self.is_active.filter(|a| *a != current.is_active) {
            next.changes.push(field_change("is_active", json!(active)));
            next.is_active = active;
        }
        if let Some(target) = &self.target {
            if target.as_str() != current.original_url {
                next.changes
                    .push(field_change("original_url", json!(target.as_str())));
                next.original_url = target.as_str().to_owned();
            }
        }
        if let Some(expires_at) = self.expires_at.filter(|e| *e != current.expires_at) {
            let sent = expires_at.map(|at| format_timestamp(&at).to_string());
            next.changes.push(field_change("expires_at", json!(sent)));
            next.expires_at = expires_at;
        }
        let max_redirects = self.max_redirects.map(|m| m.map(MaxRedirects::get));
        if let Some(max) = max_redirects.filter(|m| *m != current.max_redirects) {
            next.changes.push(field_change("max_redirects", json!(max)));
            next.max_redirects = max;
        }
        (!next.changes.is_empty()).then_some(next)
    }
}

fn field_change(field: &str, new_value: Value) -> Map<String, Value> {
    object(json!({"field": field, "new_value": new_value}))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// An event to append to the log.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub url_id: Option<Id>,
    pub user_id: Option<Id>,
    pub event_type: EventType,
    pub timestamp: NaiveDateTime,
    pub details: Map<String, Value>,
}

/// Why a link was deleted, as its `deleted` event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    UserRequested,
    UserDeleted,
}

impl NewEvent {
    fn system(url: &ShortUrl, kind: &'static str, details: Map<String, Value>) -> Self {
        Self {
            url_id: Some(url.id),
            user_id: Some(url.user_id),
            event_type: EventType::system(kind),
            timestamp: super::now_utc(),
            details,
        }
    }

    /// The `created` event of a new link.
    pub fn created(url: &ShortUrl) -> Self {
        let details = Self::created_details(&url.short_code, &url.original_url);
        Self::system(url, EventType::CREATED, details)
    }

    /// The details of a `created` event, for a writer that knows the code
    /// and target before the link has an id.
    pub fn created_details(short_code: &str, original_url: &str) -> Map<String, Value> {
        object(json!({
            "short_code": short_code,
            "original_url": original_url,
        }))
    }

    /// One `updated` event per changed field of an update.
    pub fn updated(url: &ShortUrl, update: UrlUpdate) -> Vec<Self> {
        update
            .changes
            .into_iter()
            .map(|change| Self::system(url, EventType::UPDATED, change))
            .collect()
    }

    /// The `deleted` event of a removed link.
    pub fn deleted(url: &ShortUrl, reason: DeleteReason) -> Self {
        let reason = match reason {
            DeleteReason::UserRequested => "user_requested",
            DeleteReason::UserDeleted => "user_deleted",
        };
        Self::system(url, EventType::DELETED, object(json!({"reason": reason})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{now_utc, TargetPolicy};

    fn link() -> ShortUrl {
        ShortUrl {
            id: Id::new(3).unwrap(),
            user_id: Id::new(1).unwrap(),
            short_code: "abc123".into(),
            original_url: "https://example.com/".into(),
            title: Some("Old".into()),
            is_active: true,
            created_at: now_utc(),
            updated_at: now_utc(),
            expires_at: None,
            max_redirects: Some(5),
        }
    }

    fn target(raw: &str) -> TargetUrl {
        TargetUrl::parse(raw, TargetPolicy::default()).unwrap()
    }

    #[test]
    fn a_link_update_lists_only_the_fields_that_change_with_their_sent_values() {
        let patch = UrlPatch {
            title: Some(Some(Title::parse("Old").unwrap())),
            is_active: Some(false),
            target: Some(target("https://example.org/x")),
            ..UrlPatch::default()
        };
        let update = patch.apply(&link()).unwrap();
        assert_eq!(update.title.as_deref(), Some("Old"));
        assert!(!update.is_active);
        assert_eq!(update.original_url, "https://example.org/x");
        let fields: Vec<_> = update.changes.iter().map(|c| c["field"].clone()).collect();
        assert_eq!(fields, [json!("is_active"), json!("original_url")]);
        assert_eq!(update.changes[0]["new_value"], json!(false));
    }

    #[test]
    fn a_link_update_that_changes_nothing_is_none_and_null_clears_a_title() {
        let same = UrlPatch {
            is_active: Some(true),
            target: Some(target("https://example.com/")),
            ..UrlPatch::default()
        };
        assert_eq!(same.apply(&link()), None);
        let clear = UrlPatch {
            title: Some(None),
            ..UrlPatch::default()
        };
        let update = clear.apply(&link()).unwrap();
        assert_eq!(update.title, None);
        assert_eq!(update.changes[0]["new_value"], Value::Null);
    }

    #[test]
    fn expiry_changes_are_logged_in_the_wire_format_and_null_lifts_them() {
        let at = crate::domain::parse_expiry("2030-01-31T23:59:59").unwrap();
        let patch = UrlPatch {
            expires_at: Some(Some(at)),
            max_redirects: Some(None),
            ..UrlPatch::default()
        };
        let update = patch.apply(&link()).unwrap();
        assert_eq!(update.expires_at, Some(at));
        assert_eq!(update.max_redirects, None);
        assert_eq!(update.changes[0]["new_value"], json!("2030-01-31T23:59:59"));
        assert_eq!(
            update.changes[1],
            field_change("max_redirects", Value::Null)
        );
        let same = UrlPatch {
            max_redirects: Some(Some(MaxRedirects::parse(5).unwrap())),
            ..UrlPatch::default()
        };
        assert_eq!(same.apply(&link()), None);
    }

    #[test]
    fn a_user_update_keeps_unsent_fields_and_keys_email_case_insensitively() {
        let current = User {
            id: Id::new(1).unwrap(),
            username: "ada".into(),
            email: "Ada@Example.com".into(),
            created_at: now_utc(),
        };
        let rename = UserPatch {
            username: Some(Username::parse("lovelace").unwrap()),
            email: None,
        };
        let update = rename.apply(&current).unwrap();
        assert_eq!(update.email, "Ada@Example.com");
        assert_eq!(update.email_key, "ada@example.com");
        assert!(update.username_changed);
        let same = UserPatch {
            username: Some(Username::parse("ada").unwrap()),
            email: Some(Email::parse("Ada@Example.com").unwrap()),
        };
        assert_eq!(same.apply(&current), None);
    }

    #[test]
    fn system_events_carry_the_contracts_details() {
        let url = link();
        assert_eq!(
            NewEvent::created(&url).details,
            object(json!({"short_code": "abc123", "original_url": "https://example.com/"}))
        );
        let deleted = NewEvent::deleted(&url, DeleteReason::UserDeleted);
        assert_eq!(deleted.event_type.as_str(), "deleted");
        assert_eq!(deleted.details["reason"], json!("user_deleted"));
    }
}
