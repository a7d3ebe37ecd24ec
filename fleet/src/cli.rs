//! Command-line interface of `kurz-fleet`: `run` supervises a fleet, `load`
//! drives steady traffic for the chaos suite. Every option of `run` also
//! reads a `KURZ_FLEET_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::load::LoadArgs;
use crate::policy::PolicyConfig;
use crate::supervisor::FleetConfig;

#[derive(Parser)]
#[command(
    name = "kurz-fleet",
    version,
    about = "Supervisor and autoscaler for kurz replicas behind nginx"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Start replicas, keep them alive, scale them, keep nginx's upstream true.
    Run(Box<RunArgs>),
    /// Steady redirect (and optional write) traffic with a JSON report.
    Load(LoadArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DriverKind {
    Local,
    Docker,
}

/// A `MIN..MAX` replica range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: usize,
    pub max: usize,
}

pub fn parse_range(s: &str) -> Result<Range, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("expected MIN..MAX, got {s:?}"))?;
    let min: usize = a.trim().parse().map_err(|_| format!("bad minimum {a:?}"))?;
    let max: usize = b.trim().parse().map_err(|_| format!("bad maximum {b:?}"))?;
    if min == 0 || max < min {
        return Err(format!("need 1 <= MIN <= MAX, got {min}..{max}"));
    }
    Ok(Range { min, max })
}

#[derive(Args)]
pub struct RunArgs {
    /// How replicas run: child processes or Docker containers.
    #[arg(long, env = "KURZ_FLEET_DRIVER", value_enum, default_value = "local")]
    pub driver: DriverKind,
    /// The kurz binary (local driver); read again at every start.
    #[arg(long, env = "KURZ_FLEET_KURZ_BINARY", default_value = "kurz")]
    pub kurz_binary: PathBuf,
    /// Directory for replica logs (local driver).
    #[arg(long, env = "KURZ_FLEET_LOG_DIR", default_value = ".")]
    pub log_dir: PathBuf,
    /// Image of the replicas (docker driver).
    #[arg(long, env = "KURZ_FLEET_IMAGE", default_value = "kurz:latest")]
    pub image: String,
    /// Name prefix and label of this fleet's containers (docker driver).
    #[arg(long, env = "KURZ_FLEET_NAME", default_value = "kurz-replica")]
    pub name: String,
    /// Replicas to start with (without --autoscale, the fixed size).
    #[arg(long, env = "KURZ_FLEET_REPLICAS", default_value_t = 2)]
    pub replicas: usize,
    /// Turn the autoscaler on between MIN and MAX replicas, e.g. 2..5.
    #[arg(long, env = "KURZ_FLEET_AUTOSCALE", value_parser = parse_range)]
    pub autoscale: Option<Range>,
    /// Replica in slot i listens on 127.0.0.1:(base-port + i).
    #[arg(long, env = "KURZ_FLEET_BASE_PORT", default_value_t = 8100)]
    pub base_port: u16,
    /// File of `server` lines the nginx upstream block includes.
    #[arg(long, env = "KURZ_FLEET_UPSTREAM_FILE")]
    pub upstream_file: PathBuf,
    /// Shell command that reloads nginx after the file changes.
    #[arg(long, env = "KURZ_FLEET_RELOAD_COMMAND", default_value = "")]
    pub reload_command: String,
    /// Address of the control API (/status, /metrics, /scale, /rolling-restart).
    #[arg(long, env = "KURZ_FLEET_CONTROL", default_value = "127.0.0.1:9190")]
    pub control: SocketAddr,
    /// Seconds between policy evaluations.
    #[arg(long, env = "KURZ_FLEET_INTERVAL", default_value_t = 5.0)]
    pub interval: f64,
    /// CPU per replica (cores) the autoscaler aims at.
    #[arg(long, env = "KURZ_FLEET_TARGET_CPU", default_value_t = 0.7)]
    pub target_cpu: f64,
    /// Requests/s per replica the autoscaler aims at (second signal).
    #[arg(long, env = "KURZ_FLEET_TARGET_RPS")]
    pub target_rps: Option<f64>,
    /// Load ratio under which the fleet shrinks.
    #[arg(long, env = "KURZ_FLEET_SCALE_IN_BELOW", default_value_t = 0.5)]
    pub scale_in_below: f64,
    /// Consecutive evaluations over target before scaling out.
    #[arg(long, env = "KURZ_FLEET_OUT_STREAK", default_value_t = 3)]
    pub out_streak: u32,
    /// Consecutive calm evaluations before scaling in.
    #[arg(long, env = "KURZ_FLEET_IN_STREAK", default_value_t = 3)]
    pub in_streak: u32,
    /// Seconds without any decision after scaling out.
    #[arg(long, env = "KURZ_FLEET_COOLDOWN_OUT", default_value_t = 60.0)]
    pub cooldown_out: f64,
    /// Seconds without a further scale-in after scaling in.
    #[arg(long, env = "KURZ_FLEET_COOLDOWN_IN", default_value_t = 120.0)]
    pub cooldown_in: f64,
    /// Seconds between leaving the upstream and SIGTERM.
    #[arg(long, env = "KURZ_FLEET_DRAIN_DELAY", default_value_t = 2.0)]
    pub drain_delay: f64,
    /// Seconds a stopping replica gets before SIGKILL.
    #[arg(long, env = "KURZ_FLEET_STOP_GRACE", default_value_t = 30.0)]
    pub stop_grace: f64,
    /// Seconds a started replica may take to become ready.
    #[arg(long, env = "KURZ_FLEET_READY_TIMEOUT", default_value_t = 30.0)]
    pub ready_timeout: f64,
    /// nginx max_fails for each server line.
    #[arg(long, env = "KURZ_FLEET_MAX_FAILS", default_value_t = 3)]
    pub max_fails: u32,
    /// nginx fail_timeout (seconds) for each server line.
    #[arg(long, env = "KURZ_FLEET_FAIL_TIMEOUT", default_value_t = 2)]
    pub fail_timeout: u64,
    /// Admin key for replicas' /metrics when they run with KURZ_AUTH=keys.
    #[arg(long, env = "KURZ_FLEET_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
}

fn seconds(name: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| anyhow::anyhow!("--{name} must be a non-negative number of seconds"))
}

impl RunArgs {
    /// The supervisor's configuration, validated.
    pub fn fleet_config(&self) -> anyhow::Result<FleetConfig> {
        let range = self.autoscale.unwrap_or(Range {
            min: self.replicas.max(1),
            max: self.replicas.max(1),
        });
        let policy = PolicyConfig {
            min: range.min,
            max: range.max,
            target_cpu: self.target_cpu,
            target_rps: self.target_rps,
            scale_in_below: self.scale_in_below,
            out_streak: self.out_streak,
            in_streak: self.in_streak,
            cooldown_after_out: seconds("cooldown-out", self.cooldown_out)?,
            cooldown_after_in: seconds("cooldown-in", self.cooldown_in)?,
        };
        policy.validate().map_err(anyhow::Error::msg)?;
        let interval = seconds("interval", self.interval)?;
        if interval < Duration::from_millis(100) {
            anyhow::bail!("--interval must be at least 0.1 seconds");
        }
        Ok(FleetConfig {
            base_port: self.base_port,
            initial: self.replicas.clamp(range.min, range.max),
            autoscale: self.autoscale.is_some(),
            policy,
            interval,
            tick: Duration::from_millis(250),
            ready_timeout: seconds("ready-timeout", self.ready_timeout)?,
            max_missed_probes: 8,
            drain_delay: seconds("drain-delay", self.drain_delay)?,
            stop_grace: seconds("stop-grace", self.stop_grace)?,
            admin_key: self.admin_key.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_reject_nonsense() {
        assert_eq!(parse_range("2..5"), Ok(Range { min: 2, max: 5 }));
        assert_eq!(parse_range(" 3 .. 3 "), Ok(Range { min: 3, max: 3 }));
        for bad in ["5..2", "0..3", "2-5", "a..b", ""] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_become_a_validated_config() {
        let cli = Cli::try_parse_from([
            "kurz-fleet",
            "run",
            "--upstream-file",
            "/tmp/u.conf",
            "--autoscale",
            "2..4",
            "--replicas",
            "9",
            "--cooldown-out",
            "10",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("run expected")
        };
        let config = args.fleet_config().unwrap();
        assert_eq!(
            config.initial, 4,
            "the start size is clamped into the range"
        );
        assert!(config.autoscale);
        assert_eq!(config.policy.cooldown_after_out, Duration::from_secs(10));
        let bad = Cli::try_parse_from([
            "kurz-fleet",
            "run",
            "--upstream-file",
            "/tmp/u.conf",
            "--interval=-1",
        ])
        .unwrap();
        let Command::Run(args) = bad.command else {
            panic!("run expected")
        };
        assert!(args.fleet_config().is_err());
    }
}
