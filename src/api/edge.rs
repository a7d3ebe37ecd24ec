//! The edge layer: what every request passes through on its way to a
//! handler, as one tower `Service` instead of a stack of axum `from_fn`
//! middlewares.
//!
//! Outside in: the request id, span, access log and RED metrics
//! (`telemetry::http::observe`); the rate limits and the deadline
//! (`limits::enforce`); a JSON body for axum's own bare errors (405 and
//! the like); and, innermost, a panic turned into a JSON 500. Each
//! `from_fn` layer cost a request a boxed `Next`, a clone of every layer
//! beneath it and a boxed future; one layer calling these steps as plain
//! async functions pays for one boxed future. On the redirect path that
//! machinery was a fifth of the server's CPU per request
//! (docs/performance.md, "One edge layer").

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tower::{Layer, Service};

use super::error::ApiError;
use super::limits::{self, Limits};
use crate::telemetry::http::{self as observe, HttpMetrics, RouteSlot};

/// What the edge keeps between requests.
struct EdgeState {
    /// Per-route metric handles; `None` when metrics are off.
    metrics: Option<HttpMetrics>,
    limits: Arc<Limits>,
}

/// Builds the edge around each route (`Router::layer`, so the matched
/// route is known when a request reaches it). Give it to `Router::layer`
/// together with any other per-route layer, in one `ServiceBuilder`:
/// every `Router::layer` call wraps each route in one more boxed service.
#[derive(Clone)]
pub struct EdgeLayer {
    state: Arc<EdgeState>,
}

impl EdgeLayer {
    pub fn new(metrics_on: bool, limits: Arc<Limits>) -> Self {
        Self {
            state: Arc::new(EdgeState {
                metrics: metrics_on.then(HttpMetrics::default),
                limits,
            }),
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Edge {
            inner,
            route: Arc::new(EdgeRoute {
                state: self.state.clone(),
                metrics: RouteSlot::default(),
            }),
        }
    }
}

/// The edge around one route's service.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    route: Arc<EdgeRoute>,
}

/// The shared state and this route's own metric handles, behind one `Arc`
/// (one reference count to bump per request).
struct EdgeRoute {
    state: Arc<EdgeState>,
    metrics: RouteSlot,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service that was polled ready answers; a clone stays for the next call.
        let fresh = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, fresh);
        let route = self.route.clone();
        Box::pin(async move {
            let state = &route.state;
            let metrics = state.metrics.as_ref().map(|m| (m, &route.metrics));
            // Decided once: the limits key on it, the handlers and the log read it.
            let client = state.limits.client_ip(&request);
            let response = observe::observe(metrics, client, request, |request| {
                limits::enforce(&state.limits, client, request, |request| async move {
                    match answer_or_catch(&mut ready, request).await {
                        Ok(response) => json_for_bare_errors(response),
                        Err(panic) => panic_as_json(panic),
                    }
                })
            })
            .await;
            Ok(response)
        })
    }
}

/// The route's answer, or the panic it raised while being called or polled.
async fn answer_or_catch<S>(service: &mut S, request: Request) -> Result<Response, Panic>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let answer = std::panic::catch_unwind(AssertUnwindSafe(|| service.call(request)))?;
    match AssertUnwindSafe(answer).catch_unwind().await? {
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}

/// What a panic carries.
type Panic = Box<dyn Any + Send + 'static>;

/// A panic becomes a JSON 500 (logged with its message); the edge still
/// gives it a request id and an access-log line.
fn panic_as_json(panic: Panic) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::Internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

/// Axum's own 405 (and any other bare error) gets a JSON body; headers such
/// as `Allow` are kept.
fn json_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    let has_body_type = response.headers().contains_key(header::CONTENT_TYPE);
    if !(status.is_client_error() || status.is_server_error()) || has_body_type {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed.to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge.to_string(),
        other => other.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let body = serde_json::json!({"error": message}).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("the handler broke")
    }

    fn router() -> Router {
        let limits = Limits::new(&limits::LimitSettings {
            request_timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        });
        Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(EdgeLayer::new(true, limits))
    }

    async fn answer(method: &str, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let response = router().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 16).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_panic_is_a_json_500_with_a_request_id() {
        let (status, headers, body) = answer("GET", "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert!(headers.contains_key("x-request-id"));
        assert!(body.contains("\"error\""), "{body}");
        assert!(!body.contains("the handler broke"), "{body}");
    }

    #[tokio::test]
    async fn a_bare_405_gets_a_json_body_and_keeps_allow() {
        let (status, headers, body) = answer("POST", "/fine").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert!(headers[header::ALLOW].to_str().unwrap().contains("GET"));
        assert!(headers.contains_key("x-request-id"));
        assert!(body.contains("\"error\""), "{body}");
        let (status, _, body) = answer("GET", "/fine").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "fine"));
    }
}
