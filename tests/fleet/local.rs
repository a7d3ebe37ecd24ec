//! The local driver: replicas are `kurz serve` child processes.

use std::sync::Arc;
use std::time::Duration;

use kurz_fleet::driver::local::LocalDriver;
use kurz_testkit::fresh_pg_database;

use kurz_fleet::supervisor::FleetConfig;

use crate::support::{answers, config, Fleet};

async fn local_driver() -> (Arc<LocalDriver>, tempfile::TempDir) {
    let logs = tempfile::tempdir().unwrap();
    let database_url = fresh_pg_database().await;
    (driver_in(logs.path(), &database_url), logs)
}

/// A driver as a new supervisor process would make it: its own view of
/// the children, the log directory (and pid files) of the fleet.
fn driver_in(logs: &std::path::Path, database_url: &str) -> Arc<LocalDriver> {
    let driver = LocalDriver::new(env!("CARGO_BIN_EXE_kurz").into(), logs.into()).with_env(vec![
        ("DATABASE_URL".into(), database_url.into()),
        ("KURZ_LOG".into(), "warn".into()),
        ("KURZ_DB_MAX_CONNECTIONS".into(), "4".into()),
    ]);
    Arc::new(driver)
}

fn pid_alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[tokio::test]
async fn replicas_join_the_upstream_and_a_killed_one_comes_back_in_its_slot() {
    let (driver, _logs) = local_driver().await;
    let fleet = Fleet::start(config(2), driver).await;
    let s = fleet.now();
    assert_eq!((s.ready, s.running, s.desired), (2, 2, 2));
    let ports: Vec<u16> = s.replicas.iter().map(|r| r.port).collect();
    assert_eq!(fleet.upstream_ports(), ports);
    assert!(fleet.reloads() >= 1, "nginx was told to reload");
    for port in &ports {
        assert!(answers(*port).await);
    }

    let victim = s.replicas[0].clone();
    let pid: i32 = victim.handle.parse().unwrap();
    // SAFETY: kill(2) on a child this test's supervisor started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let healed = fleet
        .until(Duration::from_secs(15), |s| {
            s.replacements == 1
                && s.ready == 2
                && s.replicas
                    .iter()
                    .any(|r| r.slot == victim.slot && r.handle != victim.handle)
        })
        .await;
    assert_eq!(
        fleet.upstream_ports(),
        ports,
        "same slot, same port: nginx needs no change"
    );
    assert!(answers(victim.port).await);
    assert_eq!(
        healed
            .replicas
            .iter()
            .find(|r| r.slot == victim.slot)
            .unwrap()
            .restarts,
        1
    );
    fleet.stop().await;
    assert!(
        !answers(ports[0]).await && !answers(ports[1]).await,
        "stop stops every replica"
    );
}

#[tokio::test]
async fn scaling_out_admits_ready_replicas_and_scaling_in_drains_before_sigterm() {
    let (driver, _logs) = local_driver().await;
    let fleet = Fleet::start(config(2), driver).await;
    fleet.scale(4).await;
    let grown = fleet.until(Duration::from_secs(30), |s| s.ready == 4).await;
    let mut ports: Vec<u16> = grown.replicas.iter().map(|r| r.port).collect();
    ports.sort_unstable();
    assert_eq!(fleet.upstream_ports(), ports);

    let leaving: Vec<_> = grown
        .replicas
        .iter()
        .filter(|r| r.slot > 2)
        .cloned()
        .collect();
    fleet.scale(2).await;
    // The upstream loses them at once; the processes get SIGTERM after the
    // drain delay and exit on their own.
    assert_eq!(fleet.upstream_ports(), ports[..2].to_vec());
    let after = fleet
        .until(Duration::from_secs(20), |s| {
            s.draining == 0 && s.running == 2
        })
        .await;
    assert_eq!(after.ready, 2);
    for r in &leaving {
        assert!(!pid_alive(&r.handle), "replica {} exited", r.slot);
    }
    fleet.stop().await;
}

#[tokio::test]
async fn a_rolling_restart_replaces_every_replica_without_shrinking() {
    let (driver, _logs) = local_driver().await;
    let fleet = Fleet::start(config(2), driver).await;
    let before = fleet.now();
    let old: Vec<String> = before.replicas.iter().map(|r| r.handle.clone()).collect();
    let after = fleet.rolling_restart().await;
    assert_eq!(after.ready, 2);
    assert!(after.replicas.iter().all(|r| !old.contains(&r.handle)));
    let new_ports: Vec<u16> = after.replicas.iter().map(|r| r.port).collect();
    assert_eq!(fleet.upstream_ports().len(), 2);
    for port in &new_ports {
        assert!(fleet.upstream_ports().contains(port));
    }
    fleet
        .until(Duration::from_secs(20), |s| s.draining == 0)
        .await;
    for pid in &old {
        assert!(!pid_alive(pid), "old replica {pid} exited");
    }
    fleet.stop().await;
}

#[tokio::test]
async fn a_new_supervisor_takes_over_the_replicas_a_dead_one_left() {
    let logs = tempfile::tempdir().unwrap();
    let database_url = fresh_pg_database().await;
    let first_config = config(2);
    let base_port = first_config.base_port;
    let first = Fleet::start(first_config, driver_in(logs.path(), &database_url)).await;
    let left: Vec<_> = first.now().replicas;
    first.abandon();
    for r in &left {
        assert!(
            answers(r.port).await,
            "the replicas outlive their supervisor"
        );
    }

    let second = Fleet::start(
        FleetConfig {
            base_port,
            ..config(2)
        },
        driver_in(logs.path(), &database_url),
    )
    .await;
    let now = second.now();
    let old_slots: Vec<u32> = left.iter().map(|r| r.slot).collect();
    assert!(
        now.replicas.iter().all(|r| !old_slots.contains(&r.slot)),
        "new replicas use free slots: {now:#?}"
    );
    let old_ports: Vec<u16> = left.iter().map(|r| r.port).collect();
    assert!(second
        .upstream_ports()
        .iter()
        .all(|p| !old_ports.contains(p)));
    second
        .until(Duration::from_secs(20), |s| s.draining == 0)
        .await;
    for r in &left {
        assert!(
            !pid_alive(&r.handle),
            "leftover replica {} was retired",
            r.slot
        );
    }
    second.stop().await;
}
