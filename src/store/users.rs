//! Users: create, read, list, update, delete (with their links).

use futures_util::TryStreamExt as _;

use super::events::batch_json;
use super::rows::{UrlRow, UserRow, URL_COLUMNS, USER_COLUMNS};
use super::{on_engine, ConflictField, Page, RowStream, Store, StoreError, StoreResult};
use crate::domain::{DeleteReason, Id, NewEvent, NewUser, ShortUrl, User, UserPatch};
use crate::telemetry::{stage_timer, Stage};

/// How often a POST retries after an id conflict. Such a conflict can only
/// come from an import that has not yet moved the sequence; the next value
/// is then free.
const ID_CONFLICT_RETRIES: usize = 3;

impl Store {
    #[tracing::instrument(name = "store.create_user", level = "debug", skip_all)]
    pub async fn create_user(&self, new: &NewUser) -> StoreResult<User> {
        let _db = stage_timer(Stage::Db);
        let sql = format!(
            "INSERT INTO users (username, email, email_key, username_shared, created_at) \
             VALUES ($1, $2, $3, FALSE, $4) RETURNING {USER_COLUMNS}"
        );
        let mut attempts = 0;
        loop {
            let created = on_engine!(self, |db| {
                sqlx::query_as::<_, UserRow>(&sql)
                    .bind(new.username.as_str())
                    .bind(new.email.as_str())
                    .bind(new.email.key())
                    .bind(new.created_at)
                    .fetch_one(&mut *db.acquire_write().await?)
                    .await
                    .map_err(StoreError::from)
            });
            match created {
                Err(StoreError::Conflict(ConflictField::Id)) if attempts < ID_CONFLICT_RETRIES => {
                    attempts += 1
                }
                other => return other?.into_user(),
            }
        }
    }

    #[tracing::instrument(name = "store.get_user", level = "debug", skip_all)]
    pub async fn get_user(&self, id: Id) -> StoreResult<User> {
        let _db = stage_timer(Stage::Db);
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = on_engine!(self, |db| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(id.get())
                .fetch_optional(&mut *db.acquire_statement().await?)
                .await?
        });
        row.ok_or(StoreError::NotFound("user"))?.into_user()
    }

    pub fn list_users(&self, page: Page) -> RowStream<User> {
        let (limit, offset, after) = page.bounds();
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2 OFFSET $3"
        );
        on_engine!(self, |db| {
            let statements = db.statements.clone();
            let turns = self.list_turns.clone();
            Box::pin(async_stream::try_stream! {
                let _turn = turns.wait().await?;
                let mut conn = statements.acquire().await?;
                let mut rows = sqlx::query_as::<_, UserRow>(&sql)
                    .bind(after)
                    .bind(limit)
                    .bind(offset)
                    .fetch(&mut *conn);
                while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                    yield row.into_user()?;
                }
            })
        })
    }

    /// Locks the user and writes what the patch changes (`UserPatch::apply`);
    /// a patch that changes nothing leaves the row as it is.
    #[tracing::instrument(name = "store.update_user", level = "debug", skip_all)]
    pub async fn update_user(&self, id: Id, patch: &UserPatch) -> StoreResult<User> {
        let _db = stage_timer(Stage::Db);
        let update_sql = format!(
            "UPDATE users SET username = $1, email = $2, email_key = $3, \
             username_shared = (username_shared AND NOT $4) WHERE id = $5 RETURNING {USER_COLUMNS}"
        );
        on_engine!(self, |db| {
            let mut tx = db.begin_write().await?;
            let current = sqlx::query_as::<_, UserRow>(
                &db.locked(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")),
            )
            .bind(id.get())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("user"))?
            .into_user()?;
            let Some(update) = patch.apply(&current) else {
                return Ok(current);
            };
            let updated = sqlx::query_as::<_, UserRow>(&update_sql)
                .bind(update.username)
                .bind(update.email)
                .bind(update.email_key)
                .bind(update.username_changed)
                .bind(id.get())
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            updated.into_user()
        })
    }

    /// Deletes the user and every link they own, writing a `deleted` event
    /// per link, in one transaction. Returns the links that were removed.
    #[tracing::instrument(name = "store.delete_user", level = "debug", skip_all)]
    pub async fn delete_user(&self, id: Id) -> StoreResult<Vec<ShortUrl>> {
        let _db = stage_timer(Stage::Db);
        let remove_links = format!("DELETE FROM urls WHERE user_id = $1 RETURNING {URL_COLUMNS}");
        on_engine!(self, |db| {
            let mut tx = db.begin_write().await?;
            sqlx::query_as::<_, UserRow>(
                &db.locked(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")),
            )
            .bind(id.get())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
            let removed = sqlx::query_as::<_, UrlRow>(&remove_links)
                .bind(id.get())
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(UrlRow::into_url)
                .collect::<StoreResult<Vec<_>>>()?;
            if !removed.is_empty() {
                let events: Vec<NewEvent> = removed
                    .iter()
                    .map(|url| NewEvent::deleted(url, DeleteReason::UserDeleted))
                    .collect();
                sqlx::query(db.insert_event_batch())
                    .bind(batch_json(&events))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id.get())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(removed)
        })
    }
}
