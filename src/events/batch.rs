//! The writer's steps on one batch: taking what is queued, committing it
//! (retrying with backoff while the store fails), and merging the
//! reports' roll-up sums. `write_loop` in `events.rs` decides when.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::domain::RedirectEvent;
use crate::store::{RollupWindow, Store};

/// Moves what is queued into `batch`, up to `max` events, without waiting.
pub(super) fn take_queued(
    rx: &mut mpsc::Receiver<RedirectEvent>,
    batch: &mut Vec<RedirectEvent>,
    max: usize,
) {
    while batch.len() < max {
        match rx.try_recv() {
            Ok(event) => batch.push(event),
            Err(_) => break,
        }
    }
}

/// Merges the window's sums; on failure keeps them for a later try.
pub(super) async fn merge_window(store: &Store, window: &mut RollupWindow) -> bool {
    match store.flush_rollups(window).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(error = %error, "merging report roll-ups failed; retrying");
            window.postpone();
            false
        }
    }
}

/// Writes the events of `batch` and empties it (keeping its allocation);
/// how long the commit took if it succeeded at the first try (`None` for
/// an empty batch or one written after failures: an outage says nothing of
/// the pace).
pub(super) async fn write_batch(
    store: &Store,
    batch: &mut Vec<RedirectEvent>,
    writer_ok: &AtomicBool,
    window: &mut RollupWindow,
) -> Option<Duration> {
    if batch.is_empty() {
        return None;
    }
    let events = batch.as_slice();
    metrics::gauge!("kurz_events_queue_depth").decrement(events.len() as f64);
    metrics::histogram!("kurz_events_batch_size").record(events.len() as f64);
    // Summed once; every retry below commits the same sums.
    store.sum_redirects(events, window);
    let mut backoff = Duration::from_millis(50);
    let mut first_try = true;
    let took = loop {
        let started = Instant::now();
        match store.commit_redirect_batch(events, window).await {
            Ok(()) => {
                let took = started.elapsed();
                writer_ok.store(true, Ordering::Relaxed);
                metrics::histogram!("kurz_events_flush_duration_seconds")
                    .record(took.as_secs_f64());
                metrics::counter!("kurz_events_written_total").increment(events.len() as u64);
                break took;
            }
            Err(error) => {
                first_try = false;
                writer_ok.store(false, Ordering::Relaxed);
                metrics::counter!("kurz_events_write_errors_total").increment(1);
                tracing::warn!(error = %error, events = events.len(), "event batch failed; retrying");
                // Keep trying, also while stopping: the deadline in `close` bounds it.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    };
    batch.clear();
    first_try.then_some(took)
}
