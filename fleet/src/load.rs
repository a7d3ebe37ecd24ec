//! Steady traffic for the chaos suite: redirects (`GET /{code}`) at a fixed
//! rate or as fast as N connections allow, plus an optional writer that
//! creates links at a low rate. Idempotent GETs are retried once on a
//! transport error, on a new connection (as browsers do when a reused one
//! turns out closed), and the retry is counted apart; writes are never
//! retried.
//! At the end every acknowledged write is read back. The report is JSON.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use tokio::sync::Semaphore;

#[derive(Args, Clone)]
pub struct LoadArgs {
    /// Base URL, e.g. http://127.0.0.1:18080
    #[arg(long)]
    pub target: String,
    /// Comma-separated short codes to redirect through, round robin.
    #[arg(long, value_delimiter = ',', required = true)]
    pub codes: Vec<String>,
    /// Seconds of traffic.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Redirects per second; without it, each connection sends back to back.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Concurrent requests at most (connections).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Link creations per second (POST /urls); 0 turns the writer off.
    #[arg(long, default_value_t = 0.0)]
    pub writes: f64,
    /// Owner of the links the writer creates.
    #[arg(long, default_value_t = 1)]
    pub user_id: i64,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    redirects: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    unexpected: AtomicU64,
}

/// The JSON report of one run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub sent: u64,
    pub redirects: u64,
    pub failed: u64,
    pub retried: u64,
    pub unexpected: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Seconds (from the start) in which at least one request failed.
    pub failure_seconds: Vec<u64>,
    pub failure_samples: Vec<String>,
    pub writes: WriteReport,
}

#[derive(Debug, Default, Serialize)]
pub struct WriteReport {
    pub acknowledged: u64,
    /// 503 answers carrying a JSON `error` body (the store was down).
    pub unavailable_json: u64,
    pub failed: u64,
    /// Acknowledged writes that could not be read back afterwards.
    pub missing_after: u64,
}

struct Shared {
    args: LoadArgs,
    http: reqwest::Client,
    /// Opens a new connection per request: for retries.
    fresh: reqwest::Client,
    counters: Counters,
    latencies: Mutex<Vec<f64>>,
    failures: Mutex<(Vec<u64>, Vec<String>)>,
    start: Instant,
}

impl Shared {
    fn failed(&self, what: String) {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = self.failures.lock() {
            f.0.push(self.start.elapsed().as_secs());
            if f.1.len() < 10 {
                f.1.push(what);
            }
        }
    }

    async fn redirect(&self, n: u64) {
        let code = &self.args.codes[(n as usize) % self.args.codes.len()];
        let url = format!("{}/{code}", self.args.target);
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        let began = Instant::now();
        let mut result = self.http.get(&url).send().await;
        if result.is_err() {
            self.counters.retried.fetch_add(1, Ordering::Relaxed);
            result = self.fresh.get(&url).send().await;
        }
        match result {
            Ok(resp) if resp.status().as_u16() == 302 => {
                self.counters.redirects.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut l) = self.latencies.lock() {
                    l.push(began.elapsed().as_secs_f64() * 1000.0);
                }
            }
            Ok(resp) if resp.status().is_server_error() || resp.status().as_u16() == 429 => {
                self.failed(format!("{} from GET /{code}", resp.status()));
            }
            Ok(resp) => {
                self.counters.unexpected.fetch_add(1, Ordering::Relaxed);
                self.failed(format!("unexpected {} from GET /{code}", resp.status()));
            }
            Err(e) => self.failed(format!("GET /{code}: {e}")),
        }
    }
}

/// Runs the load and returns its report.
pub async fn run(args: LoadArgs) -> anyhow::Result<Report> {
    if args.codes.iter().all(|c| c.is_empty()) || args.connections == 0 {
        anyhow::bail!("need at least one code and one connection");
    }
    let duration = Duration::try_from_secs_f64(args.duration)?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .build()?;
    let shared = Arc::new(Shared {
        args: args.clone(),
        http,
        fresh: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()?,
        counters: Counters::default(),
        latencies: Mutex::new(Vec::new()),
        failures: Mutex::new((Vec::new(), Vec::new())),
        start: Instant::now(),
    });
    let writer = (args.writes > 0.0).then(|| tokio::spawn(write_loop(shared.clone(), duration)));
    let deadline = shared.start + duration;
    match args.rate {
        Some(rate) if rate > 0.0 => paced(&shared, rate, deadline).await,
        _ => closed_loop(&shared, deadline).await,
    }
    let seconds = shared.start.elapsed().as_secs_f64();
    let (acknowledged, mut writes) = match writer {
        Some(handle) => handle.await?,
        None => (Vec::new(), WriteReport::default()),
    };
    writes.missing_after = read_back(&shared, &acknowledged).await;
    let mut lat = shared
        .latencies
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let (mut failure_seconds, failure_samples) = shared
        .failures
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    failure_seconds.dedup();
    let c = &shared.counters;
    Ok(Report {
        sent: c.sent.load(Ordering::Relaxed),
        redirects: c.redirects.load(Ordering::Relaxed),
        failed: c.failed.load(Ordering::Relaxed),
        retried: c.retried.load(Ordering::Relaxed),
        unexpected: c.unexpected.load(Ordering::Relaxed),
        seconds,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: lat.last().copied().unwrap_or(0.0),
        failure_seconds,
        failure_samples,
        writes,
    })
}

/// Open loop: one request every 1/rate s, at most `connections` in flight
/// (a request that finds no free connection waits for one).
async fn paced(shared: &Arc<Shared>, rate: f64, deadline: Instant) {
    let limit = Arc::new(Semaphore::new(shared.args.connections));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    while Instant::now() < deadline {
        ticker.tick().await;
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let s = shared.clone();
        tasks.spawn(async move {
            s.redirect(n).await;
            drop(permit);
        });
        n += 1;
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Closed loop: every connection sends its next request when the last ends.
async fn closed_loop(shared: &Arc<Shared>, deadline: Instant) {
    let mut tasks = tokio::task::JoinSet::new();
    let conns = shared.args.connections as u64;
    for worker in 0..conns {
        let s = shared.clone();
        tasks.spawn(async move {
            let mut n = worker;
            while Instant::now() < deadline {
                s.redirect(n).await;
                n += conns;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn write_loop(shared: Arc<Shared>, duration: Duration) -> (Vec<i64>, WriteReport) {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / shared.args.writes));
    let (mut ids, mut report) = (Vec::new(), WriteReport::default());
    let deadline = shared.start + duration;
    let mut n = 0u64;
    while Instant::now() < deadline {
        ticker.tick().await;
        n += 1;
        let body = serde_json::json!({
            "user_id": shared.args.user_id,
            "original_url": format!("https://example.com/chaos/{}/{n}", std::process::id()),
            "title": "chaos",
        });
        let resp = shared
            .http
            .post(format!("{}/urls", shared.args.target))
            .json(&body)
            .send()
            .await;
        match resp {
            Ok(r) if r.status().as_u16() == 201 => match r.json::<serde_json::Value>().await {
                Ok(v) => match v.get("id").and_then(|id| id.as_i64()) {
                    Some(id) => {
                        ids.push(id);
                        report.acknowledged += 1;
                    }
                    None => report.failed += 1,
                },
                Err(_) => report.failed += 1,
            },
            Ok(r) if r.status().as_u16() == 503 => {
                let json = r.json::<serde_json::Value>().await.ok();
                if json.as_ref().and_then(|v| v.get("error")).is_some() {
                    report.unavailable_json += 1;
                } else {
                    report.failed += 1;
                }
            }
            _ => report.failed += 1,
        }
    }
    (ids, report)
}

async fn read_back(shared: &Shared, ids: &[i64]) -> u64 {
    let mut missing = 0;
    for id in ids {
        let url = format!("{}/urls/{id}", shared.args.target);
        let found = match shared.http.get(&url).send().await {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        };
        missing += u64::from(!found);
    }
    missing
}
