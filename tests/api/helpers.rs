//! The test world: throwaway PostgreSQL servers, a fresh database per test,
//! and `spawn_app` that runs the real router on a real socket.
//!
//! PostgreSQL comes from the installed server binaries (`initdb`, `pg_ctl`),
//! in a temp dir on a free port; a watchdog stops it when the test process
//! ends, however it ends. The schema is migrated once into `kurz_template`
//! and each test gets `CREATE DATABASE … TEMPLATE kurz_template`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kurz::app::App;
use kurz::config::Settings;
use kurz::events::EventSink;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs each listed check once per engine, as `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! for_each_engine {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check($crate::helpers::Engine::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check($crate::helpers::Engine::Postgres).await
                }
            )*
        }
    };
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

fn postgres_bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin. \
             Install them with: apt-get install -y postgresql (or run scripts/test)"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb
/// and pg_ctl refuse to run as root).
fn pg_tool(bin: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

/// A private PostgreSQL server in a temp dir.
pub struct PgServer {
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
    _dir: TempDir,
}

impl PgServer {
    pub fn start() -> Self {
        let bin = postgres_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("kurz-pg-")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "chown of the temp dir to postgres failed"
            );
        }
        let out = pg_tool(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let server = Self {
            port: free_port(),
            data,
            bin,
            _dir: dir,
        };
        server.run_ctl_start();
        server.watch_parent();
        server
    }

    fn run_ctl_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log");
        let out = pg_tool(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server (fast mode: connections are cut).
    pub fn stop(&self) {
        let out = pg_tool(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn restart(&self) {
        self.run_ctl_start();
    }

    /// Stops this server when the test process is gone, whatever way it ends.
    fn watch_parent(&self) {
        let ctl = self.bin.join("pg_ctl");
        let runner = if is_root() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runner}{ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {data}",
            pid = std::process::id(),
            ctl = ctl.display(),
            data = self.data.display(),
        );
        let _ = Command::new("sh").arg("-c").arg(script).spawn();
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database on this server and returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        let admin = sqlx::PgPool::connect(&self.url("postgres"))
            .await
            .expect("connect to the test server");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create the database");
        admin.close().await;
        self.url(name)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = pg_tool(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap_or(""),
                "-m",
                "immediate",
                "stop",
            ],
        );
    }
}

/// The server shared by every test in this process, with the template migrated.
fn shared_pg() -> &'static PgServer {
    static SHARED: OnceLock<PgServer> = OnceLock::new();
    SHARED.get_or_init(|| {
        let server = PgServer::start();
        let url = server.url("postgres");
        let template = server.url("kurz_template");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let admin = kurz::store::connect(&url, 1).await.unwrap();
                drop(admin);
                let pool = sqlx::PgPool::connect(&url)
                    .await
                    .expect("connect to the test server");
                sqlx::query("CREATE DATABASE kurz_template")
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                let store = kurz::store::connect(&template, 1).await.unwrap();
                store.migrate().await.expect("migrate the template");
                store.close().await;
            })
        })
        .join()
        .expect("template setup panicked");
        server
    })
}

/// A fresh PostgreSQL database cloned from the template.
pub async fn fresh_pg_database() -> String {
    static CLONE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let server = shared_pg();
    let name = format!("t_{}", random_suffix());
    let _one_at_a_time = CLONE_LOCK.lock().await;
    let pool = sqlx::PgPool::connect(&server.url("postgres"))
        .await
        .expect("connect to the test server");
    sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE kurz_template"))
        .execute(&pool)
        .await
        .expect("clone the template");
    pool.close().await;
    server.url(&name)
}

pub fn random_suffix() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

/// Where a test's data lives; kept alive as long as the app.
pub enum TestDb {
    /// The temp dir holding the database file, removed on drop.
    Sqlite(#[allow(dead_code)] TempDir),
    Postgres,
}

pub async fn test_settings(engine: Engine) -> (Settings, TestDb) {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite:{}", dir.path().join("kurz.db").display());
            (Settings::for_database(url), TestDb::Sqlite(dir))
        }
        Engine::Postgres => (
            Settings::for_database(fresh_pg_database().await),
            TestDb::Postgres,
        ),
    }
}

/// A running app and a client for it.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub events: EventSink,
    stop: CancellationToken,
    _server: tokio::task::JoinHandle<anyhow::Result<()>>,
    // Last: dropped after the app.
    _db: TestDb,
}

pub async fn spawn_app(engine: Engine) -> TestApp {
    let (settings, db) = test_settings(engine).await;
    spawn_app_with(settings, db).await
}

pub async fn spawn_app_with(settings: Settings, db: TestDb) -> TestApp {
    let app = App::build(settings).await.expect("app builds");
    let address = app.local_addr().expect("bound");
    let events = app.event_sink();
    let stop = app.stop_token();
    let server = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp {
        address,
        client,
        events,
        stop,
        _server: server,
        _db: db,
    }
}

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

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
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

pub fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed")
}

/// A private `redis-server` on a free port; killed on drop or when the test
/// process ends.
pub struct RedisServer {
    pub port: u16,
    child: std::sync::Mutex<Option<std::process::Child>>,
}

impl RedisServer {
    pub fn start() -> Self {
        let server = Self {
            port: free_port(),
            child: std::sync::Mutex::new(None),
        };
        server.launch();
        server
    }

    fn launch(&self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}); install it with: apt-get install -y redis-server (or run scripts/test)"));
        let pid = child.id();
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; kill -9 {pid} 2>/dev/null",
            std::process::id()
        );
        let _ = Command::new("sh").arg("-c").arg(script).spawn();
        *self.child.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server hard (SIGKILL), as a crash would.
    pub fn kill(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: it keeps nothing on disk).
    pub fn restart(&self) {
        self.launch();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The value of one Prometheus sample line from `/metrics`, e.g.
/// `kurz_cache_breaker_state` or `kurz_cache_lookups_total{tier="redis",result="hit"}`.
pub fn metric_value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        let same = name == series || (series.contains('{') && labels_match(name, series));
        if same {
            value.parse().ok()
        } else {
            None
        }
    })
}

fn labels_match(line: &str, series: &str) -> bool {
    let (Some((ln, ll)), Some((sn, sl))) = (line.split_once('{'), series.split_once('{')) else {
        return false;
    };
    if ln != sn {
        return false;
    }
    let set = |l: &str| -> std::collections::BTreeSet<String> {
        l.trim_end_matches('}')
            .split(',')
            .map(str::to_owned)
            .collect()
    };
    set(ll) == set(sl)
}

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
        database_url: &str,
        env: &[(&str, &str)],
        stdout: std::process::Stdio,
    ) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_kurz"))
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
