//! Imports of the hackathon CSV files: rows already parsed, written in
//! chunked transactions, each row's fate reported. Explicit ids are kept;
//! an id that is already there leaves the stored row untouched.

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use std::collections::HashSet;

use super::copy_text::CopyText;
use super::{on_engine, Engine, Store, StoreResult};
use crate::domain::{format_spaced_timestamp, Id, NewUser, ShortCode, TargetUrl};
use crate::telemetry::{stage_timer, Stage};

/// Rows per import transaction.
const IMPORT_CHUNK: usize = 500;

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
    pub id: Id,
    pub user_id: Id,
    pub short_code: ShortCode,
    pub target: TargetUrl,
    pub title: Option<String>,
    pub is_active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct ImportedEvent {
    pub id: Id,
    pub url_id: Option<i64>,
    pub user_id: Option<i64>,
    pub event_type: String,
    pub timestamp: NaiveDateTime,
    pub details: Map<String, Value>,
}

/// Rows per PostgreSQL bulk-import transaction.
const BULK_CHUNK: usize = 100_000;
/// Serialises event imports: the id check and the COPY must not interleave.
const EVENT_IMPORT_LOCK: i64 = 0x6b75_727a_0101;
const COPY_EVENTS: &str =
    "COPY events (id, url_id, user_id, event_type, timestamp, details) FROM STDIN";

/// Imported events as COPY text for `COPY_EVENTS`.
fn events_copy_text(rows: &[&ImportedEvent]) -> Vec<u8> {
    let mut copy = CopyText::with_capacity(rows.len() * 128);
    for row in rows {
        copy.int(row.id.get())
            .int_opt(row.url_id)
            .int_opt(row.user_id)
            .text(row.event_type.as_bytes())
            .plain(format_spaced_timestamp(&row.timestamp))
            .json(&row.details);
        copy.end_row();
    }
    copy.into_bytes()
}

/// Inserts an imported user; `$4` marks a username that an earlier user
/// already has, which only imports may create.
const INSERT_USER: &str =
    "INSERT INTO users (username, email, email_key, username_shared, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id";
/// The same, keeping the row's own id (`$6`).
const INSERT_USER_WITH_ID: &str =
    "INSERT INTO users (username, email, email_key, username_shared, created_at, id) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id";

impl Store {
    /// One row at a time (ON CONFLICT DO NOTHING never aborts the
    /// transaction), a miss then explained by looking: same id (accepted
    /// untouched), same email (rejected), or only a shared username, which
    /// seed data may hold and is inserted as shared.
    #[tracing::instrument(name = "store.import_users", level = "debug", skip_all)]
    pub async fn import_users(&self, rows: &[NewUser]) -> StoreResult<Vec<ImportOutcome>> {
        let _db = stage_timer(Stage::Db);
        let mut outcomes = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(IMPORT_CHUNK) {
            on_engine!(self, |db| {
                let mut tx = db.begin_write().await?;
                for row in chunk {
                    let mut outcome = ImportOutcome::Rejected("conflicts with an existing user");
                    for shared in [false, true] {
                        let sql = if row.id.is_some() {
                            INSERT_USER_WITH_ID
                        } else {
                            INSERT_USER
                        };
                        let insert = sqlx::query_scalar(sql)
                            .bind(row.username.as_str())
                            .bind(row.email.as_str())
                            .bind(row.email.key())
                            .bind(shared)
                            .bind(row.created_at);
                        let insert = match row.id {
                            Some(id) => insert.bind(id.get()),
                            None => insert,
                        };
                        let inserted: Option<i64> = insert.fetch_optional(&mut *tx).await?;
                        if inserted.is_some() {
                            outcome = ImportOutcome::Inserted;
                            break;
                        }
                        if shared {
                            break;
                        }
                        if let Some(id) = row.id {
                            let same_id: Option<i64> =
                                sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                                    .bind(id.get())
                                    .fetch_optional(&mut *tx)
                                    .await?;
                            if same_id.is_some() {
                                outcome = ImportOutcome::AlreadyPresent;
                                break;
                            }
                        }
                        let email_taken: Option<i64> =
                            sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1")
                                .bind(row.email.key())
                                .fetch_optional(&mut *tx)
                                .await?;
                        if email_taken.is_some() {
                            outcome = ImportOutcome::Rejected("email already taken");
                            break;
                        }
                    }
                    outcomes.push(outcome);
                }
                tx.commit().await?;
            });
        }
        self.sync_id_sequences().await?;
        Ok(outcomes)
    }

    #[tracing::instrument(name = "store.import_urls", level = "debug", skip_all)]
    pub async fn import_urls(&self, rows: &[ImportedUrl]) -> StoreResult<Vec<ImportOutcome>> {
        let _db = stage_timer(Stage::Db);
        let mut outcomes = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(IMPORT_CHUNK) {
            on_engine!(self, |db| {
                let mut tx = db.begin_write().await?;
                for row in chunk {
                    let present: Option<i64> =
                        sqlx::query_scalar("SELECT id FROM urls WHERE id = $1")
                            .bind(row.id.get())
                            .fetch_optional(&mut *tx)
                            .await?;
                    if present.is_some() {
                        outcomes.push(ImportOutcome::AlreadyPresent);
                        continue;
                    }
                    let owner: Option<i64> =
                        sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                            .bind(row.user_id.get())
                            .fetch_optional(&mut *tx)
                            .await?;
                    if owner.is_none() {
                        outcomes.push(ImportOutcome::Rejected("user_id does not exist"));
                        continue;
                    }
                    let claimed: Option<String> = sqlx::query_scalar(
                        "INSERT INTO short_codes (code) VALUES ($1) ON CONFLICT DO NOTHING RETURNING code",
                    )
                    .bind(row.short_code.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if claimed.is_none() {
                        outcomes.push(ImportOutcome::Rejected("short_code already taken"));
                        continue;
                    }
                    let inserted: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO urls (id, user_id, short_code, original_url, title, is_active, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
                    )
                    .bind(row.id.get())
                    .bind(row.user_id.get())
                    .bind(row.short_code.as_str())
                    .bind(row.target.as_str())
                    .bind(&row.title)
                    .bind(row.is_active)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .fetch_optional(&mut *tx)
                    .await?;
                    outcomes.push(match inserted {
                        Some(_) => ImportOutcome::Inserted,
                        None => ImportOutcome::Rejected("conflicts with an existing url"),
                    });
                }
                tx.commit().await?;
            });
        }
        self.sync_id_sequences().await?;
        Ok(outcomes)
    }

    /// Events keep their ids; an id already stored (whatever its
    /// timestamp) leaves the stored event as it is. On PostgreSQL the new
    /// rows go in by COPY straight into the partitioned table, `BULK_CHUNK`
    /// at a time, after one look at which of the chunk's ids are stored.
    #[tracing::instrument(name = "store.import_events", level = "debug", skip_all)]
    pub async fn import_events(&self, rows: &[ImportedEvent]) -> StoreResult<Vec<ImportOutcome>> {
        let _db = stage_timer(Stage::Db);
        let mut outcomes = Vec::with_capacity(rows.len());
        if let Engine::Postgres(db) = &self.engine {
            for chunk in rows.chunks(BULK_CHUNK) {
                let mut tx = db.begin_write().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(EVENT_IMPORT_LOCK)
                    .execute(&mut *tx)
                    .await?;
                // The ids already stored in this chunk's id range (one range
                // scan per partition), then the first row of each new id.
                let low = chunk.iter().map(|r| r.id.get()).min().unwrap_or(0);
                let high = chunk.iter().map(|r| r.id.get()).max().unwrap_or(0);
                let present: Vec<i64> =
                    sqlx::query_scalar("SELECT id FROM events WHERE id BETWEEN $1 AND $2")
                        .bind(low)
                        .bind(high)
                        .fetch_all(&mut *tx)
                        .await?;
                let mut taken: HashSet<i64> = present.into_iter().collect();
                let mut fresh = Vec::with_capacity(chunk.len());
                for row in chunk {
                    if taken.insert(row.id.get()) {
                        outcomes.push(ImportOutcome::Inserted);
                        fresh.push(row);
                    } else {
                        outcomes.push(ImportOutcome::AlreadyPresent);
                    }
                }
                if !fresh.is_empty() {
                    let mut copy = tx.copy_in_raw(COPY_EVENTS).await?;
                    copy.send(events_copy_text(&fresh)).await?;
                    copy.finish().await?;
                }
                tx.commit().await?;
            }
            self.sync_id_sequences().await?;
            return Ok(outcomes);
        }
        for chunk in rows.chunks(IMPORT_CHUNK) {
            on_engine!(self, |db| {
                let mut tx = db.begin_write().await?;
                for row in chunk {
                    let inserted: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO events (id, url_id, user_id, event_type, timestamp, details) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
                    )
                    .bind(row.id.get())
                    .bind(row.url_id)
                    .bind(row.user_id)
                    .bind(&row.event_type)
                    .bind(row.timestamp)
                    .bind(sqlx::types::Json(&row.details))
                    .fetch_optional(&mut *tx)
                    .await?;
                    outcomes.push(match inserted {
                        Some(_) => ImportOutcome::Inserted,
                        None => ImportOutcome::AlreadyPresent,
                    });
                }
                tx.commit().await?;
            });
        }
        self.sync_id_sequences().await?;
        Ok(outcomes)
    }
}
