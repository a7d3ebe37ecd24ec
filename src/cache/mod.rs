//! Code resolution for redirects: local cache → Redis → store.
//!
//! `Links` is the only way handlers resolve or invalidate a code, so the
//! rule "a write is what every replica serves from the moment its answer is
//! sent" lives here. A local hit never awaits. A miss asks Redis (if
//! configured, behind a breaker), then the store, and fills both tiers;
//! unknown codes are cached locally for a short while so a scan of random
//! codes cannot hammer the database.
//!
//! Without Redis the local cache is coherent by itself: this process makes
//! every write. With Redis, writes are broadcast and acknowledged (see
//! `shared`); while the subscription or Redis is down, new entries live only
//! `degraded_ttl`, which bounds staleness from writes made on other replicas.

mod breaker;
mod keys;
mod local;
mod shared;
mod ttl;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use metrics::Counter;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use keys::KeyCache;
pub use shared::SharedSettings;

use crate::domain::{Link, ShortCode};
use crate::store::{Store, StoreResult};
use crate::telemetry::{stage_timer, Stage};
use local::LocalCache;
use shared::{parse_message, SharedCache};
use tracing::Instrument;

/// Sizes and lifetimes of the cache tiers.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Most entries in the local tier.
    pub capacity: u64,
    /// Lifetime of a cached link; the safety net if an invalidation is lost.
    pub ttl: Duration,
    /// Lifetime of a cached "no such code".
    pub negative_ttl: Duration,
    /// Lifetime of entries made while Redis or the subscription is down.
    pub degraded_ttl: Duration,
    /// Answer unknown codes from the store's filter of stored codes. Used
    /// only without Redis: with it, other replicas' new codes would have to
    /// reach this one's filter before their creator answers, and only
    /// invalidations are broadcast that way.
    pub code_filter: bool,
    pub shared: Option<SharedSettings>,
}

/// Counters for the hot path, registered once so a hit is one atomic add.
struct LookupCounters {
    local_hit: Counter,
    local_miss: Counter,
    local_negative: Counter,
    filter_absent: Counter,
    redis_hit: Counter,
    redis_miss: Counter,
    store_hit: Counter,
    store_negative: Counter,
}

impl LookupCounters {
    fn new() -> Self {
        let c = |tier: &'static str, result: &'static str| metrics::counter!("kurz_cache_lookups_total", "tier" => tier, "result" => result);
        Self {
            local_hit: c("local", "hit"),
            local_miss: c("local", "miss"),
            local_negative: c("local", "negative"),
            filter_absent: c("filter", "negative"),
            redis_hit: c("redis", "hit"),
            redis_miss: c("redis", "miss"),
            store_hit: c("store", "hit"),
            store_negative: c("store", "negative"),
        }
    }
}

#[derive(Clone)]
pub struct Links {
    store: Arc<Store>,
    local: Arc<LocalCache>,
    shared: Option<Arc<SharedCache>>,
    settings: Arc<CacheSettings>,
    counters: Arc<LookupCounters>,
    /// Credentials of API keys, invalidated through the same channel.
    keys: Arc<KeyCache>,
}

impl Links {
    /// Builds the tiers; with Redis configured, also returns the subscriber
    /// task, which runs until `stop` is cancelled.
    pub fn start(
        store: Arc<Store>,
        settings: CacheSettings,
        stop: CancellationToken,
    ) -> anyhow::Result<(Self, Option<JoinHandle<()>>)> {
        let shared = match &settings.shared {
            Some(s) => Some(Arc::new(SharedCache::connect(s.clone())?)),
            None => None,
        };
        let links = Self {
            store,
            local: Arc::new(LocalCache::new(
                usize::try_from(settings.capacity).unwrap_or(usize::MAX),
            )),
            shared,
            settings: Arc::new(settings),
            counters: Arc::new(LookupCounters::new()),
            keys: Arc::default(),
        };
        if links.shared.is_some() {
            metrics::gauge!("kurz_cache_subscription_up").set(0.0);
        }
        let subscriber = links.shared.clone().map(|shared| {
            tokio::spawn(listen(
                shared,
                links.local.clone(),
                links.keys.clone(),
                stop,
            ))
        });
        Ok((links, subscriber))
    }

    /// The link behind a code; `None` when it does not resolve.
    pub async fn resolve(&self, code: &ShortCode) -> StoreResult<Option<Link>> {
        let local = {
            let _span = tracing::debug_span!("cache.local").entered();
            let _time = stage_timer(Stage::CacheLocal);
            self.local.get(code.as_str())
        };
        if let Some(hit) = local {
            match &hit.link {
                Some(_) => self.counters.local_hit.increment(1),
                None => self.counters.local_negative.increment(1),
            }
            return Ok(hit.link.clone());
        }
        self.counters.local_miss.increment(1);
        if self.filters_codes() && self.store.surely_lacks_code(code.as_str()) {
            self.counters.filter_absent.increment(1);
            return Ok(None);
        }
        let epoch = self.local.epoch();
        let healthy = self.shared.as_ref().is_none_or(|s| s.healthy());
        let bounded = |ttl: Duration| {
            if healthy {
                ttl
            } else {
                ttl.min(self.settings.degraded_ttl)
            }
        };
        if let Some(shared) = &self.shared {
            let shared_hit = {
                let _time = stage_timer(Stage::CacheRedis);
                shared
                    .get(code.as_str())
                    .instrument(tracing::debug_span!("cache.redis", op = "get"))
                    .await
            };
            if let Some(link) = shared_hit {
                self.counters.redis_hit.increment(1);
                self.local.insert_unless_invalidated(
                    code.as_str(),
                    Some(link.clone()),
                    bounded(self.settings.ttl),
                    epoch,
                );
                return Ok(Some(link));
            }
            self.counters.redis_miss.increment(1);
        }
        let link = self.store.find_link(code).await?;
        match &link {
            Some(found) => {
                self.counters.store_hit.increment(1);
                self.local.insert_unless_invalidated(
                    code.as_str(),
                    link.clone(),
                    bounded(self.settings.ttl),
                    epoch,
                );
                if let Some(shared) = &self.shared {
                    if self.local.epoch() == epoch {
                        shared.set(code.as_str(), found).await;
                        // A write landed meanwhile: take back what we wrote.
                        if self.local.epoch() != epoch {
                            shared.delete(&[code.as_str().to_owned()]).await;
                        }
                    }
                }
            }
            None => {
                self.counters.store_negative.increment(1);
                self.local.insert_unless_invalidated(
                    code.as_str(),
                    None,
                    bounded(self.settings.negative_ttl),
                    epoch,
                );
            }
        }
        Ok(link)
    }

    /// Whether unknown codes are answered from the store's code filter;
    /// then `Store::keep_known_codes` must run beside the cache.
    pub fn filters_codes(&self) -> bool {
        self.settings.code_filter && self.shared.is_none()
    }

    /// Called after a URL was created: a code may have been cached as
    /// unknown. A custom alias may have been probed before, so it is
    /// invalidated everywhere; a fresh random code can only be in the local
    /// negative cache by a one-in-billions guess, and that entry expires
    /// within `negative_ttl`, so dropping it here is enough.
    pub async fn created(&self, code: &str, custom_alias: bool) {
        if custom_alias {
            self.invalidate(code).await;
        } else {
            self.local.invalidate(code);
        }
    }

    /// Called after a write changed or removed what `code` resolves to.
    pub async fn invalidate(&self, code: &str) {
        self.invalidate_all(&[code.to_owned()]).await;
    }

    /// The API-key credential tier.
    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }

    /// Drops a revoked key's credential here and on every other replica,
    /// before returning.
    pub async fn invalidate_keys(&self, prefixes: &[String]) {
        let entries: Vec<String> = prefixes.iter().map(|p| format!("{KEY_ENTRY}{p}")).collect();
        self.invalidate_all(&entries).await;
    }

    /// Drops the codes (and `key:` entries) here, in Redis, and on every
    /// other replica, before returning.
    pub async fn invalidate_all(&self, codes: &[String]) {
        for code in codes {
            drop_entry(&self.local, &self.keys, code);
        }
        if let Some(shared) = &self.shared {
            shared.delete(codes).await;
            shared.broadcast(codes).await;
        }
    }

    /// The cache tier's health for readiness; `None` when there is no Redis.
    pub async fn health(&self) -> Option<&'static str> {
        let shared = self.shared.as_ref()?;
        Some(if shared.ping().await && shared.healthy() {
            "ok"
        } else {
            "degraded"
        })
    }
}

/// Listens for invalidations until `stop`, reconnecting with backoff. Every
/// (re)subscription clears the local tier: messages may have been missed.
/// Entries of an invalidation message that name an API key rather than a
/// code (codes never hold a `:`).
const KEY_ENTRY: &str = "key:";

fn drop_entry(local: &LocalCache, keys: &KeyCache, entry: &str) {
    match entry.strip_prefix(KEY_ENTRY) {
        Some(prefix) => keys.invalidate(prefix),
        None => local.invalidate(entry),
    }
}

async fn listen(
    shared: Arc<SharedCache>,
    local: Arc<LocalCache>,
    keys: Arc<KeyCache>,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let subscribed = async {
            let mut pubsub = shared.client.get_async_pubsub().await?;
            pubsub.subscribe(shared.channel()).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let attempt = tokio::select! {
            () = stop.cancelled() => return,
            attempt = tokio::time::timeout(Duration::from_secs(2), subscribed) => attempt,
        };
        if let Ok(Ok(mut pubsub)) = attempt {
            local.clear();
            keys.clear();
            shared.listening.store(true, Ordering::Release);
            metrics::gauge!("kurz_cache_subscription_up").set(1.0);
            backoff = Duration::from_millis(100);
            let mut messages = pubsub.on_message();
            loop {
                let message = tokio::select! {
                    () = stop.cancelled() => {
                        shared.listening.store(false, Ordering::Release);
                        return;
                    }
                    message = messages.next() => message,
                };
                let Some(message) = message else { break };
                let payload: String = message.get_payload().unwrap_or_default();
                if let Some((id, codes)) = parse_message(&payload) {
                    for code in &codes {
                        drop_entry(&local, &keys, code);
                    }
                    metrics::counter!("kurz_cache_invalidations_received_total").increment(1);
                    shared.acknowledge(id, &codes).await;
                }
            }
            shared.listening.store(false, Ordering::Release);
            metrics::gauge!("kurz_cache_subscription_up").set(0.0);
            local.clear();
            keys.clear();
            tracing::warn!("redis invalidation subscription lost; reconnecting");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
