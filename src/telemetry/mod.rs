//! Logs, metrics and traces.
//!
//! - `logging`: the tracing subscriber (JSON or pretty lines on a
//!   non-blocking stdout writer) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//!   set, the OpenTelemetry layer exporting spans over OTLP.
//! - `metrics`: the Prometheus recorder, metric descriptions and upkeep.
//! - `http`: what the edge layer (`api::edge`) does for every request:
//!   an id, a span, one access-log line with its stage timings, and its
//!   RED metrics.
//! - `stages`: per-request stage timings (cache tiers, database) collected
//!   wherever the work happens, without passing anything down.
//! - `process`: process CPU, memory, file descriptors and uptime from `/proc`.

pub mod http;
pub mod logging;
pub mod metrics;
pub mod process;
pub mod stages;

pub use self::logging::{init, TelemetryGuard};
pub use self::metrics::{metrics_handle, run_upkeep};
pub use self::stages::{stage_timer, Stage};
