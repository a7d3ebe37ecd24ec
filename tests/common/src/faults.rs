//! Faults induced in real dependencies, for the failure-path tests: the
//! event log refusing redirect events (a CHECK constraint on PostgreSQL, a
//! trigger on SQLite), and a Redis server that is slow or drops its
//! subscribers.

use std::process::Command;

async fn execute(database_url: &str, sql: &str) {
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url)
            .await
            .expect("open the SQLite file");
        sqlx::query(sql).execute(&pool).await.expect(sql);
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(database_url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sql).execute(&pool).await.expect(sql);
        pool.close().await;
    }
}

/// From now on every insert of a `redirect` event fails (other events are
/// still written).
pub async fn refuse_redirect_events(database_url: &str) {
    let sql = if database_url.starts_with("sqlite:") {
        "CREATE TRIGGER kurz_test_refuse BEFORE INSERT ON events \
         WHEN NEW.event_type = 'redirect' BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
    } else {
        "ALTER TABLE events ADD CONSTRAINT kurz_test_refuse CHECK (event_type <> 'redirect') NOT VALID"
    };
    execute(database_url, sql).await;
}

/// Undoes `refuse_redirect_events`.
pub async fn accept_redirect_events(database_url: &str) {
    let sql = if database_url.starts_with("sqlite:") {
        "DROP TRIGGER kurz_test_refuse"
    } else {
        "ALTER TABLE events DROP CONSTRAINT kurz_test_refuse"
    };
    execute(database_url, sql).await;
}

/// Runs `redis-cli` against the server on `port`; panics when it fails.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs (apt-get install -y redis-tools)");
    assert!(out.status.success(), "redis-cli {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes the Redis server on `port` answer nothing for `seconds`, in the
/// background (`DEBUG SLEEP`): slow, not dead.
pub fn stall_redis(port: u16, seconds: f64) -> std::thread::JoinHandle<()> {
    let seconds = seconds.to_string();
    std::thread::spawn(move || {
        redis_cli(port, &["DEBUG", "SLEEP", &seconds]);
    })
}

/// A `redis-cli SUBSCRIBE` on `channel` that never acknowledges anything:
/// a replica that receives invalidations but does not answer. Killed on drop.
pub struct SilentSubscriber(std::process::Child);

impl SilentSubscriber {
    pub fn start(port: u16, channel: &str) -> Self {
        let child = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "SUBSCRIBE", channel])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-cli runs");
        Self(child)
    }
}

impl Drop for SilentSubscriber {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
