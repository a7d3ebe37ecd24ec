//! The per-request middleware: a request id (the client's when it is sane),
//! a span, the RED metrics, and one access-log line with the request's stage
//! timings.
//!
//! Metrics are labelled by route template (`/urls/{id}`), never the raw path,
//! so a scan of random codes cannot create new time series.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram};

use axum::body::HttpBody;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
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

    fn record(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        let handles = self.handles(route, method);
        handles.duration.record(elapsed.as_secs_f64());
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        handles.requests[class]
            .get_or_init(|| {
                metrics::counter!("kurz_http_requests_total", "route" => route.to_owned(), "method" => method, "status" => status_class(status))
            })
            .increment(1);
    }
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

/// The client address as the edge decided it (the peer, or the forwarded
/// address when the peer is a trusted proxy), put on the response by the
/// limits middleware so the access log never believes a made-up header.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

/// The edge's client address, else the TCP peer.
fn client_ip(response: &Response, peer: Option<SocketAddr>) -> Option<String> {
    response
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .or_else(|| peer.map(|p| p.ip().to_string()))
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

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

/// One span, one log line and the RED metrics per request; echoes the id.
///
/// Its state is the per-route metric handles, `None` when metrics are off.
pub async fn observe_request(
    State(http_metrics): State<Option<Arc<HttpMetrics>>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = method_label(req.method());
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", |m| m.as_str());
    let log_enabled = tracing::enabled!(target: "kurz::access", tracing::Level::INFO);
    let (path, peer) = if log_enabled {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        (Some(req.uri().path().to_owned()), peer)
    } else {
        (None, None)
    };
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        request_id = %String::from_utf8_lossy(id.as_bytes()),
        method,
        route,
    );
    let (mut response, times) = stages::scope(next.run(req).instrument(span.clone())).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if let Some(http) = &http_metrics {
        http.record(route, method, status, elapsed);
    }
    if log_enabled {
        let client = client_ip(&response, peer);
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
