//! What `/status` shows: the fleet's size, each replica, and the policy's
//! last decision with its reason.

use std::time::Instant;

use serde::Serialize;

use super::ReplicaStatus;
use crate::policy::Decision;

/// The fleet as the control API reports it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FleetStatus {
    pub driver: &'static str,
    pub autoscale: bool,
    pub min: usize,
    pub max: usize,
    pub desired: usize,
    pub ready: usize,
    pub running: usize,
    pub draining: usize,
    /// Replicas started again after dying or hanging.
    pub replacements: u64,
    /// Ports in the nginx upstream, as last written.
    pub upstream: Vec<u16>,
    pub last_decision: Option<DecisionStatus>,
    pub replicas: Vec<ReplicaStatus>,
}

/// The policy's latest decision.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionStatus {
    pub action: &'static str,
    pub reason: &'static str,
    pub load_ratio: Option<f64>,
    /// Seconds since the supervisor started.
    pub at_seconds: f64,
}

impl DecisionStatus {
    pub fn new(decision: &Decision, load_ratio: Option<f64>, epoch: Instant) -> Self {
        Self {
            action: decision.action(),
            reason: decision.reason(),
            load_ratio,
            at_seconds: epoch.elapsed().as_secs_f64(),
        }
    }
}
