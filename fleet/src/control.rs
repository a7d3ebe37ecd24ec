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

async fn scale(State(c): State<Control>, body: axum::body::Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<ScaleRequest>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected a JSON body {\"replicas\": N}",
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The API on a real socket, with a stand-in supervisor that answers
    /// every command with the current status.
    async fn serve(answer: bool) -> String {
        let status = Arc::new(Mutex::new(FleetStatus {
            desired: 2,
            ready: 2,
            ..Default::default()
        }));
        let (commands, mut receiver) = mpsc::channel(4);
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle();
        let app = router(status.clone(), commands, metrics);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        tokio::spawn(async move {
            while let Some(command) = receiver.recv().await {
                if !answer {
                    continue; // dropping the reply: a supervisor that stopped
                }
                let now = status.lock().unwrap().clone();
                match command {
                    Command::Scale { replicas, reply } => {
                        let _ = reply.send(if replicas == 0 {
                            Err("replicas must be between 1 and 64, not 0".into())
                        } else {
                            Ok(FleetStatus {
                                desired: replicas,
                                ..now
                            })
                        });
                    }
                    Command::RollingRestart { reply } => {
                        let _ = reply.send(Ok(now));
                    }
                }
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn status_scale_and_errors_are_json() {
        let base = serve(true).await;
        let http = reqwest::Client::new();
        let status: serde_json::Value = http
            .get(format!("{base}/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(status["ready"], 2);

        let scaled = http
            .post(format!("{base}/scale"))
            .body(r#"{"replicas":4}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(scaled.status(), 200);
        let scaled: serde_json::Value = scaled.json().await.unwrap();
        assert_eq!(scaled["desired"], 4);

        for bad in ["", "{", r#"{"replicas":-1}"#, r#"{"n":3}"#] {
            let reply = http
                .post(format!("{base}/scale"))
                .body(bad)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 400, "{bad:?}");
            let body: serde_json::Value = reply.json().await.unwrap();
            assert!(body["error"].is_string());
        }
        let refused = http
            .post(format!("{base}/scale"))
            .body(r#"{"replicas":0}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 409);

        let rolled = http
            .post(format!("{base}/rolling-restart"))
            .send()
            .await
            .unwrap();
        assert_eq!(rolled.status(), 200);
        let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(metrics.status(), 200);
    }

    #[tokio::test]
    async fn a_stopping_supervisor_answers_503() {
        let base = serve(false).await;
        let reply = reqwest::Client::new()
            .post(format!("{base}/rolling-restart"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 503);
    }
}
