//! The supervisor: one task that owns the fleet. Every tick it replaces
//! replicas that died or stopped answering, admits started replicas to the
//! nginx upstream once `/health/ready` answers, and moves the fleet towards
//! the desired size; every evaluation interval it scrapes the replicas and
//! asks the policy for a decision. Commands from the control API (scale,
//! rolling restart) arrive on a channel and run between ticks, so there is
//! exactly one writer of the fleet's state.

mod actions;
pub mod replica;
mod status;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::driver::Driver;
use crate::policy::{Policy, PolicyConfig};
use crate::upstream::Upstream;
pub use replica::{Phase, Replica, ReplicaStatus};
pub use status::{DecisionStatus, FleetStatus};

/// Timings and sizes of the supervisor.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Replica in slot `i` listens on `base_port + i`.
    pub base_port: u16,
    /// Replicas started before the first evaluation.
    pub initial: usize,
    /// Whether the policy may change the size.
    pub autoscale: bool,
    pub policy: PolicyConfig,
    /// Time between policy evaluations (and scrapes).
    pub interval: Duration,
    /// Time between liveness checks and readiness probes.
    pub tick: Duration,
    /// How long a started replica may take to answer `/health/ready`.
    pub ready_timeout: Duration,
    /// Consecutive failed `/health` probes after which a replica is replaced.
    pub max_missed_probes: u32,
    /// Wait between leaving the upstream and SIGTERM, so nginx workers of
    /// the previous configuration finish what they sent.
    pub drain_delay: Duration,
    /// SIGTERM-to-SIGKILL budget for a replica to flush and exit.
    pub stop_grace: Duration,
    /// Admin key for `/metrics` when replicas run with KURZ_AUTH=keys.
    pub admin_key: Option<String>,
}

/// A request from the control API, answered with the resulting status.
pub enum Command {
    Scale {
        replicas: usize,
        reply: oneshot::Sender<Result<FleetStatus, String>>,
    },
    RollingRestart {
        reply: oneshot::Sender<Result<FleetStatus, String>>,
    },
}

/// The fleet and everything that acts on it.
pub struct Supervisor {
    config: FleetConfig,
    driver: Arc<dyn Driver>,
    upstream: Upstream,
    http: reqwest::Client,
    policy: Policy,
    replicas: Vec<Replica>,
    desired: usize,
    draining: Arc<Mutex<HashSet<u32>>>,
    upstream_ports: Vec<u16>,
    status: Arc<Mutex<FleetStatus>>,
    epoch: Instant,
    replacements: u64,
    last_decision: Option<DecisionStatus>,
}

impl Supervisor {
    pub fn new(
        config: FleetConfig,
        driver: Arc<dyn Driver>,
        upstream: Upstream,
    ) -> anyhow::Result<Self> {
        config
            .policy
            .validate()
            .map_err(|e| anyhow::anyhow!("autoscaling policy: {e}"))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(2)
            .build()?;
        let desired = config.initial.max(1);
        Ok(Self {
            policy: Policy::new(config.policy.clone()),
            config,
            driver,
            upstream,
            http,
            replicas: Vec::new(),
            desired,
            draining: Arc::new(Mutex::new(HashSet::new())),
            upstream_ports: Vec::new(),
            status: Arc::new(Mutex::new(FleetStatus::default())),
            epoch: Instant::now(),
            replacements: 0,
            last_decision: None,
        })
    }

    /// The status the control API serves; updated after every tick.
    pub fn status_handle(&self) -> Arc<Mutex<FleetStatus>> {
        self.status.clone()
    }

    /// Starts the initial replicas and waits until they are all in service.
    /// Replicas a previous supervisor left keep serving (their slots are
    /// kept free) until the new ones replace them in nginx's list; then
    /// they are drained like any surplus replica.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let leftovers = self.driver.leftovers().await;
        if !leftovers.is_empty() {
            tracing::warn!(?leftovers, "taking over from a previous supervisor");
            if let Ok(mut d) = self.draining.lock() {
                d.extend(leftovers.iter().copied());
            }
        }
        self.converge().await;
        let deadline = Instant::now() + self.config.ready_timeout;
        while self.ready_count() < self.desired {
            if Instant::now() > deadline {
                anyhow::bail!(
                    "only {} of {} replicas became ready within {:?}; see the replica logs",
                    self.ready_count(),
                    self.desired,
                    self.config.ready_timeout
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.admit_ready().await;
        }
        self.retire(leftovers);
        self.publish();
        Ok(())
    }

    /// Runs until `shutdown` resolves, then stops every replica gracefully.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut evaluate = tokio::time::interval(self.config.interval);
        evaluate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => self.converge().await,
                _ = evaluate.tick() => self.evaluate().await,
                Some(command) = commands.recv() => self.handle(command).await,
            }
            self.publish();
        }
        tracing::info!("stopping every replica");
        self.stop_all().await;
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Scale { replicas, reply } => {
                let result = self.scale_to(replicas).await;
                self.publish();
                let _ = reply.send(result.map(|_| self.snapshot()));
            }
            Command::RollingRestart { reply } => {
                let result = self.rolling_restart().await.map_err(|e| format!("{e:#}"));
                self.publish();
                let _ = reply.send(result.map(|_| self.snapshot()));
            }
        }
    }

    /// One tick: heal, admit, resize towards `desired`.
    async fn converge(&mut self) {
        self.heal().await;
        self.admit_ready().await;
        if self.replicas.len() < self.desired {
            for _ in self.replicas.len()..self.desired {
                if let Err(e) = self.start_replica().await {
                    tracing::error!(error = %format!("{e:#}"), "could not start a replica");
                    break;
                }
            }
        } else if self.replicas.len() > self.desired {
            self.shrink_to(self.desired).await;
        }
    }

    /// One policy evaluation from freshly scraped signals.
    async fn evaluate(&mut self) {
        let signals = self.scrape_all().await;
        if !self.config.autoscale {
            return;
        }
        let decision = self.policy.decide(self.epoch.elapsed(), &signals);
        metrics::counter!(
            "kurz_fleet_decisions_total",
            "action" => decision.action(),
            "reason" => decision.reason()
        )
        .increment(1);
        let ratio = self.policy.load_ratio(&signals);
        self.last_decision = Some(DecisionStatus::new(&decision, ratio, self.epoch));
        match decision {
            crate::policy::Decision::ScaleOut { to, reason }
            | crate::policy::Decision::ScaleIn { to, reason } => {
                tracing::info!(from = self.replicas.len(), to, reason, ?ratio, "scaling");
                self.desired = to;
                self.converge().await;
            }
            crate::policy::Decision::Hold { .. } => {}
        }
    }

    fn ready_count(&self) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.phase == Phase::Ready)
            .count()
    }

    fn snapshot(&self) -> FleetStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn publish(&self) {
        let status = FleetStatus {
            driver: self.driver.name(),
            autoscale: self.config.autoscale,
            min: self.config.policy.min,
            max: self.config.policy.max,
            desired: self.desired,
            ready: self.ready_count(),
            running: self.replicas.len(),
            draining: self.draining.lock().map(|d| d.len()).unwrap_or(0),
            replacements: self.replacements,
            upstream: self.upstream_ports.clone(),
            last_decision: self.last_decision.clone(),
            replicas: self.replicas.iter().map(ReplicaStatus::from).collect(),
        };
        metrics::gauge!("kurz_fleet_replicas_desired").set(status.desired as f64);
        metrics::gauge!("kurz_fleet_replicas_ready").set(status.ready as f64);
        metrics::gauge!("kurz_fleet_replicas_running").set(status.running as f64);
        metrics::gauge!("kurz_fleet_replicas_draining").set(status.draining as f64);
        metrics::gauge!("kurz_fleet_replicas_min").set(status.min as f64);
        metrics::gauge!("kurz_fleet_replicas_max").set(status.max as f64);
        if let Ok(mut shared) = self.status.lock() {
            *shared = status;
        }
    }
}
