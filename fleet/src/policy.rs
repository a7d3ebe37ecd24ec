//! The autoscaling policy as pure code: given what the fleet measured in one
//! evaluation and the time (passed in, so tests drive a fake clock), decide
//! to hold, scale out or scale in, and say why.
//!
//! The rules, in the order they are applied:
//! - below the minimum or above the maximum is corrected at once;
//! - load is a ratio against the target, the larger of CPU per replica
//!   (cores) and, when a request-rate target is set, requests/s per replica;
//! - acting needs a streak of consecutive evaluations on the same side
//!   (above 1.0 to scale out, below `scale_in_below` to scale in), so one
//!   noisy sample moves nothing;
//! - after scaling out nothing else happens for `cooldown_after_out` (the new
//!   replicas must take load before the signal means anything); after
//!   scaling in, no further scale-in for `cooldown_after_in`, while scaling
//!   out stays allowed;
//! - scaling out jumps to the replica count that brings the ratio to 1.0;
//!   scaling in removes one replica at a time, and never during a breach.

use std::time::Duration;

/// Tunables of the policy; the defaults are the documented production ones.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// Fewest replicas the fleet keeps.
    pub min: usize,
    /// Most replicas the fleet runs.
    pub max: usize,
    /// CPU per replica, in cores, that the fleet aims at.
    pub target_cpu: f64,
    /// Requests per second per replica that the fleet aims at, if set.
    pub target_rps: Option<f64>,
    /// Load ratio under which the fleet is considered over-provisioned.
    pub scale_in_below: f64,
    /// Consecutive evaluations in breach before scaling out.
    pub out_streak: u32,
    /// Consecutive calm evaluations before scaling in.
    pub in_streak: u32,
    /// After a scale-out, no decision at all for this long.
    pub cooldown_after_out: Duration,
    /// After a scale-in, no further scale-in for this long.
    pub cooldown_after_in: Duration,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            min: 2,
            max: 5,
            target_cpu: 0.7,
            target_rps: None,
            scale_in_below: 0.5,
            out_streak: 3,
            in_streak: 3,
            cooldown_after_out: Duration::from_secs(60),
            cooldown_after_in: Duration::from_secs(120),
        }
    }
}

impl PolicyConfig {
    /// Rejects settings under which the policy could not work.
    pub fn validate(&self) -> Result<(), String> {
        if self.min == 0 {
            return Err("the minimum must be at least 1 replica".into());
        }
        if self.max < self.min {
            return Err(format!("max {} is below min {}", self.max, self.min));
        }
        if !positive(self.target_cpu) {
            return Err("the CPU target must be above 0".into());
        }
        if self.target_rps.is_some_and(|r| !positive(r)) {
            return Err("the request-rate target must be above 0".into());
        }
        if !positive(self.scale_in_below) || self.scale_in_below >= 1.0 {
            return Err("scale-in threshold must be between 0 and 1".into());
        }
        if self.out_streak == 0 || self.in_streak == 0 {
            return Err("streaks must be at least 1 evaluation".into());
        }
        Ok(())
    }
}

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// What one evaluation measured across the ready replicas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signals {
    /// Replicas the fleet runs now (the policy's current size).
    pub replicas: usize,
    /// Mean CPU per measured replica, in cores; `None` before two scrapes.
    pub cpu_per_replica: Option<f64>,
    /// Mean requests per second per measured replica.
    pub rps_per_replica: Option<f64>,
}

/// What the policy decided, with a reason fit for a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Hold { reason: &'static str },
    ScaleOut { to: usize, reason: &'static str },
    ScaleIn { to: usize, reason: &'static str },
}

impl Decision {
    /// The action as a metric label.
    pub fn action(&self) -> &'static str {
        match self {
            Decision::Hold { .. } => "hold",
            Decision::ScaleOut { .. } => "scale_out",
            Decision::ScaleIn { .. } => "scale_in",
        }
    }

    /// Why, as a metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Decision::Hold { reason }
            | Decision::ScaleOut { reason, .. }
            | Decision::ScaleIn { reason, .. } => reason,
        }
    }
}

/// The policy's memory between evaluations: streaks and last actions.
#[derive(Debug, Clone)]
pub struct Policy {
    config: PolicyConfig,
    breaches: u32,
    calms: u32,
    last_out: Option<Duration>,
    last_in: Option<Duration>,
}

impl Policy {
    pub fn new(config: PolicyConfig) -> Self {
        Self {
            config,
            breaches: 0,
            calms: 0,
            last_out: None,
            last_in: None,
        }
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// The load ratio against the targets: 1.0 is exactly on target.
    pub fn load_ratio(&self, signals: &Signals) -> Option<f64> {
        let cpu = signals.cpu_per_replica.map(|c| c / self.config.target_cpu);
        let rps = match (signals.rps_per_replica, self.config.target_rps) {
            (Some(r), Some(target)) => Some(r / target),
            _ => None,
        };
        match (cpu, rps) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// One evaluation at time `now` (any monotonic origin).
    pub fn decide(&mut self, now: Duration, signals: &Signals) -> Decision {
        let n = signals.replicas;
        let (min, max) = (self.config.min, self.config.max);
        if n < min {
            return self.scaled_out(now, min, "below_min");
        }
        if n > max {
            return self.scaled_in(now, max, "above_max");
        }
        let Some(ratio) = self.load_ratio(signals) else {
            self.breaches = 0;
            self.calms = 0;
            return Decision::Hold {
                reason: "no_signal",
            };
        };
        let breach = ratio > 1.0;
        let calm = ratio < self.config.scale_in_below;
        self.breaches = if breach { self.breaches + 1 } else { 0 };
        self.calms = if calm { self.calms + 1 } else { 0 };

        if self.within(now, self.last_out, self.config.cooldown_after_out) {
            return Decision::Hold {
                reason: "cooldown_after_scale_out",
            };
        }
        if breach {
            if n >= max {
                return Decision::Hold { reason: "at_max" };
            }
            if self.breaches < self.config.out_streak {
                return Decision::Hold {
                    reason: "breach_streak",
                };
            }
            let wanted = (n as f64 * ratio).ceil() as usize;
            return self.scaled_out(now, wanted.clamp(n + 1, max), "cpu_or_rate_above_target");
        }
        if calm {
            if n <= min {
                return Decision::Hold { reason: "at_min" };
            }
            if self.within(now, self.last_in, self.config.cooldown_after_in) {
                return Decision::Hold {
                    reason: "cooldown_after_scale_in",
                };
            }
            if self.calms < self.config.in_streak {
                return Decision::Hold {
                    reason: "calm_streak",
                };
            }
            return self.scaled_in(now, n - 1, "load_below_threshold");
        }
        Decision::Hold { reason: "in_band" }
    }

    fn within(&self, now: Duration, since: Option<Duration>, window: Duration) -> bool {
        since.is_some_and(|t| now.saturating_sub(t) < window)
    }

    fn scaled_out(&mut self, now: Duration, to: usize, reason: &'static str) -> Decision {
        self.last_out = Some(now);
        self.breaches = 0;
        self.calms = 0;
        Decision::ScaleOut { to, reason }
    }

    fn scaled_in(&mut self, now: Duration, to: usize, reason: &'static str) -> Decision {
        self.last_in = Some(now);
        self.breaches = 0;
        self.calms = 0;
        Decision::ScaleIn { to, reason }
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
