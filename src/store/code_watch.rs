//! Keeps `known_codes` complete while other processes write codes (a second
//! replica, `kurz import` into a live store).
//!
//! - PostgreSQL: a statement trigger on `short_codes` announces the codes a
//!   statement stored on the `kurz_codes` channel when its transaction
//!   commits (or `*` when there were too many to list); kurz's own link
//!   creation announces its code before the insert and after the commit
//!   instead (store/urls.rs, migration 0008). The watch listens
//!   before it scans, so every code is either scanned or announced. A lost
//!   connection may have lost announcements: the filter is distrusted and
//!   rebuilt once listening again. After a `*` it is distrusted until the
//!   announcements pause for `QUIET`, then rebuilt.
//! - SQLite: a trigger appends every stored code to `code_log`; one writer
//!   at a time means its `seq` grows in commit order, so the watch reads
//!   the entries past the last one it saw every `SQLITE_POLL`. A code
//!   another process stores is known within that interval. Entries older
//!   than `CODE_LOG_KEPT` are pruned, and the trigger keeps at most the
//!   newest 100,000 whatever runs (migration 0008); a watch that finds its
//!   place pruned rebuilds.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt, TryStreamExt};
use sqlx::postgres::{PgListener, PgNotification, PgPoolOptions};
use sqlx::{Postgres, Sqlite};
use tokio_util::sync::CancellationToken;

use super::engine::Db;
use super::{on_engine, Engine, Store, StoreError, StoreResult};

/// The channel of the `short_codes` trigger (migration 0007).
pub(crate) const CHANNEL: &str = "kurz_codes";
/// What the trigger sends when a statement stored too many codes to list.
const MANY: &str = "*";
/// How often SQLite's code log is read.
const SQLITE_POLL: Duration = Duration::from_secs(1);
/// How long SQLite's code log keeps an entry.
const CODE_LOG_KEPT: Duration = Duration::from_secs(3600);
/// How long bulk announcements must pause before the rebuild they call for.
const QUIET: Duration = Duration::from_secs(1);
/// Codes read between yields to the runtime: a scan of millions of codes
/// must not hold a worker thread that requests are waiting for.
const YIELD_EVERY: u64 = 4096;
/// The wait after a failed connection or scan.
const RETRY: Duration = Duration::from_secs(2);

impl Store {
    /// True when no link has `code`, known without asking the database;
    /// false when it may have one, or the filter is not complete.
    pub fn surely_lacks_code(&self, code: &str) -> bool {
        self.known.surely_absent(code)
    }

    /// Whether `surely_lacks_code` can answer now (for tests and health).
    pub fn knows_every_code(&self) -> bool {
        self.known.trusted()
    }

    /// Builds the filter of stored codes and keeps it complete until `stop`.
    pub async fn keep_known_codes(self: Arc<Self>, stop: CancellationToken) {
        self.known.keep();
        match &self.engine {
            Engine::Postgres(db) => self.watch_postgres(db, &stop).await,
            Engine::Sqlite(db) => self.watch_sqlite(db, &stop).await,
        }
    }

    fn report_held(&self) {
        metrics::gauge!("kurz_code_filter_codes").set(self.known.held() as f64);
    }

    async fn count_codes(&self) -> StoreResult<usize> {
        let stored: i64 = on_engine!(self, |db| {
            sqlx::query_scalar("SELECT count(*) FROM short_codes")
                .fetch_one(&mut *db.acquire_statement().await?)
                .await?
        });
        Ok(usize::try_from(stored).unwrap_or(0))
    }

    /// Scans `short_codes` into a new filter and swaps it in.
    async fn rebuild_known_codes(&self) -> StoreResult<()> {
        let mut rebuild = self.known.begin(self.count_codes().await?);
        let scanned = async {
            on_engine!(self, |db| {
                let mut conn = db.acquire_statement().await?;
                let mut codes = sqlx::query_scalar::<_, String>("SELECT code FROM short_codes")
                    .fetch(&mut *conn);
                let mut read = 0_u64;
                while let Some(code) = codes.try_next().await? {
                    rebuild.add(&code);
                    read += 1;
                    if read % YIELD_EVERY == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            });
            Ok::<_, StoreError>(())
        }
        .await;
        match scanned {
            Ok(()) => {
                self.known.finish(rebuild);
                self.report_held();
                Ok(())
            }
            Err(error) => {
                self.known.abandon();
                Err(error)
            }
        }
    }

    /// Rebuilds; returns the log position the new filter covers.
    async fn rebuild_sqlite(&self, db: &Db<Sqlite>) -> StoreResult<i64> {
        // Read first: a code logged after this is also past it in the log.
        let logged: i64 = sqlx::query_scalar("SELECT COALESCE(max(seq), 0) FROM code_log")
            .fetch_one(&mut *db.acquire_statement().await?)
            .await?;
        self.rebuild_known_codes().await?;
        Ok(logged)
    }

    /// Adds the codes logged past `after`; returns the new position, or
    /// `None` when entries past `after` were already pruned.
    async fn follow_sqlite(&self, db: &Db<Sqlite>, after: i64) -> StoreResult<Option<i64>> {
        let mut conn = db.acquire_statement().await?;
        let oldest: Option<i64> = sqlx::query_scalar("SELECT min(seq) FROM code_log")
            .fetch_one(&mut *conn)
            .await?;
        if oldest.is_some_and(|oldest| oldest > after + 1) {
            return Ok(None);
        }
        let mut rows = sqlx::query_as::<_, (i64, String)>(
            "SELECT seq, code FROM code_log WHERE seq > $1 ORDER BY seq",
        )
        .bind(after)
        .fetch(&mut *conn);
        let mut top = after;
        while let Some((seq, code)) = rows.try_next().await? {
            self.known.add(&code);
            top = seq;
            if top % YIELD_EVERY as i64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        Ok(Some(top))
    }

    async fn prune_code_log(&self, db: &Db<Sqlite>) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM code_log WHERE logged_at < CAST(strftime('%s', 'now') AS INTEGER) - $1 \
             AND seq < (SELECT max(seq) FROM code_log)",
        )
        .bind(CODE_LOG_KEPT.as_secs() as i64)
        .execute(&mut *db.acquire_write().await?)
        .await?;
        Ok(())
    }

    async fn watch_sqlite(&self, db: &Db<Sqlite>, stop: &CancellationToken) {
        // The log position the filter covers; `None` until a rebuild.
        let mut seen: Option<i64> = None;
        let mut pruned = tokio::time::Instant::now();
        loop {
            let step = match seen {
                None => self.rebuild_sqlite(db).await.map(Some),
                Some(after) => self.follow_sqlite(db, after).await,
            };
            let wait = match step {
                Ok(position) => {
                    seen = position;
                    SQLITE_POLL
                }
                Err(error) => {
                    tracing::warn!(%error, "reading stored codes failed; retrying");
                    RETRY
                }
            };
            if pruned.elapsed() >= CODE_LOG_KEPT / 6 {
                pruned = tokio::time::Instant::now();
                if let Err(error) = self.prune_code_log(db).await {
                    tracing::warn!(%error, "pruning the code log failed");
                }
            }
            self.report_held();
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
                () = self.known.outgrown.notified() => seen = None,
            }
        }
    }

    async fn watch_postgres(&self, db: &Db<Postgres>, stop: &CancellationToken) {
        // One connection of its own, outside the request pool.
        let options = (*db.write.connect_options()).clone();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options);
        loop {
            self.known.distrust();
            let listening = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let listener = tokio::select! {
                () = stop.cancelled() => return,
                listening = listening => listening,
            };
            match listener {
                Ok(listener) => self.follow_postgres(listener, stop).await,
                Err(error) => tracing::warn!(%error, "listening for new codes failed; retrying"),
            }
            if stop.is_cancelled() {
                return;
            }
            tracing::warn!("the code announcements stopped; rebuilding the filter when back");
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(RETRY) => {}
            }
        }
    }

    /// Rebuilds, then follows announcements until the connection is lost or
    /// `stop`. Announcements are read during a rebuild's scan too: their
    /// codes are kept aside and replayed into the new filter (see
    /// `known_codes`), so none committed mid-scan is missing after the swap.
    async fn follow_postgres(&self, listener: PgListener, stop: &CancellationToken) {
        // A stream keeps the receive in flight across `select!` turns.
        let mut notes = Box::pin(futures_util::stream::unfold(listener, |mut l| async {
            let note = l.try_recv().await;
            Some((note, l))
        }));
        let mut stale = true;
        loop {
            let heard = if stale {
                self.rebuild_listening(&mut notes, stop).await
            } else {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = self.known.outgrown.notified() => {
                        stale = true;
                        continue;
                    }
                    note = notes.next() => self.heard(note),
                }
            };
            stale = false;
            match heard {
                Heard::Codes => {}
                Heard::Many => {
                    // Stored before or after a scan's snapshot: unknown.
                    if !self.after_bulk(&mut notes, stop).await {
                        return;
                    }
                    stale = true;
                }
                Heard::Lost => return,
            }
        }
    }

    /// Rebuilds while reading announcements. `Many` when one named a bulk
    /// write during the scan; `Lost` when the connection, the scan or
    /// `stop` ended it.
    async fn rebuild_listening<S>(&self, notes: &mut S, stop: &CancellationToken) -> Heard
    where
        S: Stream<Item = Result<Option<PgNotification>, sqlx::Error>> + Unpin,
    {
        let rebuild = self.rebuild_known_codes();
        tokio::pin!(rebuild);
        let mut heard = Heard::Codes;
        loop {
            tokio::select! {
                () = stop.cancelled() => return Heard::Lost,
                rebuilt = &mut rebuild => {
                    if let Err(error) = rebuilt {
                        tracing::warn!(%error, "reading stored codes failed");
                        return Heard::Lost;
                    }
                    return heard;
                }
                note = notes.next() => match self.heard(note) {
                    Heard::Codes => {}
                    Heard::Many => heard = Heard::Many,
                    Heard::Lost => return Heard::Lost,
                },
            }
        }
    }

    /// Takes one announcement: adds the codes it names.
    fn heard(&self, note: Option<Result<Option<PgNotification>, sqlx::Error>>) -> Heard {
        match note {
            Some(Ok(Some(note))) if note.payload() == MANY => Heard::Many,
            Some(Ok(Some(note))) => {
                for code in note.payload().split(' ').filter(|c| !c.is_empty()) {
                    self.known.add(code);
                }
                Heard::Codes
            }
            Some(Ok(None)) | None => Heard::Lost,
            Some(Err(error)) => {
                tracing::warn!(%error, "code announcements failed");
                Heard::Lost
            }
        }
    }

    /// After a bulk write: distrusts the filter and waits until the
    /// announcements pause for `QUIET` (the scan after that reads whatever
    /// they would have named). False when the connection was lost or `stop`.
    async fn after_bulk<S>(&self, notes: &mut S, stop: &CancellationToken) -> bool
    where
        S: Stream<Item = Result<Option<PgNotification>, sqlx::Error>> + Unpin,
    {
        self.known.distrust();
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return false,
                next = tokio::time::timeout(QUIET, notes.next()) => next,
            };
            match next {
                Err(_quiet) => return true,
                Ok(note) => {
                    if let Heard::Lost = self.heard(note) {
                        return false;
                    }
                }
            }
        }
    }
}

/// What one announcement said.
enum Heard {
    /// Codes, now added.
    Codes,
    /// `*`: a statement stored too many to name.
    Many,
    /// The connection is gone; announcements may have been lost.
    Lost,
}
