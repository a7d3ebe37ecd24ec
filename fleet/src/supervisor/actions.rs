//! What the supervisor does to replicas: start one in a free slot, replace
//! a dead or hung one in place, admit ready ones to the upstream, drain
//! surplus ones (leave the upstream, wait, SIGTERM, wait for exit), roll the
//! fleet one replica at a time, and scrape every replica for the policy.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::future::join_all;

use super::{Phase, Replica, Supervisor};
use crate::driver::Slot;
use crate::policy::Signals;

impl Supervisor {
    /// The lowest slot neither running nor draining.
    fn free_slot(&self) -> anyhow::Result<Slot> {
        let draining = self.draining.lock().map(|d| d.clone()).unwrap_or_default();
        let used =
            |id: u32| draining.contains(&id) || self.replicas.iter().any(|r| r.slot.id == id);
        let id = (1u32..).find(|id| !used(*id)).unwrap_or(1);
        let port = u16::try_from(u32::from(self.config.base_port) + id)
            .context("replica port would exceed 65535")?;
        Ok(Slot { id, port })
    }

    pub(super) async fn start_replica(&mut self) -> anyhow::Result<()> {
        let slot = self.free_slot()?;
        let started = self.driver.start(slot).await?;
        tracing::info!(slot = slot.id, port = slot.port, handle = %started.handle, "replica started");
        self.replicas.push(Replica::new(slot, started));
        Ok(())
    }

    /// Replaces, in the same slot and port, replicas whose process is gone
    /// and ready replicas that missed too many `/health` probes in a row.
    pub(super) async fn heal(&mut self) {
        let probe_timeout = Duration::from_secs(1);
        for i in 0..self.replicas.len() {
            let slot = self.replicas[i].slot;
            let alive = self.driver.alive(slot).await;
            let hung = alive && self.replicas[i].phase == Phase::Ready && {
                let ok = self.replicas[i]
                    .probe(&self.http, "/health", probe_timeout)
                    .await;
                let r = &mut self.replicas[i];
                r.missed_probes = if ok { 0 } else { r.missed_probes + 1 };
                r.missed_probes >= self.config.max_missed_probes
            };
            let stuck = self.replicas[i].phase == Phase::Starting
                && self.replicas[i].since.elapsed() > self.config.ready_timeout;
            if alive && !hung && !stuck {
                continue;
            }
            let reason = if !alive {
                "exited"
            } else if hung {
                "unresponsive"
            } else {
                "never_ready"
            };
            tracing::warn!(slot = slot.id, reason, "replacing replica");
            metrics::counter!("kurz_fleet_replacements_total", "reason" => reason).increment(1);
            self.replacements += 1;
            if alive {
                let _ = self.driver.stop(slot, Duration::from_secs(1)).await;
            }
            match self.driver.start(slot).await {
                Ok(started) => self.replicas[i].restarted(started),
                Err(e) => {
                    tracing::error!(slot = slot.id, error = %format!("{e:#}"), "restart failed")
                }
            }
        }
    }

    /// Probes starting replicas; the ready ones join the upstream.
    pub(super) async fn admit_ready(&mut self) {
        let timeout = Duration::from_millis(500);
        let mut changed = false;
        for r in self
            .replicas
            .iter_mut()
            .filter(|r| r.phase == Phase::Starting)
        {
            if r.probe(&self.http, "/health/ready", timeout).await {
                tracing::info!(slot = r.slot.id, after = ?r.since.elapsed(), "replica ready");
                r.phase = Phase::Ready;
                changed |= !r.in_upstream;
                r.in_upstream = true;
            }
        }
        if changed {
            self.apply_upstream().await;
        }
    }

    /// Writes the upstream from the replicas marked in it and reloads nginx.
    pub(super) async fn apply_upstream(&mut self) {
        let ports: Vec<u16> = self
            .replicas
            .iter()
            .filter(|r| r.in_upstream)
            .map(|r| r.slot.port)
            .collect();
        if ports.is_empty() {
            return;
        }
        match self.upstream.apply(&ports).await {
            Ok(()) => {
                metrics::counter!("kurz_fleet_upstream_reloads_total").increment(1);
                self.upstream_ports = ports;
            }
            Err(e) => tracing::error!(error = %format!("{e:#}"), "upstream update failed"),
        }
    }

    /// Takes replicas out of service until `size` remain: newest slots first,
    /// starting ones before ready ones.
    pub(super) async fn shrink_to(&mut self, size: usize) {
        if self.replicas.len() <= size {
            return;
        }
        self.replicas
            .sort_by_key(|r| (r.phase == Phase::Starting, r.slot.id));
        let surplus = self.replicas.split_off(size);
        self.drain(surplus).await;
    }

    /// Leaves the upstream, reloads nginx, then stops the replicas in the
    /// background after the drain delay.
    async fn drain(&mut self, leaving: Vec<Replica>) {
        if leaving.is_empty() {
            return;
        }
        if leaving.iter().any(|r| r.in_upstream) {
            self.apply_upstream().await;
        }
        let slots: Vec<Slot> = leaving.iter().map(|r| r.slot).collect();
        let ids = slots.iter().map(|s| s.id).collect();
        let (driver, grace) = (self.driver.clone(), self.config.stop_grace);
        self.stop_after_drain_delay(ids, async move {
            for slot in slots {
                tracing::info!(slot = slot.id, "draining replica: SIGTERM");
                if let Err(e) = driver.stop(slot, grace).await {
                    tracing::error!(slot = slot.id, error = %format!("{e:#}"), "stop failed");
                }
            }
        });
    }

    /// Drains the replicas a previous supervisor left, now that nginx's
    /// list holds only this supervisor's replicas.
    pub(super) fn retire(&self, leftovers: Vec<u32>) {
        if leftovers.is_empty() {
            return;
        }
        let (driver, grace) = (self.driver.clone(), self.config.stop_grace);
        let slots = leftovers.clone();
        self.stop_after_drain_delay(leftovers, async move {
            driver.retire_leftovers(&slots, grace).await;
        });
    }

    /// Keeps `slots` out of use while `stop` runs in the background after
    /// the drain delay (nginx's old workers finish what they sent first).
    fn stop_after_drain_delay(
        &self,
        slots: Vec<u32>,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        if let Ok(mut d) = self.draining.lock() {
            d.extend(slots.iter().copied());
        }
        let (draining, delay) = (self.draining.clone(), self.config.drain_delay);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            stop.await;
            if let Ok(mut d) = draining.lock() {
                d.retain(|slot| !slots.contains(slot));
            }
        });
    }

    pub(super) async fn scale_to(&mut self, replicas: usize) -> Result<(), String> {
        if replicas == 0 || replicas > 64 {
            return Err(format!("replicas must be between 1 and 64, not {replicas}"));
        }
        self.desired = replicas;
        self.converge().await;
        Ok(())
    }

    /// Replaces every replica with a new process, one at a time: start the
    /// new one in a free slot, wait until it is ready and in the upstream,
    /// then drain the old one. The fleet never has fewer ready replicas.
    pub(super) async fn rolling_restart(&mut self) -> anyhow::Result<()> {
        let old: Vec<u32> = self.replicas.iter().map(|r| r.slot.id).collect();
        for old_id in old {
            self.start_replica().await?;
            let deadline = Instant::now() + self.config.ready_timeout;
            let probe = Duration::from_millis(500);
            while let Some(new) = self.replicas.last_mut() {
                if new.probe(&self.http, "/health/ready", probe).await {
                    // In and out in one upstream change: one nginx reload
                    // per replica, not two.
                    new.phase = Phase::Ready;
                    new.in_upstream = true;
                    break;
                }
                if Instant::now() > deadline {
                    bail!("a new replica did not become ready; the old ones keep serving");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            match self.replicas.iter().position(|r| r.slot.id == old_id) {
                Some(pos) => {
                    let leaving = self.replicas.remove(pos);
                    self.drain(vec![leaving]).await;
                }
                None => self.apply_upstream().await,
            }
        }
        tracing::info!(replicas = self.replicas.len(), "rolling restart done");
        Ok(())
    }

    /// Scrapes every ready replica at once and averages their rates.
    pub(super) async fn scrape_all(&mut self) -> Signals {
        let (http, key) = (&self.http, self.config.admin_key.as_deref());
        join_all(
            self.replicas
                .iter_mut()
                .filter(|r| r.phase == Phase::Ready)
                .map(|r| r.scrape(http, key)),
        )
        .await;
        let rates: Vec<_> = self.replicas.iter().filter_map(|r| r.rates).collect();
        let mean = |f: fn(&crate::scrape::Rates) -> f64| {
            (!rates.is_empty()).then(|| rates.iter().map(f).sum::<f64>() / rates.len() as f64)
        };
        let signals = Signals {
            replicas: self.replicas.len(),
            cpu_per_replica: mean(|r| r.cpu_cores),
            rps_per_replica: mean(|r| r.requests_per_second),
        };
        if let Some(cpu) = signals.cpu_per_replica {
            metrics::gauge!("kurz_fleet_cpu_cores_per_replica").set(cpu);
        }
        if let Some(rps) = signals.rps_per_replica {
            metrics::gauge!("kurz_fleet_requests_per_second_per_replica").set(rps);
        }
        signals
    }

    /// Graceful stop of the whole fleet: every replica gets SIGTERM at once
    /// and its full grace; then the drains still under way finish.
    pub(super) async fn stop_all(&mut self) {
        let grace = self.config.stop_grace;
        let driver = self.driver.clone();
        join_all(self.replicas.drain(..).map(|r| {
            let driver = driver.clone();
            async move { driver.stop(r.slot, grace).await }
        }))
        .await;
        let deadline = Instant::now() + grace + self.config.drain_delay;
        while self.draining.lock().map(|d| !d.is_empty()).unwrap_or(false)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
