//! The dashboards and alerts speak about metrics the service really exports,
//! and the alerts really fire: a live Prometheus scrapes a live kurz.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use kurz_testkit::{
    eventually, free_port, random_suffix, spawn_app_with, test_settings, Engine, KurzProcess,
    PgServer, RedisServer,
};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Metric names (kurz_* and process_*) in a PromQL text.
fn metric_names(promql: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = promql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &promql[i..];
        let starts = rest.starts_with("kurz_") || rest.starts_with("process_");
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts && boundary {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            names.insert(rest[..len].to_owned());
            i += len;
        } else {
            i += 1;
        }
    }
    names
}

fn dashboard_exprs() -> Vec<String> {
    let mut exprs = Vec::new();
    for entry in std::fs::read_dir(repo("deploy/grafana/dashboards")).unwrap() {
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                exprs.push(target["expr"].as_str().unwrap().to_owned());
            }
        }
    }
    exprs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_alert_rules_use_only_exported_metrics() {
    let redis = RedisServer::start();
    let (mut settings, db) = test_settings(Engine::Sqlite).await;
    settings.redis_url = Some(redis.url());
    settings.redis_prefix = format!("t{}:", random_suffix());
    let app = spawn_app_with(settings, db).await;
    let ready = eventually(Duration::from_secs(10), || async {
        app.get("/health/ready").await.json["checks"]["cache"] == "ok"
    })
    .await;
    assert!(ready);
    // Exercise every path that records something.
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com").await;
    let code = url["short_code"].as_str().unwrap();
    for _ in 0..3 {
        app.get(&format!("/{code}")).await;
    }
    app.get("/nope1").await;
    app.get("/nope1").await;
    app.put(&format!("/urls/{}", url["id"]), json!({"title": "t"}))
        .await;
    app.get("/urls").await;
    app.events.flush().await;
    let exposition = app.get("/metrics").await.text;
    // The alerts also read the fleet supervisor's series (kurz-fleet).
    let fleet_recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let fleet_handle = fleet_recorder.handle();
    metrics::with_local_recorder(&fleet_recorder, kurz_fleet::telemetry::register);
    let exposition = format!("{exposition}\n{}", fleet_handle.render());
    let exported: BTreeSet<String> = exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();

    let mut referenced = BTreeSet::new();
    for expr in dashboard_exprs() {
        referenced.extend(metric_names(&expr));
    }
    let rules = std::fs::read_to_string(repo("deploy/prometheus/rules/kurz.yml")).unwrap();
    for line in rules.lines().filter(|l| !l.trim_start().starts_with('#')) {
        referenced.extend(metric_names(line));
    }
    assert!(referenced.len() > 15, "{referenced:?}");
    let missing: Vec<&String> = referenced
        .iter()
        .filter(|m| !exported.contains(*m))
        .collect();
    assert!(
        missing.is_empty(),
        "referenced but not exported: {missing:?}\nexported: {exported:?}"
    );
}

/// A throwaway Prometheus scraping `target` every second with the real rules.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Self {
        let binary = ["prometheus", "/usr/bin/prometheus"]
            .into_iter()
            .find(|b| Command::new(b).arg("--version").output().is_ok())
            .unwrap_or_else(|| {
                panic!("prometheus not found: apt-get install -y prometheus (or run scripts/test)")
            });
        let dir = tempfile::tempdir().unwrap();
        let rules = repo("deploy/prometheus/rules");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}/*.yml\nscrape_configs:\n  - job_name: kurz\n    static_configs:\n      - targets: ['{target}']\n",
            rules.display()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    async fn firing(&self, client: &reqwest::Client, alert: &str) -> bool {
        let Ok(reply) = client
            .get(format!("http://127.0.0.1:{}/api/v1/alerts", self.port))
            .send()
            .await
        else {
            return false;
        };
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        body["data"]["alerts"].as_array().is_some_and(|alerts| {
            alerts
                .iter()
                .any(|a| a["labels"]["alertname"] == alert && a["state"] == "firing")
        })
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The alert drill: a burst of 5xx (the database goes away) fires
/// KurzHigh5xxRatio within its `for` (1 m) plus slack, and stopping kurz
/// fires KurzInstanceDown within its `for` (30 s) plus slack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_drill_5xx_burst_and_instance_down_fire_in_time() {
    let pg = PgServer::start();
    let database = pg.create_database("kurz").await;
    let mut kurz =
        KurzProcess::start(env!("CARGO_BIN_EXE_kurz"), &database, &[], Stdio::null()).await;
    let (client, base) = (kurz.client.clone(), kurz.base.clone());
    let ready = eventually(Duration::from_secs(20), || async {
        client
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(ready, "kurz did not become ready");
    let port = base.rsplit(':').next().unwrap().to_owned();
    let prometheus = Prometheus::start(&format!("127.0.0.1:{port}"));

    // Healthy traffic first, so the ratio has a denominator.
    for _ in 0..50 {
        client.get(format!("{base}/users")).send().await.unwrap();
    }
    pg.stop();
    let burst_started = Instant::now();
    let fired = async {
        loop {
            for _ in 0..20 {
                let _ = client.get(format!("{base}/users")).send().await;
            }
            if prometheus.firing(&client, "KurzHigh5xxRatio").await {
                return true;
            }
            if burst_started.elapsed() > Duration::from_secs(100) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    .await;
    assert!(
        fired,
        "KurzHigh5xxRatio did not fire within 100 s of the 5xx burst"
    );
    let took = burst_started.elapsed();
    assert!(
        took >= Duration::from_secs(55),
        "fired before its `for` of 1 m: {took:?}"
    );

    kurz.terminate();
    let _ = kurz.child.wait();
    let stopped = Instant::now();
    let down = eventually(Duration::from_secs(60), || {
        prometheus.firing(&client, "KurzInstanceDown")
    })
    .await;
    assert!(
        down,
        "KurzInstanceDown did not fire within 60 s of the stop"
    );
    let took = stopped.elapsed();
    assert!(
        took >= Duration::from_secs(28),
        "fired before its `for` of 30 s: {took:?}"
    );
}

/// On SQLite the library's own memory (page caches, statements), which the
/// Rust heap does not see, is exported beside the resident memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_is_exported_beside_the_resident_memory() {
    let (settings, db) = test_settings(Engine::Sqlite).await;
    let app = spawn_app_with(settings, db).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    app.create_url(uid, "https://example.com").await;
    let exposition = app.get("/metrics").await.text;
    let value = |name: &str| {
        kurz_testkit::metric_value(&exposition, name)
            .unwrap_or_else(|| panic!("{name} not exported:\n{exposition}"))
    };
    let now = value("kurz_sqlite_memory_bytes");
    let peak = value("kurz_sqlite_memory_peak_bytes");
    let resident = value("process_resident_memory_bytes");
    assert!(now > 0.0 && now <= peak, "now {now}, peak {peak}");
    assert!(peak < resident, "peak {peak}, resident {resident}");
}
