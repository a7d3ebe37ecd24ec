//! What the edge layer (`api::edge`) does for every request: a request id
//! (the client's when it is sane), a span, the RED metrics, and one
//! access-log line with the request's stage timings.
//!
//! Metrics are labelled by route template (`/urls/{id}`), never the raw path,
//! so a scan of random codes cannot create new time series.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram};

use axum::body::HttpBody;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::Response;
use rand::Rng;
use tracing::Instrument;

use super::stages::{self, Stage};

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The RED handles of one route and method, registered on first use.
struct RouteHandles {
    duration: Histogram,
    /// One counter per status class (1xx..5xx), registered when first seen.
    requests: [OnceLock<Counter>; 5],
}

/// Per-route metric handles, so recording a request is a read lock, two map
/// look-ups and atomic adds instead of building and hashing label sets.
#[derive(Default)]
pub struct HttpMetrics {
    routes: RwLock<HashMap<String, HashMap<&'static str, Arc<RouteHandles>>>>,
}

impl HttpMetrics {
    fn handles(&self, route: &str, method: &'static str) -> Arc<RouteHandles> {
        let known = self
            .routes
            .read()
            .ok()
            .and_then(|routes| routes.get(route).and_then(|m| m.get(method)).cloned());
        if let Some(handles) = known {
            return handles;
        }
        let handles = Arc::new(RouteHandles {
            duration: metrics::histogram!("kurz_http_request_duration_seconds", "route" => route.to_owned(), "method" => method),
            requests: Default::default(),
        });
        if let Ok(mut routes) = self.routes.write() {
            routes
                .entry(route.to_owned())
                .or_default()
                .entry(method)
                .or_insert_with(|| handles.clone());
        }
        handles
    }

    /// Records one request. The handles come from `slot` when it already
    /// holds them for this route (no lock, no hashing, no shared write),
    /// else from the map, and the slot keeps them for next time.
    fn record(
        &self,
        slot: &RouteSlot,
        route: &str,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        let cell = &slot.methods[method_index(method)];
        match cell.get() {
            Some((known_route, handles)) if **known_route == *route => {
                handles.count(route, method, status, elapsed)
            }
            _ => {
                let handles = self.handles(route, method);
                handles.count(route, method, status, elapsed);
                let _ = cell.set((route.into(), handles));
            }
        }
    }
}

impl RouteHandles {
    fn count(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        self.duration.record(elapsed.as_secs_f64());
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.requests[class]
            .get_or_init(|| {
                metrics::counter!("kurz_http_requests_total", "route" => route.to_owned(), "method" => method, "status" => status_class(status))
            })
            .increment(1);
    }
}

/// One route's metric handles, kept where that route is served (the edge
/// layer gives every route its own slot), one cell per method. A slot
/// that meets another route (a fallback) still answers from the map.
#[derive(Default)]
pub struct RouteSlot {
    methods: [OnceLock<(Box<str>, Arc<RouteHandles>)>; METHOD_LABELS],
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
            let mut text = [0u8; 32];
            for (i, digit) in text.iter_mut().enumerate() {
                let nibble = (id >> (124 - 4 * i)) & 0xf;
                *digit = b"0123456789abcdef"[nibble as usize];
            }
            HeaderValue::from_bytes(&text).unwrap_or(HeaderValue::from_static("0"))
        }
    }
}

/// The client address as the edge decided it (the peer, or the forwarded
/// address when the peer is a trusted proxy), put on the request for the
/// handlers (a redirect's visitor hash).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The methods metrics tell apart; anything else is `OTHER`.
const METHOD_LABELS: usize = 8;

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The slot cell of a label from `method_label`.
fn method_index(label: &str) -> usize {
    match label {
        "GET" => 0,
        "HEAD" => 1,
        "POST" => 2,
        "PUT" => 3,
        "DELETE" => 4,
        "PATCH" => 5,
        "OPTIONS" => 6,
        _ => 7,
    }
}

/// One span, one log line and the RED metrics for `req`, which `run`
/// answers; echoes the request id on the response.
///
/// Not an axum `from_fn` middleware: the edge layer (`api::edge`) calls it
/// with the rest of the stack as `run`, so a request pays for no boxed
/// `Next` and no clone of the layers beneath. `http_metrics` is `None`
/// when metrics are off; `RouteSlot` is the serving route's own. `client`
/// is the address the edge decided on (`limits::Limits::client_ip`).
pub async fn observe<F, Fut>(
    http_metrics: Option<(&HttpMetrics, &RouteSlot)>,
    client: Option<IpAddr>,
    req: Request,
    run: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let started = Instant::now();
    let id = request_id(&req);
    let method = method_label(req.method());
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", |m| m.as_str());
    let log_enabled = tracing::enabled!(target: "kurz::access", tracing::Level::INFO);
    let path = log_enabled.then(|| req.uri().path().to_owned());
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        request_id = %String::from_utf8_lossy(id.as_bytes()),
        method,
        route,
    );
    let answer = run(req).instrument(span.clone());
    // Stage timings only feed the access log: without it, no scope.
    let (mut response, times) = if log_enabled {
        let (response, times) = stages::scope(answer).await;
        (response, Some(times))
    } else {
        (answer.await, None)
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if let Some((http, slot)) = http_metrics {
        http.record(slot, route, method, status, elapsed);
    }
    if let Some(times) = times {
        let client = client.map(|ip| ip.to_string());
        // Known for every body but a streamed list (which has no length yet).
        let bytes = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| response.body().size_hint().exact());
        span.in_scope(|| {
            tracing::info!(
                target: "kurz::access",
                path = path.as_deref().unwrap_or(""),
                status,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                bytes,
                client_ip = client.as_deref(),
                cache_local_ms = times.millis(Stage::CacheLocal),
                cache_redis_ms = times.millis(Stage::CacheRedis),
                db_ms = times.millis(Stage::Db),
                "request"
            );
        });
    }
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_counts_its_route_and_a_stranger_under_its_own_label() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let http = HttpMetrics::default();
            let slot = RouteSlot::default();
            let took = Duration::from_millis(1);
            http.record(&slot, "/{code}", "GET", 302, took);
            http.record(&slot, "/{code}", "GET", 404, took);
            http.record(&slot, "/{code}", "HEAD", 302, took);
            // The same slot meeting another route (a fallback) must not
            // count it under the first route's label.
            http.record(&slot, "unmatched", "GET", 404, took);
            http.record(&RouteSlot::default(), "/{code}", "GET", 302, took);
        });
        let text = handle.render();
        let count = |labels: &str| {
            text.lines()
                .find(|l| l.starts_with("kurz_http_requests_total{") && l.contains(labels))
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned)
        };
        let code = r#"route="/{code}",method="GET",status="#;
        assert_eq!(count(&format!(r#"{code}"3xx""#)).as_deref(), Some("2"));
        assert_eq!(count(&format!(r#"{code}"4xx""#)).as_deref(), Some("1"));
        let head = r#"route="/{code}",method="HEAD",status="3xx""#;
        assert_eq!(count(head).as_deref(), Some("1"));
        let stranger = r#"route="unmatched",method="GET",status="4xx""#;
        assert_eq!(count(stranger).as_deref(), Some("1"));
    }
}
