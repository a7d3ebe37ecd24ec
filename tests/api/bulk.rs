//! Imports: `POST /users/bulk` (multipart CSV) and the `kurz import` command
//! with the real seed set, on both engines.

use std::process::Command;

use reqwest::multipart::Form;
use serde_json::{json, Value};

use kurz_testkit::for_each_engine;
use kurz_testkit::{
    assert_error, read, seed_dir, spawn_app_with, test_settings, Engine, Reply, TestApp,
};

async fn upload(app: &TestApp, csv: &[u8]) -> Reply {
    app.upload_users_csv(csv.to_vec()).await
}

async fn bulk_import_of_the_seed_users_is_idempotent(engine: Engine) {
    let (settings, db) = test_settings(engine).await;
    let app = spawn_app_with(settings, db).await;
    let csv = std::fs::read(seed_dir().join("users.csv")).unwrap();
    let first = upload(&app, &csv).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.json["count"], 400);
    assert_eq!(first.json["imported"], 400);
    assert_eq!(first.json["rejected"], 0);
    let again = upload(&app, &csv).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.json["count"], 400, "existing ids count as accepted");
    let users = app.get("/users").await.json;
    assert_eq!(users.as_array().unwrap().len(), 400);
    assert_eq!(users[0]["id"], 1);
    assert_eq!(users[0]["username"], "clearlagoon83");
    assert_eq!(users[0]["created_at"], "2025-07-18T23:45:12");
    // Explicit ids are kept and new users never collide with them.
    let created = app
        .post(
            "/users",
            json!({"username": "fresh", "email": "fresh@example.com"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.json["id"].as_i64().unwrap() > 400);
    // The seed repeats a username: the import took both, POST still refuses it.
    let reply = app
        .post(
            "/users",
            json!({"username": "warmkernel40", "email": "new@example.com"}),
        )
        .await;
    assert_error(&reply, 409);
}

async fn bulk_import_reports_bad_rows_and_bad_files(engine: Engine) {
    let (settings, db) = test_settings(engine).await;
    let app = spawn_app_with(settings, db).await;
    let csv = "email,username,id,created_at\n\
               ok1@example.com,okay1,,\n\
               not-an-email,bad1,,\n\
               ok2@example.com,,,\n\
               OK1@example.com,dupemail,,\n\
               ok3@example.com,okay3,abc,\n\
               ok4@example.com,okay4,,yesterday\n\
               ok5@example.com,okay5,900,2024-01-02 03:04:05\n";
    let reply = upload(&app, csv.as_bytes()).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["count"], 2);
    assert_eq!(reply.json["imported"], 2);
    assert_eq!(reply.json["rejected"], 5);
    let lines: Vec<i64> = reply.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 4, 5, 6, 7]);
    assert!(reply.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["reason"].as_str().is_some_and(|r| !r.is_empty())));
    assert_eq!(
        app.get("/users/900").await.json["created_at"],
        "2024-01-02T03:04:05"
    );

    let no_file = read(
        app.client
            .post(app.url("/users/bulk"))
            .multipart(Form::new().text("other", "x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&no_file, 400);
    assert_error(&upload(&app, b"id,name\n1,x\n").await, 400);
    assert_error(
        &upload(&app, b"username,email\n\xff\xfe,x@y.z\n").await,
        400,
    );
    let not_multipart = app.post("/users/bulk", json!({"file": "x"})).await;
    assert_error(&not_multipart, 400);
}

async fn bulk_uploads_over_the_csv_limit_get_413(engine: Engine) {
    let (mut settings, db) = test_settings(engine).await;
    settings.csv_body_limit = 4096;
    let app = spawn_app_with(settings, db).await;
    let mut csv = String::from("username,email\n");
    for i in 0..500 {
        csv.push_str(&format!("user{i},user{i}@example.com\n"));
    }
    assert_error(&upload(&app, csv.as_bytes()).await, 413);
    assert_eq!(app.get("/users").await.json, json!([]), "nothing imported");
}

async fn cli_import_loads_all_three_seed_files_and_the_api_serves_them(engine: Engine) {
    let (settings, db) = test_settings(engine).await;
    let seed = seed_dir();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_kurz"))
            .arg("import")
            .arg("--users")
            .arg(seed.join("users.csv"))
            .arg("--urls")
            .arg(seed.join("urls.csv"))
            .arg("--events")
            .arg(seed.join("events.csv"))
            .env("DATABASE_URL", settings.database_url())
            .env("KURZ_LOG", "warn")
            .output()
            .expect("kurz import runs")
    };
    let out = run();
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.contains("users: {\"count\":400"), "{stdout}");
    assert!(stdout.contains("urls: {\"count\":2000"), "{stdout}");
    assert!(stdout.contains("events: {\"count\":3422"), "{stdout}");
    let again = run();
    assert!(
        again.status.success(),
        "second import failed: {}",
        String::from_utf8_lossy(&again.stderr)
    );

    let app = spawn_app_with(settings, db).await;
    assert_eq!(app.get("/users").await.json.as_array().unwrap().len(), 400);
    assert_eq!(app.get("/urls").await.json.as_array().unwrap().len(), 2000);
    assert_eq!(
        app.get("/events").await.json.as_array().unwrap().len(),
        3422
    );
    let first = app.get("/urls/1").await.json;
    assert_eq!(first["short_code"], "J1O697");
    assert_eq!(first["is_active"], false);
    assert_error(&app.get("/J1O697").await, 410);
    let third = app.get("/WYuOhq").await;
    assert_eq!(third.status, 302);
    assert_eq!(
        third.header("location"),
        Some("https://example.com/amber/trail/3")
    );
    let event = app.get("/events/1").await.json;
    assert_eq!(
        event["details"],
        json!({"short_code": "J1O697", "original_url": "https://seeded.app/dawn/harvest/1"})
    );
    assert_eq!(event["timestamp"], "2025-09-28T22:57:23");
    // New rows get ids past the imported ones; the seeded code is taken.
    let url = app
        .post(
            "/urls",
            json!({"user_id": 1, "original_url": "https://new.example"}),
        )
        .await;
    assert_eq!(url.status, 201, "{}", url.text);
    assert!(url.json["id"].as_i64().unwrap() > 2000);
    let events = app.events("event_type=created&after_id=3422").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["url_id"], url.json["id"]);
    assert_error(
        &app.post(
            "/urls",
            json!({"user_id": 1, "original_url": "https://x.example", "short_code": "WYuOhq"}),
        )
        .await,
        409,
    );
    let filtered: Value = app.get("/urls?user_id=1").await.json;
    assert!(filtered
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["user_id"] == 1));
}

for_each_engine!(
    bulk_import_of_the_seed_users_is_idempotent,
    bulk_import_reports_bad_rows_and_bad_files,
    bulk_uploads_over_the_csv_limit_get_413,
    cli_import_loads_all_three_seed_files_and_the_api_serves_them,
);
