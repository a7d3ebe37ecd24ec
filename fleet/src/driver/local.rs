//! Replicas as local child processes of the supervisor: `kurz serve` with
//! `KURZ_BIND` set to the slot's port, stdout and stderr appended to a log
//! file per slot, the pid in `replica-<slot>.pid` beside it. The binary path
//! is read at every start, so replacing the file and running a rolling
//! restart puts the new binary into service. Pid files that outlive their
//! supervisor name the leftovers a new supervisor takes over.

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
        let pid_file = self.pid_file(slot.id);
        if let Err(e) = std::fs::write(&pid_file, pid.to_string()) {
            tracing::warn!(file = %pid_file.display(), error = %e, "cannot record the replica's pid");
        }
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
        let _ = std::fs::remove_file(self.pid_file(slot.id));
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

    async fn leftovers(&self) -> Vec<u32> {
        let children = self.children.lock().await;
        self.recorded_pids()
            .into_iter()
            .filter(|(slot, pid)| !children.contains_key(slot) && is_replica(*pid))
            .map(|(slot, _)| slot)
            .collect()
    }

    async fn retire_leftovers(&self, slots: &[u32], grace: Duration) {
        for (slot, pid) in self.recorded_pids() {
            if !slots.contains(&slot) || !is_replica(pid) {
                continue;
            }
            tracing::info!(slot, pid, "retiring a replica a previous supervisor left");
            signal(pid, libc::SIGTERM);
            let deadline = tokio::time::Instant::now() + grace;
            while is_replica(pid) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if is_replica(pid) {
                signal(pid, libc::SIGKILL);
            }
            let _ = std::fs::remove_file(self.pid_file(slot));
        }
    }
}

impl LocalDriver {
    fn pid_file(&self, slot: u32) -> PathBuf {
        self.log_dir.join(format!("replica-{slot}.pid"))
    }

    /// (slot, pid) of every pid file in the log directory.
    fn recorded_pids(&self) -> Vec<(u32, i32)> {
        let Ok(entries) = std::fs::read_dir(&self.log_dir) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let slot = name
                    .strip_prefix("replica-")?
                    .strip_suffix(".pid")?
                    .parse()
                    .ok()?;
                let pid = std::fs::read_to_string(e.path())
                    .ok()?
                    .trim()
                    .parse()
                    .ok()?;
                Some((slot, pid))
            })
            .collect()
    }
}

/// Whether `pid` is a live (not zombie) `kurz serve`: a recycled pid of
/// another program is never signalled.
fn is_replica(pid: i32) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    !zombie && cmdline.split(|b| *b == 0).any(|arg| arg == b"serve")
}

fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: kill(2) on a pid just checked to be a `kurz serve` process.
    unsafe {
        libc::kill(pid, sig);
    }
}
