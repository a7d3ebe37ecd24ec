//! Bad input of every kind, on every write endpoint: always a JSON 400 (or
//! 404/405/413 where the contract says so), never HTML, text or a 500.

use reqwest::Method;
use serde_json::json;

use kurz_testkit::for_each_engine;
use kurz_testkit::{assert_error, spawn_app, Engine};

/// Bodies that are not a JSON object, with the content type they come with.
fn malformed_bodies() -> Vec<(Option<&'static str>, Vec<u8>)> {
    let json = Some("application/json");
    vec![
        (json, b"\"a string\"".to_vec()),
        (json, b"[1, 2]".to_vec()),
        (json, b"[]".to_vec()),
        (json, b"42".to_vec()),
        (json, b"null".to_vec()),
        (json, b"true".to_vec()),
        (json, b"".to_vec()),
        (json, b"   ".to_vec()),
        (json, b"{".to_vec()),
        (json, b"{\"username\": }".to_vec()),
        (json, b"{'single': 'quotes'}".to_vec()),
        (json, b"\xff\xfe\x00".to_vec()),
        (
            Some("application/x-www-form-urlencoded"),
            b"username=a&email=a%40b.co".to_vec(),
        ),
        (
            Some("multipart/form-data; boundary=x"),
            b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n".to_vec(),
        ),
        (Some("text/plain"), b"hello".to_vec()),
        (
            Some("text/plain"),
            b"{\"username\":\"a\",\"email\":\"a@b.co\"}".to_vec(),
        ),
        (None, b"not json at all".to_vec()),
    ]
}

async fn every_write_endpoint_answers_malformed_bodies_with_json_400(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com").await;
    let endpoints = [
        (Method::POST, "/users".to_owned()),
        (Method::PUT, format!("/users/{uid}")),
        (Method::POST, "/urls".to_owned()),
        (Method::PUT, format!("/urls/{}", url["id"])),
        (Method::POST, "/events".to_owned()),
    ];
    for (method, path) in &endpoints {
        for (content_type, body) in malformed_bodies() {
            let reply = app
                .send(method.clone(), path, content_type, Some(body.clone()))
                .await;
            assert_error(&reply, 400);
            let shown = String::from_utf8_lossy(&body);
            assert!(
                !reply.text.contains('<'),
                "{method} {path} {shown:?}: {}",
                reply.text
            );
        }
    }
    assert_eq!(
        app.get("/users").await.json.as_array().unwrap().len(),
        1,
        "nothing else stored"
    );
    assert_eq!(app.get("/urls").await.json.as_array().unwrap().len(), 1);
}

async fn unknown_routes_wrong_methods_and_huge_bodies_get_json(engine: Engine) {
    let app = spawn_app(engine).await;
    for path in [
        "/nope/deeper",
        "/users/1/extra",
        "/urls/1/2/3",
        "/events/1/x",
    ] {
        assert_error(&app.get(path).await, 404);
    }
    let cases = [
        (Method::DELETE, "/users"),
        (Method::PATCH, "/urls/1"),
        (Method::POST, "/health"),
        (Method::PUT, "/events"),
        (Method::POST, "/abcdef"),
        (Method::GET, "/users/bulk"),
    ];
    for (method, path) in cases {
        let reply = app.send(method.clone(), path, None, None).await;
        assert_error(&reply, 405);
        assert!(
            reply.header("allow").is_some(),
            "{method} {path} lacks Allow"
        );
    }
    let huge = format!(
        "{{\"username\":\"{}\",\"email\":\"a@b.co\"}}",
        "a".repeat(1024 * 1024 + 10)
    );
    let reply = app
        .send(
            Method::POST,
            "/users",
            Some("application/json"),
            Some(huge.into_bytes()),
        )
        .await;
    assert_error(&reply, 413);
}

async fn ids_out_of_range_and_odd_types_never_cause_500(engine: Engine) {
    let app = spawn_app(engine).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    for body in [
        json!({"user_id": 9223372036854775807_i64, "original_url": "https://a.co"}),
        json!({"user_id": 18446744073709551615_u64, "original_url": "https://a.co"}),
        json!({"user_id": -9223372036854775808_i64, "original_url": "https://a.co"}),
        json!({"user_id": 1e300, "original_url": "https://a.co"}),
        json!({"user_id": {"nested": true}, "original_url": "https://a.co"}),
        json!({"user_id": uid, "original_url": "https://a.co", "title": "\u{0000}\u{ffff}𝔘"}),
        json!({"user_id": uid, "original_url": "https://ü.example/ä?q=ö"}),
    ] {
        let reply = app.post("/urls", body.clone()).await;
        assert!(
            reply.status.as_u16() < 500,
            "{body}: {} {}",
            reply.status,
            reply.text
        );
        assert!(reply.json.is_object(), "{body}: {}", reply.text);
    }
    let unicode = app.get("/urls").await.json;
    for url in unicode.as_array().unwrap() {
        let reply = app
            .get(&format!("/{}", url["short_code"].as_str().unwrap()))
            .await;
        assert_eq!(reply.status, 302, "{}", reply.text);
    }
    for path in [
        "/users?page=99999999999",
        "/events?url_id=99999999999999999999",
        "/urls?user_id=-5",
        "/users?per_page=1000&page=4294967295",
    ] {
        let reply = app.get(path).await;
        assert!(
            reply.status.as_u16() < 500,
            "{path}: {} {}",
            reply.status,
            reply.text
        );
    }
}

for_each_engine!(
    every_write_endpoint_answers_malformed_bodies_with_json_400,
    unknown_routes_wrong_methods_and_huge_bodies_get_json,
    ids_out_of_range_and_odd_types_never_cause_500,
);
