//! Liveness, readiness and the Prometheus scrape endpoint.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::auth::Auth;
use super::error::ApiError;
use crate::state::AppState;
use crate::telemetry;

/// How long readiness waits for the database before calling it down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[utoipa::path(get, operation_id = "liveness", path = "/health", tag = "operations", security(()),
    responses((status = 200, description = "the process is alive")))]
pub async fn live() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, operation_id = "readiness", path = "/health/ready", tag = "operations", security(()),
    responses((status = 200, description = "database answers"), (status = 503, description = "database down or stopping")))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let database = match tokio::time::timeout(READY_TIMEOUT, state.service.store().ping()).await {
        Ok(Ok(())) => "ok",
        _ => "unavailable",
    };
    let stopping = state.stopping.load(Ordering::Relaxed);
    let mut checks = serde_json::Map::new();
    checks.insert("database".into(), json!(database));
    if let Some(cache) = state.service.links().health().await {
        checks.insert("cache".into(), json!(cache));
    }
    if stopping {
        checks.insert("shutdown".into(), json!("in progress"));
    }
    let healthy = database == "ok" && !stopping;
    let (status, word) = if healthy {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (status, Json(json!({"status": word, "checks": checks}))).into_response()
}

#[utoipa::path(get, operation_id = "metrics", path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>, Auth(caller): Auth) -> Response {
    if !caller.is_admin() {
        return ApiError::Forbidden("only the admin key can read metrics".into()).into_response();
    }
    let Some(handle) = &state.metrics else {
        return ApiError::NotFound("metrics are turned off (KURZ_METRICS=false)".into())
            .into_response();
    };
    telemetry::process::refresh();
    for pool in state.service.store().pool_stats() {
        metrics::gauge!("kurz_db_pool_connections", "pool" => pool.name).set(f64::from(pool.size));
        metrics::gauge!("kurz_db_pool_idle_connections", "pool" => pool.name).set(pool.idle as f64);
        metrics::gauge!("kurz_db_pool_max_connections", "pool" => pool.name)
            .set(f64::from(pool.max));
    }
    metrics::counter!("kurz_log_lines_dropped_total")
        .absolute(telemetry::logging::dropped_log_lines() as u64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
