//! Abuse limits at the edge, measured against the real server: a slow
//! request head, an oversized header, an idle kept-alive connection, a
//! flood from one client while another is served, and the request deadline.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use kurz_testkit::{for_each_engine, seed_dir, spawn_app_with, test_settings, Engine, TestApp};

/// Reads until the server closes the connection or `limit` passes; returns
/// what arrived and whether it was closed.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&got).into_owned(), true)
            }
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

async fn app_with(engine: Engine, change: impl FnOnce(&mut kurz::config::Settings)) -> TestApp {
    let (mut settings, db) = test_settings(engine).await;
    change(&mut settings);
    spawn_app_with(settings, db).await
}

async fn slow_heads_and_idle_connections_are_closed_while_others_are_served(engine: Engine) {
    let app = app_with(engine, |s| s.header_read_timeout_ms = 600).await;
    let address = app.address;
    let slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            stream
        })
        .collect();
    // Meanwhile a normal client is served.
    let started = Instant::now();
    assert_eq!(app.get("/health").await.status, 200);
    assert!(started.elapsed() < Duration::from_millis(500));
    let closed = tokio::task::spawn_blocking(move || {
        slow.into_iter()
            .map(|mut s| read_until_closed(&mut s, Duration::from_secs(3)).1)
            .filter(|closed| *closed)
            .count()
    })
    .await
    .unwrap();
    assert_eq!(closed, 200, "every half-sent request was cut off");

    // A kept-alive connection that goes quiet is closed too.
    let idle = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let started = Instant::now();
        let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(3));
        (answer, closed, started.elapsed())
    })
    .await
    .unwrap();
    assert!(idle.0.starts_with("HTTP/1.1 200"), "{}", idle.0);
    assert!(idle.1, "the idle connection stayed open");
    assert!(idle.2 < Duration::from_secs(2), "closed after {:?}", idle.2);
}

async fn an_oversized_header_is_refused(engine: Engine) {
    let app = app_with(engine, |_| {}).await;
    let address = app.address;
    let (answer, _) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        let big = "a".repeat(200 * 1024);
        let request = format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
        let _ = stream.write_all(request.as_bytes());
        read_until_closed(&mut stream, Duration::from_secs(3))
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
    // A normal request right after is fine.
    assert_eq!(app.get("/health").await.status, 200);
}

async fn a_flood_from_one_client_is_limited_while_another_is_served(engine: Engine) {
    let app = app_with(engine, |s| {
        s.rate_limit_writes = Some(5);
        s.rate_limit_redirects = Some(10);
        s.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let post = |client: &'static str| {
        app.client
            .post(app.url("/urls"))
            .header("x-forwarded-for", client)
            .json(&json!({"user_id": uid, "original_url": "https://example.com/f"}))
            .send()
    };
    let mut limited = 0;
    for _ in 0..30 {
        let response = post("198.51.100.1").await.unwrap();
        if response.status() == 429 {
            limited += 1;
            assert!(
                response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    >= 1
            );
            assert_eq!(response.headers()["ratelimit-limit"], "5");
            assert_eq!(response.headers()["ratelimit-remaining"], "0");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], "rate limit exceeded");
        }
    }
    assert!(limited >= 20, "only {limited} of 30 writes were limited");
    let other = post("198.51.100.2").await.unwrap();
    assert_eq!(other.status(), 201, "another client keeps its own budget");
    // Redirects have their own budget: the flooded client still redirects.
    let code = app.create_url(uid, "https://example.com/r").await["short_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let redirect = app
        .client
        .get(app.url(&format!("/{code}")))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 302);
    let mut redirects_limited = 0;
    for _ in 0..40 {
        let r = app
            .client
            .get(app.url(&format!("/{code}")))
            .header("x-forwarded-for", "198.51.100.3")
            .send()
            .await
            .unwrap();
        redirects_limited += usize::from(r.status() == 429);
    }
    assert!(
        redirects_limited >= 20,
        "only {redirects_limited} of 40 redirects were limited"
    );
}

async fn forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit(engine: Engine) {
    let app = app_with(engine, |s| s.rate_limit_writes = Some(3)).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let mut limited = 0;
    for i in 0..20 {
        let response = app
            .client
            .post(app.url("/urls"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&json!({"user_id": uid, "original_url": "https://example.com/x"}))
            .send()
            .await
            .unwrap();
        limited += usize::from(response.status() == 429);
    }
    assert!(
        limited >= 10,
        "a made-up X-Forwarded-For escaped the limit ({limited} limited)"
    );
}

async fn a_slow_handler_answers_503_at_the_deadline(engine: Engine) {
    let app = app_with(engine, |s| s.request_timeout_ms = 1).await;
    let csv = std::fs::read(seed_dir().join("users.csv")).unwrap();
    let started = Instant::now();
    let response = app.upload_users_csv(csv).await;
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after"), Some("1"));
    let body = response.json;
    assert!(body["error"].is_string());
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// With the connection cap reached, a new client waits in the backlog and
/// is served as soon as a slot frees (here: when the idle ones time out).
async fn the_connection_cap_queues_new_clients_until_a_slot_frees(engine: Engine) {
    let app = app_with(engine, |s| {
        s.max_connections = 2;
        s.header_read_timeout_ms = 1500;
    })
    .await;
    let address = app.address;
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    assert!(
        quick.get(app.url("/health")).send().await.is_err(),
        "a third connection was served while two were open"
    );
    let started = Instant::now();
    let patient = reqwest::Client::new()
        .get(app.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(patient.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
}

for_each_engine!(
    the_connection_cap_queues_new_clients_until_a_slot_frees,
    slow_heads_and_idle_connections_are_closed_while_others_are_served,
    an_oversized_header_is_refused,
    a_flood_from_one_client_is_limited_while_another_is_served,
    forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit,
    a_slow_handler_answers_503_at_the_deadline,
);

/// The deny-list refuses listed domains (and their subdomains) with a 400,
/// and SIGHUP reloads it in the running process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deny_list_refuses_domains_and_reloads_on_sighup() {
    let (settings, _db) = test_settings(Engine::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("deny.txt");
    std::fs::write(&list, "# spam\nevil.example\n").unwrap();
    let server = kurz_testkit::KurzProcess::start(
        env!("CARGO_BIN_EXE_kurz"),
        &settings.database_url(),
        &[("KURZ_DENY_LIST_FILE", list.to_str().unwrap())],
        std::process::Stdio::null(),
    )
    .await;
    let user = server
        .post(
            "/users",
            json!({"username": "deny", "email": "deny@example.com"}),
        )
        .await;
    let create = |target: &str| {
        server
            .client
            .post(format!("{}/urls", server.base))
            .json(&json!({"user_id": user["id"], "original_url": target}))
            .send()
    };
    let refused = create("https://www.EVIL.example/x").await.unwrap();
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["details"]["original_url"].is_string(), "{body}");
    assert_eq!(create("https://fine.example/").await.unwrap().status(), 201);
    assert_eq!(
        create("http:/fine.example").await.unwrap().status(),
        400,
        "judged as written"
    );

    std::fs::write(&list, "evil.example\nfine.example\n").unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let reloaded = kurz_testkit::eventually(Duration::from_secs(5), || async {
        create("https://fine.example/again").await.unwrap().status() == 400
    })
    .await;
    assert!(reloaded, "SIGHUP did not reload the deny-list");
}
