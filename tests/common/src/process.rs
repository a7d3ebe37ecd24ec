//! The real `kurz` binary as a child process, for tests about the process
//! itself (signals, stdout, being scraped). The test passes the binary's
//! path (`env!("CARGO_BIN_EXE_kurz")`), which only it knows.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::{eventually, free_port, random_suffix};

/// The real `kurz` binary on a free port, for tests about the process itself
/// (signals, stdout, being scraped). Killed on drop if still running.
pub struct KurzProcess {
    pub child: std::process::Child,
    pub base: String,
    pub client: reqwest::Client,
}

impl KurzProcess {
    /// Starts it on `database_url` with extra environment and waits until
    /// `/health` answers.
    pub async fn start(
        binary: &str,
        database_url: &str,
        env: &[(&str, &str)],
        stdout: std::process::Stdio,
    ) -> Self {
        let port = free_port();
        let child = Command::new(binary)
            .env("DATABASE_URL", database_url)
            .env("KURZ_BIND", format!("127.0.0.1:{port}"))
            .env("KURZ_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(stdout)
            .spawn()
            .expect("kurz starts");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let process = Self {
            child,
            base,
            client,
        };
        let up = eventually(Duration::from_secs(20), || async {
            process
                .client
                .get(format!("{}/health", process.base))
                .send()
                .await
                .is_ok()
        })
        .await;
        assert!(up, "kurz did not come up");
        process
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "POST {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// A user and a short URL of theirs; returns the URL.
    pub async fn create_link(&self) -> Value {
        let tag = random_suffix();
        let user = self
            .post(
                "/users",
                serde_json::json!({"username": format!("p{tag}"), "email": format!("p{tag}@e.io")}),
            )
            .await;
        self.post(
            "/urls",
            serde_json::json!({"user_id": user["id"], "original_url": "https://example.com"}),
        )
        .await
    }

    /// Sends SIGTERM: the graceful stop.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for KurzProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
