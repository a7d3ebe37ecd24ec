//! The filter of stored codes (`KURZ_CODE_FILTER`, on without Redis), seen
//! from outside: a link this replica creates redirects the moment its
//! answer is sent, and a link another process stores redirects within
//! seconds, whether its code came alone or in bulk (PostgreSQL's
//! announcements, SQLite's code log). tests/store pins the filter's own
//! answers; metrics here are shared by every app in the process.

use std::time::Duration;

use serde_json::json;

use kurz_testkit::{
    eventually, for_each_engine, metric_value, random_suffix, spawn_app, Engine, TestApp,
};

const FILTER_NEGATIVE: &str = r#"kurz_cache_lookups_total{tier="filter",result="negative"}"#;

async fn sample(app: &TestApp, series: &str) -> f64 {
    metric_value(&app.get("/metrics").await.text, series).unwrap_or(0.0)
}

/// Waits until the filter (built in the background after start) answers.
async fn filter_answers(app: &TestApp) {
    let ready = eventually(Duration::from_secs(10), || async {
        let code = format!("none{}", random_suffix());
        let before = sample(app, FILTER_NEGATIVE).await;
        app.get(&format!("/{code}")).await.status == 404
            && sample(app, FILTER_NEGATIVE).await > before
    })
    .await;
    assert!(ready, "the code filter never answered");
}

/// Runs one statement on the app's database from a pool of its own, as
/// another process would.
async fn run_elsewhere(app: &TestApp, engine: Engine, sql: &str) {
    match engine {
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Engine::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

async fn unknown_codes_are_answered_by_the_filter_and_new_ones_redirect_at_once(engine: Engine) {
    let app = spawn_app(engine).await;
    filter_answers(&app).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    for i in 0..20 {
        let url = app
            .create_url(uid, &format!("https://example.com/{i}"))
            .await;
        let code = url["short_code"].as_str().unwrap();
        assert_eq!(app.get(&format!("/{code}")).await.status, 302, "{code}");
    }
    let alias = format!("al-{}", random_suffix());
    assert_eq!(app.get(&format!("/{alias}")).await.status, 404);
    let made = app
        .post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://example.com/alias", "short_code": alias}),
        )
        .await;
    assert_eq!(made.status, 201);
    assert_eq!(app.get(&format!("/{alias}")).await.status, 302);
}

/// A link row for `code`, written by hand as another process would.
fn link_row(uid: i64, code: &str) -> String {
    format!(
        "INSERT INTO urls (user_id, short_code, original_url, is_active, created_at, updated_at) \
         VALUES ({uid}, '{code}', 'https://example.com/{code}', TRUE, \
         '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )
}

async fn links_another_process_stores_redirect_within_seconds(engine: Engine) {
    let app = spawn_app(engine).await;
    filter_answers(&app).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let tag = random_suffix();
    let single = format!("one{tag}");
    let bulk = format!("bulk{tag}");
    assert_eq!(app.get(&format!("/{single}")).await.status, 404);
    assert_eq!(app.get(&format!("/{bulk}7")).await.status, 404);
    // One code in one statement; then 300 in one statement (too many for
    // PostgreSQL to name in an announcement).
    let one = format!("INSERT INTO short_codes (code) VALUES ('{single}')");
    run_elsewhere(&app, engine, &one).await;
    run_elsewhere(&app, engine, &link_row(uid, &single)).await;
    let many = format!(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300) \
         INSERT INTO short_codes (code) SELECT '{bulk}' || n FROM g"
    );
    run_elsewhere(&app, engine, &many).await;
    run_elsewhere(&app, engine, &link_row(uid, &format!("{bulk}7"))).await;
    for code in [single, format!("{bulk}7")] {
        let redirected = eventually(Duration::from_secs(10), || async {
            app.get(&format!("/{code}")).await.status == 302
        })
        .await;
        assert!(redirected, "{code}, stored elsewhere, never redirected");
    }
    // And the filter answers again for codes nobody stored.
    filter_answers(&app).await;
}

for_each_engine!(
    unknown_codes_are_answered_by_the_filter_and_new_ones_redirect_at_once,
    links_another_process_stores_redirect_within_seconds,
);
