//! One replica as the supervisor sees it, and the HTTP probes it answers:
//! `/health/ready` before it joins the upstream, `/health` while it serves,
//! `/metrics` for the policy's signals.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::driver::{Slot, Started};
use crate::scrape::{self, Rates, Reading};

/// Where a replica is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Started; not yet answering `/health/ready`.
    Starting,
    /// Ready, and in the upstream.
    Ready,
}

/// A replica the supervisor keeps running.
#[derive(Debug)]
pub struct Replica {
    pub slot: Slot,
    pub started: Started,
    pub since: Instant,
    pub phase: Phase,
    pub in_upstream: bool,
    pub restarts: u32,
    pub missed_probes: u32,
    pub reading: Option<(Instant, Reading)>,
    pub rates: Option<Rates>,
}

impl Replica {
    pub fn new(slot: Slot, started: Started) -> Self {
        Self {
            slot,
            started,
            since: Instant::now(),
            phase: Phase::Starting,
            in_upstream: false,
            restarts: 0,
            missed_probes: 0,
            reading: None,
            rates: None,
        }
    }

    /// Forgets the previous process after a restart in the same slot.
    pub fn restarted(&mut self, started: Started) {
        self.started = started;
        self.since = Instant::now();
        self.phase = Phase::Starting;
        self.restarts += 1;
        self.missed_probes = 0;
        self.reading = None;
        self.rates = None;
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.slot.port)
    }

    /// Whether `path` answers 2xx within `timeout`.
    pub async fn probe(&self, http: &reqwest::Client, path: &str, timeout: Duration) -> bool {
        match http.get(self.url(path)).timeout(timeout).send().await {
            Ok(resp) => resp.status().is_success(),
            Err(_) => false,
        }
    }

    /// Scrapes `/metrics` and updates the rates since the previous scrape.
    pub async fn scrape(&mut self, http: &reqwest::Client, admin_key: Option<&str>) {
        let mut request = http
            .get(self.url("/metrics"))
            .timeout(Duration::from_secs(2));
        if let Some(key) = admin_key {
            request = request.bearer_auth(key);
        }
        let text = match request.send().await {
            Ok(resp) if resp.status().is_success() => resp.text().await.ok(),
            _ => None,
        };
        let Some(reading) = text.as_deref().and_then(scrape::read) else {
            metrics::counter!("kurz_fleet_scrape_errors_total").increment(1);
            self.rates = None;
            return;
        };
        let now = Instant::now();
        self.rates = self
            .reading
            .and_then(|(at, before)| scrape::rates(&before, &reading, now - at));
        self.reading = Some((now, reading));
    }
}

/// A replica in `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaStatus {
    pub slot: u32,
    pub port: u16,
    pub handle: String,
    pub phase: Phase,
    pub in_upstream: bool,
    pub restarts: u32,
    pub uptime_seconds: f64,
    pub cpu_cores: Option<f64>,
    pub requests_per_second: Option<f64>,
}

impl From<&Replica> for ReplicaStatus {
    fn from(r: &Replica) -> Self {
        Self {
            slot: r.slot.id,
            port: r.slot.port,
            handle: r.started.handle.clone(),
            phase: r.phase,
            in_upstream: r.in_upstream,
            restarts: r.restarts,
            uptime_seconds: r.since.elapsed().as_secs_f64(),
            cpu_cores: r.rates.map(|x| x.cpu_cores),
            requests_per_second: r.rates.map(|x| x.requests_per_second),
        }
    }
}
