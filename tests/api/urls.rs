//! `/urls`: creation and validation, aliases, updates with their events,
//! deletes, filters.

use serde_json::{json, Value};

use kurz_testkit::for_each_engine;
use kurz_testkit::{
    assert_error, assert_timestamp, scripted_codes, spawn_app, spawn_app_with_codes, test_settings,
    Engine,
};

async fn post_urls_creates_a_random_code_and_a_created_event(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let reply = app.post("/urls", json!({"user_id": uid, "original_url": "  https://example.com/a?b=1  ", "title": " T "})).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let url = &reply.json;
    let code = url["short_code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(url["original_url"], "https://example.com/a?b=1");
    assert_eq!(url["title"], "T");
    assert_eq!(url["is_active"], true);
    assert_eq!(url["user_id"], uid);
    assert_timestamp(&url["created_at"]);
    assert_timestamp(&url["updated_at"]);
    let keys: Vec<&String> = url.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 8, "{keys:?}");
    let created = app.events(&format!("url_id={}", url["id"])).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["event_type"], "created");
    assert_eq!(created[0]["user_id"], uid);
    assert_eq!(created[0]["details"]["short_code"], code);
    assert_eq!(
        created[0]["details"]["original_url"],
        "https://example.com/a?b=1"
    );

    let twice = app
        .post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://example.com/a?b=1"}),
        )
        .await;
    assert_eq!(twice.status, 201);
    assert_ne!(twice.json["short_code"], url["short_code"]);
    assert_ne!(twice.json["id"], url["id"]);
    assert_eq!(twice.json["title"], Value::Null);
}

async fn post_urls_validates_every_field(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let bad_targets = [
        json!("hello"),
        json!("example.com"),
        json!("ftp://x"),
        json!("javascript:alert(1)"),
        json!(""),
        json!("http://"),
        json!("https://user@host.com/"),
        json!("https://u:p@host.com"),
        json!(5),
        json!(null),
        json!(format!("https://e.com/{}", "a".repeat(2048))),
    ];
    for target in bad_targets {
        let reply = app
            .post("/urls", json!({"user_id": uid, "original_url": target}))
            .await;
        assert_error(&reply, 400);
        assert!(
            reply.json["details"]["original_url"].is_string(),
            "{target}: {}",
            reply.text
        );
    }
    let others = [
        (
            json!({"user_id": "1", "original_url": "https://a.co"}),
            "user_id",
        ),
        (
            json!({"user_id": 1.5, "original_url": "https://a.co"}),
            "user_id",
        ),
        (json!({"original_url": "https://a.co"}), "user_id"),
        (json!({"user_id": uid}), "original_url"),
        (
            json!({"user_id": uid, "original_url": "https://a.co", "title": 7}),
            "title",
        ),
        (
            json!({"user_id": uid, "original_url": "https://a.co", "title": "t".repeat(257)}),
            "title",
        ),
        (
            json!({"user_id": uid, "original_url": "https://a.co", "short_code": "ab"}),
            "short_code",
        ),
        (
            json!({"user_id": uid, "original_url": "https://a.co", "short_code": "bad code"}),
            "short_code",
        ),
        (
            json!({"user_id": uid, "original_url": "https://a.co", "short_code": "users"}),
            "short_code",
        ),
        (
            json!({"user_id": uid, "original_url": "https://a.co", "short_code": "HEALTH"}),
            "short_code",
        ),
        (
            json!({"user_id": uid, "original_url": "https://a.co", "short_code": 123}),
            "short_code",
        ),
    ];
    for (body, field) in others {
        let reply = app.post("/urls", body.clone()).await;
        assert_error(&reply, 400);
        assert!(
            reply.json["details"][field].is_string(),
            "{body} should name {field}: {}",
            reply.text
        );
    }
    assert_error(
        &app.post(
            "/urls",
            json!({"user_id": 999999, "original_url": "https://a.co"}),
        )
        .await,
        404,
    );
    assert_error(
        &app.post(
            "/urls",
            json!({"user_id": -3, "original_url": "https://a.co"}),
        )
        .await,
        404,
    );
    assert_eq!(app.get("/urls").await.json, json!([]), "nothing was stored");
    let ok = app
        .post(
            "/urls",
            json!({"user_id": uid, "original_url": "http://127.0.0.1:9/x", "title": null}),
        )
        .await;
    assert_eq!(
        ok.status, 201,
        "loopback targets are allowed by default: {}",
        ok.text
    );
}

async fn custom_aliases_are_unique_and_never_reissued(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let reply = app
        .post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://a.co", "short_code": "my-Link_1"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["short_code"], "my-Link_1");
    let taken = app
        .post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://b.co", "short_code": "my-Link_1"}),
        )
        .await;
    assert_error(&taken, 409);
    assert!(taken.json["details"]["short_code"].is_string());
    assert_eq!(
        app.delete(&format!("/urls/{}", reply.json["id"]))
            .await
            .status,
        204
    );
    assert_error(&app.get("/my-Link_1").await, 404);
    assert_error(
        &app.post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://b.co", "short_code": "my-Link_1"}),
        )
        .await,
        409,
    );
}

async fn put_urls_writes_one_event_per_changed_field(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com/old").await;
    let path = format!("/urls/{}", url["id"]);
    let reply = app.put(&path, json!({"title": "New", "is_active": false, "original_url": "https://example.com/new", "short_code": "zzzzzz", "user_id": 999})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let updated = &reply.json;
    assert_eq!(updated["title"], "New");
    assert_eq!(updated["is_active"], false);
    assert_eq!(updated["original_url"], "https://example.com/new");
    assert_eq!(
        updated["short_code"], url["short_code"],
        "short_code cannot change"
    );
    assert_eq!(updated["user_id"], uid, "user_id cannot change");
    assert_eq!(app.get(&path).await.json, *updated);
    let events = app
        .events(&format!("url_id={}&event_type=updated", url["id"]))
        .await;
    let mut changes: Vec<(String, Value)> = events
        .iter()
        .map(|e| {
            (
                e["details"]["field"].as_str().unwrap().to_owned(),
                e["details"]["new_value"].clone(),
            )
        })
        .collect();
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        changes,
        vec![
            ("is_active".to_owned(), json!(false)),
            ("original_url".to_owned(), json!("https://example.com/new")),
            ("title".to_owned(), json!("New")),
        ]
    );
    // Nothing changes: 200, no event, updated_at as it was.
    let same = app
        .put(&path, json!({"title": "New", "is_active": false}))
        .await;
    assert_eq!(same.status, 200);
    assert_eq!(same.json["updated_at"], updated["updated_at"]);
    assert_eq!(
        app.events(&format!("url_id={}&event_type=updated", url["id"]))
            .await
            .len(),
        3
    );
    // Clearing the title is a change too.
    let cleared = app.put(&path, json!({"title": null})).await;
    assert_eq!(cleared.json["title"], Value::Null);
    assert_eq!(
        app.events(&format!("url_id={}&event_type=updated", url["id"]))
            .await
            .len(),
        4
    );
}

async fn put_urls_rejects_bad_input(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com").await;
    let path = format!("/urls/{}", url["id"]);
    for body in [
        json!({}),
        json!({"unknown": true}),
        json!({"short_code": "x"}),
        json!({"is_active": "false"}),
        json!({"is_active": 0}),
        json!({"is_active": 1}),
        json!({"is_active": null}),
        json!({"original_url": "nope"}),
        json!({"original_url": null}),
        json!({"title": 5}),
        json!({"title": "t".repeat(300)}),
    ] {
        assert_error(&app.put(&path, body).await, 400);
    }
    assert_error(&app.put("/urls/999999", json!({"title": "x"})).await, 404);
    assert_error(&app.put("/urls/abc", json!({"title": "x"})).await, 404);
    assert_eq!(app.get(&path).await.json, url, "nothing changed");
}

async fn delete_urls_keeps_history_and_retires_the_code(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com").await;
    let id = url["id"].as_i64().unwrap();
    let reply = app.delete(&format!("/urls/{id}")).await;
    assert_eq!(reply.status, 204);
    assert_error(&app.get(&format!("/urls/{id}")).await, 404);
    assert_error(
        &app.get(&format!("/{}", url["short_code"].as_str().unwrap()))
            .await,
        404,
    );
    assert_error(&app.delete(&format!("/urls/{id}")).await, 404);
    let events = app.events(&format!("url_id={id}")).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "deleted"]);
    assert_eq!(events[1]["details"], json!({"reason": "user_requested"}));
    assert_eq!(events[1]["user_id"], uid);
}

async fn list_urls_filters_by_user_and_activity(engine: Engine) {
    let app = spawn_app(engine).await;
    let a = app.create_user().await["id"].as_i64().unwrap();
    let b = app.create_user().await["id"].as_i64().unwrap();
    let a1 = app.create_url(a, "https://a.co/1").await;
    let _a2 = app.create_url(a, "https://a.co/2").await;
    let b1 = app.create_url(b, "https://b.co/1").await;
    app.put(&format!("/urls/{}", a1["id"]), json!({"is_active": false}))
        .await;
    let ids = |v: Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(app.get(&format!("/urls?user_id={a}")).await.json).len(),
        2
    );
    assert_eq!(
        ids(app.get(&format!("/urls?user_id={b}")).await.json),
        vec![b1["id"].as_i64().unwrap()]
    );
    assert_eq!(
        ids(app.get("/urls?is_active=false").await.json),
        vec![a1["id"].as_i64().unwrap()]
    );
    assert_eq!(
        ids(app
            .get(&format!("/urls?user_id={a}&is_active=true"))
            .await
            .json)
        .len(),
        1
    );
    assert_eq!(app.get("/urls?user_id=999999").await.json, json!([]));
    for bad in ["is_active=yes", "is_active=1", "user_id=abc", "is_active="] {
        assert_error(&app.get(&format!("/urls?{bad}")).await, 400);
    }
    let all = ids(app.get("/urls").await.json);
    let mut sorted = all.clone();
    sorted.sort_unstable();
    assert_eq!(all, sorted, "ordered by id");
}

/// Generated codes come from a scripted source: the second link's first
/// two draws collide with the first link's code and the third is free; a
/// retired alias also counts as taken.
async fn a_colliding_generated_code_is_retried_with_a_fresh_one(engine: Engine) {
    let (settings, db) = test_settings(engine).await;
    let codes = scripted_codes(&["Coll1d", "Coll1d", "Coll1d", "Fr3sh1", "gone-1", "Fr3sh2"]);
    let app = spawn_app_with_codes(settings, db, codes).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let first = app.create_url(uid, "https://example.com/1").await;
    assert_eq!(first["short_code"], "Coll1d");
    let second = app.create_url(uid, "https://example.com/2").await;
    assert_eq!(second["short_code"], "Fr3sh1");
    let alias = app
        .post("/urls", json!({"user_id": uid, "original_url": "https://example.com/a", "short_code": "gone-1"}))
        .await;
    assert_eq!(alias.status, 201);
    assert_eq!(
        app.delete(&format!("/urls/{}", alias.json["id"]))
            .await
            .status,
        204
    );
    let third = app.create_url(uid, "https://example.com/3").await;
    assert_eq!(
        third["short_code"], "Fr3sh2",
        "a retired code is never handed out again"
    );
    let metrics = app.get("/metrics").await.text;
    assert!(
        kurz_testkit::metric_value(&metrics, "kurz_short_code_collisions_total").unwrap_or(0.0)
            >= 3.0,
        "collisions are counted"
    );
}

for_each_engine!(
    a_colliding_generated_code_is_retried_with_a_fresh_one,
    post_urls_creates_a_random_code_and_a_created_event,
    post_urls_validates_every_field,
    custom_aliases_are_unique_and_never_reissued,
    put_urls_writes_one_event_per_changed_field,
    put_urls_rejects_bad_input,
    delete_urls_keeps_history_and_retires_the_code,
    list_urls_filters_by_user_and_activity,
);
