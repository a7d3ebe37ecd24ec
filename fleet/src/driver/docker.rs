//! Replicas as containers of the project's image, through the Docker Engine
//! API (bollard). Containers use the host network so a replica binds the
//! slot's loopback port exactly as a local process would, and nginx needs no
//! other change. Each container is named `<prefix>-<slot>` and labelled
//! `kurz.fleet=<prefix>`, so a restarted supervisor clears what it left.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use bollard::Docker;

use super::{Driver, Slot, Started};

/// Runs replicas as Docker containers.
pub struct DockerDriver {
    docker: Docker,
    image: String,
    prefix: String,
    env: Vec<String>,
}

impl DockerDriver {
    /// Connects to the engine (DOCKER_HOST or the local socket). `env` is
    /// passed to every container; `KURZ_BIND` is added per slot.
    pub async fn connect(image: String, prefix: String, env: Vec<String>) -> anyhow::Result<Self> {
        let docker = Docker::connect_with_socket_defaults().context("connecting to Docker")?;
        docker
            .ping()
            .await
            .context("the Docker engine does not answer")?;
        Ok(Self {
            docker,
            image,
            prefix,
            env,
        })
    }

    /// The environment a replica container gets from the supervisor's own:
    /// DATABASE_URL, REDIS_URL and every KURZ_* setting except KURZ_BIND and
    /// the supervisor's own KURZ_FLEET_* ones.
    pub fn inherited_env() -> Vec<String> {
        std::env::vars()
            .filter(|(k, _)| {
                (k.starts_with("KURZ_") && k != "KURZ_BIND" && !k.starts_with("KURZ_FLEET_"))
                    || k == "DATABASE_URL"
                    || k == "REDIS_URL"
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    fn container_name(&self, slot: Slot) -> String {
        format!("{}-{}", self.prefix, slot.id)
    }

    /// Ids and slots of every container labelled with this fleet's prefix.
    async fn labelled(&self) -> Vec<(String, u32)> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("kurz.fleet={}", self.prefix)],
        )]);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .unwrap_or_default();
        list.into_iter()
            .filter_map(|c| {
                let slot = c.labels.as_ref()?.get("kurz.slot")?.parse().ok()?;
                Some((c.id?, slot))
            })
            .collect()
    }

    /// Removes every container of this fleet, running or not.
    pub async fn remove_all(&self) -> usize {
        let all = self.labelled().await;
        for (id, _) in &all {
            self.force_remove(id).await;
        }
        all.len()
    }

    async fn force_remove(&self, name: &str) {
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        // Absent is fine: the point is that it is gone.
        let _ = self.docker.remove_container(name, Some(options)).await;
    }
}

#[async_trait]
impl Driver for DockerDriver {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn start(&self, slot: Slot) -> anyhow::Result<Started> {
        let name = self.container_name(slot);
        self.force_remove(&name).await;
        let mut env = self.env.clone();
        env.push(format!("KURZ_BIND=127.0.0.1:{}", slot.port));
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            env: Some(env),
            labels: Some(HashMap::from([
                ("kurz.fleet".to_string(), self.prefix.clone()),
                ("kurz.slot".to_string(), slot.id.to_string()),
            ])),
            host_config: Some(HostConfig {
                network_mode: Some("host".to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .with_context(|| format!("creating container {name} from {}", self.image))?;
        self.docker
            .start_container(
                &created.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .with_context(|| format!("starting container {name}"))?;
        Ok(Started { handle: created.id })
    }

    async fn alive(&self, slot: Slot) -> bool {
        let name = self.container_name(slot);
        match self
            .docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await
        {
            Ok(info) => info.state.and_then(|s| s.running).unwrap_or(false),
            Err(_) => false,
        }
    }

    async fn stop(&self, slot: Slot, grace: Duration) -> anyhow::Result<()> {
        let name = self.container_name(slot);
        let options = StopContainerOptions {
            t: Some(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        // The engine sends the image's STOPSIGNAL (SIGTERM), waits `t`
        // seconds, then SIGKILL; an already stopped container is fine.
        let _ = self.docker.stop_container(&name, Some(options)).await;
        self.force_remove(&name).await;
        Ok(())
    }

    async fn leftovers(&self) -> Vec<u32> {
        // Asked before this supervisor starts anything: every labelled
        // container is a leftover.
        self.labelled()
            .await
            .into_iter()
            .map(|(_, slot)| slot)
            .collect()
    }

    async fn retire_leftovers(&self, slots: &[u32], grace: Duration) {
        for &slot in slots {
            // Slot numbers are the supervisor's; the port is not needed to stop.
            let _ = self.stop(Slot { id: slot, port: 0 }, grace).await;
        }
    }
}
