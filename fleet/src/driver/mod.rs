//! How replicas are started and stopped: one trait, two drivers. `local`
//! runs `kurz serve` as child processes (what `loadtest/cluster` uses);
//! `docker` runs containers of the project's image through the Docker Engine
//! API. Kubernetes keeps its own HorizontalPodAutoscaler (deploy/k8s).

pub mod docker;
pub mod local;

use std::time::Duration;

use async_trait::async_trait;

/// Where one replica listens; the supervisor owns the numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Small stable number, reused after a replica in it is gone.
    pub id: u32,
    /// Loopback port the replica binds (`KURZ_BIND=127.0.0.1:port`).
    pub port: u16,
}

/// What the driver reports about a replica it started.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Started {
    /// Process id (local) or container id (docker).
    pub handle: String,
}

/// Starts and stops replicas. Every method is keyed by the slot.
#[async_trait]
pub trait Driver: Send + Sync {
    /// A short name for logs and `/status`.
    fn name(&self) -> &'static str;

    /// Starts a replica in `slot`; returns once the process/container runs
    /// (not once it is ready: the supervisor checks `/health/ready`).
    async fn start(&self, slot: Slot) -> anyhow::Result<Started>;

    /// Whether the replica in `slot` is still running.
    async fn alive(&self, slot: Slot) -> bool;

    /// SIGTERM, then up to `grace` for it to finish its requests and flush
    /// its event queue, then SIGKILL. Returns once it is gone.
    async fn stop(&self, slot: Slot, grace: Duration) -> anyhow::Result<()>;

    /// Slot ids of replicas a previous supervisor of this fleet left behind
    /// (it died or was killed); asked once, before starting anything. They
    /// keep serving until `retire_leftovers`.
    async fn leftovers(&self) -> Vec<u32>;

    /// Stops those leftover replicas gracefully (SIGTERM, `grace`, SIGKILL).
    async fn retire_leftovers(&self, slots: &[u32], grace: Duration);
}
