//! The event log: append (one event from a client, or a batch of redirects
//! from the recorder), read, list with filters.
//!
//! Multi-event writes in a transaction (a change's events) go through one
//! statement that unpacks a JSON array (`EngineSql::INSERT_EVENT_BATCH`):
//! the statement text never changes, so it stays prepared. The recorder's
//! redirect batches, the hot path, go by COPY on PostgreSQL
//! (`pg_redirects`) and by multi-row inserts of bound values on SQLite
//! (`sqlite_redirects`), with their roll-ups merged in the same
//! transaction.

use futures_util::TryStreamExt as _;
use serde::ser::{SerializeTuple, Serializer};
use serde::Serialize;

use super::rollup_merge;
use super::rollup_window::RollupWindow;
use super::rollups::Rollup;
use super::rows::{EventRow, EVENT_COLUMNS};
use super::{on_engine, Engine, EventFilter, Page, RowStream, Store, StoreError, StoreResult};
use super::{pg_redirects, sqlite_redirects};
use crate::domain::{format_spaced_timestamp, Event, Id, NewEvent, RedirectEvent};
use crate::telemetry::{stage_timer, Stage};

/// One row of a batch: `[url_id, user_id, event_type, timestamp, details]`
/// (`INSERT_EVENT_BATCH`).
pub(crate) trait BatchRow {
    fn write_row<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
}

/// A timestamp written straight into the JSON, without a String between.
struct Stamp<'a>(&'a chrono::NaiveDateTime);

impl Serialize for Stamp<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_spaced_timestamp(self.0))
    }
}

impl BatchRow for NewEvent {
    fn write_row<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(5)?;
        t.serialize_element(&self.url_id.map(Id::get))?;
        t.serialize_element(&self.user_id.map(Id::get))?;
        t.serialize_element(self.event_type.as_str())?;
        t.serialize_element(&Stamp(&self.timestamp))?;
        t.serialize_element(&self.details)?;
        t.end()
    }
}

struct Row<'a, T>(&'a T);

impl<T: BatchRow> Serialize for Row<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.write_row(s)
    }
}

/// A batch of events as the one JSON parameter of `INSERT_EVENT_BATCH`.
pub(crate) fn batch_json<T: BatchRow>(events: &[T]) -> String {
    let rows: Vec<Row<'_, T>> = events.iter().map(Row).collect();
    // Numbers, strings and JSON objects always serialise.
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned())
}

/// Run first in a PostgreSQL redirect batch: those events may lose their
/// last milliseconds on a server crash (never on a clean stop). SQLite in
/// WAL mode with `synchronous = NORMAL` already commits without an fsync.
const PG_RELAX_COMMIT: &str = "SET LOCAL synchronous_commit = off";

/// `ORDER BY` for an event list: by the filtered column first (equal in
/// every row, so the order is still by id), which makes the planner walk
/// that filter's `(column, id)` index from the cursor on instead of
/// walking the primary key from the cursor and filtering: on a large log
/// with a rare value, the latter reads millions of rows for one page.
fn order_by_filtered_index(filter: &EventFilter) -> &'static str {
    if filter.url_id.is_some() {
        " ORDER BY url_id, id"
    } else if filter.user_id.is_some() {
        " ORDER BY user_id, id"
    } else if filter
        .event_type
        .as_deref()
        .is_some_and(|t| t != "redirect")
    {
        // Redirects are not in the type index (migration 0003): by id.
        " ORDER BY event_type, id"
    } else {
        " ORDER BY id"
    }
}

impl Store {
    /// Appends one event after checking that what it names exists.
    #[tracing::instrument(name = "store.create_event", level = "debug", skip_all)]
    pub async fn create_event(&self, new: &NewEvent) -> StoreResult<Event> {
        let _db = stage_timer(Stage::Db);
        let sql = format!(
            "INSERT INTO events (url_id, user_id, event_type, timestamp, details) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {EVENT_COLUMNS}"
        );
        let row = on_engine!(self, |db| {
            let mut conn = db.acquire_write().await?;
            for (id, table, what) in [
                (new.url_id, "SELECT id FROM urls WHERE id = $1", "url"),
                (new.user_id, "SELECT id FROM users WHERE id = $1", "user"),
            ] {
                let Some(id) = id else { continue };
                let found: Option<i64> = sqlx::query_scalar(table)
                    .bind(id.get())
                    .fetch_optional(&mut *conn)
                    .await?;
                if found.is_none() {
                    return Err(StoreError::NotFound(what));
                }
            }
            sqlx::query_as::<_, EventRow>(&sql)
                .bind(new.url_id.map(Id::get))
                .bind(new.user_id.map(Id::get))
                .bind(new.event_type.as_str())
                .bind(new.timestamp)
                .bind(sqlx::types::Json(&new.details))
                .fetch_one(&mut *conn)
                .await?
        });
        row.into_event()
    }

    #[tracing::instrument(name = "store.get_event", level = "debug", skip_all)]
    pub async fn get_event(&self, id: Id) -> StoreResult<Event> {
        let _db = stage_timer(Stage::Db);
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1");
        let row = on_engine!(self, |db| {
            sqlx::query_as::<_, EventRow>(&sql)
                .bind(id.get())
                .fetch_optional(&mut *db.acquire_statement().await?)
                .await?
        });
        row.ok_or(StoreError::NotFound("event"))?.into_event()
    }

    pub fn list_events(&self, filter: EventFilter, page: Page) -> RowStream<Event> {
        // No stored type holds U+0000 (PostgreSQL cannot even compare it):
        // such a filter matches nothing.
        if filter
            .event_type
            .as_deref()
            .is_some_and(|t| t.contains('\0'))
        {
            return Box::pin(futures_util::stream::empty());
        }
        let (limit, offset, after) = page.bounds();
        on_engine!(self, |db| {
            let statements = db.statements.clone();
            let turns = self.list_turns.clone();
            let mut query = db.builder(format!("SELECT {EVENT_COLUMNS} FROM events WHERE id > "));
            query.push_bind(after);
            if let Some(url_id) = filter.url_id {
                query.push(" AND url_id = ").push_bind(url_id);
            }
            if let Some(user_id) = filter.user_id {
                query.push(" AND user_id = ").push_bind(user_id);
            }
            if let Some(kind) = filter.event_type.clone() {
                if kind != "redirect" {
                    // Lets PostgreSQL use its type index, which leaves redirects out.
                    query.push(" AND event_type <> 'redirect'");
                }
                query.push(" AND event_type = ").push_bind(kind);
            }
            query
                .push(order_by_filtered_index(&filter))
                .push(" LIMIT ")
                .push_bind(limit)
                .push(" OFFSET ")
                .push_bind(offset);
            Box::pin(async_stream::try_stream! {
                let _turn = turns.wait().await?;
                let mut conn = statements.acquire().await?;
                let mut rows = query.build_query_as::<EventRow>().fetch(&mut *conn);
                while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                    yield row.into_event()?;
                }
            })
        })
    }

    /// Appends a batch of redirect events (a COPY on PostgreSQL, multi-row
    /// inserts on SQLite) and merges their roll-ups, in one commit.
    pub async fn append_redirects(&self, batch: &[RedirectEvent]) -> StoreResult<()> {
        self.append_redirects_within(batch, &mut RollupWindow::immediate())
            .await
    }

    /// Appends a batch of redirect events; their roll-up joins `window`,
    /// and the window is merged in this batch's commit once it is due. On
    /// an error the window keeps the batch's sums: retry with
    /// `commit_redirect_batch`, not with this.
    pub async fn append_redirects_within(
        &self,
        batch: &[RedirectEvent],
        window: &mut RollupWindow,
    ) -> StoreResult<()> {
        self.sum_redirects(batch, window);
        self.commit_redirect_batch(batch, window).await
    }

    /// Adds a batch's sums to `window`: once per batch, before the first
    /// attempt to commit it.
    pub fn sum_redirects(&self, batch: &[RedirectEvent], window: &mut RollupWindow) {
        let known = self.seen_visitors.lock().unwrap_or_else(|e| e.into_inner());
        window.add(batch, &known);
    }

    /// One attempt to commit a batch whose sums are in `window`, merging the
    /// window in the same transaction when it is due. After a failure the
    /// window is unchanged; the caller retries with it.
    #[tracing::instrument(name = "store.append_redirects", level = "debug", skip_all, fields(events = batch.len()))]
    pub async fn commit_redirect_batch(
        &self,
        batch: &[RedirectEvent],
        window: &mut RollupWindow,
    ) -> StoreResult<()> {
        let _db = stage_timer(Stage::Db);
        if batch.is_empty() {
            return Ok(());
        }
        if !window.is_due() {
            return self.commit_redirects(batch, None).await;
        }
        self.commit_redirects(batch, Some(window.pending())).await?;
        let merged = window.take();
        self.remember_visitors(merged);
        Ok(())
    }

    /// Merges what `window` holds, in a commit of its own.
    pub async fn flush_rollups(&self, window: &mut RollupWindow) -> StoreResult<()> {
        if window.is_empty() {
            return Ok(());
        }
        self.commit_redirects(&[], Some(window.pending())).await?;
        let merged = window.take();
        self.remember_visitors(merged);
        Ok(())
    }

    /// One transaction: the events of `batch` (if any) and `rollup` (if any).
    async fn commit_redirects(
        &self,
        batch: &[RedirectEvent],
        rollup: Option<&Rollup>,
    ) -> StoreResult<()> {
        match &self.engine {
            Engine::Postgres(db) => {
                let mut tx = db.begin_write().await?;
                sqlx::query(PG_RELAX_COMMIT).execute(&mut *tx).await?;
                if !batch.is_empty() {
                    pg_redirects::insert(&mut tx, batch).await?;
                }
                if let Some(rollup) = rollup {
                    rollup_merge::merge_pg(&mut tx, rollup).await?;
                }
                tx.commit().await?;
            }
            Engine::Sqlite(db) => {
                let mut tx = db.begin_write().await?;
                if !batch.is_empty() {
                    sqlite_redirects::insert(&mut tx, batch).await?;
                }
                if let Some(rollup) = rollup {
                    rollup_merge::merge_sqlite(&mut tx, rollup).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Remembers the visitors a committed roll-up counted.
    fn remember_visitors(&self, merged: Rollup) {
        let yesterday = crate::domain::now_utc().date() - chrono::Days::new(1);
        let mut known = self.seen_visitors.lock().unwrap_or_else(|e| e.into_inner());
        known.remember(merged.seen, yesterday);
    }
}
