//! Building and running the service: `App::build` opens the store, starts
//! the event recorder and binds the socket; `run_until_stopped` serves until
//! the stop signal, then shuts down in order.
//!
//! Shutdown, all in this file: (1) readiness fails and the listener stops
//! accepting; (2) in-flight requests finish, within the deadline; (3) the
//! event recorder writes everything still queued; (4) the store's pools close.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::IntoFuture;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cache::Links;
use crate::config::Settings;
use crate::domain::TargetPolicy;
use crate::events::{EventRecorder, EventSink};
use crate::store::{self, Store};
use crate::{api, telemetry};

/// What every handler can reach. Cloned per request, so it is one `Arc`:
/// a clone is one atomic increment, whatever the fields.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    /// The database, behind the engine-neutral trait.
    pub store: Arc<dyn Store>,
    /// Code resolution and invalidation for redirects.
    pub links: Links,
    /// Where redirect events go; never blocks on the database.
    pub events: EventSink,
    /// Which targets a short link may point at.
    pub policy: TargetPolicy,
    /// Set when a stop began, so readiness fails before the listener closes.
    pub stopping: Arc<AtomicBool>,
    /// Renders `/metrics`; `None` when metrics are turned off.
    pub metrics: Option<PrometheusHandle>,
    /// Per-route request metrics; `None` when metrics are turned off.
    pub http_metrics: Option<crate::telemetry::http::HttpMetrics>,
    pub json_body_limit: usize,
    pub csv_body_limit: usize,
}

pub struct App {
    listener: TcpListener,
    state: AppState,
    recorder: EventRecorder,
    /// The Redis invalidation listener, when Redis is configured.
    subscriber: Option<JoinHandle<()>>,
    /// Folds recorded histogram samples into their buckets (see `telemetry`).
    upkeep: Option<JoinHandle<()>>,
    /// Stops background tasks that must outlive the last request.
    background: CancellationToken,
    settings: Settings,
    stop: CancellationToken,
}

impl App {
    /// Opens (and migrates) the store, starts the recorder and binds the
    /// socket. Port 0 picks a free port; `local_addr` tells which.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        telemetry::process::mark_start();
        let metrics = settings.metrics.then(telemetry::metrics_handle);
        let store = store::connect(&settings.database_url(), settings.db_max_connections)
            .await
            .context("failed to open the database")?;
        if settings.migrate_on_start {
            store
                .migrate()
                .await
                .context("failed to migrate the database")?;
        }
        let (recorder, events) = EventRecorder::start(store.clone(), settings.recorder());
        let background = CancellationToken::new();
        let (links, subscriber) = Links::start(store.clone(), settings.cache(), background.clone())
            .context("failed to set up the cache")?;
        let upkeep = metrics
            .clone()
            .map(|handle| tokio::spawn(telemetry::run_upkeep(handle, background.clone())));
        metrics::gauge!("kurz_build_info", "version" => env!("CARGO_PKG_VERSION"), "engine" => store.engine())
            .set(1.0);
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("failed to bind {}", settings.bind))?;
        let state = AppState(Arc::new(Shared {
            links,
            store,
            events,
            policy: settings.target_policy(),
            stopping: Arc::new(AtomicBool::new(false)),
            http_metrics: metrics
                .as_ref()
                .map(|_| crate::telemetry::http::HttpMetrics::default()),
            metrics,
            json_body_limit: settings.json_body_limit,
            csv_body_limit: settings.csv_body_limit,
        }));
        Ok(Self {
            listener,
            state,
            recorder,
            subscriber,
            upkeep,
            background,
            settings,
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

    /// A handle on the event queue, for tests that wait for writes (`flush`).
    pub fn event_sink(&self) -> EventSink {
        self.state.events.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            recorder,
            subscriber,
            upkeep,
            background,
            settings,
            stop,
        } = self;
        let store = state.store.clone();
        let stopping = state.stopping.clone();
        let router = api::router(state);
        let begin_stop = {
            let stop = stop.clone();
            async move {
                stop.cancelled().await;
                stopping.store(true, Ordering::SeqCst);
                tracing::info!("stopping: no new connections, finishing requests in flight");
            }
        };
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(begin_stop)
        .into_future();
        tokio::pin!(server);
        let deadline = settings.shutdown_timeout();
        let served = tokio::select! {
            result = &mut server => result,
            () = stop.cancelled() => match tokio::time::timeout(deadline, &mut server).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::error!("requests still running at the shutdown deadline; closing them");
                    Ok(())
                }
            },
        };
        // The router (and its event senders) is gone with the server future.
        recorder.close(deadline).await;
        background.cancel();
        if let Some(subscriber) = subscriber {
            let _ = subscriber.await;
        }
        if let Some(upkeep) = upkeep {
            let _ = upkeep.await;
        }
        store.close().await;
        tracing::info!("stopped");
        served.context("server failed")
    }
}
