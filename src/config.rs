//! Settings: every knob, from flags or environment variables (`Settings`),
//! parsed once at start into typed sections (`Config`: server, store,
//! cache, events, telemetry). Every default is a constant in `defaults`,
//! read by both clap and `Settings::for_database`; every value that would
//! need clamping is an error instead, naming the variable.
//!
//! Tests build `Settings` in code and change fields; nothing else in the
//! crate reads the environment.

mod sections;

use std::fmt;
use std::net::SocketAddr;

use clap::{Args, ValueEnum};

pub use sections::{Config, ConfigError, ServerConfig, StoreConfig};

/// The one place every default is written.
pub mod defaults {
    pub const BIND: &str = "127.0.0.1:8080";
    pub const SQLITE_PATH: &str = "kurz.db";
    pub const DB_MAX_CONNECTIONS: u32 = 16;
    pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
    pub const CSV_BODY_LIMIT: usize = 64 * 1024 * 1024;
    pub const REDIS_PREFIX: &str = "kurz:";
    pub const CACHE_CAPACITY: u64 = 100_000;
    pub const CACHE_TTL_SECS: u64 = 60;
    pub const CACHE_NEGATIVE_TTL_MS: u64 = 2_000;
    pub const CACHE_DEGRADED_TTL_MS: u64 = 1_000;
    pub const REDIS_TTL_SECS: u64 = 3_600;
    pub const REDIS_TIMEOUT_MS: u64 = 50;
    pub const BREAKER_FAILURES: u32 = 5;
    pub const BREAKER_COOLDOWN_MS: u64 = 2_000;
    pub const INVALIDATION_ACK_TIMEOUT_MS: u64 = 250;
    pub const EVENT_QUEUE_CAPACITY: usize = 65_536;
    /// Event batching per engine (see docs/decisions.md, "Redirect events").
    pub const PG_EVENT_BATCH_MAX: usize = 20_000;
    pub const PG_EVENT_LINGER_MS: u64 = 250;
    pub const SQLITE_EVENT_BATCH_MAX: usize = 20_000;
    pub const SQLITE_EVENT_LINGER_MS: u64 = 250;
    pub const ROLLUP_WINDOW_MS: u64 = 1_000;
    pub const EVENT_OVERFLOW_WAIT_MS: u64 = 100;
    pub const EVENT_LAG_BUDGET_MS: u64 = 300;
    pub const SHUTDOWN_TIMEOUT_SECS: u64 = 25;
    pub const SHUTDOWN_DRAIN_MS: u64 = 0;
    pub const REQUEST_TIMEOUT_MS: u64 = 60_000;
    pub const LISTEN_BACKLOG: u32 = 4096;
    pub const MAX_CONNECTIONS: usize = 10_000;
    pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;
    pub const MAX_HEADER_BYTES: usize = 32 * 1024;
    /// Rate limits when KURZ_AUTH=keys and none is set (per second).
    pub const KEYS_MODE_REDIRECTS_PER_SEC: u32 = 200;
    pub const KEYS_MODE_WRITES_PER_SEC: u32 = 20;
    pub const LOG: &str = "info";
    pub const TRACE_FILTER: &str = "info,kurz=debug";
}

/// `KURZ_AUTH`: who may call the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// No keys: the open hackathon contract. Fine on loopback; on any other
    /// address it must be chosen explicitly.
    Off,
    /// Bearer API keys on every endpoint but redirects, health and docs.
    Keys,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Everything `kurz serve` can be told, as given.
#[derive(Clone, Args)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "KURZ_BIND", default_value = defaults::BIND)]
    pub bind: SocketAddr,

    /// `off` (an open API, the contract mode) or `keys` (bearer API keys).
    /// Unset: `off` on a loopback address; any other address refuses to
    /// start until it is chosen.
    #[arg(long, env = "KURZ_AUTH", value_enum)]
    pub auth: Option<AuthArg>,

    /// The admin key (every right), at least 16 characters. Prefer
    /// KURZ_ADMIN_KEY_FILE: the environment of a process is easy to read.
    #[arg(long, env = "KURZ_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,

    /// A file holding the admin key (surrounding white space ignored).
    #[arg(long, env = "KURZ_ADMIN_KEY_FILE")]
    pub admin_key_file: Option<std::path::PathBuf>,

    /// `postgres://…` for PostgreSQL, `sqlite:PATH` for SQLite. Unset: the
    /// embedded SQLite file at --sqlite-path.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// The embedded database file, used when DATABASE_URL is unset.
    #[arg(long, env = "KURZ_SQLITE_PATH", default_value = defaults::SQLITE_PATH)]
    pub sqlite_path: String,

    /// Most database connections this process opens (SQLite: one writer
    /// plus at most 8 readers).
    #[arg(long, env = "KURZ_DB_MAX_CONNECTIONS", default_value_t = defaults::DB_MAX_CONNECTIONS)]
    pub db_max_connections: u32,

    /// Lists streamed from the database at once; more wait their turn (up
    /// to 3 s, then 503). 0: twice the cores.
    #[arg(long, env = "KURZ_DB_LIST_STREAMS", default_value_t = 0)]
    pub db_list_streams: u32,

    /// Largest JSON body accepted, in bytes (413 above it).
    #[arg(long, env = "KURZ_JSON_BODY_LIMIT", default_value_t = defaults::JSON_BODY_LIMIT)]
    pub json_body_limit: usize,

    /// Largest CSV upload accepted by /users/bulk, in bytes.
    #[arg(long, env = "KURZ_CSV_BODY_LIMIT", default_value_t = defaults::CSV_BODY_LIMIT)]
    pub csv_body_limit: usize,

    /// Refuse short links to loopback, private and link-local hosts.
    #[arg(long, env = "KURZ_BLOCK_PRIVATE_TARGETS", default_value_t = false)]
    pub block_private_targets: bool,

    /// A file of target domains to refuse (one per line, `#` comments; a
    /// domain covers its subdomains), read again on SIGHUP.
    #[arg(long, env = "KURZ_DENY_LIST_FILE")]
    pub deny_list_file: Option<std::path::PathBuf>,

    /// `redis://…` for the shared cache tier and cross-replica invalidation.
    /// Unset: local cache only (right for a single process).
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and channel kurz uses.
    #[arg(long, env = "KURZ_REDIS_PREFIX", default_value = defaults::REDIS_PREFIX)]
    pub redis_prefix: String,

    /// Most links held in the in-process cache.
    #[arg(long, env = "KURZ_CACHE_CAPACITY", default_value_t = defaults::CACHE_CAPACITY)]
    pub cache_capacity: u64,

    /// Seconds a link stays in the in-process cache (safety net behind invalidation).
    #[arg(long, env = "KURZ_CACHE_TTL_SECS", default_value_t = defaults::CACHE_TTL_SECS)]
    pub cache_ttl_secs: u64,

    /// Milliseconds an unknown code is remembered as unknown (0: not at all).
    #[arg(long, env = "KURZ_CACHE_NEGATIVE_TTL_MS", default_value_t = defaults::CACHE_NEGATIVE_TTL_MS)]
    pub cache_negative_ttl_ms: u64,

    /// Answer codes no link has from an in-process filter of every stored
    /// code, without a database round trip (used only without Redis).
    #[arg(long, env = "KURZ_CODE_FILTER", default_value_t = true, action = clap::ArgAction::Set)]
    pub code_filter: bool,

    /// Milliseconds an entry lives while Redis or its subscription is down.
    #[arg(long, env = "KURZ_CACHE_DEGRADED_TTL_MS", default_value_t = defaults::CACHE_DEGRADED_TTL_MS)]
    pub cache_degraded_ttl_ms: u64,

    /// Seconds a link stays in Redis.
    #[arg(long, env = "KURZ_REDIS_TTL_SECS", default_value_t = defaults::REDIS_TTL_SECS)]
    pub redis_ttl_secs: u64,

    /// Milliseconds one Redis call may take before it counts as a failure.
    #[arg(long, env = "KURZ_REDIS_TIMEOUT_MS", default_value_t = defaults::REDIS_TIMEOUT_MS)]
    pub redis_timeout_ms: u64,

    /// Consecutive Redis failures that open the circuit breaker.
    #[arg(long, env = "KURZ_BREAKER_FAILURES", default_value_t = defaults::BREAKER_FAILURES)]
    pub breaker_failures: u32,

    /// Milliseconds the breaker stays open before it probes Redis again.
    #[arg(long, env = "KURZ_BREAKER_COOLDOWN_MS", default_value_t = defaults::BREAKER_COOLDOWN_MS)]
    pub breaker_cooldown_ms: u64,

    /// Milliseconds a write waits for other replicas to acknowledge an invalidation.
    #[arg(long, env = "KURZ_INVALIDATION_ACK_TIMEOUT_MS", default_value_t = defaults::INVALIDATION_ACK_TIMEOUT_MS)]
    pub invalidation_ack_timeout_ms: u64,

    /// Redirect events the in-memory queue holds.
    #[arg(long, env = "KURZ_EVENT_QUEUE_CAPACITY", default_value_t = defaults::EVENT_QUEUE_CAPACITY)]
    pub event_queue_capacity: usize,

    /// Most events written per batch (default 20000 on both engines).
    #[arg(long, env = "KURZ_EVENT_BATCH_MAX")]
    pub event_batch_max: Option<usize>,

    /// Milliseconds a small batch waits for more events before it is
    /// written (default 250 on both engines).
    #[arg(long, env = "KURZ_EVENT_LINGER_MS")]
    pub event_linger_ms: Option<u64>,

    /// Milliseconds of the event writer's pace the queue may hold before
    /// redirects wait for room, so that events reach `GET /events` within
    /// a second; 0 bounds the queue by its capacity alone.
    #[arg(long, env = "KURZ_EVENT_LAG_BUDGET_MS", default_value_t = defaults::EVENT_LAG_BUDGET_MS)]
    pub event_lag_budget_ms: u64,

    /// Milliseconds the event writer sums the reports' roll-ups before
    /// merging them; reports follow redirects by up to this.
    #[arg(long, env = "KURZ_ROLLUP_WINDOW_MS", default_value_t = defaults::ROLLUP_WINDOW_MS)]
    pub rollup_window_ms: u64,

    /// While event writes fail: milliseconds a redirect waits for room in a
    /// full event queue before its event is dropped (and counted).
    #[arg(long, env = "KURZ_EVENT_OVERFLOW_WAIT_MS", default_value_t = defaults::EVENT_OVERFLOW_WAIT_MS)]
    pub event_overflow_wait_ms: u64,

    /// Seconds a graceful stop may take (in-flight requests, then the event queue).
    #[arg(long, env = "KURZ_SHUTDOWN_TIMEOUT_SECS", default_value_t = defaults::SHUTDOWN_TIMEOUT_SECS)]
    pub shutdown_timeout_secs: u64,

    /// Milliseconds a stopping replica keeps serving with readiness failing
    /// (503) before it closes its listener, so a load balancer that polls
    /// readiness takes it out first. 0 (the default) closes at once; behind
    /// nginx or Kubernetes, set it above the readiness poll interval.
    #[arg(long, env = "KURZ_SHUTDOWN_DRAIN_MS", default_value_t = defaults::SHUTDOWN_DRAIN_MS)]
    pub shutdown_drain_ms: u64,

    /// Redirects per second per client IP (0: unlimited). Unset: unlimited
    /// with KURZ_AUTH=off, 200 with keys.
    #[arg(long, env = "KURZ_RATE_LIMIT_REDIRECTS")]
    pub rate_limit_redirects: Option<u32>,

    /// Writes per second per API key, or per client IP without one (0:
    /// unlimited). Unset: unlimited with KURZ_AUTH=off, 20 with keys.
    #[arg(long, env = "KURZ_RATE_LIMIT_WRITES")]
    pub rate_limit_writes: Option<u32>,

    /// Comma-separated IPs of proxies (nginx) whose X-Forwarded-For is
    /// believed for the client address. Unset: none; the peer is the client.
    #[arg(long, env = "KURZ_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// Milliseconds a handler may take to start its answer; slower ones
    /// answer 503 JSON.
    #[arg(long, env = "KURZ_REQUEST_TIMEOUT_MS", default_value_t = defaults::REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,

    /// Pending connections the kernel queues for us (bursts of new clients).
    #[arg(long, env = "KURZ_LISTEN_BACKLOG", default_value_t = defaults::LISTEN_BACKLOG)]
    pub listen_backlog: u32,

    /// Open connections at most; further ones wait in the backlog.
    #[arg(long, env = "KURZ_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Milliseconds a client has to send a whole request head; also how long
    /// an idle kept-alive connection stays open.
    #[arg(long, env = "KURZ_HEADER_READ_TIMEOUT_MS", default_value_t = defaults::HEADER_READ_TIMEOUT_MS)]
    pub header_read_timeout_ms: u64,

    /// Largest request head (request line and headers) in bytes; 431 above.
    #[arg(long, env = "KURZ_MAX_HEADER_BYTES", default_value_t = defaults::MAX_HEADER_BYTES)]
    pub max_header_bytes: usize,

    /// Days of events kept (PostgreSQL: whole months older than this are
    /// dropped, one partition at a time). 0, the default: keep everything.
    #[arg(long, env = "KURZ_EVENT_RETENTION_DAYS", default_value_t = 0)]
    pub event_retention_days: u32,

    /// Run pending migrations at start.
    #[arg(long, env = "KURZ_MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate_on_start: bool,

    /// Log filter, e.g. `info` or `kurz=debug,sqlx=warn`.
    #[arg(long, env = "KURZ_LOG", default_value = defaults::LOG)]
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
    #[arg(long, env = "KURZ_TRACE_FILTER", default_value = defaults::TRACE_FILTER)]
    pub trace_filter: String,

    /// Log line format.
    #[arg(long, env = "KURZ_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,

    /// The address short links are published under (QR codes, the web
    /// page), e.g. `https://kz.example`. Unset: `http://<bind address>`.
    #[arg(long, env = "KURZ_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Secret from which each day's visitor-hash salt is derived (at least
    /// 16 characters; every replica needs the same one for unique-visitor
    /// counts to agree). Unset: a random one per process. Never stored.
    #[arg(long, env = "KURZ_ANALYTICS_SECRET", hide_env_values = true)]
    pub analytics_secret: Option<String>,

    /// A MaxMind-format country database (GeoLite2-Country.mmdb): redirects
    /// then record the visitor's country. Unset: no country.
    #[arg(long, env = "KURZ_GEOIP_DB")]
    pub geoip_db: Option<std::path::PathBuf>,
}

impl fmt::Debug for Settings {
    // The database URL may carry a password: show only its scheme.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let engine = crate::store::engine_of(&self.database_url()).unwrap_or("unknown");
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("auth", &self.auth)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "set"))
            .field("database", &engine)
            .field("db_max_connections", &self.db_max_connections)
            .field("db_list_streams", &self.db_list_streams)
            .field("json_body_limit", &self.json_body_limit)
            .field("csv_body_limit", &self.csv_body_limit)
            .field("block_private_targets", &self.block_private_targets)
            .field("redis", &self.redis_url.as_ref().map(|_| "configured"))
            .field("cache_capacity", &self.cache_capacity)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The defaults, on the given database and a free loopback port.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        use defaults as d;
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            auth: None,
            admin_key: None,
            admin_key_file: None,
            database_url: Some(database_url.into()),
            sqlite_path: d::SQLITE_PATH.into(),
            db_max_connections: d::DB_MAX_CONNECTIONS,
            db_list_streams: 0,
            json_body_limit: d::JSON_BODY_LIMIT,
            csv_body_limit: d::CSV_BODY_LIMIT,
            block_private_targets: false,
            deny_list_file: None,
            redis_url: None,
            redis_prefix: d::REDIS_PREFIX.into(),
            cache_capacity: d::CACHE_CAPACITY,
            cache_ttl_secs: d::CACHE_TTL_SECS,
            cache_negative_ttl_ms: d::CACHE_NEGATIVE_TTL_MS,
            cache_degraded_ttl_ms: d::CACHE_DEGRADED_TTL_MS,
            code_filter: true,
            redis_ttl_secs: d::REDIS_TTL_SECS,
            redis_timeout_ms: d::REDIS_TIMEOUT_MS,
            breaker_failures: d::BREAKER_FAILURES,
            breaker_cooldown_ms: d::BREAKER_COOLDOWN_MS,
            invalidation_ack_timeout_ms: d::INVALIDATION_ACK_TIMEOUT_MS,
            event_queue_capacity: d::EVENT_QUEUE_CAPACITY,
            event_batch_max: None,
            event_linger_ms: None,
            event_lag_budget_ms: d::EVENT_LAG_BUDGET_MS,
            event_overflow_wait_ms: d::EVENT_OVERFLOW_WAIT_MS,
            rollup_window_ms: d::ROLLUP_WINDOW_MS,
            shutdown_timeout_secs: d::SHUTDOWN_TIMEOUT_SECS,
            shutdown_drain_ms: d::SHUTDOWN_DRAIN_MS,
            rate_limit_redirects: None,
            rate_limit_writes: None,
            trusted_proxies: Vec::new(),
            request_timeout_ms: d::REQUEST_TIMEOUT_MS,
            listen_backlog: d::LISTEN_BACKLOG,
            max_connections: d::MAX_CONNECTIONS,
            header_read_timeout_ms: d::HEADER_READ_TIMEOUT_MS,
            max_header_bytes: d::MAX_HEADER_BYTES,
            event_retention_days: 0,
            migrate_on_start: true,
            metrics: true,
            otlp_endpoint: None,
            trace_filter: d::TRACE_FILTER.into(),
            log: d::LOG.into(),
            log_format: LogFormat::Json,
            public_url: None,
            analytics_secret: None,
            geoip_db: None,
        }
    }

    /// The database to use: DATABASE_URL, or the embedded SQLite file.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => format!("sqlite:{}", self.sqlite_path),
        }
    }
}

#[cfg(test)]
mod tests;
