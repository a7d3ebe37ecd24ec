//! `/users`: creation rules, conflicts, partial updates, deletes, paging.

use serde_json::json;

use kurz_testkit::for_each_engine;
use kurz_testkit::{assert_error, assert_timestamp, spawn_app, Engine};

async fn post_users_returns_201_with_the_trimmed_user(engine: Engine) {
    let app = spawn_app(engine).await;
    let reply = app
        .post(
            "/users",
            json!({"username": "  ada  ", "email": " Ada@Example.com ", "extra": 1}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let user = &reply.json;
    assert!(user["id"].as_i64().is_some_and(|id| id > 0));
    assert_eq!(user["username"], "ada");
    assert_eq!(user["email"], "Ada@Example.com");
    assert_timestamp(&user["created_at"]);
    assert_eq!(
        user.as_object().unwrap().len(),
        4,
        "exactly id, username, email, created_at"
    );
    let fetched = app.get(&format!("/users/{}", user["id"])).await;
    assert_eq!(fetched.json, *user);
}

async fn post_users_rejects_invalid_fields_with_details(engine: Engine) {
    let app = spawn_app(engine).await;
    let cases = [
        (json!({"email": "a@b.co"}), "username"),
        (json!({"username": "x"}), "email"),
        (json!({"username": "", "email": "a@b.co"}), "username"),
        (json!({"username": "   ", "email": "a@b.co"}), "username"),
        (json!({"username": 42, "email": "a@b.co"}), "username"),
        (json!({"username": null, "email": "a@b.co"}), "username"),
        (
            json!({"username": "x".repeat(65), "email": "a@b.co"}),
            "username",
        ),
        (json!({"username": "x", "email": "not-an-email"}), "email"),
        (json!({"username": "x", "email": "a@b"}), "email"),
        (json!({"username": "x", "email": "a b@c.de"}), "email"),
        (json!({"username": "x", "email": ["a@b.co"]}), "email"),
        (json!({"username": "x", "email": "a\u{0}@b.co"}), "email"),
        (json!({"username": "x\u{0}", "email": "a@b.co"}), "username"),
        (
            json!({"username": "x", "email": format!("{}@b.co", "a".repeat(250))}),
            "email",
        ),
    ];
    for (body, field) in cases {
        let reply = app.post("/users", body.clone()).await;
        assert_error(&reply, 400);
        assert!(
            reply.json["details"][field].is_string(),
            "{body} should name {field}: {}",
            reply.text
        );
    }
    assert_eq!(
        app.get("/users").await.json,
        json!([]),
        "nothing was stored"
    );
}

async fn post_users_returns_409_for_taken_username_or_email(engine: Engine) {
    let app = spawn_app(engine).await;
    assert_eq!(
        app.post("/users", json!({"username": "sam", "email": "sam@x.io"}))
            .await
            .status,
        201
    );
    let same_name = app
        .post("/users", json!({"username": "sam", "email": "other@x.io"}))
        .await;
    assert_error(&same_name, 409);
    assert!(same_name.json["details"]["username"].is_string());
    let same_email_other_case = app
        .post("/users", json!({"username": "sam2", "email": "SAM@X.IO"}))
        .await;
    assert_error(&same_email_other_case, 409);
    assert!(same_email_other_case.json["details"]["email"].is_string());
}

async fn get_user_is_404_for_unknown_or_malformed_ids(engine: Engine) {
    let app = spawn_app(engine).await;
    for path in [
        "/users/999999",
        "/users/0",
        "/users/-1",
        "/users/abc",
        "/users/1.5",
        "/users/99999999999999999999999",
    ] {
        assert_error(&app.get(path).await, 404);
    }
}

async fn put_user_updates_part_and_keeps_the_rules(engine: Engine) {
    let app = spawn_app(engine).await;
    let a = app.create_user().await;
    let b = app.create_user().await;
    let path = format!("/users/{}", a["id"]);
    let renamed = app.put(&path, json!({"username": " renamed "})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.json["username"], "renamed");
    assert_eq!(renamed.json["email"], a["email"]);
    assert_eq!(renamed.json["created_at"], a["created_at"]);
    assert_error(&app.put(&path, json!({})).await, 400);
    assert_error(&app.put(&path, json!({"unknown": 1})).await, 400);
    assert_error(&app.put(&path, json!({"username": 5})).await, 400);
    assert_error(&app.put(&path, json!({"email": "nope"})).await, 400);
    assert_error(&app.put(&path, json!({"username": null})).await, 400);
    assert_error(
        &app.put(&path, json!({"username": b["username"]})).await,
        409,
    );
    assert_error(
        &app.put(
            &path,
            json!({"email": b["email"].as_str().unwrap().to_uppercase()}),
        )
        .await,
        409,
    );
    assert_error(
        &app.put("/users/999999", json!({"username": "z"})).await,
        404,
    );
    let unchanged = app.put(&path, json!({"username": "renamed"})).await;
    assert_eq!(unchanged.status, 200);
}

async fn delete_user_removes_their_urls_and_logs_each(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.create_user().await;
    let other = app.create_user().await;
    let uid = user["id"].as_i64().unwrap();
    let first = app.create_url(uid, "https://example.com/1").await;
    let second = app.create_url(uid, "https://example.com/2").await;
    let kept = app
        .create_url(other["id"].as_i64().unwrap(), "https://example.com/3")
        .await;
    assert_eq!(
        app.get(&format!("/{}", first["short_code"].as_str().unwrap()))
            .await
            .status,
        302
    );

    let reply = app.delete(&format!("/users/{uid}")).await;
    assert_eq!(reply.status, 204);
    assert!(reply.text.is_empty());
    assert_error(&app.get(&format!("/users/{uid}")).await, 404);
    for url in [&first, &second] {
        assert_error(&app.get(&format!("/urls/{}", url["id"])).await, 404);
        assert_error(
            &app.get(&format!("/{}", url["short_code"].as_str().unwrap()))
                .await,
            404,
        );
        let deleted = app
            .events(&format!("url_id={}&event_type=deleted", url["id"]))
            .await;
        assert_eq!(deleted.len(), 1);
        assert_eq!(deleted[0]["details"], json!({"reason": "user_deleted"}));
        assert_eq!(deleted[0]["user_id"], uid);
    }
    assert_eq!(app.get(&format!("/urls/{}", kept["id"])).await.status, 200);
    assert_error(&app.delete(&format!("/users/{uid}")).await, 404);
}

async fn list_users_pages_by_offset_and_keyset(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(app.create_user().await["id"].as_i64().unwrap());
    }
    let all = app.get("/users").await.json;
    let all_ids: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(all_ids, ids);
    let page2 = app.get("/users?page=2&per_page=3").await.json;
    assert_eq!(
        page2
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        ids[3..6]
    );
    let after = app
        .get(&format!("/users?after_id={}&per_page=2", ids[4]))
        .await
        .json;
    assert_eq!(
        after
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        ids[5..7]
    );
    assert_eq!(
        app.get("/users?per_page=2")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(app.get("/users?page=99").await.json, json!([]));
    for bad in [
        "page=0",
        "per_page=0",
        "per_page=1001",
        "page=x",
        "after_id=-1",
        "after_id=2&page=1",
    ] {
        assert_error(&app.get(&format!("/users?{bad}")).await, 400);
    }
}

for_each_engine!(
    post_users_returns_201_with_the_trimmed_user,
    post_users_rejects_invalid_fields_with_details,
    post_users_returns_409_for_taken_username_or_email,
    get_user_is_404_for_unknown_or_malformed_ids,
    put_user_updates_part_and_keeps_the_rules,
    delete_user_removes_their_urls_and_logs_each,
    list_users_pages_by_offset_and_keyset,
);
