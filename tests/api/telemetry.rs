//! What the service tells its operators: access-log lines from the real
//! binary and request ids. (Spans are tested in `tests/tracing.rs`.)

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;

use kurz_testkit::{for_each_engine, test_settings, Engine, KurzProcess};

async fn every_request_logs_one_json_line_with_its_id_route_and_stages(engine: Engine) {
    let (settings, _db) = test_settings(engine).await;
    let mut server = KurzProcess::start(
        env!("CARGO_BIN_EXE_kurz"),
        &settings.database_url(),
        &[("KURZ_LOG", "info"), ("KURZ_LOG_FORMAT", "json")],
        Stdio::piped(),
    )
    .await;
    let (client, base) = (server.client.clone(), server.base.clone());
    let url = server.create_link().await;
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

    server.terminate();
    let stdout = server.child.stdout.take().unwrap();
    let lines: Vec<Value> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    assert!(server.child.wait().unwrap().success());
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

for_each_engine!(every_request_logs_one_json_line_with_its_id_route_and_stages);
