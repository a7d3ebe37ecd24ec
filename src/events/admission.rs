//! How many queued events `EventSink::record` admits before it waits for
//! room: the queue's capacity, or what the writer writes in `LAG_BUDGET`
//! at the pace of its last batch, whichever is less.
//!
//! A queue bounded by count alone bounds the lag of an event (from its
//! redirect to its row in `GET /events`) only as capacity over the
//! writer's pace. A SQLite replica at 500 connections writes about 68,000
//! events a second, so a full 65,536-event queue was a second of lag and
//! more, past the contract's one second (docs/performance.md, "Events in
//! the log within a second, at every load"). Bounding the queue by the
//! writer's pace keeps the count where the writer keeps up (the limit is
//! then above what is ever queued) and the lag where it does not: a
//! saturated replica waits for room sooner, as it already did at the
//! count limit. While writes fail, the limit does not apply: an outage
//! keeps every event the queue can hold, and the lag is moot until the
//! store is back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The longest an event may wait in the queue at the writer's pace; its
/// own batch's commit (at most `max_batch` events at that pace) comes on
/// top.
const LAG_BUDGET: Duration = Duration::from_millis(500);

/// The admission limit and the writer's signal that it took events.
pub(super) struct Admission {
    limit: AtomicUsize,
    room: Notify,
    /// Never below one full batch, never above the queue.
    floor: usize,
    capacity: usize,
}

impl Admission {
    pub(super) fn new(capacity: usize, max_batch: usize) -> Self {
        Self {
            limit: AtomicUsize::new(capacity),
            room: Notify::new(),
            floor: max_batch.min(capacity),
            capacity,
        }
    }

    /// Events the queue may hold now before `record` waits.
    pub(super) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// The writer committed `written` events in `took`.
    pub(super) fn paced(&self, written: usize, took: Duration) {
        let limit = admitted(written, took, self.floor, self.capacity);
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// The writer took events from the queue (or stopped): waiters look again.
    pub(super) fn taken(&self) {
        self.room.notify_waiters();
    }

    /// Waits until fewer than the limit are queued (`queued` counts them);
    /// false if `deadline` passed first.
    pub(super) async fn wait_for_room(
        &self,
        queued: impl Fn() -> usize,
        deadline: Instant,
    ) -> bool {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before the look, so a `taken` in between is not missed.
            notified.as_mut().enable();
            if queued() < self.limit() {
                return true;
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                return queued() < self.limit();
            }
        }
    }
}

/// What the writer writes in `LAG_BUDGET` at the pace of `written` events
/// in `took`, between `floor` and `capacity`.
fn admitted(written: usize, took: Duration, floor: usize, capacity: usize) -> usize {
    let per_second = written as f64 / took.as_secs_f64().max(1e-6);
    let within_budget = per_second * LAG_BUDGET.as_secs_f64();
    // `as` saturates: an absurd pace is the capacity, never a wrap.
    (within_budget as usize).clamp(floor, capacity.max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_half_a_second_of_the_writers_pace_within_its_bounds() {
        let second = Duration::from_secs(1);
        // 68,000 events a second: 34,000 may wait.
        assert_eq!(admitted(68_000, second, 20_000, 65_536), 34_000);
        // A fast writer: the queue's capacity.
        assert_eq!(admitted(1_000_000, second, 20_000, 65_536), 65_536);
        // Small batches under light load say little about the pace: a
        // full batch may always queue.
        assert_eq!(
            admitted(10, Duration::from_millis(1), 20_000, 65_536),
            20_000
        );
        // A zero duration is not a division by zero.
        assert_eq!(admitted(5, Duration::ZERO, 20_000, 65_536), 65_536);
        // A queue smaller than a batch stays the bound.
        assert_eq!(admitted(10, second, 100, 100), 100);
    }

    #[tokio::test]
    async fn a_waiter_goes_on_once_the_writer_takes_events() {
        let admission = std::sync::Arc::new(Admission::new(10, 2));
        admission.paced(4, Duration::from_secs(1)); // limit 2
        assert_eq!(admission.limit(), 2);
        let queued = std::sync::Arc::new(AtomicUsize::new(2));
        let waiter = {
            let (admission, queued) = (admission.clone(), queued.clone());
            tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(5);
                admission
                    .wait_for_room(|| queued.load(Ordering::Relaxed), deadline)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "the queue is at its limit");
        queued.store(0, Ordering::Relaxed);
        admission.taken();
        assert!(waiter.await.unwrap());
        // Nobody takes anything: the deadline ends the wait.
        queued.store(2, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_millis(20);
        assert!(
            !admission
                .wait_for_room(|| queued.load(Ordering::Relaxed), deadline)
                .await
        );
    }
}
