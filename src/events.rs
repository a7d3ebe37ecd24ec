//! The event recorder: redirect events leave the request path through a
//! bounded queue and reach the store in batches.
//!
//! `EventSink::record` never waits on the database. The writer (a thread
//! of its own on a multi-threaded runtime, see `Writer`) wakes on the
//! first queued event, lingers so a batch can fill, then writes everything
//! queued in one statement; fewer, larger commits rewrite the event log's
//! index pages far less often. The linger (250 ms by default) counts from
//! the oldest event's arrival, not from the writer's waking: events that
//! queued up during a commit have waited since it began (`linger_until`),
//! so under load an event waits at most one linger, or one commit if that
//! is longer, before its batch is taken. A full queue
//! while the writer is writing means redirects arrive faster than the store
//! takes events: `record` then waits for room (up to `BACKPRESSURE_LIMIT`),
//! so a saturated replica slows to its store's pace instead of losing
//! events. The queue counts as full at its capacity or at 300 ms of the
//! writer's pace, whichever is less (`Admission`), so that an event is in
//! `GET /events` within a second at any load. While writes fail it waits
//! only `overflow_wait`, then drops the event and counts it
//! (`kurz_events_dropped_total`): an outage of the database must not make
//! every redirect slow. A failed write is retried with backoff; the batch
//! stays in memory meanwhile. `close` stops intake and writes
//! everything still queued: a graceful stop loses nothing.
//!
//! At saturation the queue is full (at its admission limit, at most its
//! capacity), so its memory is the replica's largest part: the queue
//! carries events alone (flush requests have a channel of their own), and
//! every batch is taken into one buffer allocated once at
//! full size, so the queue and one batch are all the events held.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::domain::RedirectEvent;
use crate::store::{RollupWindow, Store};

mod admission;
mod batch;
mod cadence;
mod flushes;
mod writer;
use admission::Admission;
use batch::{merge_window, take_queued, write_batch};
use cadence::{linger_until, LastTake};
use flushes::{FlushWaiter, Flushes};
use writer::Writer;

/// How the recorder batches and how patient it is.
#[derive(Debug, Clone)]
pub struct RecorderSettings {
    /// Events the queue holds before `record` has to wait.
    pub queue_capacity: usize,
    /// Most events written in one transaction.
    pub max_batch: usize,
    /// How long a non-full batch waits for company before it is written.
    pub linger: Duration,
    /// How much of the writer's pace the queue holds before `record`
    /// waits (`Admission`); `None`: the capacity alone.
    pub lag_budget: Option<Duration>,
    /// How long `record` waits for room in a full queue before dropping.
    pub overflow_wait: Duration,
    /// How long the writer sums the reports' roll-ups before merging them
    /// (`RollupWindow`): reports follow redirects by up to this.
    pub rollup_window: Duration,
}

/// How long `record` waits for room in a full queue while the writer is
/// succeeding (it is behind, not stuck).
const BACKPRESSURE_LIMIT: Duration = Duration::from_secs(2);

/// The handle request handlers hold; cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    /// Events only, so the queue holds nothing bigger than an event and a
    /// batch is taken from it as it is, with no copy.
    tx: mpsc::Sender<RedirectEvent>,
    flushes: mpsc::UnboundedSender<FlushWaiter>,
    overflow_wait: Duration,
    /// Registered once: `record` is on the redirect hot path.
    depth: metrics::Gauge,
    queued: metrics::Counter,
    /// Events this sink dropped (overflow or closed), beside the
    /// process-wide metric, so one app's losses can be told from another's.
    dropped: Arc<AtomicU64>,
    /// False while the writer's last attempt failed.
    writer_ok: Arc<AtomicBool>,
    /// How many queued events `record` admits before it waits.
    admission: Arc<Admission>,
}

/// Owns the writer; `close` drains it.
pub struct EventRecorder {
    stop: CancellationToken,
    writer: Writer,
}

impl EventRecorder {
    pub fn start(store: Arc<Store>, settings: RecorderSettings) -> (Self, EventSink) {
        let (tx, rx) = mpsc::channel(settings.queue_capacity.max(1));
        let (flushes, flush_rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let writer_ok = Arc::new(AtomicBool::new(true));
        let admission = Arc::new(Admission::new(settings.queue_capacity, settings.lag_budget));
        let writer = Writer::spawn(write_loop(
            store,
            Intake {
                events: rx,
                flushes: flush_rx,
                admission: admission.clone(),
            },
            settings.clone(),
            stop.clone(),
            writer_ok.clone(),
        ));
        let sink = EventSink {
            tx,
            flushes,
            overflow_wait: settings.overflow_wait,
            depth: metrics::gauge!("kurz_events_queue_depth"),
            queued: metrics::counter!("kurz_events_queued_total"),
            dropped: Arc::default(),
            writer_ok,
            admission,
        };
        (Self { stop, writer }, sink)
    }

    /// Stops intake and returns once every queued event is written (or the
    /// deadline passed, which is logged with the number of events lost).
    pub async fn close(self, deadline: Duration) {
        self.stop.cancel();
        if tokio::time::timeout(deadline, self.writer.finished())
            .await
            .is_err()
        {
            tracing::error!("event writer did not drain before the shutdown deadline");
        }
    }
}

impl EventSink {
    /// Queues an event. Waits only when the queue is full: up to
    /// `BACKPRESSURE_LIMIT` while the writer is writing (the queue is full
    /// at its admission limit), `overflow_wait` while it is failing (full
    /// at its capacity: during an outage every event it can hold is kept).
    pub async fn record(&self, event: RedirectEvent) {
        if self.writer_ok.load(Ordering::Relaxed) {
            let deadline = Instant::now() + BACKPRESSURE_LIMIT;
            if !self.admission.enter(deadline).await {
                return self.lost("overflow");
            }
        }
        let event = match self.tx.try_send(event) {
            Ok(()) => {
                self.depth.increment(1.0);
                self.queued.increment(1);
                return;
            }
            Err(mpsc::error::TrySendError::Full(event)) => event,
            Err(mpsc::error::TrySendError::Closed(_)) => return self.lost("closed"),
        };
        let wait = if self.writer_ok.load(Ordering::Relaxed) {
            BACKPRESSURE_LIMIT
        } else {
            self.overflow_wait
        };
        match self.tx.send_timeout(event, wait).await {
            Ok(()) => {
                self.depth.increment(1.0);
                self.queued.increment(1);
            }
            Err(_) => self.lost("overflow"),
        }
    }

    /// Counts an event dropped for `reason` (`overflow` or `closed`).
    fn lost(&self, reason: &'static str) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("kurz_events_dropped_total", "reason" => reason).increment(1);
    }

    /// How many events this sink has dropped since it started.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Returns once every event queued before this call is in the store.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.flushes.send(done).is_ok() {
            let _ = wait.await;
        }
    }
}

/// How often the SQLite writer's page cache is sized to the store again
/// (`Store::fit_writer_cache`): links and users come and go slowly.
const CACHE_FIT_INTERVAL: Duration = Duration::from_secs(600);

async fn fit_writer_cache(store: &Store, batch_rows: usize) {
    match store.fit_writer_cache(batch_rows).await {
        Ok(Some(kib)) => tracing::debug!(kib, "sized the SQLite writer's page cache"),
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(error = %error, "sizing the SQLite writer's page cache failed; it keeps its size");
        }
    }
}

/// What the writer reads: the events, and the flush requests beside them.
struct Intake {
    events: mpsc::Receiver<RedirectEvent>,
    flushes: mpsc::UnboundedReceiver<FlushWaiter>,
    /// Told when events leave the queue, and the writer's pace.
    admission: Arc<Admission>,
}

async fn write_loop(
    store: Arc<Store>,
    mut intake: Intake,
    settings: RecorderSettings,
    stop: CancellationToken,
    writer_ok: Arc<AtomicBool>,
) {
    // One buffer for every batch, at its full size from the start: a
    // growing one would hold its old and new allocation at once while the
    // queue behind it is full.
    let mut batch: Vec<RedirectEvent> = Vec::with_capacity(settings.max_batch);
    let mut flushes = Flushes::default();
    let mut closing = false;
    fit_writer_cache(&store, settings.max_batch).await;
    let mut next_fit = Instant::now() + CACHE_FIT_INTERVAL;
    let mut window = RollupWindow::new(settings.rollup_window);
    let mut last_take = LastTake {
        at: Instant::now(),
        left_backlog: false,
    };
    loop {
        let rx = &mut intake.events;
        if !closing && flushes.waiting.is_empty() {
            let due = window.due_at().unwrap_or_else(Instant::now);
            // Events already waiting arrived after `last_take` (while the
            // last batch or an idle merge was being written).
            let found_queued = !rx.is_empty();
            tokio::select! {
                biased;
                _ = stop.cancelled() => {
                    // Refuse new events; everything already queued is still read.
                    rx.close();
                    closing = true;
                    continue;
                }
                Some(done) = intake.flushes.recv() => {
                    flushes.add(done, rx.len());
                    continue;
                }
                // Idle with sums pending: merge them when they are due.
                () = tokio::time::sleep_until(due.into()), if !window.is_empty() => {
                    let (merging, quiet) = (Instant::now(), rx.is_empty());
                    merge_window(store.as_ref(), &mut window).await;
                    if quiet {
                        // What queues during the merge is no older than it.
                        last_take = LastTake { at: merging, left_backlog: false };
                    }
                    continue;
                }
                received = rx.recv_many(&mut batch, settings.max_batch) => {
                    if received == 0 { break; }
                }
            }
            // Linger for a fuller batch, unless someone waits on a flush or
            // the queue is at its admission limit. The writer sleeps instead
            // of waking for every event that arrives.
            let until = linger_until(Instant::now(), settings.linger, found_queued, last_take);
            let at_limit = batch.len() + rx.len() >= intake.admission.limit();
            if batch.len() < settings.max_batch && !at_limit && until > Instant::now() {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => {}
                    Some(done) = intake.flushes.recv() => flushes.add(done, batch.len() + rx.len()),
                    () = intake.admission.pressed() => {}
                    () = tokio::time::sleep_until(until.into()) => {}
                }
            }
            take_queued(rx, &mut batch, settings.max_batch);
        } else if closing {
            if rx.recv_many(&mut batch, settings.max_batch).await == 0 {
                break;
            }
        } else {
            // A flush waits: write what is queued now, without lingering.
            while let Ok(done) = intake.flushes.try_recv() {
                flushes.add(done, rx.len());
            }
            take_queued(rx, &mut batch, settings.max_batch);
        }
        last_take = LastTake {
            at: Instant::now(),
            left_backlog: !rx.is_empty(),
        };
        // Events left the queue: room for as many under the limit.
        intake.admission.taken(rx.len());
        let written = batch.len();
        if let Some(took) = write_batch(store.as_ref(), &mut batch, &writer_ok, &mut window).await {
            intake.admission.paced(written, took);
        }
        if flushes.wrote(written) {
            // A flushed report is complete: the roll-ups are merged first.
            merge_window(store.as_ref(), &mut window).await;
            for done in flushes.waiting.drain(..) {
                let _ = done.send(());
            }
        }
        if Instant::now() >= next_fit {
            fit_writer_cache(&store, settings.max_batch).await;
            next_fit = Instant::now() + CACHE_FIT_INTERVAL;
        }
    }
    intake.admission.close();
    // Stopping: the sums still pending go too (`close` bounds the wait).
    let mut backoff = Duration::from_millis(50);
    while !window.is_empty() {
        if !merge_window(store.as_ref(), &mut window).await {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
    for done in flushes.waiting {
        let _ = done.send(());
    }
}
