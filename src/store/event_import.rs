//! Bulk imports of events (`kurz import --events`), a chunk at a time.
//!
//! One `EventImport` covers a whole file. Ids are claimed in file order
//! before a chunk is written (`claim`), so a file that repeats an id keeps
//! its first row whichever chunk commits first; an id the store already
//! holds leaves the stored event as it is. Each chunk is one transaction.
//! What the committed chunks' redirects add to the reports is summed in
//! memory and merged once, when the import finishes (also after a failed
//! chunk): the reports grow by exactly the imported rows instead of being
//! rebuilt from the whole event log, and a file of a million redirects
//! over a few thousand links costs a few thousand roll-up rows, not a
//! merge per chunk.
//!
//! On PostgreSQL the import holds a session advisory lock for its whole
//! length (one import at a time), and chunks may be written by two
//! connections at once: each PostgreSQL backend keeps one core busy with
//! the rows' index entries, which one backend alone cannot do faster.
//! Rows are copied a slice at a time, so the server works on the first
//! slice while the next one is formatted.

use std::sync::Mutex;

use chrono::NaiveDateTime;
use hashbrown::HashSet;
use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::copy_text::CopyText;
use super::rollups::Rollup;
use super::sqlite_redirects::RowsStatement;
use super::{rollup_merge, Engine, ImportOutcome, Store, StoreResult};
use crate::domain::{format_spaced_timestamp, EventType, Id};
use crate::telemetry::{stage_timer, Stage};

/// One event of an import file, parsed.
#[derive(Debug, Clone)]
pub struct ImportedEvent {
    pub id: Id,
    pub url_id: Option<i64>,
    pub user_id: Option<i64>,
    pub event_type: String,
    pub timestamp: NaiveDateTime,
    /// JSON text of an object, as `check_details_text` passed it.
    pub details: Box<str>,
}

/// A chunk whose ids were claimed: the rows to write, and what became of
/// each row of the chunk (`None`: decided when written).
pub struct ClaimedEvents {
    rows: Vec<ImportedEvent>,
    outcomes: Vec<Option<ImportOutcome>>,
}

/// Serialises event imports across processes.
const EVENT_IMPORT_LOCK: i64 = 0x6b75_727a_0101;
const COPY_EVENTS: &str =
    "COPY events (id, url_id, user_id, event_type, timestamp, details) FROM STDIN";
/// Rows per COPY message.
const COPY_SLICE: usize = 2_000;
/// Rows per SQLite transaction, and per `INSERT` statement (six bound
/// values a row; SQLite takes at most 32,766 in one statement).
const SQLITE_CHUNK: usize = 20_000;
const SQLITE_ROWS_PER_INSERT: usize = 500;
/// The SQLite writer's page cache while an import runs (KiB, negated as
/// SQLite wants it); `finish` sizes it to the store again
/// (`Store::fit_writer_cache`).
const SQLITE_IMPORT_CACHE: &str = "-65536";

/// An `INSERT` of events that skips ids already stored and returns the
/// ids it stored.
static SQLITE_INSERT: RowsStatement = RowsStatement::new(
    "INSERT INTO events (id, url_id, user_id, event_type, timestamp, details) VALUES ",
    "(?, ?, ?, ?, ?, ?)",
    " ON CONFLICT DO NOTHING RETURNING id",
    SQLITE_ROWS_PER_INSERT,
);

/// A running import; `finish` ends it.
pub struct EventImport<'s> {
    store: &'s Store,
    /// PostgreSQL: the connection that holds the import lock.
    lock: Option<PoolConnection<Postgres>>,
    claimed: Mutex<HashSet<i64>>,
    /// What the committed chunks add to the reports, merged by `finish`.
    sums: Mutex<Rollup>,
}

impl Store {
    /// Starts an import of events (on PostgreSQL, waits for any other
    /// import to end first).
    pub async fn begin_event_import(&self) -> StoreResult<EventImport<'_>> {
        let lock = match &self.engine {
            Engine::Postgres(db) => {
                let mut connection = db.acquire_write().await?;
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(EVENT_IMPORT_LOCK)
                    .execute(&mut *connection)
                    .await?;
                Some(connection)
            }
            Engine::Sqlite(db) => {
                // A transaction of 20,000 rows touches a leaf of each link's
                // and user's index range: room for them in the page cache
                // keeps SQLite from spilling and rewriting them mid-way.
                let mut connection = db.acquire_write().await?;
                sqlx::query(&format!("PRAGMA cache_size = {SQLITE_IMPORT_CACHE}"))
                    .execute(&mut *connection)
                    .await?;
                None
            }
        };
        Ok(EventImport {
            store: self,
            lock,
            claimed: Mutex::default(),
            sums: Mutex::default(),
        })
    }

    /// Imports `rows` as one file: claims and writes them, then finishes.
    pub async fn import_events(&self, rows: &[ImportedEvent]) -> StoreResult<Vec<ImportOutcome>> {
        let import = self.begin_event_import().await?;
        let outcomes = import.write(import.claim(rows.to_vec())).await;
        import.finish().await?;
        outcomes
    }
}

impl EventImport<'_> {
    /// Claims the chunk's ids, in order: a row whose id an earlier row of
    /// this import took is `AlreadyPresent` and is not written.
    pub fn claim(&self, rows: Vec<ImportedEvent>) -> ClaimedEvents {
        let mut claimed = self.claimed.lock().unwrap_or_else(|e| e.into_inner());
        let outcomes = rows
            .iter()
            .map(|row| (!claimed.insert(row.id.get())).then_some(ImportOutcome::AlreadyPresent))
            .collect();
        ClaimedEvents { rows, outcomes }
    }

    /// Writes a claimed chunk (on SQLite, in transactions of
    /// `SQLITE_CHUNK` rows); its redirects join the sums `finish` merges.
    pub async fn write(&self, chunk: ClaimedEvents) -> StoreResult<Vec<ImportOutcome>> {
        let _db = stage_timer(Stage::Db);
        let ClaimedEvents { rows, mut outcomes } = chunk;
        match &self.store.engine {
            Engine::Postgres(db) => {
                let mut tx = db.begin_write().await?;
                // The ids of the chunk's range already stored (one range
                // scan per partition).
                let open = || rows.iter().zip(&outcomes).filter(|(_, o)| o.is_none());
                let low = open().map(|(r, _)| r.id.get()).min().unwrap_or(0);
                let high = open().map(|(r, _)| r.id.get()).max().unwrap_or(0);
                let stored: HashSet<i64> =
                    sqlx::query_scalar("SELECT id FROM events WHERE id BETWEEN $1 AND $2")
                        .bind(low)
                        .bind(high)
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .collect();
                let mut fresh = Vec::with_capacity(rows.len());
                for (row, outcome) in rows.iter().zip(outcomes.iter_mut()) {
                    if outcome.is_none() {
                        *outcome = Some(if stored.contains(&row.id.get()) {
                            ImportOutcome::AlreadyPresent
                        } else {
                            fresh.push(row);
                            ImportOutcome::Inserted
                        });
                    }
                }
                if !fresh.is_empty() {
                    let mut copy = tx.copy_in_raw(COPY_EVENTS).await?;
                    for slice in fresh.chunks(COPY_SLICE) {
                        copy.send(copy_text(slice)).await?;
                    }
                    copy.finish().await?;
                }
                tx.commit().await?;
                self.sum(&fresh);
            }
            Engine::Sqlite(db) => {
                let open: Vec<(usize, &ImportedEvent)> = rows
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| outcomes[*i].is_none())
                    .collect();
                for part in open.chunks(SQLITE_CHUNK) {
                    let mut tx = db.begin_write().await?;
                    let mut fresh = Vec::with_capacity(part.len());
                    for rows in SQLITE_INSERT.chunks(part) {
                        let sql = SQLITE_INSERT.text(rows.len());
                        let mut insert = sqlx::query_scalar::<_, i64>(&sql);
                        for (_, row) in rows {
                            insert = insert
                                .bind(row.id.get())
                                .bind(row.url_id)
                                .bind(row.user_id)
                                .bind(&row.event_type)
                                .bind(row.timestamp)
                                .bind(&*row.details);
                        }
                        // Only the rows that went in come back (ids are
                        // unique within an import: `claim` saw to it).
                        let inserted: HashSet<i64> =
                            insert.fetch_all(&mut *tx).await?.into_iter().collect();
                        for &(i, row) in rows {
                            outcomes[i] = Some(if inserted.contains(&row.id.get()) {
                                fresh.push(row);
                                ImportOutcome::Inserted
                            } else {
                                ImportOutcome::AlreadyPresent
                            });
                        }
                    }
                    tx.commit().await?;
                    self.sum(&fresh);
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(ImportOutcome::AlreadyPresent))
            .collect())
    }

    /// Adds committed rows' redirects to the sums `finish` merges.
    fn sum(&self, fresh: &[&ImportedEvent]) {
        let mut sums = self.sums.lock().unwrap_or_else(|e| e.into_inner());
        for row in fresh {
            if let (EventType::REDIRECT, Some(url_id)) = (row.event_type.as_str(), row.url_id) {
                sums.add_imported(url_id, row.timestamp);
            }
        }
    }

    /// Merges what the committed chunks add to the reports, moves the id
    /// sequences past the imported ids and lets the next import begin.
    /// Call it after a failed chunk too, so the chunks that did commit
    /// are counted.
    pub async fn finish(mut self) -> StoreResult<()> {
        let sums = std::mem::take(&mut *self.sums.lock().unwrap_or_else(|e| e.into_inner()));
        match &self.store.engine {
            Engine::Postgres(db) => {
                let mut tx = db.begin_write().await?;
                rollup_merge::merge_pg(&mut tx, &sums).await?;
                tx.commit().await?;
            }
            Engine::Sqlite(db) => {
                let mut tx = db.begin_write().await?;
                rollup_merge::merge_sqlite(&mut tx, &sums).await?;
                tx.commit().await?;
            }
        }
        // Sized for batches as large as the import's chunks (the event
        // writer's default batch); the writer sizes it to its own at its
        // next fit.
        self.store.fit_writer_cache(SQLITE_CHUNK).await?;
        self.store.sync_id_sequences().await?;
        if let Some(mut connection) = self.lock.take() {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(EVENT_IMPORT_LOCK)
                .execute(&mut *connection)
                .await?;
        }
        Ok(())
    }
}

impl Drop for EventImport<'_> {
    /// An import that did not finish (an error, a cancelled task) must not
    /// hand its locked session back to the pool: the connection is closed
    /// instead, which releases the lock.
    fn drop(&mut self) {
        if let Some(connection) = self.lock.take() {
            drop(connection.detach());
        }
    }
}

/// Imported events as COPY text for `COPY_EVENTS`.
fn copy_text(rows: &[&ImportedEvent]) -> Vec<u8> {
    let mut copy = CopyText::with_capacity(rows.len() * 128);
    for row in rows {
        copy.int(row.id.get())
            .int_opt(row.url_id)
            .int_opt(row.user_id)
            .text(row.event_type.as_bytes())
            .plain(format_spaced_timestamp(&row.timestamp))
            .text(row.details.as_bytes());
        copy.end_row();
    }
    copy.into_bytes()
}
