//! `/events`: appending, reading, filters, and the append-only rule.

use serde_json::{json, Value};

use kurz_testkit::for_each_engine;
use kurz_testkit::{assert_error, assert_timestamp, spawn_app, Engine};

async fn post_events_appends_with_optional_references(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com").await;
    let reply = app.post("/events", json!({"event_type": "click", "url_id": url["id"], "user_id": uid, "details": {"k": [1, 2]}})).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let event = &reply.json;
    assert_eq!(event["event_type"], "click");
    assert_eq!(event["url_id"], url["id"]);
    assert_eq!(event["details"], json!({"k": [1, 2]}));
    assert_timestamp(&event["timestamp"]);
    assert_eq!(
        app.get(&format!("/events/{}", event["id"])).await.json,
        *event
    );

    let bare = app
        .post(
            "/events",
            json!({"event_type": "note", "details": null, "url_id": null}),
        )
        .await;
    assert_eq!(bare.status, 201, "{}", bare.text);
    assert_eq!(bare.json["details"], json!({}));
    assert_eq!(bare.json["url_id"], Value::Null);
    assert_eq!(bare.json["user_id"], Value::Null);
}

async fn post_events_rejects_bad_fields_and_unknown_references(engine: Engine) {
    let app = spawn_app(engine).await;
    for (body, field) in [
        (json!({}), "event_type"),
        (json!({"event_type": ""}), "event_type"),
        (json!({"event_type": 3}), "event_type"),
        (json!({"event_type": "x", "details": "text"}), "details"),
        (json!({"event_type": "x", "details": [1]}), "details"),
        (json!({"event_type": "x", "details": 5}), "details"),
        (
            json!({"event_type": "x", "details": {"a": ["\u{0}"]}}),
            "details",
        ),
        (json!({"event_type": "x\u{0}"}), "event_type"),
        (json!({"event_type": "x", "url_id": "1"}), "url_id"),
        (json!({"event_type": "x", "user_id": true}), "user_id"),
    ] {
        let reply = app.post("/events", body.clone()).await;
        assert_error(&reply, 400);
        assert!(
            reply.json["details"][field].is_string(),
            "{body}: {}",
            reply.text
        );
    }
    assert_error(
        &app.post("/events", json!({"event_type": "x", "url_id": 999999}))
            .await,
        404,
    );
    assert_error(
        &app.post("/events", json!({"event_type": "x", "user_id": 999999}))
            .await,
        404,
    );
    assert_eq!(app.get("/events").await.json, json!([]));
}

async fn events_are_filtered_paged_and_append_only(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let a = app.create_url(uid, "https://a.co").await;
    let b = app.create_url(uid, "https://b.co").await;
    app.put(&format!("/urls/{}", a["id"]), json!({"title": "x"}))
        .await;
    assert_eq!(app.events(&format!("url_id={}", a["id"])).await.len(), 2);
    assert_eq!(app.events(&format!("url_id={}", b["id"])).await.len(), 1);
    assert_eq!(app.events(&format!("user_id={uid}")).await.len(), 3);
    assert_eq!(app.events("event_type=updated").await.len(), 1);
    assert_eq!(
        app.events(&format!("user_id={uid}&event_type=created"))
            .await
            .len(),
        2
    );
    assert!(app.events("url_id=999999").await.is_empty());
    assert_eq!(app.events("per_page=2").await.len(), 2);
    let first = app.events("per_page=1").await[0]["id"].as_i64().unwrap();
    assert_eq!(app.events(&format!("after_id={first}")).await.len(), 2);
    assert_error(&app.get("/events?url_id=x").await, 400);
    assert_error(&app.get("/events/999999").await, 404);
    let put = app
        .put(&format!("/events/{first}"), json!({"event_type": "x"}))
        .await;
    assert_error(&put, 405);
    assert!(put.header("allow").is_some_and(|a| a.contains("GET")));
    assert_error(&app.delete(&format!("/events/{first}")).await, 405);
}

for_each_engine!(
    post_events_appends_with_optional_references,
    post_events_rejects_bad_fields_and_unknown_references,
    events_are_filtered_paged_and_append_only,
);
