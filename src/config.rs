//! Settings: every knob, from flags or environment variables, validated once
//! at start into typed values.
//!
//! Tests build `Settings` in code (`Settings::for_database`) and change
//! fields; nothing else in the crate reads the environment.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::domain::TargetPolicy;
use crate::events::RecorderSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Everything `kurz serve` can be told.
#[derive(Clone, Args)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "KURZ_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// `postgres://…` for PostgreSQL, `sqlite:PATH` for SQLite. Unset: the
    /// embedded SQLite file at --sqlite-path.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// The embedded database file, used when DATABASE_URL is unset.
    #[arg(long, env = "KURZ_SQLITE_PATH", default_value = "kurz.db")]
    pub sqlite_path: String,

    /// Most database connections this process opens.
    #[arg(long, env = "KURZ_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Largest JSON body accepted, in bytes (413 above it).
    #[arg(long, env = "KURZ_JSON_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub json_body_limit: usize,

    /// Largest CSV upload accepted by /users/bulk, in bytes.
    #[arg(long, env = "KURZ_CSV_BODY_LIMIT", default_value_t = 64 * 1024 * 1024)]
    pub csv_body_limit: usize,

    /// Refuse short links to loopback, private and link-local hosts.
    #[arg(long, env = "KURZ_BLOCK_PRIVATE_TARGETS", default_value_t = false)]
    pub block_private_targets: bool,

    /// Redirect events the in-memory queue holds.
    #[arg(long, env = "KURZ_EVENT_QUEUE_CAPACITY", default_value_t = 65_536)]
    pub event_queue_capacity: usize,

    /// Most events written per batch.
    #[arg(long, env = "KURZ_EVENT_BATCH_MAX", default_value_t = 2_000)]
    pub event_batch_max: usize,

    /// Milliseconds a small batch waits for more events before it is written.
    #[arg(long, env = "KURZ_EVENT_LINGER_MS", default_value_t = 5)]
    pub event_linger_ms: u64,

    /// Seconds a graceful stop may take (in-flight requests, then the event queue).
    #[arg(long, env = "KURZ_SHUTDOWN_TIMEOUT_SECS", default_value_t = 25)]
    pub shutdown_timeout_secs: u64,

    /// Run pending migrations at start.
    #[arg(long, env = "KURZ_MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate_on_start: bool,

    /// Log filter, e.g. `info` or `kurz=debug,sqlx=warn`.
    #[arg(long, env = "KURZ_LOG", default_value = "info")]
    pub log: String,

    /// Log line format.
    #[arg(long, env = "KURZ_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,
}

impl fmt::Debug for Settings {
    // The database URL may carry a password: show only its scheme.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("database", &self.engine_label())
            .field("db_max_connections", &self.db_max_connections)
            .field("json_body_limit", &self.json_body_limit)
            .field("csv_body_limit", &self.csv_body_limit)
            .field("block_private_targets", &self.block_private_targets)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

impl Settings {
    /// Defaults for everything, on the given database and a free port.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: Some(database_url.into()),
            sqlite_path: "kurz.db".into(),
            db_max_connections: 8,
            json_body_limit: 1024 * 1024,
            csv_body_limit: 64 * 1024 * 1024,
            block_private_targets: false,
            event_queue_capacity: 65_536,
            event_batch_max: 2_000,
            event_linger_ms: 5,
            shutdown_timeout_secs: 25,
            migrate_on_start: true,
            log: "info".into(),
            log_format: LogFormat::Json,
        }
    }

    /// Checks every value at once and names each bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let url = self.database_url();
        if !(url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
        {
            problems
                .push("DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into());
        }
        if self.db_max_connections == 0 {
            problems.push("KURZ_DB_MAX_CONNECTIONS must be at least 1".into());
        }
        if self.json_body_limit == 0 || self.csv_body_limit == 0 {
            problems.push("KURZ_JSON_BODY_LIMIT and KURZ_CSV_BODY_LIMIT must be positive".into());
        }
        if self.event_queue_capacity == 0 || self.event_batch_max == 0 {
            problems
                .push("KURZ_EVENT_QUEUE_CAPACITY and KURZ_EVENT_BATCH_MAX must be positive".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems))
        }
    }

    /// The database to use: DATABASE_URL, or the embedded SQLite file.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => format!("sqlite:{}", self.sqlite_path),
        }
    }

    fn engine_label(&self) -> &'static str {
        if self.database_url().starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }

    pub fn target_policy(&self) -> TargetPolicy {
        TargetPolicy {
            block_private_hosts: self.block_private_targets,
        }
    }

    pub fn recorder(&self) -> RecorderSettings {
        RecorderSettings {
            queue_capacity: self.event_queue_capacity,
            max_batch: self.event_batch_max,
            linger: Duration::from_millis(self.event_linger_ms),
            ..RecorderSettings::default()
        }
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}
