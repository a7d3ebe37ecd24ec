//! The tiered cache against real Redis: two replicas stay coherent through
//! writes, and a Redis that dies and comes back never breaks a redirect.

use std::time::Duration;

use serde_json::json;

use kurz::config::Settings;
use kurz_testkit::{
    assert_error, eventually, fresh_pg_database, metric_value, random_suffix, spawn_app_with,
    RedisServer, TestApp, TestDb,
};

async fn replica(database_url: &str, redis: &RedisServer, prefix: &str) -> TestApp {
    let mut settings = Settings::for_database(database_url);
    settings.redis_url = Some(redis.url());
    settings.redis_prefix = prefix.to_owned();
    settings.cache_ttl_secs = 3600; // only invalidation may make an entry go
    spawn_app_with(settings, TestDb::Postgres).await
}

/// Waits until the app's invalidation subscription is up.
async fn wait_for_cache(app: &TestApp) {
    let up = eventually(Duration::from_secs(10), || async {
        app.get("/health/ready").await.json["checks"]["cache"] == "ok"
    })
    .await;
    assert!(up, "cache never became healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_replica_is_what_the_other_serves_at_once() {
    let redis = RedisServer::start();
    let database = fresh_pg_database().await;
    let prefix = format!("t{}:", random_suffix());
    let a = replica(&database, &redis, &prefix).await;
    let b = replica(&database, &redis, &prefix).await;
    wait_for_cache(&a).await;
    wait_for_cache(&b).await;

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

    // The shared tier answered some of B's misses.
    let metrics = b.get("/metrics").await.text;
    assert!(
        metric_value(
            &metrics,
            "kurz_cache_lookups_total{tier=\"local\",result=\"hit\"}"
        )
        .unwrap_or(0.0)
            > 0.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_survive_redis_dying_and_the_breaker_closes_when_it_returns() {
    let redis = RedisServer::start();
    let database = fresh_pg_database().await;
    let mut settings = Settings::for_database(&database);
    settings.redis_url = Some(redis.url());
    settings.redis_prefix = format!("t{}:", random_suffix());
    settings.breaker_cooldown_ms = 300;
    let app = spawn_app_with(settings, TestDb::Postgres).await;
    wait_for_cache(&app).await;
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
