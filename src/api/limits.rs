//! Abuse limits at the edge: per-client rate limits (separate budgets for
//! redirects and for writes) and a deadline on every request.
//!
//! The client is the bearer key's public prefix when one is sent, else the
//! client IP. The IP is the TCP peer, or the nearest untrusted hop of
//! `X-Forwarded-For` when the peer is a configured trusted proxy (nginx), so
//! a client cannot pick its own identity by sending the header.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use crate::domain::token_prefix;
use crate::telemetry::http::ClientIp;

/// What the edge enforces; built from the settings.
#[derive(Debug, Clone, Default)]
pub struct LimitSettings {
    /// Redirects per second per client IP; `None`: unlimited.
    pub redirects_per_sec: Option<NonZeroU32>,
    /// Writes (POST, PUT, DELETE) per second per key or IP; `None`: unlimited.
    pub writes_per_sec: Option<NonZeroU32>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Longest a handler may take to start its answer (503 after).
    pub request_timeout: Duration,
}

/// The limiters, shared by every request.
pub struct Limits {
    redirects: Option<(DefaultKeyedRateLimiter<String>, u32)>,
    writes: Option<(DefaultKeyedRateLimiter<String>, u32)>,
    trusted_proxies: Vec<IpAddr>,
    pub request_timeout: Duration,
}

fn limiter(per_sec: Option<NonZeroU32>) -> Option<(DefaultKeyedRateLimiter<String>, u32)> {
    per_sec.map(|n| (RateLimiter::keyed(Quota::per_second(n)), n.get()))
}

impl Limits {
    pub fn new(settings: &LimitSettings) -> Arc<Self> {
        Arc::new(Self {
            redirects: limiter(settings.redirects_per_sec),
            writes: limiter(settings.writes_per_sec),
            trusted_proxies: settings.trusted_proxies.clone(),
            request_timeout: settings.request_timeout,
        })
    }

    /// The client's address under the trusted-proxy rule.
    pub fn client_ip(&self, request: &Request) -> Option<IpAddr> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())?;
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The nearest hop that is not one of ours is the client.
        forwarded
            .rsplit(',')
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .find(|ip| !self.trusted_proxies.contains(ip))
            .or(Some(peer))
    }
}

/// Redirect routes: any GET/HEAD that is not one of the API's own prefixes.
fn is_redirect(request: &Request) -> bool {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return false;
    }
    let path = request.uri().path();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let api = [
        "users",
        "events",
        "health",
        "metrics",
        "openapi.json",
        "docs",
        "",
    ];
    // The web page's routes have two segments or more; `/web` alone is a code.
    let web_page = ["l", "web", "static"].contains(&first)
        && path.get(1..).is_some_and(|rest| rest.contains('/'));
    (first == "urls" && path.ends_with("/redirect"))
        || (first != "urls" && !api.contains(&first) && !web_page)
}

/// The budget a client draws on: its address (redirects are anonymous).
fn address_key(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// A write's budget: its API key's prefix when it brings one, else its
/// address.
fn client_key(client: Option<IpAddr>, request: &Request) -> String {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .and_then(|(_, token)| token_prefix(token.trim()));
    match bearer {
        Some(prefix) => prefix.to_owned(),
        None => address_key(client),
    }
}

fn too_many(limit: u32, wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::TooManyRequests.into_response();
    let headers = response.headers_mut();
    let number = |n: u64| HeaderValue::from(n);
    headers.insert(header::RETRY_AFTER, number(secs.max(1)));
    headers.insert(
        HeaderName::from_static("ratelimit-limit"),
        number(u64::from(limit)),
    );
    headers.insert(HeaderName::from_static("ratelimit-remaining"), number(0));
    headers.insert(
        HeaderName::from_static("ratelimit-reset"),
        number(secs.max(1)),
    );
    response
}

/// Rate limits, then the deadline, around `run` (the rest of the stack;
/// the edge layer, `api::edge`, calls this with `client` from
/// `Limits::client_ip`).
pub async fn enforce<F, Fut>(
    limits: &Limits,
    client: Option<IpAddr>,
    request: Request,
    run: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let redirect = is_redirect(&request);
    let budget = if redirect {
        limits.redirects.as_ref()
    } else if matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::DELETE | Method::PATCH
    ) {
        limits.writes.as_ref()
    } else {
        None
    };
    if let Some((limiter, per_sec)) = budget {
        let key = if redirect {
            address_key(client)
        } else {
            client_key(client, &request)
        };
        if let Err(not_until) = limiter.check_key(&key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return too_many(*per_sec, wait);
        }
    }
    let mut request = request;
    if let Some(ip) = client {
        // For the handlers (a redirect's visitor hash), under the same rule.
        request.extensions_mut().insert(ClientIp(ip));
    }
    match tokio::time::timeout(limits.request_timeout, run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(method: Method, path: &str, peer: &str, forwarded: Option<&str>) -> Request {
        let mut r = Request::builder().method(method).uri(path);
        if let Some(f) = forwarded {
            r = r.header("x-forwarded-for", f);
        }
        let mut r = r.body(Body::empty()).unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
        r
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let limits = Limits::new(&LimitSettings {
            trusted_proxies: vec!["10.0.0.2".parse().unwrap()],
            ..LimitSettings::default()
        });
        let direct = request(Method::GET, "/x", "203.0.113.9", Some("1.2.3.4"));
        assert_eq!(
            limits.client_ip(&direct),
            Some("203.0.113.9".parse().unwrap())
        );
        let proxied = request(Method::GET, "/x", "10.0.0.2", Some("6.6.6.6, 198.51.100.7"));
        assert_eq!(
            limits.client_ip(&proxied),
            Some("198.51.100.7".parse().unwrap())
        );
    }

    #[test]
    fn redirects_are_told_from_api_routes() {
        for path in ["/abc123", "/urls/abc123/redirect"] {
            assert!(
                is_redirect(&request(Method::GET, path, "127.0.0.1", None)),
                "{path}"
            );
        }
        for path in [
            "/users",
            "/urls/3",
            "/events",
            "/health/ready",
            "/docs/",
            "/",
        ] {
            assert!(
                !is_redirect(&request(Method::GET, path, "127.0.0.1", None)),
                "{path}"
            );
        }
        assert!(!is_redirect(&request(
            Method::POST,
            "/abc",
            "127.0.0.1",
            None
        )));
    }
}
