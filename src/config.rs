//! Settings: every knob, from flags or environment variables, validated once
//! at start into typed values.
//!
//! Tests build `Settings` in code (`Settings::for_database`) and change
//! fields; nothing else in the crate reads the environment.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::cache::{CacheSettings, SharedSettings};
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

    /// `redis://…` for the shared cache tier and cross-replica invalidation.
    /// Unset: local cache only (right for a single process).
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and channel kurz uses.
    #[arg(long, env = "KURZ_REDIS_PREFIX", default_value = "kurz:")]
    pub redis_prefix: String,

    /// Most links held in the in-process cache.
    #[arg(long, env = "KURZ_CACHE_CAPACITY", default_value_t = 100_000)]
    pub cache_capacity: u64,

    /// Seconds a link stays in the in-process cache (safety net behind invalidation).
    #[arg(long, env = "KURZ_CACHE_TTL_SECS", default_value_t = 60)]
    pub cache_ttl_secs: u64,

    /// Milliseconds an unknown code is remembered as unknown.
    #[arg(long, env = "KURZ_CACHE_NEGATIVE_TTL_MS", default_value_t = 2_000)]
    pub cache_negative_ttl_ms: u64,

    /// Milliseconds an entry lives while Redis or its subscription is down.
    #[arg(long, env = "KURZ_CACHE_DEGRADED_TTL_MS", default_value_t = 1_000)]
    pub cache_degraded_ttl_ms: u64,

    /// Seconds a link stays in Redis.
    #[arg(long, env = "KURZ_REDIS_TTL_SECS", default_value_t = 3_600)]
    pub redis_ttl_secs: u64,

    /// Milliseconds one Redis call may take before it counts as a failure.
    #[arg(long, env = "KURZ_REDIS_TIMEOUT_MS", default_value_t = 50)]
    pub redis_timeout_ms: u64,

    /// Consecutive Redis failures that open the circuit breaker.
    #[arg(long, env = "KURZ_BREAKER_FAILURES", default_value_t = 5)]
    pub breaker_failures: u32,

    /// Milliseconds the breaker stays open before it probes Redis again.
    #[arg(long, env = "KURZ_BREAKER_COOLDOWN_MS", default_value_t = 2_000)]
    pub breaker_cooldown_ms: u64,

    /// Milliseconds a write waits for other replicas to acknowledge an invalidation.
    #[arg(long, env = "KURZ_INVALIDATION_ACK_TIMEOUT_MS", default_value_t = 250)]
    pub invalidation_ack_timeout_ms: u64,

    /// Redirect events the in-memory queue holds.
    #[arg(long, env = "KURZ_EVENT_QUEUE_CAPACITY", default_value_t = 65_536)]
    pub event_queue_capacity: usize,

    /// Most events written per batch.
    #[arg(long, env = "KURZ_EVENT_BATCH_MAX", default_value_t = 2_000)]
    pub event_batch_max: usize,

    /// Milliseconds a small batch waits for more events before it is written.
    #[arg(long, env = "KURZ_EVENT_LINGER_MS", default_value_t = 40)]
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

    /// Record Prometheus metrics and serve `/metrics` (off: a 404 there, and
    /// no recording cost on the request path).
    #[arg(long, env = "KURZ_METRICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub metrics: bool,

    /// OTLP/HTTP collector for traces, e.g. `http://otel-collector:4318`.
    /// Unset: no tracing at all.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Which spans are exported when tracing is on (`tracing` filter syntax).
    #[arg(long, env = "KURZ_TRACE_FILTER", default_value = "info,kurz=debug")]
    pub trace_filter: String,

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
            .field("redis", &self.redis_url.as_ref().map(|_| "configured"))
            .field("cache_capacity", &self.cache_capacity)
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
            redis_url: None,
            redis_prefix: "kurz:".into(),
            cache_capacity: 100_000,
            cache_ttl_secs: 60,
            cache_negative_ttl_ms: 2_000,
            cache_degraded_ttl_ms: 1_000,
            redis_ttl_secs: 3_600,
            redis_timeout_ms: 50,
            breaker_failures: 5,
            breaker_cooldown_ms: 2_000,
            invalidation_ack_timeout_ms: 250,
            event_queue_capacity: 65_536,
            event_batch_max: 2_000,
            event_linger_ms: 40,
            shutdown_timeout_secs: 25,
            migrate_on_start: true,
            metrics: true,
            otlp_endpoint: None,
            trace_filter: "info,kurz=debug".into(),
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
        if let Some(redis) = self.redis_url.as_deref().filter(|u| !u.trim().is_empty()) {
            if !(redis.starts_with("redis://")
                || redis.starts_with("rediss://")
                || redis.starts_with("unix://"))
            {
                problems.push("REDIS_URL must start with redis://, rediss:// or unix://".into());
            }
        }
        if self.cache_capacity == 0 {
            problems.push("KURZ_CACHE_CAPACITY must be at least 1".into());
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

    pub fn cache(&self) -> CacheSettings {
        let shared = self
            .redis_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|url| SharedSettings {
                url: url.to_owned(),
                prefix: self.redis_prefix.clone(),
                ttl: Duration::from_secs(self.redis_ttl_secs),
                timeout: Duration::from_millis(self.redis_timeout_ms.max(1)),
                breaker_failures: self.breaker_failures,
                breaker_cooldown: Duration::from_millis(self.breaker_cooldown_ms),
                ack_timeout: Duration::from_millis(self.invalidation_ack_timeout_ms),
            });
        CacheSettings {
            capacity: self.cache_capacity,
            ttl: Duration::from_secs(self.cache_ttl_secs.max(1)),
            negative_ttl: Duration::from_millis(self.cache_negative_ttl_ms),
            degraded_ttl: Duration::from_millis(self.cache_degraded_ttl_ms),
            shared,
        }
    }

    pub fn log_settings(&self) -> crate::telemetry::logging::LogSettings<'_> {
        crate::telemetry::logging::LogSettings {
            filter: &self.log,
            format: self.log_format,
            trace_filter: &self.trace_filter,
            otlp_endpoint: self.otlp_endpoint.as_deref(),
        }
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}
