//! The event recorder: redirect events leave the request path through a
//! bounded queue and reach the store in batches.
//!
//! `EventSink::record` never waits on the database. The writer task wakes
//! on the first queued event, sleeps `linger` (250 ms by default) so a batch
//! can fill, then writes everything queued in one statement; fewer, larger
//! commits rewrite the event log's index pages far less often. A full queue
//! while the writer is writing means redirects arrive faster than the store
//! takes events: `record` then waits for room (up to `BACKPRESSURE_LIMIT`),
//! so a saturated replica slows to its store's pace instead of losing
//! events. While writes fail it waits only `overflow_wait`, then drops the
//! event and counts it (`kurz_events_dropped_total`): an outage of the
//! database must not make every redirect slow. A failed write is retried with backoff; the
//! batch stays in memory meanwhile. `close` stops intake and writes
//! everything still queued: a graceful stop loses nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::domain::RedirectEvent;
use crate::store::{RollupWindow, Store};

/// How the recorder batches and how patient it is.
#[derive(Debug, Clone)]
pub struct RecorderSettings {
    /// Events the queue holds before `record` has to wait.
    pub queue_capacity: usize,
    /// Most events written in one transaction.
    pub max_batch: usize,
    /// How long a non-full batch waits for company before it is written.
    pub linger: Duration,
    /// How long `record` waits for room in a full queue before dropping.
    pub overflow_wait: Duration,
    /// How long the writer sums the reports' roll-ups before merging them
    /// (`RollupWindow`): reports follow redirects by up to this.
    pub rollup_window: Duration,
}

/// How long `record` waits for room in a full queue while the writer is
/// succeeding (it is behind, not stuck).
const BACKPRESSURE_LIMIT: Duration = Duration::from_secs(2);

enum Command {
    Record(RedirectEvent),
    /// Answered once every event queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// The handle request handlers hold; cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Command>,
    overflow_wait: Duration,
    /// Registered once: `record` is on the redirect hot path.
    depth: metrics::Gauge,
    queued: metrics::Counter,
    /// Events this sink dropped (overflow or closed), beside the
    /// process-wide metric, so one app's losses can be told from another's.
    dropped: Arc<AtomicU64>,
    /// False while the writer's last attempt failed.
    writer_ok: Arc<AtomicBool>,
}

/// Owns the writer task; `close` drains it.
pub struct EventRecorder {
    stop: CancellationToken,
    writer: JoinHandle<()>,
}

impl EventRecorder {
    pub fn start(store: Arc<Store>, settings: RecorderSettings) -> (Self, EventSink) {
        let (tx, rx) = mpsc::channel(settings.queue_capacity.max(1));
        let stop = CancellationToken::new();
        let writer_ok = Arc::new(AtomicBool::new(true));
        let writer = tokio::spawn(write_loop(
            store,
            rx,
            settings.clone(),
            stop.clone(),
            writer_ok.clone(),
        ));
        let sink = EventSink {
            tx,
            overflow_wait: settings.overflow_wait,
            depth: metrics::gauge!("kurz_events_queue_depth"),
            queued: metrics::counter!("kurz_events_queued_total"),
            dropped: Arc::default(),
            writer_ok,
        };
        (Self { stop, writer }, sink)
    }

    /// Stops intake and returns once every queued event is written (or the
    /// deadline passed, which is logged with the number of events lost).
    pub async fn close(self, deadline: Duration) {
        self.stop.cancel();
        if tokio::time::timeout(deadline, self.writer).await.is_err() {
            tracing::error!("event writer did not drain before the shutdown deadline");
        }
    }
}

impl EventSink {
    /// Queues an event. Waits only when the queue is full: up to
    /// `BACKPRESSURE_LIMIT` while the writer is writing, `overflow_wait`
    /// while it is failing.
    pub async fn record(&self, event: RedirectEvent) {
        let command = match self.tx.try_send(Command::Record(event)) {
            Ok(()) => {
                self.depth.increment(1.0);
                self.queued.increment(1);
                return;
            }
            Err(mpsc::error::TrySendError::Full(command)) => command,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("kurz_events_dropped_total", "reason" => "closed").increment(1);
                return;
            }
        };
        let wait = if self.writer_ok.load(Ordering::Relaxed) {
            BACKPRESSURE_LIMIT
        } else {
            self.overflow_wait
        };
        match self.tx.send_timeout(command, wait).await {
            Ok(()) => {
                self.depth.increment(1.0);
                self.queued.increment(1);
            }
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("kurz_events_dropped_total", "reason" => "overflow").increment(1);
            }
        }
    }

    /// How many events this sink has dropped since it started.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Returns once every event queued before this call is in the store.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// How often the SQLite writer's page cache is sized to the store again
/// (`Store::fit_writer_cache`): links and users come and go slowly.
const CACHE_FIT_INTERVAL: Duration = Duration::from_secs(600);

async fn fit_writer_cache(store: &Store) {
    match store.fit_writer_cache().await {
        Ok(Some(kib)) => tracing::debug!(kib, "sized the SQLite writer's page cache"),
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(error = %error, "sizing the SQLite writer's page cache failed; it keeps its size");
        }
    }
}

async fn write_loop(
    store: Arc<Store>,
    mut rx: mpsc::Receiver<Command>,
    settings: RecorderSettings,
    stop: CancellationToken,
    writer_ok: Arc<AtomicBool>,
) {
    let mut commands = Vec::with_capacity(settings.max_batch.min(4096));
    let mut closing = false;
    fit_writer_cache(&store).await;
    let mut next_fit = Instant::now() + CACHE_FIT_INTERVAL;
    let mut window = RollupWindow::new(settings.rollup_window);
    loop {
        if !closing {
            let due = window.due_at().unwrap_or_else(Instant::now);
            tokio::select! {
                biased;
                _ = stop.cancelled() => {
                    // Refuse new events; everything already queued is still read.
                    rx.close();
                    closing = true;
                    continue;
                }
                // Idle with sums pending: merge them when they are due.
                () = tokio::time::sleep_until(due.into()), if !window.is_empty() => {
                    merge_window(store.as_ref(), &mut window).await;
                    continue;
                }
                received = rx.recv_many(&mut commands, settings.max_batch) => {
                    if received == 0 { break; }
                }
            }
            // Linger for a fuller batch, unless someone waits on a flush. The
            // writer sleeps instead of waking for every event that arrives.
            let waiting_flush = commands.iter().any(|c| matches!(c, Command::Flush(_)));
            if !waiting_flush && commands.len() < settings.max_batch {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => {}
                    () = tokio::time::sleep(settings.linger) => {}
                }
                while commands.len() < settings.max_batch {
                    match rx.try_recv() {
                        Ok(command) => commands.push(command),
                        Err(_) => break,
                    }
                }
            }
        } else if rx.recv_many(&mut commands, settings.max_batch).await == 0 {
            break;
        }
        write_batch(
            store.as_ref(),
            std::mem::take(&mut commands),
            &writer_ok,
            &mut window,
        )
        .await;
        if Instant::now() >= next_fit {
            fit_writer_cache(&store).await;
            next_fit = Instant::now() + CACHE_FIT_INTERVAL;
        }
    }
    // Stopping: the sums still pending go too (`close` bounds the wait).
    let mut backoff = Duration::from_millis(50);
    while !window.is_empty() {
        if !merge_window(store.as_ref(), &mut window).await {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}

/// Merges the window's sums; on failure keeps them for a later try.
async fn merge_window(store: &Store, window: &mut RollupWindow) -> bool {
    match store.flush_rollups(window).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(error = %error, "merging report roll-ups failed; retrying");
            window.postpone();
            false
        }
    }
}

/// Writes the events of one batch, then answers its flushes (after the
/// roll-ups are merged too, so a flushed report is complete).
async fn write_batch(
    store: &Store,
    commands: Vec<Command>,
    writer_ok: &AtomicBool,
    window: &mut RollupWindow,
) {
    let mut events = Vec::with_capacity(commands.len());
    let mut flushes = Vec::new();
    for command in commands {
        match command {
            Command::Record(event) => events.push(event),
            Command::Flush(done) => flushes.push(done),
        }
    }
    if !events.is_empty() {
        metrics::gauge!("kurz_events_queue_depth").decrement(events.len() as f64);
        metrics::histogram!("kurz_events_batch_size").record(events.len() as f64);
        // Summed once; every retry below commits the same sums.
        store.sum_redirects(&events, window);
        let mut backoff = Duration::from_millis(50);
        loop {
            let started = Instant::now();
            match store.commit_redirect_batch(&events, window).await {
                Ok(()) => {
                    writer_ok.store(true, Ordering::Relaxed);
                    metrics::histogram!("kurz_events_flush_duration_seconds")
                        .record(started.elapsed().as_secs_f64());
                    metrics::counter!("kurz_events_written_total").increment(events.len() as u64);
                    break;
                }
                Err(error) => {
                    writer_ok.store(false, Ordering::Relaxed);
                    metrics::counter!("kurz_events_write_errors_total").increment(1);
                    tracing::warn!(error = %error, events = events.len(), "event batch failed; retrying");
                    // Keep trying, also while stopping: the deadline in `close` bounds it.
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
    if !flushes.is_empty() {
        merge_window(store, window).await;
    }
    for done in flushes {
        let _ = done.send(());
    }
}
