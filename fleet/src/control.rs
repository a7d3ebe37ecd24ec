//! The supervisor's own HTTP API on loopback: `GET /status` (the fleet as
//! JSON), `GET /metrics` (Prometheus), `POST /scale` with
//! `{"replicas": N}`, and `POST /rolling-restart`, which answers when the
//! last replica has been replaced.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use crate::supervisor::{Command, FleetStatus};

#[derive(Clone)]
struct Control {
    status: Arc<Mutex<FleetStatus>>,
    commands: mpsc::Sender<Command>,
    metrics: PrometheusHandle,
}

/// The control API's routes.
pub fn router(
    status: Arc<Mutex<FleetStatus>>,
    commands: mpsc::Sender<Command>,
    metrics: PrometheusHandle,
) -> Router {
    Router::new()
        .route("/status", get(status_json))
        .route("/metrics", get(metrics_text))
        .route("/scale", post(scale))
        .route("/rolling-restart", post(rolling_restart))
        .with_state(Control {
            status,
            commands,
            metrics,
        })
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn status_json(State(c): State<Control>) -> Response {
    match c.status.lock() {
        Ok(s) => Json(s.clone()).into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "status unavailable"),
    }
}

async fn metrics_text(State(c): State<Control>) -> String {
    c.metrics.render()
}

#[derive(Deserialize)]
struct ScaleRequest {
    replicas: usize,
}

async fn scale(State(c): State<Control>, body: Option<Json<ScaleRequest>>) -> Response {
    let Some(Json(request)) = body else {
        return error(StatusCode::BAD_REQUEST, "expected {\"replicas\": N}");
    };
    let (reply, answer) = oneshot::channel();
    send(
        &c,
        Command::Scale {
            replicas: request.replicas,
            reply,
        },
        answer,
    )
    .await
}

async fn rolling_restart(State(c): State<Control>) -> Response {
    let (reply, answer) = oneshot::channel();
    send(&c, Command::RollingRestart { reply }, answer).await
}

async fn send(
    c: &Control,
    command: Command,
    answer: oneshot::Receiver<Result<FleetStatus, String>>,
) -> Response {
    if c.commands.send(command).await.is_err() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the supervisor is stopping",
        );
    }
    match answer.await {
        Ok(Ok(status)) => Json(status).into_response(),
        Ok(Err(message)) => error(StatusCode::CONFLICT, message),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the supervisor is stopping",
        ),
    }
}
