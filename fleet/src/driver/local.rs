//! Replicas as local child processes of the supervisor: `kurz serve` with
//! `KURZ_BIND` set to the slot's port, stdout and stderr appended to a log
//! file per slot. The binary path is read at every start, so replacing the
//! file and running a rolling restart puts the new binary into service.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use super::{Driver, Slot, Started};

/// Runs replicas as child processes.
pub struct LocalDriver {
    binary: PathBuf,
    log_dir: PathBuf,
    env: Vec<(String, String)>,
    children: Mutex<HashMap<u32, Child>>,
}

impl LocalDriver {
    /// `binary` is the kurz executable; replica logs go to
    /// `log_dir/replica-<slot>.log`. Every other setting is inherited from
    /// the supervisor's environment (DATABASE_URL, REDIS_URL, KURZ_*).
    pub fn new(binary: PathBuf, log_dir: PathBuf) -> Self {
        Self {
            binary,
            log_dir,
            env: Vec::new(),
            children: Mutex::new(HashMap::new()),
        }
    }

    /// Adds settings every replica gets on top of the inherited environment.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    /// Process id of the replica in `slot`, if one runs.
    pub async fn pid(&self, slot: Slot) -> Option<u32> {
        self.children.lock().await.get(&slot.id).and_then(Child::id)
    }
}

#[async_trait]
impl Driver for LocalDriver {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn start(&self, slot: Slot) -> anyhow::Result<Started> {
        std::fs::create_dir_all(&self.log_dir)
            .with_context(|| format!("creating {}", self.log_dir.display()))?;
        let log_path = self.log_dir.join(format!("replica-{}.log", slot.id));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let err = log.try_clone().context("duplicating the log handle")?;
        let child = Command::new(&self.binary)
            .arg("serve")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("KURZ_BIND", format!("127.0.0.1:{}", slot.port))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let pid = child.id().unwrap_or_default();
        self.children.lock().await.insert(slot.id, child);
        Ok(Started {
            handle: pid.to_string(),
        })
    }

    async fn alive(&self, slot: Slot) -> bool {
        let mut children = self.children.lock().await;
        match children.get_mut(&slot.id) {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    async fn stop(&self, slot: Slot, grace: Duration) -> anyhow::Result<()> {
        let Some(mut child) = self.children.lock().await.remove(&slot.id) else {
            return Ok(());
        };
        if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) with a pid this process spawned and has not yet
            // reaped; it cannot name another process.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            tracing::warn!(
                slot = slot.id,
                "replica outlived its grace period; killing it"
            );
            child.kill().await.context("killing the replica")?;
        }
        Ok(())
    }
}
