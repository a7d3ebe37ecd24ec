//! A fleet under test: the supervisor running in the background with its
//! command channel and status, a block of free ports, and helpers that wait
//! for the fleet to reach a state.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kurz_fleet::driver::Driver;
use kurz_fleet::policy::PolicyConfig;
use kurz_fleet::supervisor::{Command, FleetConfig, FleetStatus, Supervisor};
use kurz_fleet::upstream::Upstream;
use tokio::sync::{mpsc, oneshot};

/// A base port such that base+1 ..= base+count are all free now.
pub fn free_port_block(count: u16) -> u16 {
    for _ in 0..200 {
        let base = 20_000 + rand::random::<u16>() % 40_000;
        let free = (1..=count).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no block of {count} free ports found");
}

pub fn config(initial: usize) -> FleetConfig {
    FleetConfig {
        base_port: free_port_block(8),
        initial,
        autoscale: false,
        policy: PolicyConfig {
            min: 1,
            max: 6,
            ..Default::default()
        },
        interval: Duration::from_secs(1),
        tick: Duration::from_millis(100),
        // A first container on Docker's copying `vfs` storage, on a
        // loaded two-core machine, has taken longer than 30 s to answer.
        ready_timeout: Duration::from_secs(90),
        max_missed_probes: 8,
        drain_delay: Duration::from_millis(300),
        stop_grace: Duration::from_secs(10),
        admin_key: None,
    }
}

pub struct Fleet {
    pub status: Arc<Mutex<FleetStatus>>,
    pub commands: mpsc::Sender<Command>,
    pub upstream_file: PathBuf,
    pub reloads_file: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Fleet {
    /// Starts the supervisor and waits until the initial replicas are ready.
    pub async fn start(config: FleetConfig, driver: Arc<dyn Driver>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let upstream_file = dir.path().join("upstream.conf");
        let reloads_file = dir.path().join("reloads");
        let upstream = Upstream {
            file: upstream_file.clone(),
            reload_command: format!("echo reload >> {}", reloads_file.display()),
            max_fails: 3,
            fail_timeout: Duration::from_secs(2),
        };
        let mut supervisor = Supervisor::new(config, driver, upstream).unwrap();
        supervisor
            .start()
            .await
            .expect("the initial replicas become ready");
        let status = supervisor.status_handle();
        let (commands, receiver) = mpsc::channel(4);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(supervisor.run(receiver, async move {
            let _ = stopped.await;
        }));
        Self {
            status,
            commands,
            upstream_file,
            reloads_file,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn now(&self) -> FleetStatus {
        self.status.lock().unwrap().clone()
    }

    /// Ports in the upstream file, as nginx would read them.
    pub fn upstream_ports(&self) -> Vec<u16> {
        let text = std::fs::read_to_string(&self.upstream_file).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.strip_prefix("server 127.0.0.1:"))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    pub fn reloads(&self) -> usize {
        std::fs::read_to_string(&self.reloads_file)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    pub async fn scale(&self, replicas: usize) -> FleetStatus {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Scale { replicas, reply })
            .await
            .unwrap();
        answer.await.unwrap().unwrap()
    }

    pub async fn rolling_restart(&self) -> FleetStatus {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::RollingRestart { reply })
            .await
            .unwrap();
        answer.await.unwrap().unwrap()
    }

    /// Waits up to `limit` for the status to satisfy `check`.
    pub async fn until(
        &self,
        limit: Duration,
        check: impl Fn(&FleetStatus) -> bool,
    ) -> FleetStatus {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let now = self.now();
            if check(&now) {
                return now;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "fleet did not reach the expected state: {now:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The supervisor dies without stopping anything (as under SIGKILL):
    /// its replicas keep running.
    pub fn abandon(mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Graceful stop of the supervisor and every replica.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("the fleet stops within a minute")
                .unwrap();
        }
    }
}

/// Whether `/health/ready` answers 200 on this port.
pub async fn answers(port: u16) -> bool {
    reqwest::get(format!("http://127.0.0.1:{port}/health/ready"))
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false)
}
