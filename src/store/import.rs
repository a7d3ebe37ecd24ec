//! Imports of the hackathon CSV files: rows already parsed, written in
//! chunked transactions, each row's fate reported. Explicit ids are kept;
//! an id that is already there leaves the stored row untouched. Users and
//! links here; events, which come by the million, in `event_import`.

use chrono::NaiveDateTime;

use super::{on_engine, Store, StoreResult};
use crate::domain::{Id, NewUser, ShortCode, TargetUrl};
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
                    self.known.add(row.short_code.as_str());
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
}
