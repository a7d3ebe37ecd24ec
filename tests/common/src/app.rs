//! `spawn_app`: the real router on a real socket, on a fresh database of
//! either engine. A `TestApp` checks on drop that its event queue dropped
//! nothing, unless the test said it means to overflow it.

use std::net::SocketAddr;
use std::time::Duration;

use kurz::app::App;
use kurz::config::Settings;
use kurz::domain::CodeSource;
use kurz::events::EventSink;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

use crate::{fresh_pg_database, Engine};

/// Where a test's data lives; kept alive as long as the app.
pub enum TestDb {
    /// The temp dir holding the database file, removed on drop.
    Sqlite(TempDir),
    Postgres,
    /// Another app's database, kept alive by that app's `TestDb`.
    Shared,
}

impl TestDb {
    /// The SQLite file's directory, for tests that open it themselves.
    pub fn sqlite_dir(&self) -> Option<&std::path::Path> {
        match self {
            Self::Sqlite(dir) => Some(dir.path()),
            Self::Postgres | Self::Shared => None,
        }
    }
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
    /// The database URL the app runs on.
    pub database_url: String,
    /// Set by tests that mean to overflow the event queue; otherwise the
    /// app must drop no event (checked on drop).
    pub drops_expected: bool,
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
    spawn_app_with_codes(settings, db, CodeSource::random()).await
}

/// `spawn_app_with`, drawing generated short codes from `codes`.
pub async fn spawn_app_with_codes(settings: Settings, db: TestDb, codes: CodeSource) -> TestApp {
    let database_url = settings.database_url();
    let app = App::build_with_codes(settings, codes)
        .await
        .expect("app builds");
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
        database_url,
        drops_expected: false,
        stop,
        _server: server,
        _db: db,
    }
}

impl TestApp {
    /// Starts the graceful stop, as SIGTERM does for the binary.
    pub fn begin_stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
        if !self.drops_expected && !std::thread::panicking() {
            assert_eq!(
                self.events.dropped(),
                0,
                "the event queue dropped events in a test that did not mean to overflow it"
            );
        }
    }
}

/// A migrated `Store` on a fresh database of the engine, with generated
/// codes drawn from `codes`; the `TestDb` keeps the data alive.
pub async fn test_store(engine: Engine, codes: CodeSource) -> (kurz::store::Store, TestDb) {
    let (settings, db) = test_settings(engine).await;
    let store = kurz::store::Store::connect(&settings.database_url(), 4)
        .await
        .expect("store opens")
        .with_codes(codes);
    store.migrate().await.expect("store migrates");
    (store, db)
}

/// A code source that hands out `codes` in order, then random codes.
pub fn scripted_codes(codes: &[&str]) -> CodeSource {
    let queue: std::sync::Mutex<std::collections::VecDeque<kurz::domain::ShortCode>> =
        std::sync::Mutex::new(
            codes
                .iter()
                .map(|c| kurz::domain::ShortCode::parse(c).expect("a valid code"))
                .collect(),
        );
    CodeSource::from_fn(move || {
        queue
            .lock()
            .ok()
            .and_then(|mut q| q.pop_front())
            .unwrap_or_else(kurz::domain::ShortCode::generate)
    })
}
