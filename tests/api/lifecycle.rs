//! The process around the API: a graceful stop under load loses no event,
//! readiness follows the database down and back up, and the filter of
//! stored codes hears of new codes again after an outage.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kurz::config::Settings;
use kurz_testkit::for_each_engine;
use kurz_testkit::{
    eventually, random_suffix, spawn_app_with, test_settings, Engine, KurzProcess, PgServer, TestDb,
};

async fn sigterm_mid_load_exits_cleanly_and_stores_every_redirect(engine: Engine) {
    let (settings, db) = test_settings(engine).await;
    let mut server = KurzProcess::start(
        env!("CARGO_BIN_EXE_kurz"),
        &settings.database_url(),
        &[],
        Stdio::null(),
    )
    .await;
    let client = server.client.clone();
    let url = server.create_link().await;
    let base = server.base.clone();
    let link = format!("{base}/{}", url["short_code"].as_str().unwrap());

    let served = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (client, link, served) = (client.clone(), link.clone(), served.clone());
            tokio::spawn(async move {
                for _ in 0..2000 {
                    match client.get(&link).send().await {
                        Ok(r) if r.status() == 302 => {
                            served.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    let busy = eventually(Duration::from_secs(20), || {
        let served = served.clone();
        async move { served.load(Ordering::SeqCst) >= 300 }
    })
    .await;
    assert!(busy, "load did not start");
    server.terminate();
    for w in workers {
        w.await.unwrap();
    }
    let status = tokio::task::spawn_blocking(move || server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "kurz exited with {status}");
    let served = served.load(Ordering::SeqCst);

    let app = spawn_app_with(settings, db).await;
    let stored = app
        .events(&format!("event_type=redirect&url_id={}", url["id"]))
        .await
        .len();
    assert_eq!(
        stored, served,
        "every answered redirect has its event after a graceful stop"
    );
}

for_each_engine!(sigterm_mid_load_exits_cleanly_and_stores_every_redirect);

/// PostgreSQL only: SQLite is a file inside the process and cannot go away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_postgres_down_and_back_up() {
    let pg = PgServer::start();
    let database = pg.create_database("kurz").await;
    let mut settings = Settings::for_database(database);
    // This test is about the store's answers in an outage. The filter of
    // stored codes would answer the unknown code below with a 404 until it
    // notices the lost connection (see the test after this one).
    settings.code_filter = false;
    let app = spawn_app_with(settings, TestDb::Postgres).await;
    assert_eq!(app.get("/health/ready").await.status, 200);
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let cached = app.create_url(uid, "https://example.com/cached").await;
    let cached_code = cached["short_code"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/{cached_code}")).await.status, 302);

    pg.stop();
    let reply = app.get("/health/ready").await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert_eq!(reply.json["status"], "unavailable");
    assert_eq!(reply.json["checks"]["database"], "unavailable");
    assert_eq!(
        app.get("/health").await.status,
        200,
        "liveness touches no dependency"
    );
    // Every request that needs the database answers 503 JSON with
    // Retry-After (the rule in store/error.rs), never a 500.
    for reply in [
        app.get("/users").await,
        app.get("/urls/1").await,
        app.get("/events?per_page=5").await,
        app.post(
            "/users",
            serde_json::json!({"username": "down", "email": "down@example.com"}),
        )
        .await,
        app.put("/urls/1", serde_json::json!({"title": "x"})).await,
        app.get("/not-cached-code").await,
    ] {
        assert_eq!(reply.status, 503, "{}", reply.text);
        assert_eq!(reply.header("retry-after"), Some("1"), "{}", reply.text);
        assert!(reply.json["error"].is_string(), "{}", reply.text);
    }
    // A link resolved before the outage keeps redirecting from the cache.
    assert_eq!(app.get(&format!("/{cached_code}")).await.status, 302);

    pg.restart();
    let back = eventually(Duration::from_secs(15), || async {
        app.get("/health/ready").await.status == 200
    })
    .await;
    assert!(
        back,
        "readiness did not recover after the database came back"
    );
    assert_eq!(app.get("/users").await.status, 200);
}

/// PostgreSQL only: the filter's watch loses its connection with the
/// server. An unknown code is answered by the filter (404) until the watch
/// notices, then by the store (503); once the server is back, a link
/// another process stores must redirect, so the watch has to listen again
/// before the filter answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_stored_elsewhere_after_an_outage_redirects() {
    let pg = PgServer::start();
    let database = pg.create_database("kurz").await;
    let app = spawn_app_with(Settings::for_database(database.clone()), TestDb::Postgres).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    assert_eq!(app.get("/nosuchcode").await.status, 404);

    pg.stop();
    let reply = app.get("/nosuchcode").await;
    assert!(
        matches!(reply.status.as_u16(), 404 | 503),
        "{}: {}",
        reply.status,
        reply.text
    );
    pg.restart();
    let back = eventually(Duration::from_secs(15), || async {
        app.get("/health/ready").await.status == 200
    })
    .await;
    assert!(back, "readiness did not recover");

    let code = format!("back{}", random_suffix());
    let elsewhere = sqlx::PgPool::connect(&database).await.unwrap();
    sqlx::query("INSERT INTO short_codes (code) VALUES ($1)")
        .bind(&code)
        .execute(&elsewhere)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO urls (user_id, short_code, original_url, is_active, created_at, updated_at) \
         VALUES ($1, $2, 'https://example.com/back', TRUE, now(), now())",
    )
    .bind(uid)
    .bind(&code)
    .execute(&elsewhere)
    .await
    .unwrap();
    elsewhere.close().await;
    let redirected = eventually(Duration::from_secs(15), || async {
        app.get(&format!("/{code}")).await.status == 302
    })
    .await;
    assert!(
        redirected,
        "a link stored after the outage never redirected"
    );
}

/// PostgreSQL only: pooled connections are not pinged before every
/// statement (store/engine.rs, `PING_IF_IDLE_FOR`), only after they sat
/// idle. Every connection the pool held before a restart is dead after it;
/// once the service has been quiet for a while, the first requests must
/// get fresh connections, not a 503 from a dead one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_database_restart_and_a_quiet_second_requests_get_live_connections() {
    let pg = PgServer::start();
    let database = pg.create_database("kurz").await;
    let app = spawn_app_with(Settings::for_database(database), TestDb::Postgres).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    // Fill the pool with several connections at once.
    let path = format!("/users/{uid}");
    let reads = (0..8).map(|_| app.get(&path));
    for reply in futures_util::future::join_all(reads).await {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }

    pg.stop();
    pg.restart();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let path = format!("/users/{uid}");
    let reads = (0..8).map(|_| app.get(&path));
    for reply in futures_util::future::join_all(reads).await {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let uid = app.create_user().await["id"].as_i64().unwrap();
    assert_eq!(app.get(&format!("/users/{uid}")).await.status, 200);
}

/// PostgreSQL only: reads take connections from a pool that hands them back
/// without a ping (store/statement_pool.rs). Reads that never pause keep every
/// connection busier than `PING_IF_IDLE_FOR`, so after a restart the dead
/// ones are only found because the first failure gets every pooled read
/// connection checked once. As soon as the database is back, reads must
/// succeed, not fail one after another on the dead connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_that_never_pause_succeed_again_right_after_a_database_restart() {
    let pg = PgServer::start();
    let database = pg.create_database("kurz").await;
    let app = spawn_app_with(Settings::for_database(database), TestDb::Postgres).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.url(&format!("/users/{uid}"));
    let client = app.client.clone();
    let running = Arc::new(AtomicBool::new(true));
    let load = tokio::spawn({
        let running = running.clone();
        async move {
            let mut replies = Vec::new();
            while running.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let round = (0..8).map(|_| client.get(&url).send());
                for reply in futures_util::future::join_all(round).await {
                    replies.push((sent, reply.map_or(0, |r| r.status().as_u16())));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            replies
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    pg.stop();
    pg.restart();
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.store(false, Ordering::Relaxed);
    let replies = load.await.unwrap();

    let before: Vec<u16> = replies
        .iter()
        .filter(|(sent, _)| *sent < back)
        .map(|r| r.1)
        .collect();
    assert!(
        before.contains(&200),
        "no read succeeded before the restart"
    );
    let settled = back + Duration::from_millis(500);
    let after: Vec<u16> = replies
        .iter()
        .filter(|(sent, _)| *sent >= settled)
        .map(|r| r.1)
        .collect();
    assert!(
        after.len() >= 80,
        "too few reads after the restart: {}",
        after.len()
    );
    let failed = after.iter().filter(|status| **status != 200).count();
    assert_eq!(
        failed,
        0,
        "{failed} of {} reads failed after the restart",
        after.len()
    );
}
