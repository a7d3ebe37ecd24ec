//! Short links: create (claiming the code for good), read, list, update,
//! delete, and the redirect look-up.

use futures_util::TryStreamExt as _;

use super::events::batch_json;
use super::rows::{LinkRow, UrlRow, LINK_COLUMNS, URL_COLUMNS};
use super::{on_engine, ConflictField, Page, RowStream, Store, StoreError, StoreResult, UrlFilter};
use crate::domain::{
    now_utc, DeleteReason, Id, Link, MaxRedirects, NewEvent, NewShortUrl, ShortCode, ShortUrl,
    UrlPatch,
};
use crate::telemetry::{stage_timer, Stage};

/// Attempts at a fresh random code before giving up with a 409 (62^6
/// codes: a second attempt is already rare).
pub const CODE_ATTEMPTS: usize = 16;

/// Claims a code for good; no row means it was handed out before.
const REGISTER_CODE: &str =
    "INSERT INTO short_codes (code) VALUES ($1) ON CONFLICT DO NOTHING RETURNING code";

/// The outcome of an update: the row as it is now, and whether any field
/// changed (no change means no event and no cache invalidation).
#[derive(Debug, Clone)]
pub struct UrlChange {
    pub url: ShortUrl,
    pub changed: bool,
}

impl Store {
    /// Creates the link, registers its code for good and writes its
    /// `created` event, in one transaction.
    #[tracing::instrument(name = "store.create_url", level = "debug", skip_all)]
    pub async fn create_url(&self, new: &NewShortUrl) -> StoreResult<ShortUrl> {
        let _db = stage_timer(Stage::Db);
        let insert = format!(
            "INSERT INTO urls (user_id, short_code, original_url, title, is_active, created_at, updated_at, \
             expires_at, max_redirects) \
             VALUES ($1, $2, $3, $4, TRUE, $5, $5, $6, $7) RETURNING {URL_COLUMNS}"
        );
        on_engine!(self, |db| {
            let mut tx = db.begin_write().await?;
            let owner: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                .bind(new.user_id.get())
                .fetch_optional(&mut *tx)
                .await?;
            if owner.is_none() {
                return Err(StoreError::NotFound("user"));
            }
            let mut claimed: Option<String> = None;
            let attempts = if new.alias.is_some() {
                1
            } else {
                CODE_ATTEMPTS
            };
            for _ in 0..attempts {
                let candidate = match &new.alias {
                    Some(alias) => alias.clone(),
                    None => self.codes.next_code(),
                };
                claimed = sqlx::query_scalar(REGISTER_CODE)
                    .bind(candidate.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                if claimed.is_some() {
                    break;
                }
                metrics::counter!("kurz_short_code_collisions_total").increment(1);
            }
            let code = claimed.ok_or(StoreError::Conflict(ConflictField::ShortCode))?;
            // Known before the commit, so no redirect can be told it is absent.
            self.known.add(&code);
            let url = sqlx::query_as::<_, UrlRow>(&insert)
                .bind(new.user_id.get())
                .bind(code)
                .bind(new.target.as_str())
                .bind(new.title.as_ref().map(|t| t.as_str()))
                .bind(now_utc())
                .bind(new.expires_at)
                .bind(new.max_redirects.map(MaxRedirects::get))
                .fetch_one(&mut *tx)
                .await?
                .into_url()?;
            sqlx::query(db.insert_event_batch())
                .bind(batch_json(&[NewEvent::created(&url)]))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(url)
        })
    }

    #[tracing::instrument(name = "store.get_url", level = "debug", skip_all)]
    pub async fn get_url(&self, id: Id) -> StoreResult<ShortUrl> {
        let _db = stage_timer(Stage::Db);
        let sql = format!("SELECT {URL_COLUMNS} FROM urls WHERE id = $1");
        let row = on_engine!(self, |db| {
            sqlx::query_as::<_, UrlRow>(&sql)
                .bind(id.get())
                .fetch_optional(&mut *db.acquire_read().await?)
                .await?
        });
        row.ok_or(StoreError::NotFound("url"))?.into_url()
    }

    pub fn list_urls(&self, filter: UrlFilter, page: Page) -> RowStream<ShortUrl> {
        let (limit, offset, after) = page.bounds();
        on_engine!(self, |db| {
            let pool = db.read.clone();
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
                let mut rows = query.build_query_as::<UrlRow>().fetch(&pool);
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
                .fetch_optional(&mut *db.acquire_read().await?)
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
                    .fetch_optional(&mut *db.acquire_read().await?)
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
