//! A real browser for the web page's tests: headless Chromium driven over
//! WebDriver (W3C: JSON over HTTP) by chromedriver, both from Debian's
//! `chromium` and `chromium-driver` packages. One driver and one session
//! per `Browser`, on a free port, with a throwaway profile.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::free_port;

/// A normal desktop Chrome: headless Chromium says "HeadlessChrome",
/// which kurz rightly counts as a bot.
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) starts");
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{root}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1200,1000", format!("--user-agent={USER_AGENT}"),
                    format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let answer: Value = http
            .post(format!("{root}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("a WebDriver session")
            .json()
            .await
            .expect("WebDriver JSON");
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Self {
            driver,
            http,
            session: format!("{root}/session/{id}"),
            _profile: profile,
        }
    }

    /// One WebDriver command; its `value`, which may be an error object.
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("WebDriver answers")
            .json()
            .await
            .expect("WebDriver JSON");
        answer["value"].clone()
    }

    /// One WebDriver command that must succeed.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let value = self.send(method, path, body).await;
        if value.get("error").is_some() {
            panic!("WebDriver {path}: {value}");
        }
        value
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching `css`, waiting up to 5 s for it to
    /// appear (a page may still be loading after a click on a busy machine).
    async fn element(&self, css: &str) -> String {
        let query = json!({"using": "css selector", "value": css});
        for _ in 0..50 {
            let found = self
                .send(reqwest::Method::POST, "/element", Some(query.clone()))
                .await;
            let id = found
                .as_object()
                .filter(|o| !o.contains_key("error"))
                .and_then(|o| o.values().next())
                .and_then(Value::as_str);
            if let Some(id) = id {
                return id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element {css} within 5 s");
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        let text = self
            .call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Whether the text at `css` becomes `want` within 5 s: after a click
    /// the old page may still be the one answering for a moment.
    pub async fn shows(&self, css: &str, want: &str) -> bool {
        for _ in 0..50 {
            let id = self.element(css).await;
            let text = self
                .send(reqwest::Method::GET, &format!("/element/{id}/text"), None)
                .await;
            if text.as_str() == Some(want) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Saves a PNG of the viewport as `name`.png under `KURZ_SCREENSHOTS`
    /// (default `target/screenshots`).
    pub async fn screenshot(&self, name: &str) {
        let shot = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap_or_default())
            .expect("a base64 PNG");
        let dir = std::env::var("KURZ_SCREENSHOTS").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/screenshots").to_owned()
        });
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(format!("{dir}/{name}.png"), png).expect("screenshot written");
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub async fn run(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Presses and releases the Tab key.
    async fn press_tab(&self) {
        let tab = "\u{E004}";
        let keys = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": tab}, {"type": "keyUp", "value": tab}]}]});
        self.call(reqwest::Method::POST, "/actions", Some(keys))
            .await;
    }

    /// An accessibility audit of the page (`audit.js`: language, title,
    /// labels, names, image texts, contrast), then a walk with the Tab key
    /// from the top: every focusable element must be reached and show a
    /// focus indicator. What fails; empty when the page passes.
    pub async fn audit(&self) -> Vec<String> {
        let found = self.run(include_str!("audit.js")).await;
        let mut problems: Vec<String> = found["problems"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let focusable = found["focusable"].as_u64().unwrap_or_default();
        self.run("document.activeElement && document.activeElement.blur(); return null;")
            .await;
        let mut reached = std::collections::BTreeSet::new();
        // Other stops (a scrollable box, say) may come between: a few
        // rounds more than there are elements.
        for _ in 0..focusable * 2 + 4 {
            if reached.len() as u64 == focusable {
                break;
            }
            self.press_tab().await;
            let at = self
                .run(
                    "const el = document.activeElement; \
                     if (!el || el.dataset.auditIndex === undefined) return null; \
                     const s = getComputedStyle(el); \
                     return {index: el.dataset.auditIndex, ring: (s.outlineStyle !== 'none' \
                       && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'};",
                )
                .await;
            let Some(index) = at["index"].as_str() else {
                continue;
            };
            if reached.insert(index.to_owned()) && at["ring"] != json!(true) {
                problems.push(format!("focusable element {index} shows no focus"));
            }
        }
        for index in (0..focusable).map(|i| i.to_string()) {
            if !reached.contains(&index) {
                let missed = self
                    .run(&format!(
                        "return document.querySelector('[data-audit-index=\"{index}\"]')\
                         .outerHTML.slice(0, 90);"
                    ))
                    .await;
                problems.push(format!("the Tab key never reaches {missed}"));
            }
        }
        problems
    }

    pub async fn close(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
