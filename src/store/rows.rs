//! Rows as the database returns them, and their conversion into domain
//! records. The column lists live here beside the types that read them.

use chrono::NaiveDateTime;
use serde_json::Value;

use super::{StoreError, StoreResult};
use crate::domain::{Event, Id, Link, ShortUrl, User};

pub(crate) const USER_COLUMNS: &str = "id, username, email, created_at";
pub(crate) const URL_COLUMNS: &str =
    "id, user_id, short_code, original_url, title, is_active, created_at, updated_at, \
     expires_at, max_redirects";
pub(crate) const EVENT_COLUMNS: &str = "id, url_id, user_id, event_type, timestamp, details";
pub(crate) const LINK_COLUMNS: &str =
    "id AS url_id, user_id, original_url, is_active, expires_at, max_redirects";

/// A stored id; ids are assigned by the database or checked on import, so a
/// non-positive one means the data was changed behind kurz's back.
fn id(raw: i64) -> StoreResult<Id> {
    Id::new(raw).ok_or(StoreError::Corrupt("a stored id is not positive"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    email: String,
    created_at: NaiveDateTime,
}

impl UserRow {
    pub(crate) fn into_user(self) -> StoreResult<User> {
        Ok(User {
            id: id(self.id)?,
            username: self.username,
            email: self.email,
            created_at: self.created_at,
        })
    }
}

/// Read by position in `URL_COLUMNS` order (every query that reads it
/// selects exactly `URL_COLUMNS`), without sqlx's per-value type-name
/// check (the schema fixes the types; a value that does not decode is still
/// an error): looking columns up by name and comparing type names was a
/// seventh of the CPU of streaming a long list.
pub(crate) struct UrlRow {
    id: i64,
    user_id: i64,
    short_code: String,
    original_url: String,
    title: Option<String>,
    is_active: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    max_redirects: Option<i64>,
}

impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for UrlRow
where
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    NaiveDateTime: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get_unchecked(0)?,
            user_id: row.try_get_unchecked(1)?,
            short_code: row.try_get_unchecked(2)?,
            original_url: row.try_get_unchecked(3)?,
            title: row.try_get_unchecked(4)?,
            is_active: row.try_get_unchecked(5)?,
            created_at: row.try_get_unchecked(6)?,
            updated_at: row.try_get_unchecked(7)?,
            expires_at: row.try_get_unchecked(8)?,
            max_redirects: row.try_get_unchecked(9)?,
        })
    }
}

impl UrlRow {
    pub(crate) fn into_url(self) -> StoreResult<ShortUrl> {
        Ok(ShortUrl {
            id: id(self.id)?,
            user_id: id(self.user_id)?,
            short_code: self.short_code,
            original_url: self.original_url,
            title: self.title,
            is_active: self.is_active,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            max_redirects: self.max_redirects,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    id: i64,
    url_id: Option<i64>,
    user_id: Option<i64>,
    event_type: String,
    timestamp: NaiveDateTime,
    #[sqlx(json)]
    details: Value,
}

impl EventRow {
    pub(crate) fn into_event(self) -> StoreResult<Event> {
        Ok(Event {
            id: id(self.id)?,
            url_id: self.url_id,
            user_id: self.user_id,
            event_type: self.event_type,
            timestamp: self.timestamp,
            details: match self.details {
                Value::Object(map) => map,
                _ => serde_json::Map::new(),
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LinkRow {
    url_id: i64,
    user_id: i64,
    original_url: String,
    is_active: bool,
    expires_at: Option<NaiveDateTime>,
    max_redirects: Option<i64>,
}

impl From<LinkRow> for Link {
    fn from(row: LinkRow) -> Self {
        Self {
            url_id: row.url_id,
            user_id: row.user_id,
            original_url: row.original_url.into(),
            is_active: row.is_active,
            expires_at: row.expires_at,
            max_redirects: row.max_redirects,
        }
    }
}

pub(crate) const KEY_COLUMNS: &str = "id, user_id, prefix, created_at, last_used_at";

#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    id: i64,
    user_id: i64,
    prefix: String,
    created_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
}

impl KeyRow {
    pub(crate) fn into_key(self) -> StoreResult<crate::domain::ApiKey> {
        Ok(crate::domain::ApiKey {
            id: id(self.id)?,
            user_id: id(self.user_id)?,
            prefix: self.prefix,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialRow {
    id: i64,
    user_id: i64,
    secret_hash: String,
}

impl CredentialRow {
    pub(crate) fn into_credential(self) -> StoreResult<crate::domain::KeyCredential> {
        Ok(crate::domain::KeyCredential {
            key_id: id(self.id)?,
            user_id: id(self.user_id)?,
            secret_hash: self.secret_hash,
        })
    }
}
