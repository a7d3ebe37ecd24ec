//! Failure paths the docs promise to survive, each induced for real:
//! event writes refused by the database, a full event queue, a slow (not
//! dead) Redis, a lost invalidation message, a replica that never
//! acknowledges, and readiness during a draining stop.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::cache::{replica, two_replicas};
use kurz_testkit::{
    accept_redirect_events, eventually, for_each_engine, metric_value, random_suffix, redis_cli,
    refuse_redirect_events, spawn_app, spawn_app_with, stall_redis, test_settings, Engine,
    RedisServer, SilentSubscriber, TestApp,
};

async fn redirect_count(app: &TestApp, url_id: i64) -> usize {
    app.events(&format!("url_id={url_id}&event_type=redirect"))
        .await
        .len()
}

async fn a_link(app: &TestApp) -> (i64, String) {
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com/f").await;
    (
        url["id"].as_i64().unwrap(),
        url["short_code"].as_str().unwrap().to_owned(),
    )
}

async fn a_refused_event_write_is_retried_until_every_event_lands(engine: Engine) {
    let app = spawn_app(engine).await;
    let (url_id, code) = a_link(&app).await;
    refuse_redirect_events(&app.database_url).await;
    for _ in 0..20 {
        assert_eq!(app.get(&format!("/{code}")).await.status, 302);
    }
    // Several linger periods and retries pass; nothing can have landed.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(redirect_count(&app, url_id).await, 0);
    accept_redirect_events(&app.database_url).await;
    let landed = eventually(Duration::from_secs(10), || async {
        redirect_count(&app, url_id).await == 20
    })
    .await;
    assert!(landed, "the retried batch never landed whole");
    // The batch was tried several times: its roll-up counts it once.
    let stats = format!("/urls/{url_id}/stats");
    let counted = eventually(Duration::from_secs(10), || async {
        app.get(&stats).await.json["redirects"] == json!(20)
    })
    .await;
    assert!(counted, "the report never showed the 20 redirects");
    // Past another roll-up window nothing more was added.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(app.get(&stats).await.json["redirects"], json!(20));
}

/// The store refuses events: the queue fills and drops after the short wait.
async fn a_full_queue_drops_counts_and_keeps_serving(engine: Engine) {
    let (mut settings, db) = test_settings(engine).await;
    settings.event_queue_capacity = 8;
    settings.event_batch_max = Some(4);
    settings.event_overflow_wait_ms = 5;
    let mut app = spawn_app_with(settings, db).await;
    app.drops_expected = true;
    let (url_id, code) = a_link(&app).await;
    refuse_redirect_events(&app.database_url).await;
    for _ in 0..60 {
        assert_eq!(app.get(&format!("/{code}")).await.status, 302);
    }
    let dropped = app.events.dropped();
    assert!(dropped > 0 && dropped < 60, "dropped {dropped}");
    let counted = metric_value(
        &app.get("/metrics").await.text,
        "kurz_events_dropped_total{reason=\"overflow\"}",
    )
    .unwrap_or(0.0);
    assert!(counted >= dropped as f64, "metric {counted} < {dropped}");
    accept_redirect_events(&app.database_url).await;
    let expected = 60 - dropped as usize;
    let landed = eventually(Duration::from_secs(10), || async {
        redirect_count(&app, url_id).await == expected
    })
    .await;
    assert!(landed, "not every queued event landed: want {expected}");
}

async fn a_full_queue_with_a_working_writer_slows_redirects_and_loses_nothing(engine: Engine) {
    let (mut settings, db) = test_settings(engine).await;
    settings.event_queue_capacity = 8;
    settings.event_batch_max = Some(4);
    settings.event_overflow_wait_ms = 1;
    let app = spawn_app_with(settings, db).await;
    let (url_id, code) = a_link(&app).await;
    let path = format!("/{code}");
    let redirects = (0..200).map(|_| app.get(&path));
    for answer in futures_util::future::join_all(redirects).await {
        assert_eq!(answer.status, 302);
    }
    assert_eq!(
        app.events.dropped(),
        0,
        "a writer that keeps writing loses nothing"
    );
    app.events.flush().await;
    assert_eq!(redirect_count(&app, url_id).await, 200);
}

async fn a_draining_stop_fails_readiness_while_it_still_serves(engine: Engine) {
    let (mut settings, db) = test_settings(engine).await;
    settings.shutdown_drain_ms = 1500;
    let app = spawn_app_with(settings, db).await;
    assert_eq!(app.get("/health/ready").await.status, 200);
    app.begin_stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(ready.json["checks"]["shutdown"], "in progress");
    assert_eq!(
        app.get("/users?per_page=1").await.status,
        200,
        "still serving"
    );
    let closed = eventually(Duration::from_secs(5), || async {
        reqwest::Client::new()
            .get(app.url("/health"))
            .send()
            .await
            .is_err()
    })
    .await;
    assert!(closed, "the listener never closed after the drain");
}

async fn a_slow_redis_never_slows_redirects_or_writes(engine: Engine) {
    let redis = RedisServer::start();
    let (settings, db) = test_settings(engine).await;
    let app = replica(settings, db, &redis, &format!("t{}:", random_suffix())).await;
    let (url_id, code) = a_link(&app).await;
    let stall = stall_redis(redis.port, 2.0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert_eq!(app.get(&format!("/{code}")).await.status, 302);
    let edit = app
        .put(
            &format!("/urls/{url_id}"),
            json!({"title": "while redis sleeps"}),
        )
        .await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1200),
        "took {took:?} with Redis stalled"
    );
    stall.join().expect("redis-cli thread");
}

async fn a_lost_invalidation_message_is_healed_by_resubscribing(engine: Engine) {
    let redis = RedisServer::start();
    let (a, b) = two_replicas(engine, &redis).await;
    let (url_id, code) = a_link(&a).await;
    assert_eq!(b.get(&format!("/{code}")).await.status, 302);
    // Every subscriber is cut off: the next invalidation reaches no one.
    redis_cli(redis.port, &["CLIENT", "KILL", "TYPE", "pubsub"]);
    let edit = a
        .put(
            &format!("/urls/{url_id}"),
            json!({"original_url": "https://example.com/new"}),
        )
        .await;
    assert_eq!(edit.status, 200);
    let healed = eventually(Duration::from_secs(3), || async {
        b.get(&format!("/{code}")).await.header("location") == Some("https://example.com/new")
    })
    .await;
    assert!(healed, "B kept serving the old target after a lost message");
}

async fn a_replica_that_never_acknowledges_delays_a_write_only_up_to_the_cap(engine: Engine) {
    let redis = RedisServer::start();
    let (mut settings, db) = test_settings(engine).await;
    settings.invalidation_ack_timeout_ms = 400;
    let prefix = format!("t{}:", random_suffix());
    let app = replica(settings, db, &redis, &prefix).await;
    let (url_id, _) = a_link(&app).await;
    let _silent = SilentSubscriber::start(redis.port, &format!("{prefix}invalidate"));
    let subscribed = eventually(Duration::from_secs(5), || async {
        redis_cli(
            redis.port,
            &["PUBSUB", "NUMSUB", &format!("{prefix}invalidate")],
        )
        .lines()
        .nth(1)
        .is_some_and(|n| n.trim() == "2")
    })
    .await;
    assert!(subscribed, "the silent subscriber never subscribed");
    let series = "kurz_cache_invalidation_ack_timeouts_total";
    let before = metric_value(&app.get("/metrics").await.text, series).unwrap_or(0.0);
    let started = Instant::now();
    let edit = app
        .put(
            &format!("/urls/{url_id}"),
            json!({"title": "unacknowledged"}),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(edit.status, 200, "{}", edit.text);
    assert!(
        took >= Duration::from_millis(400),
        "did not wait for the ack: {took:?}"
    );
    assert!(
        took < Duration::from_millis(1500),
        "waited past the cap: {took:?}"
    );
    let after = metric_value(&app.get("/metrics").await.text, series).unwrap_or(0.0);
    assert!(
        after >= before + 1.0,
        "ack time-out not counted ({before} -> {after})"
    );
}

for_each_engine!(
    a_refused_event_write_is_retried_until_every_event_lands,
    a_full_queue_drops_counts_and_keeps_serving,
    a_full_queue_with_a_working_writer_slows_redirects_and_loses_nothing,
    a_draining_stop_fails_readiness_while_it_still_serves,
    a_slow_redis_never_slows_redirects_or_writes,
    a_lost_invalidation_message_is_healed_by_resubscribing,
    a_replica_that_never_acknowledges_delays_a_write_only_up_to_the_cap,
);
