//! How many queued events `EventSink::record` admits before it waits for
//! room: the queue's capacity, or what the writer commits in the lag
//! budget (`KURZ_EVENT_LAG_BUDGET_MS`, 300 ms) at its recent pace
//! (full-sized batches, smoothed), whichever is less; so that a redirect's
//! event is in `GET /events` within the contract's second at any load.
//!
//! A queue bounded by count alone bounds an event's lag (from its redirect
//! to its row being readable) only as capacity over the writer's pace:
//! where the SQLite writer is slower than the redirects, a full
//! 65,536-event queue kept events out of the log for 1.2–2.7 s
//! (docs/performance.md, "The event queue bounded by the writer's pace,
//! again"). Held to a budget of the pace, an event waits at most one
//! commit for room, one queued and its own: about three budgets. Where the
//! writer keeps up, a batch is what arrives in one linger (250 ms), under
//! the budget's worth, and the bound never engages.
//!
//! Room is a fair semaphore: a redirect that waits takes the next free
//! place, in order, and none is passed over until its wait runs out. The
//! writer sets the free places after every take to the limit less what is
//! queued. While writes fail the limit does not apply: an outage keeps
//! every event the queue can hold, and the lag is moot until the store is
//! back.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

/// Batches smaller than this (light load) say little about the pace: the
/// limit keeps the last pace a larger one showed.
const PACE_SAMPLE_MIN: usize = 4_096;

/// The smallest limit, whatever the pace.
const FLOOR: usize = 4_096;

/// The weight of the latest batch in the pace the limit follows. One slow
/// commit (a checkpoint, a busy disk) moves it by this share only, so the
/// limit does not dip and hold redirects back where the writer keeps up.
const PACE_WEIGHT: f64 = 0.25;

/// The admission limit, and the signals between `record` and the writer.
pub(super) struct Admission {
    limit: AtomicUsize,
    /// What may wait in the queue, in the writer's time (`None`: no bound
    /// but the capacity).
    budget: Option<Duration>,
    /// The writer's smoothed seconds per event (`f64` bits; 0 until the
    /// first full-sized batch).
    cost: AtomicU64,
    /// Free places under the limit.
    room: Semaphore,
    /// A `record` found no room: a lingering writer takes the batch now
    /// instead of at the linger's end.
    pressed: Notify,
    /// `kurz_events_admission_limit`, registered once.
    limit_gauge: metrics::Gauge,
    floor: usize,
    capacity: usize,
}

impl Admission {
    pub(super) fn new(capacity: usize, budget: Option<Duration>) -> Self {
        let capacity = capacity.max(1);
        let limit_gauge = metrics::gauge!("kurz_events_admission_limit");
        limit_gauge.set(capacity as f64);
        Self {
            limit: AtomicUsize::new(capacity),
            budget,
            cost: AtomicU64::new(0),
            room: Semaphore::new(capacity),
            pressed: Notify::new(),
            limit_gauge,
            floor: FLOOR.min(capacity),
            capacity,
        }
    }

    /// Events the queue may hold now before `record` waits.
    pub(super) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// The writer committed `written` events in `took`.
    pub(super) fn paced(&self, written: usize, took: Duration) {
        let Some(budget) = self.budget else { return };
        if written < PACE_SAMPLE_MIN {
            return;
        }
        let latest = took.as_secs_f64() / written as f64;
        let before = f64::from_bits(self.cost.load(Ordering::Relaxed));
        let cost = if before > 0.0 {
            before + PACE_WEIGHT * (latest - before)
        } else {
            latest
        };
        self.cost.store(cost.to_bits(), Ordering::Relaxed);
        let limit = within_budget(budget, cost, self.floor, self.capacity);
        self.limit.store(limit, Ordering::Relaxed);
        self.limit_gauge.set(limit as f64);
    }

    /// The writer took events and `queued` are left: the free places are
    /// the limit less those.
    pub(super) fn taken(&self, queued: usize) {
        let free = self.limit().saturating_sub(queued);
        let now = self.room.available_permits();
        if free > now {
            self.room.add_permits(free - now);
        } else {
            self.room.forget_permits(now - free);
        }
    }

    /// The writer stopped: nobody waits for room any more.
    pub(super) fn close(&self) {
        self.room.close();
    }

    /// Resolves once a `record` found no room.
    pub(super) async fn pressed(&self) {
        self.pressed.notified().await;
    }

    /// Takes one place under the limit, waiting in turn until `deadline`;
    /// false if it passed first. A closed admission (the writer stopped)
    /// lets everyone through to the closed queue.
    pub(super) async fn enter(&self, deadline: Instant) -> bool {
        let place = match self.room.try_acquire() {
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                self.pressed.notify_one();
                match tokio::time::timeout_at(deadline.into(), self.room.acquire()).await {
                    Ok(place) => place,
                    Err(_) => return false,
                }
            }
            Ok(place) => Ok(place),
            Err(tokio::sync::TryAcquireError::Closed) => return true,
        };
        // The writer gives the place back when it takes the event.
        if let Ok(place) = place {
            place.forget();
        }
        true
    }
}

/// What the writer commits in `budget` at `cost` seconds per event,
/// between `floor` and `capacity`.
fn within_budget(budget: Duration, cost: f64, floor: usize, capacity: usize) -> usize {
    let events = budget.as_secs_f64() / cost.max(1e-9);
    // `as` saturates: an absurd pace is the capacity, never a wrap.
    (events.round() as usize).clamp(floor, capacity.max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const BUDGET: Duration = Duration::from_millis(300);

    #[test]
    fn the_limit_is_the_budget_of_the_writers_pace_within_its_bounds() {
        // 40,000 events a second: 12,000 may wait.
        assert_eq!(within_budget(BUDGET, 25e-6, 4_096, 65_536), 12_000);
        // A fast writer: the queue's capacity.
        assert_eq!(within_budget(BUDGET, 1e-6, 4_096, 65_536), 65_536);
        // A slow one: never below the floor.
        assert_eq!(within_budget(BUDGET, 200e-6, 4_096, 65_536), 4_096);
        // A zero cost is not a division by zero.
        assert_eq!(within_budget(BUDGET, 0.0, 4_096, 65_536), 65_536);
        // A queue smaller than the floor stays the bound.
        assert_eq!(within_budget(BUDGET, 0.1, 100, 100), 100);
    }

    #[test]
    fn small_batches_leave_the_limit_where_it_was() {
        let admission = Admission::new(65_536, Some(BUDGET));
        admission.paced(100, Duration::from_millis(50));
        assert_eq!(admission.limit(), 65_536, "light load: no bound");
        admission.paced(20_000, Duration::from_millis(500));
        assert_eq!(admission.limit(), 12_000);
        admission.paced(1_000, Duration::from_secs(1));
        assert_eq!(admission.limit(), 12_000);
        // One commit at a third of the pace moves the limit by a quarter
        // of the way: 25 µs and 75 µs an event give 37.5 µs, 8,000 events.
        admission.paced(20_000, Duration::from_millis(1_500));
        assert_eq!(admission.limit(), 8_000);
        // Without a budget the capacity alone bounds the queue.
        let unbounded = Admission::new(65_536, None);
        unbounded.paced(20_000, Duration::from_secs(2));
        assert_eq!(unbounded.limit(), 65_536);
    }

    #[tokio::test]
    async fn redirects_wait_in_turn_for_the_places_the_writer_frees() {
        let admission = Arc::new(Admission::new(65_536, Some(BUDGET)));
        admission.paced(20_000, Duration::from_millis(500)); // limit 12,000
        admission.taken(11_998);
        let far = Instant::now() + Duration::from_secs(5);
        assert!(admission.enter(far).await);
        assert!(admission.enter(far).await);
        // Full: the next one waits, and tells the writer.
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.enter(far).await })
        };
        tokio::time::timeout(Duration::from_secs(5), admission.pressed())
            .await
            .expect("the writer is told");
        assert!(!waiter.is_finished(), "no room");
        // The writer took everything: room for the whole limit.
        admission.taken(0);
        assert!(waiter.await.expect("the waiter ends"));
        assert_eq!(admission.room.available_permits(), 11_999);
        // No room and nobody takes anything: the deadline ends the wait.
        admission.taken(12_000);
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(!admission.enter(soon).await);
        // A stopped writer lets everyone on to the closed queue.
        admission.close();
        assert!(admission.enter(soon).await);
    }
}
