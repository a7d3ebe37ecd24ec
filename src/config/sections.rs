//! `Config`: the settings after parsing, one typed section per part of the
//! service. Built once by `Settings::parse`, which checks every value and
//! names each bad one (with its variable) in a single error.

use std::net::SocketAddr;
use std::time::Duration;

use super::{defaults, AuthArg, LogFormat, Settings};
use crate::analytics::Salter;
use crate::api::LimitSettings;
use crate::cache::{CacheSettings, SharedSettings};
use crate::domain::TargetPolicy;
use crate::events::RecorderSettings;
use crate::server::{ConnectionSettings, MIN_HEADER_BYTES};
use crate::service::AuthMode;
use crate::telemetry::logging::{self, LogSettings};

/// Every problem found in the settings, each naming its variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

/// The HTTP side: where to listen, what to accept, how long a stop may take.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub json_body_limit: usize,
    pub csv_body_limit: usize,
    pub target_policy: TargetPolicy,
    pub deny_list_file: Option<std::path::PathBuf>,
    /// How callers authenticate; holds only the admin key's hash.
    pub auth: AuthMode,
    /// Rate limits, trusted proxies and the request deadline.
    pub limits: LimitSettings,
    /// Backlog, connection cap, request-head limits.
    pub connections: ConnectionSettings,
    pub shutdown_timeout: Duration,
    /// How long readiness fails before the listener closes.
    pub shutdown_drain: Duration,
    pub metrics: bool,
    /// `KURZ_PUBLIC_URL` without its trailing `/`; `None`: the bound address.
    pub public_url: Option<String>,
    /// Salts visitor hashes (`KURZ_ANALYTICS_SECRET`, else random).
    pub salter: std::sync::Arc<Salter>,
    /// `KURZ_GEOIP_DB`, read at start.
    pub geoip_db: Option<std::path::PathBuf>,
}

#[derive(Clone)]
pub struct StoreConfig {
    /// `postgres://…` or `sqlite:…`; may hold a password, so not in `Debug`.
    pub url: String,
    pub engine: &'static str,
    pub max_connections: u32,
    /// Lists streamed at once; `None`: twice the cores.
    pub list_streams: Option<u32>,
    pub migrate_on_start: bool,
    /// Days of events kept; `None` keeps everything.
    pub event_retention_days: Option<u32>,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("engine", &self.engine)
            .field("max_connections", &self.max_connections)
            .field("list_streams", &self.list_streams)
            .field("migrate_on_start", &self.migrate_on_start)
            .field("event_retention_days", &self.event_retention_days)
            .finish_non_exhaustive()
    }
}

/// The whole configuration, parsed.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub cache: CacheSettings,
    pub events: RecorderSettings,
    pub telemetry: LogSettings,
}

/// Collects problems while values are read.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn at_least_one<T: PartialOrd + From<u8>>(&mut self, variable: &str, value: T) -> T {
        if value < T::from(1) {
            self.0.push(format!("{variable} must be at least 1"));
        }
        value
    }

    fn filter(
        &mut self,
        variable: &str,
        directives: &str,
    ) -> Option<tracing_subscriber::EnvFilter> {
        logging::parse_filter(directives)
            .map_err(|e| {
                self.0
                    .push(format!("{variable} is not a valid filter: {e}"))
            })
            .ok()
    }
}

/// Shortest admin key or analytics secret accepted.
const MIN_SECRET_CHARS: usize = 16;

impl Settings {
    /// `KURZ_AUTH` and the admin key; protected mode refuses an open API on
    /// a non-loopback address unless it was chosen.
    fn auth_mode(&self, p: &mut Problems) -> AuthMode {
        let auth = match self.auth {
            Some(auth) => auth,
            None if self.bind.ip().is_loopback() => AuthArg::Off,
            None => {
                p.0.push(format!(
                    "KURZ_AUTH is not set and {} is not a loopback address: set KURZ_AUTH=keys \
                     (with KURZ_ADMIN_KEY_FILE) to require API keys, or KURZ_AUTH=off to accept an open API",
                    self.bind.ip()
                ));
                AuthArg::Off
            }
        };
        let from_file = self.admin_key_file.as_ref().and_then(|path| {
            std::fs::read_to_string(path)
                .map_err(|e| {
                    p.0.push(format!("KURZ_ADMIN_KEY_FILE {}: {e}", path.display()))
                })
                .ok()
        });
        let admin_key = from_file
            .as_deref()
            .or(self.admin_key.as_deref())
            .map(str::trim)
            .filter(|k| !k.is_empty());
        if admin_key.is_some_and(|k| k.chars().count() < MIN_SECRET_CHARS) {
            p.0.push(format!(
                "the admin key must be at least {MIN_SECRET_CHARS} characters"
            ));
        }
        match auth {
            AuthArg::Off => AuthMode::Off,
            AuthArg::Keys => AuthMode::keys(admin_key),
        }
    }
}

impl Settings {
    fn limits(&self, p: &mut Problems) -> LimitSettings {
        use super::defaults as d;
        let keys = self.auth == Some(AuthArg::Keys);
        let per_sec = |set: Option<u32>, keys_default: u32| {
            std::num::NonZeroU32::new(set.unwrap_or(if keys { keys_default } else { 0 }))
        };
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|raw| raw.trim())
            .filter(|raw| !raw.is_empty())
            .filter_map(|raw| {
                raw.parse()
                    .map_err(|_| {
                        p.0.push(format!(
                            "KURZ_TRUSTED_PROXIES: {raw:?} is not an IP address"
                        ))
                    })
                    .ok()
            })
            .collect();
        LimitSettings {
            redirects_per_sec: per_sec(self.rate_limit_redirects, d::KEYS_MODE_REDIRECTS_PER_SEC),
            writes_per_sec: per_sec(self.rate_limit_writes, d::KEYS_MODE_WRITES_PER_SEC),
            trusted_proxies,
            request_timeout: millis(
                p.at_least_one("KURZ_REQUEST_TIMEOUT_MS", self.request_timeout_ms),
            ),
        }
    }
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

impl Settings {
    /// `KURZ_PUBLIC_URL`: an http(s) URL with a host, no query or fragment.
    fn public_url(&self, p: &mut Problems) -> Option<String> {
        let raw = self
            .public_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())?;
        let usable = url::Url::parse(raw).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
        });
        if !usable {
            p.0.push("KURZ_PUBLIC_URL must be an http(s) URL like https://kz.example".into());
        }
        Some(raw.trim_end_matches('/').to_owned())
    }

    /// `KURZ_ANALYTICS_SECRET`, at least 16 characters; unset: random.
    fn salter(&self, p: &mut Problems) -> Salter {
        match self.analytics_secret.as_deref().map(str::trim) {
            None | Some("") => Salter::random(),
            Some(secret) => {
                if secret.chars().count() < MIN_SECRET_CHARS {
                    p.0.push(format!(
                        "KURZ_ANALYTICS_SECRET must be at least {MIN_SECRET_CHARS} characters"
                    ));
                }
                Salter::new(secret.as_bytes().to_vec())
            }
        }
    }

    /// Checks every value at once and builds the typed sections.
    pub fn parse(&self) -> Result<Config, ConfigError> {
        let mut p = Problems::default();
        let url = self.database_url();
        let engine = crate::store::engine_of(&url)
            .map_err(|e| p.0.push(e.to_string()))
            .unwrap_or("unknown");
        if self.max_header_bytes < MIN_HEADER_BYTES {
            p.0.push(format!(
                "KURZ_MAX_HEADER_BYTES must be at least {MIN_HEADER_BYTES}"
            ));
        }
        if self.shutdown_drain_ms >= self.shutdown_timeout_secs.saturating_mul(1000) {
            p.0.push(
                "KURZ_SHUTDOWN_DRAIN_MS must be shorter than KURZ_SHUTDOWN_TIMEOUT_SECS".into(),
            );
        }
        let store = StoreConfig {
            url,
            engine,
            max_connections: p.at_least_one("KURZ_DB_MAX_CONNECTIONS", self.db_max_connections),
            list_streams: (self.db_list_streams > 0).then_some(self.db_list_streams),
            migrate_on_start: self.migrate_on_start,
            event_retention_days: (self.event_retention_days > 0)
                .then_some(self.event_retention_days),
        };
        let server = ServerConfig {
            bind: self.bind,
            json_body_limit: p.at_least_one("KURZ_JSON_BODY_LIMIT", self.json_body_limit as u64)
                as usize,
            csv_body_limit: p.at_least_one("KURZ_CSV_BODY_LIMIT", self.csv_body_limit as u64)
                as usize,
            target_policy: TargetPolicy {
                block_private_hosts: self.block_private_targets,
            },
            deny_list_file: self.deny_list_file.clone(),
            auth: self.auth_mode(&mut p),
            limits: self.limits(&mut p),
            connections: ConnectionSettings {
                listen_backlog: p.at_least_one("KURZ_LISTEN_BACKLOG", self.listen_backlog),
                max_connections: p.at_least_one("KURZ_MAX_CONNECTIONS", self.max_connections as u64)
                    as usize,
                header_read_timeout: millis(
                    p.at_least_one("KURZ_HEADER_READ_TIMEOUT_MS", self.header_read_timeout_ms),
                ),
                max_header_bytes: self.max_header_bytes,
            },
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            shutdown_drain: millis(self.shutdown_drain_ms),
            metrics: self.metrics,
            public_url: self.public_url(&mut p),
            salter: std::sync::Arc::new(self.salter(&mut p)),
            geoip_db: self.geoip_db.clone(),
        };
        let redis = self
            .redis_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        if let Some(url) = redis {
            if !["redis://", "rediss://", "unix://"]
                .iter()
                .any(|s| url.starts_with(s))
            {
                p.0.push("REDIS_URL must start with redis://, rediss:// or unix://".into());
            }
        }
        let shared = redis.map(|url| SharedSettings {
            url: url.to_owned(),
            prefix: self.redis_prefix.clone(),
            ttl: Duration::from_secs(p.at_least_one("KURZ_REDIS_TTL_SECS", self.redis_ttl_secs)),
            timeout: millis(p.at_least_one("KURZ_REDIS_TIMEOUT_MS", self.redis_timeout_ms)),
            breaker_failures: p.at_least_one("KURZ_BREAKER_FAILURES", self.breaker_failures),
            breaker_cooldown: millis(self.breaker_cooldown_ms),
            ack_timeout: millis(self.invalidation_ack_timeout_ms),
        });
        let cache = CacheSettings {
            capacity: p.at_least_one("KURZ_CACHE_CAPACITY", self.cache_capacity),
            ttl: Duration::from_secs(p.at_least_one("KURZ_CACHE_TTL_SECS", self.cache_ttl_secs)),
            negative_ttl: millis(self.cache_negative_ttl_ms),
            degraded_ttl: millis(
                p.at_least_one("KURZ_CACHE_DEGRADED_TTL_MS", self.cache_degraded_ttl_ms),
            ),
            code_filter: self.code_filter,
            shared,
        };
        let (default_batch, default_linger) = match engine {
            "postgres" => (defaults::PG_EVENT_BATCH_MAX, defaults::PG_EVENT_LINGER_MS),
            _ => (
                defaults::SQLITE_EVENT_BATCH_MAX,
                defaults::SQLITE_EVENT_LINGER_MS,
            ),
        };
        let events = RecorderSettings {
            queue_capacity: p.at_least_one(
                "KURZ_EVENT_QUEUE_CAPACITY",
                self.event_queue_capacity as u64,
            ) as usize,
            max_batch: p.at_least_one(
                "KURZ_EVENT_BATCH_MAX",
                self.event_batch_max.unwrap_or(default_batch) as u64,
            ) as usize,
            linger: millis(self.event_linger_ms.unwrap_or(default_linger)),
            lag_budget: (self.event_lag_budget_ms > 0).then(|| millis(self.event_lag_budget_ms)),
            overflow_wait: millis(self.event_overflow_wait_ms),
            rollup_window: millis(self.rollup_window_ms),
        };
        let filter = p.filter("KURZ_LOG", &self.log);
        let trace_filter = p.filter("KURZ_TRACE_FILTER", &self.trace_filter);
        let (Some(filter), Some(trace_filter), true) = (filter, trace_filter, p.0.is_empty())
        else {
            return Err(ConfigError(p.0));
        };
        let telemetry = LogSettings {
            filter,
            format: match self.log_format {
                LogFormat::Json => logging::LogFormat::Json,
                LogFormat::Pretty => logging::LogFormat::Pretty,
            },
            trace_filter,
            otlp_endpoint: self.otlp_endpoint.clone().filter(|e| !e.trim().is_empty()),
        };
        Ok(Config {
            server,
            store,
            cache,
            events,
            telemetry,
        })
    }
}
