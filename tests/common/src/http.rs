//! Speaking HTTP to a `TestApp`: requests, whole replies, and the
//! assertions every test makes about them.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{random_suffix, TestApp};

/// A response, read whole: status, headers, body as JSON (or Null).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("request sent");
        read(response).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, None).await
    }

    pub async fn head(&self, path: &str) -> Reply {
        self.send(Method::HEAD, path, None, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(
            Method::POST,
            path,
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(
            Method::PUT,
            path,
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    /// Creates a user with unique name and email; returns it.
    pub async fn create_user(&self) -> Value {
        let tag = random_suffix();
        let reply = self.post("/users", serde_json::json!({"username": format!("user{tag}"), "email": format!("u{tag}@example.com")})).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json
    }

    /// Creates a short URL for the user; returns it.
    pub async fn create_url(&self, user_id: i64, target: &str) -> Value {
        let reply = self
            .post(
                "/urls",
                serde_json::json!({"user_id": user_id, "original_url": target, "title": "a link"}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json
    }

    /// Events matching a query, e.g. `url_id=3`.
    pub async fn events(&self, query: &str) -> Vec<Value> {
        let reply = self.get(&format!("/events?{query}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json.as_array().cloned().unwrap_or_default()
    }
}

pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

/// Polls `check` until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts a JSON error answer with the given status.
#[track_caller]
pub fn assert_error(reply: &Reply, status: u16) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.text);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "error without JSON content type: {:?} {}",
        reply.header("content-type"),
        reply.text
    );
    assert!(
        reply
            .json
            .get("error")
            .and_then(Value::as_str)
            .is_some_and(|e| !e.is_empty()),
        "no error message: {}",
        reply.text
    );
}

/// The contract's timestamp shape: `YYYY-MM-DDTHH:MM:SS`.
#[track_caller]
pub fn assert_timestamp(value: &Value) {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    assert!(
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok() && s.len() == 19,
        "bad timestamp {s}"
    );
}

/// Requests to a `TestApp` carrying `Authorization: Bearer <key>`.
pub struct Keyed<'a> {
    app: &'a TestApp,
    key: String,
}

impl TestApp {
    /// The same app, every request sent with this API key.
    pub fn with_key(&self, key: &str) -> Keyed<'_> {
        Keyed {
            app: self,
            key: key.to_owned(),
        }
    }
}

impl Keyed<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }
}

impl TestApp {
    /// `POST /users/bulk` with `csv` as the multipart `file` field.
    pub async fn upload_users_csv(&self, csv: Vec<u8>) -> Reply {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(csv)
                .file_name("users.csv")
                .mime_str("text/csv")
                .expect("a valid media type"),
        );
        let response = self
            .client
            .post(self.url("/users/bulk"))
            .multipart(form)
            .send()
            .await
            .expect("request sent");
        read(response).await
    }
}
