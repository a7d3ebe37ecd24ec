//! Links that expire: `expires_at` and `max_redirects` on create and
//! update, 410 past either, and a budget that is exact under concurrency,
//! also when two replicas spend it.

use chrono::{Duration as Span, Utc};
use futures_util::future::join_all;
use serde_json::json;

use kurz_testkit::for_each_engine;
use kurz_testkit::{assert_error, spawn_app, Engine, RedisServer};

fn wire_time(offset: Span) -> String {
    (Utc::now().naive_utc() + offset)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

async fn expiry_fields_are_validated_kept_and_logged(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let at = wire_time(Span::days(30));
    let reply = app
        .post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://example.com", "expires_at": at, "max_redirects": 3}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["expires_at"], json!(at));
    assert_eq!(reply.json["max_redirects"], json!(3));
    // Unset, they are left out: the contract's eight fields, no more.
    let plain = app.create_url(uid, "https://example.com/plain").await;
    assert!(plain.get("expires_at").is_none() && plain.get("max_redirects").is_none());
    for bad in [
        json!({"max_redirects": 0}),
        json!({"max_redirects": -1}),
        json!({"max_redirects": 2.5}),
        json!({"max_redirects": "10"}),
        json!({"expires_at": "tomorrow"}),
        json!({"expires_at": 1234}),
    ] {
        let mut body = json!({"user_id": uid, "original_url": "https://example.com"});
        body.as_object_mut()
            .unwrap()
            .extend(bad.as_object().unwrap().clone());
        let reply = app.post("/urls", body).await;
        assert_error(&reply, 400);
        let field = bad.as_object().unwrap().keys().next().unwrap().clone();
        assert!(
            reply.json["details"][&field].is_string(),
            "{bad}: {}",
            reply.text
        );
        let id = plain["id"].as_i64().unwrap();
        assert_error(&app.put(&format!("/urls/{id}"), bad.clone()).await, 400);
    }
    let id = reply.json["id"].as_i64().unwrap();
    let cleared = app
        .put(
            &format!("/urls/{id}"),
            json!({"expires_at": null, "max_redirects": 10}),
        )
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert!(cleared.json.get("expires_at").is_none());
    assert_eq!(cleared.json["max_redirects"], json!(10));
    let updates = app.events(&format!("url_id={id}&event_type=updated")).await;
    let changes: Vec<_> = updates.iter().map(|e| e["details"].clone()).collect();
    assert_eq!(
        changes,
        [
            json!({"field": "expires_at", "new_value": null}),
            json!({"field": "max_redirects", "new_value": 10})
        ]
    );
}

async fn a_link_past_its_expiry_answers_410_and_an_update_revives_it(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let reply = app
        .post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://example.com", "expires_at": wire_time(Span::seconds(-1))}),
        )
        .await;
    let (id, code) = (
        reply.json["id"].as_i64().unwrap(),
        reply.json["short_code"].as_str().unwrap(),
    );
    assert_error(&app.get(&format!("/{code}")).await, 410);
    assert_eq!(app.head(&format!("/{code}")).await.status, 410);
    let later = wire_time(Span::days(1));
    let revived = app
        .put(&format!("/urls/{id}"), json!({"expires_at": later}))
        .await;
    assert_eq!(revived.status, 200, "{}", revived.text);
    assert_eq!(app.get(&format!("/{code}")).await.status, 302);
    // Expiry is checked on every redirect, not only when the link is cached.
    let soon = wire_time(Span::seconds(2));
    app.put(&format!("/urls/{id}"), json!({"expires_at": soon}))
        .await;
    assert_eq!(app.get(&format!("/{code}")).await.status, 302);
    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    assert_error(&app.get(&format!("/urls/{code}/redirect")).await, 410);
}

async fn two_hundred_parallel_redirects_spend_a_budget_of_one_hundred_exactly(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let reply = app
        .post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://example.com", "max_redirects": 100}),
        )
        .await;
    let (id, code) = (
        reply.json["id"].as_i64().unwrap(),
        reply.json["short_code"].as_str().unwrap(),
    );
    // HEAD spends nothing.
    assert_eq!(app.head(&format!("/{code}")).await.status, 302);
    let path = format!("/{code}");
    let replies = join_all((0..200).map(|_| app.get(&path))).await;
    let found = replies.iter().filter(|r| r.status == 302).count();
    let gone = replies.iter().filter(|r| r.status == 410).count();
    assert_eq!((found, gone), (100, 100));
    assert_eq!(app.head(&format!("/{code}")).await.status, 410);
    // A larger budget lets the link answer again, counting what was spent.
    app.put(&format!("/urls/{id}"), json!({"max_redirects": 101}))
        .await;
    assert_eq!(app.get(&format!("/{code}")).await.status, 302);
    assert_eq!(app.get(&format!("/{code}")).await.status, 410);
    app.put(&format!("/urls/{id}"), json!({"max_redirects": null}))
        .await;
    assert_eq!(app.get(&format!("/{code}")).await.status, 302);
}

async fn a_budget_holds_exactly_across_two_replicas(engine: Engine) {
    let redis = RedisServer::start();
    let (a, b) = crate::cache::two_replicas(engine, &redis).await;
    let uid = a.create_user().await["id"].as_i64().unwrap();
    let reply = a
        .post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://example.com", "max_redirects": 100}),
        )
        .await;
    let path = format!("/{}", reply.json["short_code"].as_str().unwrap());
    let replies = join_all((0..200).map(|i| {
        if i % 2 == 0 {
            a.get(&path)
        } else {
            b.get(&path)
        }
    }))
    .await;
    let found = replies.iter().filter(|r| r.status == 302).count();
    assert_eq!(found, 100);
    assert!(replies.iter().all(|r| r.status == 302 || r.status == 410));
    // Lifting the budget on one replica is what the other serves at once.
    let id = reply.json["id"].as_i64().unwrap();
    a.put(&format!("/urls/{id}"), json!({"max_redirects": null}))
        .await;
    assert_eq!(b.get(&path).await.status, 302);
}

for_each_engine!(
    a_budget_holds_exactly_across_two_replicas,
    expiry_fields_are_validated_kept_and_logged,
    a_link_past_its_expiry_answers_410_and_an_update_revives_it,
    two_hundred_parallel_redirects_spend_a_budget_of_one_hundred_exactly,
);
