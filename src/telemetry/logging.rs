//! The tracing subscriber: log lines (JSON or pretty) on stdout through a
//! non-blocking writer, so a slow stdout never holds up a request (lines are
//! dropped and counted instead), and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//! set, an OpenTelemetry layer that exports spans over OTLP/HTTP.
//!
//! Each output has its own filter: `KURZ_LOG` for lines, `KURZ_TRACE_FILTER`
//! for spans, so traces can include the debug-level cache and store spans
//! without turning on debug logs.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for Loki and friends.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

/// Keeps the log writer and the span exporter alive; dropping it flushes both.
pub struct TelemetryGuard {
    _writer: Option<WorkerGuard>,
    tracer: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// A guard with nothing behind it (telemetry was already set up).
    pub fn none() -> Self {
        Self {
            _writer: None,
            tracer: None,
        }
    }

    pub fn tracing_enabled(&self) -> bool {
        self.tracer.is_some()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(tracer) = self.tracer.take() {
            if let Err(error) = tracer.shutdown() {
                eprintln!("kurz: flushing traces failed: {error}");
            }
        }
    }
}

/// Log lines that may wait for stdout before new ones are dropped. The
/// writer's queue is a ring of this many slots, allocated and touched in
/// full at start (32 bytes each), and every waiting line holds its text (an
/// access line is about 350 bytes): the library's default of 128,000 lines
/// kept 3.9 MiB resident in an idle replica and let a stalled stdout pile
/// up some 45 MiB of lines. 16,384 lines are 0.2 s of access lines at
/// 80,000 requests a second and minutes of anything slower.
const BUFFERED_LINES: usize = 16_384;

/// Where log lines that could not be written are counted.
static DROPPED: std::sync::OnceLock<ErrorCounter> = std::sync::OnceLock::new();

/// Log lines dropped because stdout could not keep up.
pub fn dropped_log_lines() -> usize {
    DROPPED.get().map_or(0, ErrorCounter::dropped_lines)
}

/// What `init` needs to know; built and checked by `config`.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub filter: EnvFilter,
    pub format: LogFormat,
    pub trace_filter: EnvFilter,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`; `None` means no tracing at all.
    pub otlp_endpoint: Option<String>,
}

/// A filter directive such as `info,kurz=debug`, or why it is not one.
pub fn parse_filter(directives: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(directives).map_err(|e| e.to_string())
}

/// Installs the global subscriber once; later calls change nothing.
pub fn init(settings: &LogSettings) -> anyhow::Result<TelemetryGuard> {
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LINES)
        .lossy(true)
        .finish(std::io::stdout());
    let _ = DROPPED.set(writer.error_counter());
    let filter = settings.filter.clone();
    let lines = match settings.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    let provider = if wants_tracing(settings.otlp_endpoint.as_deref()) {
        Some(otlp_provider()?)
    } else {
        None
    };
    let spans = provider.as_ref().map(|p| {
        let filter = settings.trace_filter.clone();
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("kurz"))
            .with_filter(filter)
    });
    let installed = tracing_subscriber::registry()
        .with(lines)
        .with(spans)
        .try_init()
        .is_ok();
    Ok(if installed {
        TelemetryGuard {
            _writer: Some(guard),
            tracer: provider,
        }
    } else {
        TelemetryGuard::none()
    })
}

/// Tracing is on exactly when an OTLP endpoint is configured.
fn wants_tracing(endpoint: Option<&str>) -> bool {
    endpoint.is_some_and(|e| !e.trim().is_empty())
}

/// A span exporter to the OTLP/HTTP endpoint named by the standard
/// `OTEL_EXPORTER_OTLP_*` variables, batching in the background.
fn otlp_provider() -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("kurz").build())
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracing_starts_only_with_an_endpoint() {
        assert!(!wants_tracing(None));
        assert!(!wants_tracing(Some("  ")));
        assert!(wants_tracing(Some("http://collector:4318")));
    }

    #[test]
    fn an_endpoint_builds_an_exporter_without_contacting_it() {
        assert!(otlp_provider().is_ok());
    }
}
