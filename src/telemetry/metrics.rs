//! The Prometheus recorder, the description of every metric, and the
//! upkeep task that folds histogram samples into buckets.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets that resolve sub-millisecond redirects as well as slow writes.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

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
            register_zeroes();
            handle
        })
        .clone()
}

/// How often recorded histogram samples are folded into buckets. Until
/// then each sample is kept (about 25 bytes): at 60,000 requests a second
/// five seconds of them were 5 MiB of a replica's peak memory, one second
/// is 1 MiB (docs/performance.md, "Histogram samples folded every second").
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

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

/// Creates the counters that alerts watch at zero, so "no drops yet" is a
/// series with value 0 rather than no series at all.
fn register_zeroes() {
    for reason in ["overflow", "closed"] {
        metrics::counter!("kurz_events_dropped_total", "reason" => reason).increment(0);
    }
    metrics::counter!("kurz_events_written_total").increment(0);
    metrics::counter!("kurz_events_queued_total").increment(0);
    metrics::counter!("kurz_events_write_errors_total").increment(0);
    metrics::counter!("kurz_log_lines_dropped_total").increment(0);
    metrics::counter!("kurz_cache_invalidation_ack_timeouts_total").increment(0);
    metrics::counter!("kurz_short_code_collisions_total").increment(0);
    metrics::gauge!("kurz_events_queue_depth").increment(0.0);
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
    metrics::describe_counter!(
        "kurz_short_code_collisions_total",
        "Generated short codes that were already taken and retried."
    );
    metrics::describe_histogram!(
        "kurz_events_flush_duration_seconds",
        "Time to write one event batch."
    );
}
