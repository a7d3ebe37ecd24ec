//! What the service tells its operators: access-log lines from the real
//! binary and request ids. (Spans are tested in `tests/tracing.rs`.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, free_port, test_settings, Engine};

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
