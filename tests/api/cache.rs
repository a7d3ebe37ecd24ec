//! The tiered cache against real Redis: two replicas stay coherent through
//! writes, and a Redis that dies and comes back never breaks a redirect.

use std::time::Duration;

use serde_json::json;

use kurz::config::Settings;
use kurz_testkit::{
    assert_error, eventually, for_each_engine, metric_value, random_suffix, spawn_app_with,
    test_settings, Engine, RedisServer, TestApp, TestDb,
};

/// A replica on `settings`' database behind the shared Redis; entries live
/// an hour, so only invalidation can make one go.
pub async fn replica(
    mut settings: Settings,
    db: TestDb,
    redis: &RedisServer,
    prefix: &str,
) -> TestApp {
    settings.redis_url = Some(redis.url());
    settings.redis_prefix = prefix.to_owned();
    settings.cache_ttl_secs = 3600;
    let app = spawn_app_with(settings, db).await;
    wait_for_cache(&app).await;
    app
}

/// Two replicas on one database of `engine` and one Redis.
pub async fn two_replicas(engine: Engine, redis: &RedisServer) -> (TestApp, TestApp) {
    let (settings, db) = test_settings(engine).await;
    let prefix = format!("t{}:", random_suffix());
    let a = replica(settings.clone(), db, redis, &prefix).await;
    let b = replica(settings, TestDb::Shared, redis, &prefix).await;
    (a, b)
}

/// Waits until the app's invalidation subscription is up.
pub async fn wait_for_cache(app: &TestApp) {
    let up = eventually(Duration::from_secs(10), || async {
        app.get("/health/ready").await.json["checks"]["cache"] == "ok"
    })
    .await;
    assert!(up, "cache never became healthy");
}

async fn a_write_on_one_replica_is_what_the_other_serves_at_once(engine: Engine) {
    let redis = RedisServer::start();
    let (a, b) = two_replicas(engine, &redis).await;

    let uid = a.create_user().await["id"].as_i64().unwrap();
    let url = a.create_url(uid, "https://example.com/v0").await;
    let code = url["short_code"].as_str().unwrap().to_owned();
    let path = format!("/urls/{}", url["id"]);
    for round in 1..=20 {
        // Both replicas have the current target cached...
        assert_eq!(a.get(&format!("/{code}")).await.status, 302);
        assert_eq!(b.get(&format!("/{code}")).await.status, 302);
        // ...then one changes it and the other must serve the change at once.
        let (writer, reader) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let target = format!("https://example.com/v{round}");
        assert_eq!(
            writer
                .put(&path, json!({"original_url": target}))
                .await
                .status,
            200
        );
        let seen = reader.get(&format!("/{code}")).await;
        assert_eq!(
            seen.header("location"),
            Some(target.as_str()),
            "round {round}: stale target served"
        );
    }
    a.put(&path, json!({"is_active": false})).await;
    assert_error(&b.get(&format!("/{code}")).await, 410);
    a.put(&path, json!({"is_active": true})).await;
    assert_eq!(b.get(&format!("/{code}")).await.status, 302);
    a.delete(&path).await;
    assert_error(&b.get(&format!("/{code}")).await, 404);

    // A code remembered as unknown on B resolves as soon as A creates it.
    assert_error(&b.get("/fresh-alias").await, 404);
    let made = a.post("/urls", json!({"user_id": uid, "original_url": "https://example.com/alias", "short_code": "fresh-alias"})).await;
    assert_eq!(made.status, 201);
    assert_eq!(b.get("/fresh-alias").await.status, 302);

    // Deleting the user retires every code everywhere.
    let other = a.create_url(uid, "https://example.com/owned").await;
    let owned = other["short_code"].as_str().unwrap();
    assert_eq!(b.get(&format!("/{owned}")).await.status, 302);
    a.delete(&format!("/users/{uid}")).await;
    assert_error(&b.get(&format!("/{owned}")).await, 404);
    assert_error(&b.get("/fresh-alias").await, 404);

    // The shared tier answers a replica's local miss: A resolves a link
    // (filling Redis), the row then disappears behind the service's back,
    // and B, which never saw the link, still redirects - from Redis.
    let uid = a.create_user().await["id"].as_i64().unwrap();
    let shared = a.create_url(uid, "https://example.com/shared").await;
    let shared_code = shared["short_code"].as_str().unwrap();
    assert_eq!(a.get(&format!("/{shared_code}")).await.status, 302);
    delete_row_behind_the_service(&a.database_url, shared["id"].as_i64().unwrap()).await;
    let from_redis = b.get(&format!("/{shared_code}")).await;
    assert_eq!(from_redis.status, 302, "{}", from_redis.text);
    assert_eq!(
        from_redis.header("location"),
        Some("https://example.com/shared")
    );
}

/// Deletes a link's row directly in the database, so only a cache can still
/// answer for it.
async fn delete_row_behind_the_service(database_url: &str, url_id: i64) {
    let sql = "DELETE FROM urls WHERE id = $1";
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        sqlx::query(sql).bind(url_id).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        sqlx::query(sql).bind(url_id).execute(&pool).await.unwrap();
    }
}

async fn redirects_survive_redis_dying_and_the_breaker_closes_when_it_returns(engine: Engine) {
    let redis = RedisServer::start();
    let (mut settings, db) = test_settings(engine).await;
    settings.breaker_cooldown_ms = 300;
    let prefix = format!("t{}:", random_suffix());
    let app = replica(settings, db, &redis, &prefix).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let cached = app.create_url(uid, "https://example.com/cached").await;
    let cached_code = cached["short_code"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/{cached_code}")).await.status, 302);

    redis.kill();
    // Cached and uncached links both keep working, from the local tier and the store.
    let fresh = app.create_url(uid, "https://example.com/fresh").await;
    for _ in 0..20 {
        assert_eq!(app.get(&format!("/{cached_code}")).await.status, 302);
        let reply = app
            .get(&format!("/{}", fresh["short_code"].as_str().unwrap()))
            .await;
        assert_eq!(reply.status, 302, "{}", reply.text);
    }
    let edited = app
        .put(
            &format!("/urls/{}", cached["id"]),
            json!({"original_url": "https://example.com/edited"}),
        )
        .await;
    assert_eq!(
        edited.status, 200,
        "writes work without Redis: {}",
        edited.text
    );
    assert_eq!(
        app.get(&format!("/{cached_code}")).await.header("location"),
        Some("https://example.com/edited")
    );
    let ready = app.get("/health/ready").await;
    assert_eq!(
        ready.status, 200,
        "a down cache is degraded, not unavailable: {}",
        ready.text
    );
    assert_eq!(
        ready.json["checks"],
        json!({"database": "ok", "cache": "degraded"})
    );
    let opened = eventually(Duration::from_secs(10), || async {
        metric_value(
            &app.get("/metrics").await.text,
            "kurz_cache_breaker_transitions_total{to=\"open\"}",
        )
        .unwrap_or(0.0)
            > 0.0
    })
    .await;
    assert!(opened, "the breaker never opened");

    redis.restart();
    let healed = eventually(Duration::from_secs(15), || async {
        app.get(&format!("/{cached_code}")).await;
        app.get("/health/ready").await.json["checks"]["cache"] == "ok"
    })
    .await;
    assert!(healed, "the cache did not recover after Redis came back");
    assert_eq!(
        app.get(&format!("/{cached_code}")).await.header("location"),
        Some("https://example.com/edited")
    );
}

for_each_engine!(
    a_write_on_one_replica_is_what_the_other_serves_at_once,
    redirects_survive_redis_dying_and_the_breaker_closes_when_it_returns,
);
