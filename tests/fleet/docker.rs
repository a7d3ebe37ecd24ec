//! The Docker driver against a real engine: scripts/docker-engine starts
//! dockerd if none answers, builds the base image from debootstrap and the
//! `prebuilt` image around this test build of kurz. If the engine cannot
//! start, the test fails: it never skips.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use kurz_fleet::driver::docker::DockerDriver;
use kurz_fleet::driver::{Driver, Slot};
use kurz_testkit::fresh_pg_database;

use crate::support::{answers, config, free_port_block, Fleet};

const IMAGE: &str = "kurz:fleet-test";

/// Engine up and image built, once per test binary.
fn engine_and_image() {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let binary = env!("CARGO_BIN_EXE_kurz");
        let relative = binary
            .strip_prefix(&format!("{root}/"))
            .unwrap_or_else(|| panic!("{binary} is not inside {root}"));
        let out = Command::new(format!("{root}/scripts/docker-engine"))
            .env("KURZ_BINARY", relative)
            .env("KURZ_IMAGE", IMAGE)
            .current_dir(root)
            .output()
            .expect("scripts/docker-engine runs");
        assert!(
            out.status.success(),
            "the Docker engine or image is not available (this test never skips):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

async fn driver(prefix: &str) -> Arc<DockerDriver> {
    engine_and_image();
    let env = vec![
        format!("DATABASE_URL={}", fresh_pg_database().await),
        "KURZ_LOG=warn".to_string(),
        "KURZ_DB_MAX_CONNECTIONS=4".to_string(),
    ];
    let driver = DockerDriver::connect(IMAGE.into(), prefix.into(), env)
        .await
        .expect("the engine answers");
    driver.remove_all().await;
    Arc::new(driver)
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn a_container_starts_serves_and_stops_gracefully() {
    let driver = driver("kurz-test-single").await;
    let base = free_port_block(2);
    let slot = Slot {
        id: 1,
        port: base + 1,
    };
    let started = driver.start(slot).await.unwrap();
    assert!(!started.handle.is_empty());
    let mut up = false;
    for _ in 0..200 {
        if answers(slot.port).await {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the container answers /health/ready on its slot's port");
    assert!(driver.alive(slot).await);
    driver.stop(slot, Duration::from_secs(10)).await.unwrap();
    assert!(!driver.alive(slot).await);
    assert!(!answers(slot.port).await);
    assert_eq!(
        docker(&["ps", "-aq", "--filter", "label=kurz.fleet=kurz-test-single"]),
        ""
    );
}

#[tokio::test]
async fn the_supervisor_scales_and_heals_real_containers() {
    let driver = driver("kurz-test-fleet").await;
    let fleet = Fleet::start(config(2), driver.clone()).await;
    let containers = || docker(&["ps", "-q", "--filter", "label=kurz.fleet=kurz-test-fleet"]);
    assert_eq!(containers().lines().count(), 2);

    fleet.scale(3).await;
    let grown = fleet.until(Duration::from_secs(60), |s| s.ready == 3).await;
    assert_eq!(containers().lines().count(), 3);
    assert_eq!(fleet.upstream_ports().len(), 3);

    let victim = grown.replicas[0].clone();
    docker(&["kill", "--signal", "KILL", &victim.handle]);
    fleet
        .until(Duration::from_secs(60), |s| {
            s.replacements >= 1
                && s.ready == 3
                && s.replicas
                    .iter()
                    .any(|r| r.slot == victim.slot && r.handle != victim.handle)
        })
        .await;

    fleet.scale(2).await;
    fleet
        .until(Duration::from_secs(60), |s| {
            s.draining == 0 && s.running == 2
        })
        .await;
    assert_eq!(containers().lines().count(), 2);
    assert_eq!(fleet.upstream_ports().len(), 2);
    fleet.stop().await;
    assert_eq!(
        containers(),
        "",
        "stopping the fleet removes its containers"
    );
}
