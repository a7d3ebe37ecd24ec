//! `KURZ_AUTH=keys`: who may call what. The contract mode (`off`) is the
//! rest of the suite, unchanged.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::cache::replica;
use kurz::config::{AuthArg, Settings};
use kurz_testkit::{
    assert_error, for_each_engine, random_suffix, spawn_app_with, test_settings, Engine,
    RedisServer, TestApp, TestDb,
};

const ADMIN: &str = "test-admin-key-0123456789";

fn keys_mode(mut settings: Settings) -> Settings {
    settings.auth = Some(AuthArg::Keys);
    settings.admin_key = Some(ADMIN.into());
    settings
}

async fn keyed_app(engine: Engine) -> TestApp {
    let (settings, db) = test_settings(engine).await;
    spawn_app_with(keys_mode(settings), db).await
}

/// A user made by the admin, and a fresh key of theirs.
async fn user_with_key(app: &TestApp) -> (i64, String) {
    let tag = random_suffix();
    let user = app
        .with_key(ADMIN)
        .post(
            "/users",
            json!({"username": format!("k{tag}"), "email": format!("k{tag}@example.com")}),
        )
        .await;
    assert_eq!(user.status, 201, "{}", user.text);
    let id = user.json["id"].as_i64().unwrap();
    let key = app
        .with_key(ADMIN)
        .post(&format!("/users/{id}/keys"), json!({}))
        .await;
    assert_eq!(key.status, 201, "{}", key.text);
    (id, key.json["key"].as_str().unwrap().to_owned())
}

fn assert_unauthorized(reply: &kurz_testkit::Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.text);
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{what}");
    assert!(reply.json["error"].is_string(), "{what}");
}

async fn every_endpoint_but_redirects_health_and_docs_needs_a_key(engine: Engine) {
    let app = keyed_app(engine).await;
    let (uid, key) = user_with_key(&app).await;
    let url = app
        .with_key(&key)
        .post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://example.com/k"}),
        )
        .await;
    assert_eq!(url.status, 201);
    let code = url.json["short_code"].as_str().unwrap();
    for path in [
        "/users",
        "/users/1",
        "/urls",
        "/urls/1",
        "/events",
        "/events/1",
        "/metrics",
        "/openapi.json",
        "/users/1/keys",
    ] {
        assert_unauthorized(&app.get(path).await, path);
        assert_unauthorized(
            &app.with_key("kurz_AAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")
                .get(path)
                .await,
            path,
        );
        assert_unauthorized(&app.with_key("not even a key").get(path).await, path);
    }
    assert_unauthorized(
        &app.post(
            "/urls",
            json!({"user_id": uid, "original_url": "https://e.com"}),
        )
        .await,
        "POST /urls",
    );
    assert_unauthorized(
        &app.put("/urls/1", json!({"title": "x"})).await,
        "PUT /urls/1",
    );
    assert_unauthorized(&app.delete("/urls/1").await, "DELETE /urls/1");
    assert_eq!(app.get(&format!("/{code}")).await.status, 302);
    assert_eq!(app.get(&format!("/urls/{code}/redirect")).await.status, 302);
    assert_eq!(app.get("/health").await.status, 200);
    assert_eq!(app.get("/health/ready").await.status, 200);
    assert_eq!(app.get("/docs/").await.status, 200);
    assert_eq!(app.get("/docs/openapi.json").await.status, 200);
    assert_eq!(app.with_key(ADMIN).get("/metrics").await.status, 200);
    assert_eq!(app.with_key(&key).get("/openapi.json").await.status, 200);
}

async fn a_users_key_acts_only_for_its_user(engine: Engine) {
    let app = keyed_app(engine).await;
    let (me, key) = user_with_key(&app).await;
    let (other, other_key) = user_with_key(&app).await;
    let mine = app.with_key(&key);
    let theirs_link = app
        .with_key(&other_key)
        .post(
            "/urls",
            json!({"user_id": other, "original_url": "https://example.com/theirs"}),
        )
        .await
        .json;
    let my_link = mine
        .post(
            "/urls",
            json!({"user_id": me, "original_url": "https://example.com/mine"}),
        )
        .await;
    assert_eq!(my_link.status, 201);

    // Admin-only operations: 403.
    let forbidden = mine
        .post("/users", json!({"username": "x", "email": "x@example.com"}))
        .await;
    assert_error(&forbidden, 403);
    assert_error(&mine.get("/metrics").await, 403);
    // Someone else's resources: 404, as if they did not exist.
    for path in [
        format!("/users/{other}"),
        format!("/urls/{}", theirs_link["id"]),
        format!("/users/{other}/keys"),
    ] {
        assert_error(&mine.get(&path).await, 404);
    }
    assert_error(
        &mine
            .put(
                &format!("/urls/{}", theirs_link["id"]),
                json!({"title": "mine now"}),
            )
            .await,
        404,
    );
    assert_error(
        &mine.delete(&format!("/urls/{}", theirs_link["id"])).await,
        404,
    );
    assert_error(&mine.delete(&format!("/users/{other}")).await, 404);
    assert_error(
        &mine
            .post(
                "/urls",
                json!({"user_id": other, "original_url": "https://e.com"}),
            )
            .await,
        404,
    );
    assert_error(
        &mine
            .post("/events", json!({"event_type": "click", "user_id": other}))
            .await,
        404,
    );
    assert_error(
        &mine
            .post(
                "/events",
                json!({"event_type": "click", "url_id": theirs_link["id"]}),
            )
            .await,
        404,
    );
    // Lists are filtered, never an error.
    let users = mine.get("/users").await.json;
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["id"], me);
    let links = mine.get("/urls").await.json;
    assert!(links.as_array().unwrap().iter().all(|l| l["user_id"] == me));
    assert_eq!(links.as_array().unwrap().len(), 1);
    assert_eq!(
        mine.get(&format!("/urls?user_id={other}")).await.json,
        json!([])
    );
    let events = mine.get("/events").await.json;
    assert!(!events.as_array().unwrap().is_empty());
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["user_id"] == me),
        "{events}"
    );
    let theirs_event = app
        .with_key(ADMIN)
        .get(&format!("/events?user_id={other}"))
        .await
        .json[0]["id"]
        .clone();
    assert_error(&mine.get(&format!("/events/{theirs_event}")).await, 404);
    // What is its own works.
    let posted = mine
        .post(
            "/events",
            json!({"event_type": "click", "url_id": my_link.json["id"]}),
        )
        .await;
    assert_eq!(posted.status, 201);
    assert_eq!(posted.json["user_id"], me);
    assert_eq!(
        mine.put(
            &format!("/users/{me}"),
            json!({"username": format!("renamed{me}")})
        )
        .await
        .status,
        200
    );
    // The admin sees everything.
    let all: Vec<Value> = app
        .with_key(ADMIN)
        .get("/users")
        .await
        .json
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(all.len(), 2);
}

async fn a_key_is_shown_once_listed_without_its_secret_and_revoked_at_once(engine: Engine) {
    let app = keyed_app(engine).await;
    let (me, key) = user_with_key(&app).await;
    let second = app
        .with_key(&key)
        .post(&format!("/users/{me}/keys"), json!({}))
        .await;
    assert_eq!(second.status, 201, "a user may make its own keys");
    let second_key = second.json["key"].as_str().unwrap().to_owned();
    assert!(second_key.starts_with(second.json["prefix"].as_str().unwrap()));
    assert_eq!(app.with_key(&key).get("/users").await.status, 200);
    let listed = app
        .with_key(&second_key)
        .get(&format!("/users/{me}/keys"))
        .await;
    assert_eq!(listed.status, 200);
    let listed = listed.json.as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    for entry in &listed {
        let fields: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            ["created_at", "id", "last_used_at", "prefix"],
            "never the secret"
        );
        assert!(!entry.to_string().contains(&key[14..]));
    }
    let first_id = listed[0]["id"].as_i64().unwrap();
    // The last use is written in the background, once a minute at most.
    let recorded = kurz_testkit::eventually(std::time::Duration::from_secs(5), || async {
        app.with_key(&second_key)
            .get(&format!("/users/{me}/keys"))
            .await
            .json[0]["last_used_at"]
            .is_string()
    })
    .await;
    assert!(recorded, "use is recorded");
    let revoked = app
        .with_key(&second_key)
        .delete(&format!("/users/{me}/keys/{first_id}"))
        .await;
    assert_eq!(revoked.status, 204);
    assert_unauthorized(&app.with_key(&key).get("/users").await, "a revoked key");
    assert_eq!(app.with_key(&second_key).get("/users").await.status, 200);
    assert_error(
        &app.with_key(&second_key)
            .delete(&format!("/users/{me}/keys/{first_id}"))
            .await,
        404,
    );
    let logged: Vec<String> = app
        .with_key(ADMIN)
        .get(&format!("/events?user_id={me}"))
        .await
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logged, ["key_created", "key_created", "key_revoked"]);
    // Deleting the user ends its keys too.
    assert_eq!(
        app.with_key(ADMIN)
            .delete(&format!("/users/{me}"))
            .await
            .status,
        204
    );
    assert_unauthorized(
        &app.with_key(&second_key).get("/urls").await,
        "key of a deleted user",
    );
}

async fn a_revocation_reaches_every_replica_before_it_returns(engine: Engine) {
    let redis = RedisServer::start();
    let (settings, db) = test_settings(engine).await;
    let settings = keys_mode(settings);
    let prefix = format!("t{}:", random_suffix());
    let a = replica(settings.clone(), db, &redis, &prefix).await;
    let b = replica(settings, TestDb::Shared, &redis, &prefix).await;
    let (me, key) = user_with_key(&a).await;
    assert_eq!(
        b.with_key(&key).get("/urls").await.status,
        200,
        "B has the key cached"
    );
    let key_id = a
        .with_key(ADMIN)
        .get(&format!("/users/{me}/keys"))
        .await
        .json[0]["id"]
        .clone();
    assert_eq!(
        a.with_key(ADMIN)
            .delete(&format!("/users/{me}/keys/{key_id}"))
            .await
            .status,
        204
    );
    assert_unauthorized(
        &b.with_key(&key).get("/urls").await,
        "revoked on A, used on B",
    );
}

/// Protected mode: an open API on a non-loopback address must be chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_bind_without_kurz_auth_refuses_to_start() {
    let (settings, _db) = test_settings(Engine::Sqlite).await;
    let run = |auth: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kurz"));
        command
            .env("DATABASE_URL", settings.database_url())
            .env(
                "KURZ_BIND",
                format!("0.0.0.0:{}", kurz_testkit::free_port()),
            )
            .env_remove("KURZ_AUTH")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(auth) = auth {
            command.env("KURZ_AUTH", auth);
        }
        command.spawn().expect("kurz starts")
    };
    let refused = run(None).wait_with_output().expect("kurz exits");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("KURZ_AUTH=keys") && stderr.contains("KURZ_AUTH=off"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    let mut chosen = run(Some("off"));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(chosen.try_wait().unwrap().is_none(), "KURZ_AUTH=off starts");
    let _ = chosen.kill();
    let _ = chosen.wait();
}

/// `kurz keys create|revoke` against the database of a running app, and no
/// secret in the access log of a real process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_the_command_line_work_and_secrets_are_never_logged() {
    let (settings, db) = test_settings(Engine::Sqlite).await;
    let url = settings.database_url();
    let app = spawn_app_with(keys_mode(settings), db).await;
    let (me, _) = user_with_key(&app).await;
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_kurz"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("KURZ_LOG", "warn")
            .output()
            .expect("kurz runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let token = cli(&["keys", "create", "--user", &me.to_string()]);
    assert!(token.starts_with("kurz_"), "{token}");
    assert_eq!(app.with_key(&token).get("/users").await.status, 200);
    let listed = app
        .with_key(ADMIN)
        .get(&format!("/users/{me}/keys"))
        .await
        .json;
    let id = listed.as_array().unwrap().last().unwrap()["id"].to_string();
    cli(&["keys", "revoke", &id]);
    // Without Redis the other process learns it within the credential TTL.
    let gone = kurz_testkit::eventually(std::time::Duration::from_secs(15), || async {
        app.with_key(&token).get("/users").await.status == 401
    })
    .await;
    assert!(gone, "a key revoked from the command line stopped working");

    let mut server = kurz_testkit::KurzProcess::start(
        env!("CARGO_BIN_EXE_kurz"),
        &url,
        &[
            ("KURZ_AUTH", "keys"),
            ("KURZ_ADMIN_KEY", ADMIN),
            ("KURZ_LOG", "debug"),
            ("KURZ_LOG_FORMAT", "json"),
        ],
        Stdio::piped(),
    )
    .await;
    let fresh = server
        .client
        .post(format!("{}/users/{me}/keys", server.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    for bearer in [
        fresh.as_str(),
        ADMIN,
        "kurz_AAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    ] {
        server
            .client
            .get(format!("{}/urls", server.base))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
    }
    server.terminate();
    let stdout = server.child.stdout.take().unwrap();
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .collect();
    assert!(server.child.wait().unwrap().success());
    assert!(lines.len() > 5, "the access log was written");
    for line in &lines {
        assert!(
            !line.contains(&fresh[14..]),
            "a key's secret was logged: {line}"
        );
        assert!(!line.contains(ADMIN), "the admin key was logged: {line}");
        assert!(
            !line.contains("BBBBBBBBBBBBBBBB"),
            "a presented token was logged: {line}"
        );
    }
}

for_each_engine!(
    every_endpoint_but_redirects_health_and_docs_needs_a_key,
    a_users_key_acts_only_for_its_user,
    a_key_is_shown_once_listed_without_its_secret_and_revoked_at_once,
    a_revocation_reaches_every_replica_before_it_returns,
);
