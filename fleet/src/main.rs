//! `kurz-fleet run` supervises replicas; `kurz-fleet load` drives traffic.
//! This file wires options to the library and handles signals.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use kurz_fleet::cli::{Cli, Command, DriverKind, RunArgs};
use kurz_fleet::driver::docker::DockerDriver;
use kurz_fleet::driver::local::LocalDriver;
use kurz_fleet::driver::Driver;
use kurz_fleet::supervisor::Supervisor;
use kurz_fleet::upstream::Upstream;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("KURZ_FLEET_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kurz-fleet: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(*args).await,
            Command::Load(args) => {
                let report = kurz_fleet::load::run(args).await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kurz-fleet: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = args.fleet_config()?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    kurz_fleet::telemetry::register();
    let driver: Arc<dyn Driver> = match args.driver {
        DriverKind::Local => Arc::new(LocalDriver::new(
            args.kurz_binary.clone(),
            args.log_dir.clone(),
        )),
        DriverKind::Docker => {
            let docker = DockerDriver::connect(
                args.image.clone(),
                args.name.clone(),
                DockerDriver::inherited_env(),
            )
            .await?;
            Arc::new(docker)
        }
    };
    let upstream = Upstream {
        file: args.upstream_file.clone(),
        reload_command: args.reload_command.clone(),
        max_fails: args.max_fails,
        fail_timeout: Duration::from_secs(args.fail_timeout),
    };
    let listener = tokio::net::TcpListener::bind(args.control)
        .await
        .with_context(|| format!("binding the control API on {}", args.control))?;
    let mut supervisor = Supervisor::new(config, driver, upstream)?;
    let (commands, receiver) = tokio::sync::mpsc::channel(8);
    let app = kurz_fleet::control::router(supervisor.status_handle(), commands, metrics);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "control API stopped");
        }
    });
    if let Err(e) = supervisor.start().await {
        tracing::error!(error = %format!("{e:#}"), "the initial replicas did not all become ready; supervising anyway");
    }
    tracing::info!(control = %args.control, "fleet running");
    supervisor.run(receiver, shutdown_signal()).await;
    tracing::info!("fleet stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
