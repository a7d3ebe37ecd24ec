//! Connections for statements outside a transaction, handed back to
//! their pool as they are.
//!
//! sqlx's pool pings every connection on its way back in (and spawns a
//! task to do it): for a one-statement read that is a second, empty round
//! trip, paid in the replica's CPU and the database server's, and sqlx 0.8
//! has no setting to skip it. Reads (single rows and whole lists), and on
//! PostgreSQL a new link's one statement, take their connections from this
//! pool instead, a deadpool of sqlx connections whose return is a push
//! onto a queue. On SQLite the ping was a hand-off to the connection's
//! thread and back, with nothing to find: a file handle has no server to
//! lose, and the thread runs commands in order, abandoning a dropped
//! statement's rows before it takes the next. On PostgreSQL what the ping
//! did, this pool does otherwise:
//!
//! - a statement dropped part-way (a client gone, a deadline) leaves its
//!   answer unread on the socket; sqlx's PostgreSQL connection reads it to
//!   the end before its next statement, so the next user sees only its own
//!   rows;
//! - a connection idle for `PING_IF_IDLE_FOR` is pinged before it is handed
//!   out (as in the main pool), so one that outlived a server restart is
//!   replaced before a request sees it;
//! - after any connection of the process failed (I/O, TLS or protocol
//!   error, `note_connection_failure`), every pooled connection here is
//!   pinged once before its next use, so the broken ones are dropped
//!   instead of each failing one more request.
//!
//! On SQLite none of that applies (`Reach::InProcess`): a connection is
//! handed out as it is, and one that cannot be opened is an error at once,
//! with no retries meant for a restarting server.
//!
//! Each statement commits on its own: nothing is left to roll back.
//! Transactions stay on sqlx's pool, whose release ping rolls back one
//! that its request dropped.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool::managed::{self, Metrics, PoolError, RecycleError, RecycleResult};
use deadpool::Runtime;
use sqlx::{ConnectOptions as _, Connection as _, Database};

use super::engine::PING_IF_IDLE_FOR;
use super::{PoolStats, StoreError, StoreResult};

/// Connection failures seen by this process (see the module doc).
static CONNECTION_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Records that a database connection failed: every pooled connection here is
/// checked before its next use.
pub(crate) fn note_connection_failure() {
    CONNECTION_FAILURES.fetch_add(1, Ordering::Relaxed);
}

/// What a pool's connections reach, which decides whether they are
/// checked before use and whether opening one is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// A server across a socket (PostgreSQL): it can restart under an open
    /// connection, and refuses new ones while it does.
    Server,
    /// A file opened inside the process (SQLite): nothing can hang up on
    /// it, and an open that fails will fail again.
    InProcess,
}

/// A pooled connection and the failure count it was last checked at.
pub(crate) struct Checked<C> {
    conn: C,
    checked_at: u64,
}

/// Opens connections with the pool's options; checks them on the way out.
pub(crate) struct Connector<DB: Database> {
    options: <DB::Connection as sqlx::Connection>::Options,
    reach: Reach,
}

impl<DB: Database> managed::Manager for Connector<DB> {
    type Type = Checked<DB::Connection>;
    type Error = sqlx::Error;

    /// Opens a connection, trying again while a server refuses or drops
    /// it (a restart): the pool's create timeout ends the attempts, so a
    /// request waits out a short outage as it does on sqlx's pool.
    async fn create(&self) -> Result<Self::Type, sqlx::Error> {
        let mut pause = Duration::from_millis(20);
        loop {
            let checked_at = CONNECTION_FAILURES.load(Ordering::Relaxed);
            match self.options.connect().await {
                Ok(conn) => return Ok(Checked { conn, checked_at }),
                Err(sqlx::Error::Io(_)) if self.reach == Reach::Server => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Pings a server's connection that sat idle or predates a failure;
    /// hands an in-process one out as it is.
    async fn recycle(&self, obj: &mut Self::Type, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if self.reach == Reach::InProcess {
            return Ok(());
        }
        let failures = CONNECTION_FAILURES.load(Ordering::Relaxed);
        if metrics.last_used() >= PING_IF_IDLE_FOR || obj.checked_at != failures {
            obj.conn.ping().await.map_err(RecycleError::Backend)?;
            obj.checked_at = failures;
        }
        Ok(())
    }
}

/// Where an engine's statements outside a transaction get connections.
pub(crate) struct StatementPool<DB: Database> {
    pool: managed::Pool<Connector<DB>>,
    /// The pool's name in `/metrics` (`pool` label).
    name: &'static str,
}

impl<DB: Database> Clone for StatementPool<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            name: self.name,
        }
    }
}

impl<DB: Database> StatementPool<DB> {
    /// A pool of at most `max` connections opened with `options`, checked
    /// as `reach` asks; waiting for one and opening one each give up after
    /// `timeout`, as sqlx's pool does.
    pub(crate) fn new(
        name: &'static str,
        options: <DB::Connection as sqlx::Connection>::Options,
        reach: Reach,
        max: u32,
        timeout: Duration,
    ) -> StoreResult<Self> {
        managed::Pool::builder(Connector { options, reach })
            .max_size(max as usize)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map(|pool| Self { pool, name })
            .map_err(|e| {
                StoreError::Other(sqlx::Error::Configuration(
                    format!("statement pool: {e}").into(),
                ))
            })
    }

    /// A connection, or `Unavailable` when none comes within the timeout.
    pub(crate) async fn acquire(&self) -> StoreResult<StatementConn<DB>> {
        match self.pool.get().await {
            Ok(conn) => Ok(StatementConn(conn)),
            Err(PoolError::Backend(e)) => Err(e.into()),
            Err(PoolError::Timeout(_)) => Err(sqlx::Error::PoolTimedOut.into()),
            Err(PoolError::Closed) => Err(sqlx::Error::PoolClosed.into()),
            Err(e) => Err(StoreError::Other(sqlx::Error::Configuration(
                format!("statement pool: {e}").into(),
            ))),
        }
    }

    /// The pool's name in `/metrics` (`pool` label).
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// Connections open, idle, and the most allowed, under the pool's name.
    pub(crate) fn stats(&self) -> PoolStats {
        let status = self.pool.status();
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        PoolStats {
            name: self.name,
            size: to_u32(status.size),
            idle: status.available,
            max: to_u32(status.max_size),
        }
    }

    /// Closes every connection; later acquires fail.
    pub(crate) fn close(&self) {
        self.pool.close();
    }
}

/// A connection from a `StatementPool`; derefs to the engine's
/// connection, so `&mut *conn` is an executor.
pub(crate) struct StatementConn<DB: Database>(managed::Object<Connector<DB>>);

impl<DB: Database> Deref for StatementConn<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        &self.0.conn
    }
}

impl<DB: Database> DerefMut for StatementConn<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.0.conn
    }
}
