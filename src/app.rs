//! Building and running the service: `App::build` opens the store, starts
//! the event recorder and binds the socket; `run_until_stopped` serves until
//! the stop signal, then shuts down in order.
//!
//! Shutdown, all in this file: (1) readiness fails (and, for
//! `KURZ_SHUTDOWN_DRAIN_MS`, the replica keeps serving so a load balancer
//! takes it out first), then the listener stops accepting; (2) in-flight
//! requests finish, within the deadline; (3) the event recorder writes
//! everything still queued; (4) the store's pools close.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::analytics::{Analytics, Countries};
use crate::cache::Links;
use crate::config::{Config, Settings};
use crate::domain::CodeSource;
use crate::events::{EventRecorder, EventSink};
use crate::service::Service;
use crate::state::{AppState, Shared};
use crate::store::Store;
use crate::{api, server, telemetry};

pub struct App {
    listener: TcpListener,
    state: AppState,
    store: Arc<Store>,
    events: EventSink,
    recorder: EventRecorder,
    /// The Redis invalidation listener, when Redis is configured.
    subscriber: Option<JoinHandle<()>>,
    /// Keeps the store's filter of codes complete, when links use it.
    code_watch: Option<JoinHandle<()>>,
    /// Folds recorded histogram samples into their buckets (see `telemetry`).
    upkeep: Option<JoinHandle<()>>,
    /// Creates and retires the event log's partitions (PostgreSQL).
    partitions: JoinHandle<()>,
    /// Reloads the deny-list on SIGHUP, when one is configured.
    reloader: Option<JoinHandle<()>>,
    /// Stops background tasks that must outlive the last request.
    background: CancellationToken,
    config: Config,
    stop: CancellationToken,
}

impl App {
    /// Parses the settings, opens (and migrates) the store, starts the
    /// recorder and binds the socket. Port 0 picks a free port;
    /// `local_addr` tells which.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_codes(settings, CodeSource::random()).await
    }

    /// `build`, with generated short codes taken from `codes`.
    pub async fn build_with_codes(settings: Settings, codes: CodeSource) -> anyhow::Result<Self> {
        let config = settings.parse()?;
        telemetry::process::mark_start();
        let metrics = config.server.metrics.then(telemetry::metrics_handle);
        let mut store = Store::connect(&config.store.url, config.store.max_connections)
            .await
            .context("failed to open the database")?
            .with_codes(codes);
        if let Some(turns) = config.store.list_streams {
            store = store.with_list_streams(turns);
        }
        let store = Arc::new(store);
        if config.store.migrate_on_start {
            store
                .migrate()
                .await
                .context("failed to migrate the database")?;
        }
        let (recorder, events) = EventRecorder::start(store.clone(), config.events.clone());
        let background = CancellationToken::new();
        // Before the first request, so this month's partition exists and
        // no write waits on the round that creates it.
        let retention = config.store.event_retention_days;
        let partitions_ready = maintain_partitions(&store, retention).await;
        let partitions = tokio::spawn(keep_event_partitions(
            store.clone(),
            retention,
            partitions_ready,
            background.clone(),
        ));
        let (links, subscriber) =
            Links::start(store.clone(), config.cache.clone(), background.clone())
                .context("failed to set up the cache")?;
        let code_watch = links
            .filters_codes()
            .then(|| tokio::spawn(store.clone().keep_known_codes(background.clone())));
        let upkeep = metrics
            .clone()
            .map(|handle| tokio::spawn(telemetry::run_upkeep(handle, background.clone())));
        metrics::gauge!("kurz_build_info", "version" => env!("CARGO_PKG_VERSION"), "engine" => store.engine())
            .set(1.0);
        let countries = match &config.server.geoip_db {
            Some(path) => Some(Arc::new(Countries::open(path).with_context(|| {
                format!("failed to read KURZ_GEOIP_DB {}", path.display())
            })?)),
            None => None,
        };
        let listener = server::bind(config.server.bind, config.server.connections.listen_backlog)
            .with_context(|| format!("failed to bind {}", config.server.bind))?;
        let service = Service::new(
            store.clone(),
            links,
            events.clone(),
            config.server.auth.clone(),
            Analytics::new(config.server.salter.clone(), countries),
        )
        .with_deny_list(config.server.deny_list_file.clone())
        .context("failed to read KURZ_DENY_LIST_FILE")?;
        let reloader = config
            .server
            .deny_list_file
            .is_some()
            .then(|| tokio::spawn(reload_on_hangup(service.clone(), background.clone())));
        let state = AppState::new(Shared {
            service,
            policy: config.server.target_policy,
            stopping: Arc::new(AtomicBool::new(false)),
            metrics,
            json_body_limit: config.server.json_body_limit,
            csv_body_limit: config.server.csv_body_limit,
            public_url: match &config.server.public_url {
                Some(url) => url.clone(),
                None => format!("http://{}", listener.local_addr()?),
            },
        });
        Ok(Self {
            listener,
            state,
            store,
            events,
            recorder,
            subscriber,
            code_watch,
            upkeep,
            partitions,
            reloader,
            background,
            config,
            stop: CancellationToken::new(),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Cancel it to start a graceful stop (the binary ties it to SIGTERM/SIGINT).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// A handle on the event queue, for tests that wait for writes (`flush`)
    /// or check that nothing was dropped.
    pub fn event_sink(&self) -> EventSink {
        self.events.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            store,
            events,
            recorder,
            subscriber,
            code_watch,
            upkeep,
            partitions,
            reloader,
            background,
            config,
            stop,
        } = self;
        drop(events);
        let stopping = state.stopping.clone();
        let router = api::router(state, &config.server.limits);
        let drain = config.server.shutdown_drain;
        let begin_stop = {
            let stop = stop.clone();
            async move {
                stop.cancelled().await;
                stopping.store(true, Ordering::SeqCst);
                if !drain.is_zero() {
                    tracing::info!(
                        drain_ms = drain.as_millis() as u64,
                        "stopping: readiness fails, still serving"
                    );
                    tokio::time::sleep(drain).await;
                }
                tracing::info!("stopping: no new connections, finishing requests in flight");
            }
        };
        let server = server::serve(
            listener,
            router,
            config.server.connections.clone(),
            begin_stop,
        );
        tokio::pin!(server);
        let deadline = config.server.shutdown_timeout;
        tokio::select! {
            () = &mut server => (),
            () = stop.cancelled() => {
                if tokio::time::timeout(deadline, &mut server).await.is_err() {
                    tracing::error!("requests still running at the shutdown deadline; closing them");
                }
            }
        };
        // The router (and its event senders) is gone with the server future.
        recorder.close(deadline).await;
        background.cancel();
        for task in [subscriber, code_watch].into_iter().flatten() {
            let _ = task.await;
        }
        if let Some(upkeep) = upkeep {
            let _ = upkeep.await;
        }
        if let Some(reloader) = reloader {
            let _ = reloader.await;
        }
        let _ = partitions.await;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Reads the deny-list again on every SIGHUP until `stop`.
async fn reload_on_hangup(service: Service, stop: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; the deny-list will not be reloaded");
            return;
        };
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                received = hangups.recv() => if received.is_none() { return },
            }
            match service.reload_deny_list() {
                Ok(count) => tracing::info!(domains = count, "deny-list reloaded"),
                Err(error) => {
                    tracing::error!(%error, "deny-list reload failed; the old list stays")
                }
            }
        }
    }
    #[cfg(not(unix))]
    stop.cancelled().await;
}

/// How often the event log's partitions are checked, and how soon a
/// failed round is retried.
const PARTITION_UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
const PARTITION_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// One round of partition upkeep; a failure is logged (the database may
/// still be starting) and reported as `false`.
async fn maintain_partitions(store: &Store, retention_days: Option<u32>) -> bool {
    let now = crate::domain::now_utc();
    if let Err(error) = store.forget_old_visitors(now).await {
        tracing::warn!(%error, "pruning counted visitors failed; retrying");
        return false;
    }
    match store.maintain_event_partitions(now, retention_days).await {
        Ok(done) => {
            if !done.created.is_empty() || !done.dropped.is_empty() {
                tracing::info!(created = ?done.created, dropped = ?done.dropped, moved = done.moved, "event partitions");
            }
            true
        }
        Err(error) => {
            tracing::warn!(%error, "event partition upkeep failed; retrying");
            false
        }
    }
}

/// Creates next months' event partitions and drops expired ones, and
/// forgets the visitor hashes of past days: hourly, or every minute while
/// rounds fail.
async fn keep_event_partitions(
    store: Arc<Store>,
    retention_days: Option<u32>,
    mut last_ok: bool,
    stop: CancellationToken,
) {
    loop {
        let wait = if last_ok {
            PARTITION_UPKEEP_EVERY
        } else {
            PARTITION_RETRY_AFTER
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        last_ok = maintain_partitions(&store, retention_days).await;
    }
}
