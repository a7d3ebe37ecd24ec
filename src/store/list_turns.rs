//! Turns for streamed lists: at most a few run against the database at
//! once, the rest wait in arrival order.
//!
//! A whole list keeps its pool connection, and the database backend
//! behind it busy, for as long as its rows stream. With as many lists in
//! flight as connections, backends and replica threads share the cores
//! unevenly: on two cores, 16 clients streaming 1,000-row lists from
//! PostgreSQL saw p99 289 ms against a p50 of 15 ms, and 4 turns brought
//! p99 to 30 ms at the same throughput (docs/performance.md, "Whole
//! lists"). Single-row reads and writes do not take a turn.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{StoreError, StoreResult};

/// How long a list waits for its turn before the answer is 503 (as long as
/// the pool waits for a connection).
const WAIT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub(crate) struct ListTurns(Arc<Semaphore>);

impl ListTurns {
    pub(crate) fn new(turns: u32) -> Self {
        Self(Arc::new(Semaphore::new(turns.max(1) as usize)))
    }

    /// Twice the cores this process may use: enough to keep them busy
    /// while a list waits on the database or on its client.
    pub(crate) fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(u32::try_from(cores * 2).unwrap_or(u32::MAX))
    }

    /// Waits for a turn; it lasts as long as the permit is kept.
    pub(crate) async fn wait(self) -> StoreResult<OwnedSemaphorePermit> {
        let started = Instant::now();
        let turn = tokio::time::timeout(WAIT, self.0.acquire_owned()).await;
        metrics::histogram!("kurz_db_pool_acquire_seconds", "pool" => "lists")
            .record(started.elapsed().as_secs_f64());
        match turn {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => Err(StoreError::Unavailable(sqlx::Error::PoolClosed)),
            Err(_elapsed) => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_list_waits_for_a_turn_and_gives_up_as_unavailable() {
        let turns = ListTurns::new(1);
        let held = turns.clone().wait().await.unwrap();
        let waiting = tokio::spawn(turns.clone().wait());
        tokio::time::sleep(WAIT + Duration::from_millis(1)).await;
        assert!(matches!(
            waiting.await.unwrap(),
            Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut))
        ));
        let next = tokio::spawn(turns.clone().wait());
        drop(held);
        assert!(
            next.await.unwrap().is_ok(),
            "a freed turn goes to the next list"
        );
    }
}
