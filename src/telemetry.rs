//! Logs and metrics: the tracing subscriber, the Prometheus recorder, and the
//! middleware that gives every request an id, a log line and its RED metrics.
//!
//! Metrics are labelled by route template (`/urls/{id}`), never the raw path,
//! so a scan of random codes cannot create new time series.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rand::Rng;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Latency buckets that resolve sub-millisecond redirects as well as slow writes.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Installs the global log subscriber; later calls are no-ops.
pub fn init_logging(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The process's Prometheus recorder. The `metrics` facade is process-wide by
/// design, so it is installed once and shared by every app in the process.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("kurz_events_batch_size".into()),
                        &[1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0],
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            describe_metrics();
            handle
        })
        .clone()
}

/// How often recorded histogram samples are folded into buckets.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// The exporter keeps every histogram sample until upkeep folds it into the
/// buckets; without this, memory grows with traffic between scrapes.
pub async fn run_upkeep(handle: PrometheusHandle, stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}

fn describe_metrics() {
    metrics::describe_counter!(
        "kurz_http_requests_total",
        "HTTP requests answered, by route, method and status class."
    );
    metrics::describe_histogram!(
        "kurz_http_request_duration_seconds",
        "Time to answer an HTTP request, by route and method."
    );
    metrics::describe_counter!(
        "kurz_events_written_total",
        "Events the recorder wrote to the store."
    );
    metrics::describe_counter!(
        "kurz_events_dropped_total",
        "Events lost because the queue was full or closed."
    );
    metrics::describe_counter!(
        "kurz_events_write_errors_total",
        "Failed event batch writes (retried)."
    );
    metrics::describe_gauge!(
        "kurz_events_queue_depth",
        "Events waiting in the recorder's queue."
    );
    metrics::describe_histogram!("kurz_events_batch_size", "Events per batch written.");
    metrics::describe_histogram!(
        "kurz_events_flush_duration_seconds",
        "Time to write one event batch."
    );
}

/// A client's id is kept when it is short and plain; otherwise a new one is made.
fn request_id(req: &Request) -> HeaderValue {
    let sane = req.headers().get(&REQUEST_ID).filter(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
    });
    match sane {
        Some(v) => v.clone(),
        None => {
            let id: u128 = rand::rng().random();
            HeaderValue::try_from(format!("{id:032x}")).unwrap_or(HeaderValue::from_static("0"))
        }
    }
}

/// One span, one log line and the RED metrics per request; echoes the id.
pub async fn observe_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %String::from_utf8_lossy(id.as_bytes()),
        method = %method,
        route = %route,
    );
    let mut response = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!("kurz_http_requests_total", "route" => route.clone(), "method" => method.to_string(), "status" => class)
        .increment(1);
    metrics::histogram!("kurz_http_request_duration_seconds", "route" => route, "method" => method.to_string())
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            target: "kurz::access",
            path = %path,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    response
}
