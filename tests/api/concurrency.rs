//! Many writers at once: unique codes, and exactly one winner per username.

use std::collections::HashSet;

use futures_util::future::join_all;
use serde_json::json;

use kurz_testkit::for_each_engine;
use kurz_testkit::{spawn_app, Engine};

async fn two_hundred_parallel_creates_get_unique_codes(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let replies = join_all((0..200).map(|i| {
        let app = &app;
        async move {
            app.post(
                "/urls",
                json!({"user_id": uid, "original_url": format!("https://example.com/{i}")}),
            )
            .await
        }
    }))
    .await;
    let codes: HashSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.text);
            r.json["short_code"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(codes.len(), 200);
    assert_eq!(app.events("event_type=created").await.len(), 200);
}

async fn twenty_parallel_creates_of_one_username_have_one_winner(engine: Engine) {
    let app = spawn_app(engine).await;
    let replies = join_all((0..20).map(|i| {
        let app = &app;
        async move {
            app.post(
                "/users",
                json!({"username": "same-name", "email": format!("u{i}@example.com")}),
            )
            .await
        }
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let conflicts = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        (created, conflicts),
        (1, 19),
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    let emails = join_all((0..20).map(|i| {
        let app = &app;
        async move {
            app.post(
                "/users",
                json!({"username": format!("n{i}"), "email": "Same@Example.com"}),
            )
            .await
        }
    }))
    .await;
    assert_eq!(emails.iter().filter(|r| r.status == 201).count(), 1);
}

for_each_engine!(
    two_hundred_parallel_creates_get_unique_codes,
    twenty_parallel_creates_of_one_username_have_one_winner,
);
