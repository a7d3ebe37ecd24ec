//! Short links: create (claiming the code for good), read, list, update,
//! delete, and the redirect look-up.

use futures_util::TryStreamExt as _;

use super::events::batch_json;
use sqlx::{FromRow as _, Postgres, Row as _};

use super::code_watch;
use super::engine::Db;
use super::rows::{LinkRow, UrlRow, LINK_COLUMNS, URL_COLUMNS};
use super::sqlite_creates;
use super::{
    on_engine, ConflictField, Engine, Page, RowStream, Store, StoreError, StoreResult, UrlFilter,
};
use crate::domain::{
    now_utc, CodeSource, DeleteReason, Id, Link, MaxRedirects, NewEvent, NewShortUrl, ShortCode,
    ShortUrl, UrlPatch,
};
use crate::telemetry::{stage_timer, Stage};

/// Attempts at a fresh random code before giving up with a 409 (62^6
/// codes: a second attempt is already rare).
pub const CODE_ATTEMPTS: usize = 16;

/// `create_url` on PostgreSQL as one statement (see
/// `create_url_in_one_statement`): the new link's `URL_COLUMNS`, all NULL
/// when nothing was inserted, then whether the owner exists.
static CREATE_URL_PG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH owner AS (SELECT id FROM users WHERE id = $1), \
         claimed AS (INSERT INTO short_codes (code) SELECT $2 FROM owner \
             ON CONFLICT DO NOTHING RETURNING code), \
         url AS (INSERT INTO urls (user_id, short_code, original_url, title, is_active, \
             created_at, updated_at, expires_at, max_redirects) \
             SELECT $1, code, $3, $4, TRUE, $5, $5, $6, $7 FROM claimed RETURNING {URL_COLUMNS}), \
         created AS (INSERT INTO events (url_id, user_id, event_type, timestamp, details) \
             SELECT id, user_id, 'created', created_at, $8 FROM url) \
         SELECT {URL_COLUMNS}, EXISTS (SELECT 1 FROM owner), \
             set_config('kurz.codes_announced', 'on', true) \
         FROM (VALUES (1)) AS one LEFT JOIN url ON TRUE"
    )
});

/// A code about to be stored, announced on the channel of the filter of
/// stored codes (store/code_watch.rs) in a transaction of its own. It
/// writes nothing worth waiting for, so its commit does not wait for the
/// WAL flush and holds NOTIFY's lock only briefly (migration 0008).
const ANNOUNCE_CODE: &str =
    "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)";

/// Sends `code` to every process's filter of stored codes (`ANNOUNCE_CODE`).
async fn announce_code(conn: &mut sqlx::PgConnection, code: &str) -> StoreResult<()> {
    sqlx::query(ANNOUNCE_CODE)
        .bind(code_watch::CHANNEL)
        .bind(code)
        .execute(conn)
        .await?;
    Ok(())
}

/// How many codes `new` may try: its alias once, or fresh codes until one
/// is free.
pub(super) fn code_attempts(new: &NewShortUrl) -> usize {
    if new.alias.is_some() {
        1
    } else {
        CODE_ATTEMPTS
    }
}

/// One more taken code, when the code was generated (a taken alias is
/// the client's conflict, not a collision).
pub(super) fn count_collision(new: &NewShortUrl) {
    if new.alias.is_none() {
        metrics::counter!("kurz_short_code_collisions_total").increment(1);
    }
}

/// The code to try next for `new`: its alias, or a fresh one.
pub(super) fn candidate_code(codes: &CodeSource, new: &NewShortUrl) -> ShortCode {
    match &new.alias {
        Some(alias) => alias.clone(),
        None => codes.next_code(),
    }
}

/// The position of the owner check in `CREATE_URL_PG`'s row.
const OWNER_FOUND: usize = 10;

/// The outcome of an update: the row as it is now, and whether any field
/// changed (no change means no event and no cache invalidation).
#[derive(Debug, Clone)]
pub struct UrlChange {
    pub url: ShortUrl,
    pub changed: bool,
}

impl Store {
    /// Creates the link, registers its code for good and writes its
    /// `created` event: all or nothing, on either engine.
    #[tracing::instrument(name = "store.create_url", level = "debug", skip_all)]
    pub async fn create_url(&self, new: &NewShortUrl) -> StoreResult<ShortUrl> {
        let _db = stage_timer(Stage::Db);
        match &self.engine {
            Engine::Postgres(db) => self.create_url_in_one_statement(db, new).await,
            Engine::Sqlite(db) => {
                let writer = sqlite_creates::Writer {
                    db: db.clone(),
                    codes: self.codes.clone(),
                    known: self.known.clone(),
                };
                self.create_groups.create(writer, new).await
            }
        }
    }

    /// PostgreSQL: the owner check, the code's claim, the link and its
    /// `created` event in one statement, committed on its own, between two
    /// announcements of the code: three round trips where the transaction
    /// took six, and no NOTIFY lock held through the commit's flush
    /// (docs/performance.md, "A new link in one statement, its code
    /// announced around it"). A collision inserts nothing and the next code
    /// is tried, as in the transaction.
    async fn create_url_in_one_statement(
        &self,
        db: &Db<Postgres>,
        new: &NewShortUrl,
    ) -> StoreResult<ShortUrl> {
        // No transaction: a connection that skips sqlx's release ping
        // (store/statement_pool.rs).
        let mut conn = db.acquire_statement().await?;
        for _ in 0..code_attempts(new) {
            let code = candidate_code(&self.codes, new);
            let details = NewEvent::created_details(code.as_str(), new.target.as_str());
            // Known here and announced to every other process before the
            // insert, so no redirect anywhere can be told it is absent (an
            // insert that fails leaves a code the filters hold in vain,
            // which only sends its look-ups to the store).
            self.known.add(code.as_str());
            announce_code(&mut conn, code.as_str()).await?;
            let row = sqlx::query(&CREATE_URL_PG)
                .bind(new.user_id.get())
                .bind(code.as_str())
                .bind(new.target.as_str())
                .bind(new.title.as_ref().map(|t| t.as_str()))
                .bind(now_utc())
                .bind(new.expires_at)
                .bind(new.max_redirects.map(MaxRedirects::get))
                .bind(sqlx::types::Json(details))
                .fetch_one(&mut *conn)
                .await?;
            if !row.try_get::<bool, _>(OWNER_FOUND)? {
                return Err(StoreError::NotFound("user"));
            }
            if row.try_get::<Option<i64>, _>(0)?.is_some() {
                let url = UrlRow::from_row(&row)?.into_url()?;
                // And again once stored, for a process that started to
                // listen after the first announcement and scanned the table
                // before the commit. The link is stored either way: a
                // failure here is logged, not answered (a client would
                // retry and store a second link).
                if let Err(error) = announce_code(&mut conn, code.as_str()).await {
                    tracing::warn!(%error, code = code.as_str(), "a stored code was announced only before its commit");
                }
                return Ok(url);
            }
            count_collision(new);
        }
        Err(StoreError::Conflict(ConflictField::ShortCode))
    }

    #[tracing::instrument(name = "store.get_url", level = "debug", skip_all)]
    pub async fn get_url(&self, id: Id) -> StoreResult<ShortUrl> {
        let _db = stage_timer(Stage::Db);
        let sql = format!("SELECT {URL_COLUMNS} FROM urls WHERE id = $1");
        let row = on_engine!(self, |db| {
            sqlx::query_as::<_, UrlRow>(&sql)
                .bind(id.get())
                .fetch_optional(&mut *db.acquire_statement().await?)
                .await?
        });
        row.ok_or(StoreError::NotFound("url"))?.into_url()
    }

    pub fn list_urls(&self, filter: UrlFilter, page: Page) -> RowStream<ShortUrl> {
        let (limit, offset, after) = page.bounds();
        on_engine!(self, |db| {
            let statements = db.statements.clone();
            let turns = self.list_turns.clone();
            let mut query = db.builder(format!("SELECT {URL_COLUMNS} FROM urls WHERE id > "));
            query.push_bind(after);
            if let Some(user_id) = filter.user_id {
                query.push(" AND user_id = ").push_bind(user_id);
            }
            if let Some(active) = filter.is_active {
                query.push(" AND is_active = ").push_bind(active);
            }
            // By the filtered column first (see `events::order_by_filtered_index`).
            query
                .push(match (filter.user_id, filter.is_active) {
                    (Some(_), _) => " ORDER BY user_id, id LIMIT ",
                    (None, Some(_)) => " ORDER BY is_active, id LIMIT ",
                    (None, None) => " ORDER BY id LIMIT ",
                })
                .push_bind(limit)
                .push(" OFFSET ")
                .push_bind(offset);
            Box::pin(async_stream::try_stream! {
                let _turn = turns.wait().await?;
                let mut conn = statements.acquire().await?;
                let mut rows = query.build_query_as::<UrlRow>().fetch(&mut *conn);
                while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                    yield row.into_url()?;
                }
            })
        })
    }

    /// Locks the link, writes what the patch changes (`UrlPatch::apply`)
    /// and one `updated` event per changed field, in one transaction.
    #[tracing::instrument(name = "store.update_url", level = "debug", skip_all)]
    pub async fn update_url(&self, id: Id, patch: &UrlPatch) -> StoreResult<UrlChange> {
        let _db = stage_timer(Stage::Db);
        let update_sql = format!(
            "UPDATE urls SET title = $1, is_active = $2, original_url = $3, updated_at = $4, \
             expires_at = $5, max_redirects = $6 WHERE id = $7 RETURNING {URL_COLUMNS}"
        );
        on_engine!(self, |db| {
            let mut tx = db.begin_write().await?;
            let current = sqlx::query_as::<_, UrlRow>(
                &db.locked(&format!("SELECT {URL_COLUMNS} FROM urls WHERE id = $1")),
            )
            .bind(id.get())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("url"))?
            .into_url()?;
            let Some(update) = patch.apply(&current) else {
                return Ok(UrlChange {
                    url: current,
                    changed: false,
                });
            };
            let url = sqlx::query_as::<_, UrlRow>(&update_sql)
                .bind(&update.title)
                .bind(update.is_active)
                .bind(&update.original_url)
                .bind(now_utc())
                .bind(update.expires_at)
                .bind(update.max_redirects)
                .bind(id.get())
                .fetch_one(&mut *tx)
                .await?
                .into_url()?;
            sqlx::query(db.insert_event_batch())
                .bind(batch_json(&NewEvent::updated(&url, update)))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(UrlChange { url, changed: true })
        })
    }

    /// Deletes the link and writes its `deleted` event; the code stays retired.
    #[tracing::instrument(name = "store.delete_url", level = "debug", skip_all)]
    pub async fn delete_url(&self, id: Id) -> StoreResult<ShortUrl> {
        let _db = stage_timer(Stage::Db);
        let sql = format!("DELETE FROM urls WHERE id = $1 RETURNING {URL_COLUMNS}");
        on_engine!(self, |db| {
            let mut tx = db.begin_write().await?;
            let url = sqlx::query_as::<_, UrlRow>(&sql)
                .bind(id.get())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("url"))?
                .into_url()?;
            let deleted = NewEvent::deleted(&url, DeleteReason::UserRequested);
            sqlx::query(db.insert_event_batch())
                .bind(batch_json(&[deleted]))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(url)
        })
    }

    /// What a redirect needs; `None` for a code that does not resolve.
    #[tracing::instrument(name = "store.find_link", level = "debug", skip_all)]
    pub async fn find_link(&self, code: &ShortCode) -> StoreResult<Option<Link>> {
        let _db = stage_timer(Stage::Db);
        let sql = format!("SELECT {LINK_COLUMNS} FROM urls WHERE short_code = $1");
        let row = on_engine!(self, |db| {
            sqlx::query_as::<_, LinkRow>(&sql)
                .bind(code.as_str())
                .fetch_optional(&mut *db.acquire_statement().await?)
                .await?
        });
        Ok(row.map(Link::from))
    }

    /// Spends one redirect of a link's budget: true when one was left. One
    /// conditional update, so concurrent redirects on every replica can
    /// never spend more than the budget. With `spend` false (a HEAD), only
    /// says whether one is left.
    #[tracing::instrument(name = "store.take_redirect", level = "debug", skip_all)]
    pub async fn take_redirect(&self, url_id: i64, spend: bool) -> StoreResult<bool> {
        let _db = stage_timer(Stage::Db);
        let left = on_engine!(self, |db| {
            if spend {
                sqlx::query_scalar::<_, i64>(SPEND_REDIRECT)
                    .bind(url_id)
                    .fetch_optional(&mut *db.acquire_write().await?)
                    .await?
            } else {
                sqlx::query_scalar::<_, i64>(REDIRECT_LEFT)
                    .bind(url_id)
                    .fetch_optional(&mut *db.acquire_statement().await?)
                    .await?
            }
        });
        Ok(left.is_some())
    }
}

/// See `Store::take_redirect`. A link without a budget has none to spend
/// (the caller asks only for links with one).
const SPEND_REDIRECT: &str = "UPDATE urls SET redirect_count = redirect_count + 1 \
     WHERE id = $1 AND redirect_count < max_redirects RETURNING redirect_count";

const REDIRECT_LEFT: &str =
    "SELECT redirect_count FROM urls WHERE id = $1 AND redirect_count < max_redirects";
