//! What the service tells its operators: access-log lines from the real
//! binary, spans through the OpenTelemetry SDK, and request ids.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::{json, Value};
use tracing_subscriber::layer::SubscriberExt;

use crate::helpers::{eventually, free_port, spawn_app_with, test_settings, Engine};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_logs_one_json_line_with_its_id_route_and_stages() {
    let (settings, _db) = test_settings(Engine::Sqlite).await;
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kurz"))
        .env("DATABASE_URL", settings.database_url())
        .env("KURZ_BIND", format!("127.0.0.1:{port}"))
        .env("KURZ_LOG", "info")
        .env("KURZ_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .spawn()
        .expect("kurz starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let up = eventually(Duration::from_secs(20), || {
        let (client, base) = (client.clone(), base.clone());
        async move { client.get(format!("{base}/health")).send().await.is_ok() }
    })
    .await;
    assert!(up);
    let user: Value = client
        .post(format!("{base}/users"))
        .json(&json!({"username": "log", "email": "log@e.io"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url: Value = client
        .post(format!("{base}/urls"))
        .json(&json!({"user_id": user["id"], "original_url": "https://example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = url["short_code"].as_str().unwrap();
    let redirect = client
        .get(format!("{base}/{code}"))
        .header("x-request-id", "drill-42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        redirect.headers()["x-request-id"],
        "drill-42",
        "a sane id is honoured"
    );
    let odd = client
        .get(format!("{base}/health"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let generated = odd.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(generated, "bad id with spaces");
    assert_eq!(generated.len(), 32, "a fresh id replaces an unsafe one");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<Value> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    assert!(child.wait().unwrap().success());
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "kurz::access")
        .collect();
    assert_eq!(access.len(), 5, "one line per request: {access:?}");
    let line = access
        .iter()
        .find(|l| l["span"]["request_id"] == "drill-42")
        .expect("the redirect's line");
    for field in [
        "timestamp",
        "level",
        "path",
        "status",
        "latency_ms",
        "client_ip",
    ] {
        assert!(!line[field].is_null(), "missing {field}: {line}");
    }
    assert_eq!(line["span"]["method"], "GET");
    assert_eq!(line["span"]["route"], "/{code}");
    assert_eq!(line["path"], format!("/{code}"));
    assert_eq!(line["status"], 302);
    assert_eq!(line["client_ip"], "127.0.0.1");
    assert!(
        line["cache_local_ms"].as_f64().is_some(),
        "stage timing for the local tier: {line}"
    );
    assert!(
        line["db_ms"].as_f64().is_some(),
        "first look-up reaches the store: {line}"
    );
    let created = access
        .iter()
        .find(|l| l["span"]["route"] == "/urls" && l["status"] == 201)
        .unwrap();
    assert!(created["db_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    assert!(created["bytes"].as_u64().is_some_and(|b| b > 0));
}

/// Spans reach the OpenTelemetry SDK: the request, the cache tiers, the
/// store call and the event batch. (Uses a thread-local subscriber, so the
/// app runs on this test's single thread.)
#[tokio::test(flavor = "current_thread")]
async fn spans_cover_the_request_the_cache_the_store_and_the_event_batch() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info,kurz=debug"))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let (settings, db) = test_settings(Engine::Sqlite).await;
    let app = spawn_app_with(settings, db).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com/traced").await;
    assert_eq!(
        app.get(&format!("/{}", url["short_code"].as_str().unwrap()))
            .await
            .status,
        302
    );
    app.events.flush().await;

    // A span is exported when it closes, and a parent can close a moment
    // after its children (the database driver keeps a handle on the span of
    // the last command on a connection until the next one), so wait for them.
    let expected = [
        "request",
        "cache.local",
        "store.find_link",
        "store.create_url",
        "events.batch",
    ];
    let mut spans = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        provider.force_flush().unwrap();
        spans = exporter.get_finished_spans().unwrap();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        if expected.iter().all(|e| names.contains(e)) || std::time::Instant::now() > deadline {
            for e in expected {
                assert!(names.contains(&e), "no {e} span in {names:?}");
            }
            break;
        }
        app.create_user().await;
        app.events.flush().await;
    }
    let lookup = spans.iter().find(|s| s.name == "store.find_link").unwrap();
    let request = spans
        .iter()
        .find(|s| s.span_context.span_id() == lookup.parent_span_id)
        .expect("the store span has a parent");
    assert_eq!(
        request.name, "request",
        "store calls nest under their request"
    );
}

#[test]
fn without_an_otlp_endpoint_there_is_no_tracer() {
    let mut settings = kurz::config::Settings::for_database("sqlite::memory:");
    settings.otlp_endpoint = None;
    settings.log = "off".into();
    let guard = kurz::telemetry::init(&settings.log_settings()).unwrap();
    assert!(!guard.tracing_enabled());
}
