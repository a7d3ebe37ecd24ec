//! Redirects: 302/404/410, both paths, HEAD, query forwarding, and the
//! `redirect` event that must show up within one second.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use kurz_testkit::for_each_engine;
use kurz_testkit::{assert_error, eventually, spawn_app, Engine};

async fn active_links_redirect_on_both_paths_with_the_query_appended(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app
        .create_url(uid, "https://example.com/landing?src=kurz")
        .await;
    let code = url["short_code"].as_str().unwrap();
    for path in [format!("/{code}"), format!("/urls/{code}/redirect")] {
        let reply = app.get(&path).await;
        assert_eq!(reply.status, 302, "{path}");
        assert_eq!(
            reply.header("location"),
            Some("https://example.com/landing?src=kurz")
        );
        let with_query = app.get(&format!("{path}?utm=x&y=1")).await;
        assert_eq!(
            with_query.header("location"),
            Some("https://example.com/landing?src=kurz&utm=x&y=1")
        );
    }
    let bare = app.create_url(uid, "https://example.com/plain").await;
    let reply = app
        .get(&format!("/{}?a=b", bare["short_code"].as_str().unwrap()))
        .await;
    assert_eq!(
        reply.header("location"),
        Some("https://example.com/plain?a=b")
    );
}

async fn every_get_redirect_is_logged_within_a_second(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com").await;
    let code = url["short_code"].as_str().unwrap().to_owned();
    let response = app
        .client
        .get(app.url(&format!("/{code}")))
        .header("referer", "https://news.example/")
        .header("user-agent", "kurz-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let query = format!("url_id={}&event_type=redirect", url["id"]);
    let seen = eventually(Duration::from_secs(1), || async {
        app.events(&query).await.len() == 1
    })
    .await;
    assert!(seen, "the redirect event did not appear within one second");
    let event = &app.events(&query).await[0];
    assert_eq!(event["user_id"], uid);
    assert_eq!(
        event["details"],
        json!({"short_code": code, "referrer": "https://news.example/", "user_agent": "kurz-test/1.0"})
    );
}

async fn head_answers_like_get_without_an_event(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com/h").await;
    let code = url["short_code"].as_str().unwrap();
    let reply = app.head(&format!("/{code}")).await;
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), Some("https://example.com/h"));
    assert_eq!(
        app.head(&format!("/urls/{code}/redirect")).await.status,
        302
    );
    app.events.flush().await;
    assert!(app
        .events(&format!("url_id={}&event_type=redirect", url["id"]))
        .await
        .is_empty());
}

async fn inactive_is_410_and_unknown_is_404_and_neither_logs(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com").await;
    let code = url["short_code"].as_str().unwrap();
    app.put(&format!("/urls/{}", url["id"]), json!({"is_active": false}))
        .await;
    assert_error(&app.get(&format!("/{code}")).await, 410);
    assert_error(&app.get(&format!("/urls/{code}/redirect")).await, 410);
    let head = app
        .send(Method::HEAD, &format!("/{code}"), None, None)
        .await;
    assert_eq!(head.status, 410);
    for unknown in [
        "/zzzzzz",
        "/urls/zzzzzz/redirect",
        "/no%20such",
        "/%FF%FE",
        "/a.b.c",
    ] {
        assert_error(&app.get(unknown).await, 404);
    }
    app.events.flush().await;
    assert!(app.events("event_type=redirect").await.is_empty());
    app.put(&format!("/urls/{}", url["id"]), json!({"is_active": true}))
        .await;
    assert_eq!(app.get(&format!("/{code}")).await.status, 302);
}

async fn reserved_segments_are_never_codes(engine: Engine) {
    let app = spawn_app(engine).await;
    assert_eq!(app.get("/users").await.status, 200);
    assert_eq!(app.get("/urls").await.status, 200);
    assert_eq!(app.get("/events").await.status, 200);
    assert_eq!(app.get("/health").await.json, json!({"status": "ok"}));
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text.contains("kurz_http_requests_total"),
        "{}",
        metrics.text
    );
    let spec = app.get("/openapi.json").await;
    assert_eq!(spec.status, 200);
    assert!(spec.json["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    for path in [
        "/users",
        "/urls/{id}",
        "/{code}",
        "/events",
        "/users/bulk",
        "/health/ready",
    ] {
        assert!(spec.json["paths"][path].is_object(), "OpenAPI lacks {path}");
    }
    assert_eq!(app.get("/docs/").await.status, 200);
}

async fn ready_reports_the_database(engine: Engine) {
    let app = spawn_app(engine).await;
    let reply = app.get("/health/ready").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["status"], "ok");
    assert_eq!(reply.json["checks"]["database"], "ok");
}

for_each_engine!(
    active_links_redirect_on_both_paths_with_the_query_appended,
    every_get_redirect_is_logged_within_a_second,
    head_answers_like_get_without_an_event,
    inactive_is_410_and_unknown_is_404_and_neither_logs,
    reserved_segments_are_never_codes,
    ready_reports_the_database,
);
