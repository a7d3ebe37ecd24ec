//! The shared tier: Redis, one round trip per look-up, every call behind the
//! circuit breaker and a short time-out, so Redis trouble never becomes
//! user trouble.
//!
//! Writers invalidate by deleting the key and publishing the codes on the
//! invalidation channel; every replica's subscriber drops them locally,
//! deletes the key again (to undo a fill that raced the write) and
//! acknowledges. The writer waits for as many acknowledgements as PUBLISH
//! reported receivers, so when its request returns, every listening replica
//! has forgotten the old value.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::Rng;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;

use super::breaker::{Breaker, BreakerState};
use crate::domain::Link;

/// How to reach Redis and how patient to be with it.
#[derive(Debug, Clone)]
pub struct SharedSettings {
    pub url: String,
    /// Prefix of every key and of the channel; lets tenants share a server.
    pub prefix: String,
    pub ttl: Duration,
    pub timeout: Duration,
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
    pub ack_timeout: Duration,
}

pub struct SharedCache {
    pub(super) client: redis::Client,
    conn: ConnectionManager,
    breaker: Breaker,
    settings: SharedSettings,
    /// True while the invalidation subscription is up.
    pub(super) listening: AtomicBool,
}

impl SharedCache {
    pub fn connect(settings: SharedSettings) -> redis::RedisResult<Self> {
        let client = redis::Client::open(settings.url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout.max(Duration::from_millis(250))))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self {
            client,
            conn,
            breaker: Breaker::new(settings.breaker_failures, settings.breaker_cooldown),
            settings,
            listening: AtomicBool::new(false),
        })
    }

    pub fn channel(&self) -> String {
        format!("{}invalidate", self.settings.prefix)
    }

    fn key(&self, code: &str) -> String {
        format!("{}link:{code}", self.settings.prefix)
    }

    fn ack_key(&self, id: &str) -> String {
        format!("{}ack:{id}", self.settings.prefix)
    }

    /// Usable for coherence: subscribed, and the breaker lets calls through.
    pub fn healthy(&self) -> bool {
        self.listening.load(Ordering::Acquire) && self.breaker.state() == BreakerState::Closed
    }

    /// Runs one Redis call through the breaker; `None` when skipped or failed.
    async fn call<T, F>(&self, op: &'static str, call: F) -> Option<T>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        if !self.breaker.allow() {
            metrics::counter!("kurz_cache_redis_skipped_total", "op" => op).increment(1);
            return None;
        }
        match tokio::time::timeout(self.settings.timeout, call).await {
            Ok(Ok(value)) => {
                self.breaker.record_success();
                Some(value)
            }
            Ok(Err(error)) => {
                self.breaker.record_failure();
                metrics::counter!("kurz_cache_redis_errors_total", "op" => op).increment(1);
                tracing::debug!(op, error = %error, "redis call failed");
                None
            }
            Err(_) => {
                self.breaker.record_failure();
                metrics::counter!("kurz_cache_redis_errors_total", "op" => op).increment(1);
                tracing::debug!(op, "redis call timed out");
                None
            }
        }
    }

    pub async fn get(&self, code: &str) -> Option<Link> {
        let mut conn = self.conn.clone();
        let key = self.key(code);
        let raw: Option<String> = self.call("get", async move { conn.get(key).await }).await?;
        raw.as_deref().and_then(decode)
    }

    pub async fn set(&self, code: &str, link: &Link) {
        let mut conn = self.conn.clone();
        let key = self.key(code);
        let value = encode(link);
        let ttl = self.settings.ttl.as_secs().max(1);
        self.call("set", async move {
            conn.set_ex::<_, _, ()>(key, value, ttl).await
        })
        .await;
    }

    pub async fn delete(&self, codes: &[String]) {
        if codes.is_empty() {
            return;
        }
        let mut conn = self.conn.clone();
        let keys: Vec<String> = codes.iter().map(|c| self.key(c)).collect();
        self.call("del", async move { conn.del::<_, ()>(keys).await })
            .await;
    }

    /// Publishes the codes and waits (up to `ack_timeout`) until every
    /// replica that received them has acknowledged.
    pub async fn broadcast(&self, codes: &[String]) {
        if codes.is_empty() {
            return;
        }
        let id = format!("{:016x}", rand::rng().random::<u64>());
        let payload = format!("{id} {}", codes.join(","));
        let mut conn = self.conn.clone();
        let channel = self.channel();
        let Some(receivers) = self
            .call("publish", async move {
                conn.publish::<_, _, i64>(channel, payload).await
            })
            .await
        else {
            return;
        };
        let deadline = tokio::time::Instant::now() + self.settings.ack_timeout;
        let ack_key = self.ack_key(&id);
        loop {
            let mut conn = self.conn.clone();
            let key = ack_key.clone();
            let acks: i64 = self
                .call(
                    "ack_get",
                    async move { conn.get::<_, Option<i64>>(key).await },
                )
                .await
                .flatten()
                .unwrap_or(0);
            if acks >= receivers {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                metrics::counter!("kurz_cache_invalidation_ack_timeouts_total").increment(1);
                tracing::warn!(
                    receivers,
                    acks,
                    "not every replica acknowledged an invalidation in time"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// What a subscriber does with one invalidation message: the caller has
    /// already dropped the codes locally.
    pub(super) async fn acknowledge(&self, id: &str, codes: &[String]) {
        self.delete(codes).await;
        let mut conn = self.conn.clone();
        let key = self.ack_key(id);
        self.call("ack", async move {
            redis::pipe()
                .incr(&key, 1)
                .ignore()
                .expire(&key, 60)
                .ignore()
                .query_async::<()>(&mut conn)
                .await
        })
        .await;
    }

    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        self.call("ping", async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await
        .is_some()
    }
}

/// `2|url_id|user_id|active|expires_at|max_redirects|target` (empty for
/// none; the target goes last, so it may hold `|`). The leading version
/// makes an entry written by an older release a miss, not a misreading.
fn encode(link: &Link) -> String {
    let expires = link
        .expires_at
        .map(|at| at.and_utc().timestamp().to_string())
        .unwrap_or_default();
    let max = link
        .max_redirects
        .map(|m| m.to_string())
        .unwrap_or_default();
    format!(
        "2|{}|{}|{}|{expires}|{max}|{}",
        link.url_id,
        link.user_id,
        u8::from(link.is_active),
        link.original_url
    )
}

fn decode(raw: &str) -> Option<Link> {
    let mut parts = raw.strip_prefix("2|")?.splitn(6, '|');
    let url_id = parts.next()?.parse().ok()?;
    let user_id = parts.next()?.parse().ok()?;
    let is_active = parts.next()? == "1";
    let expires_at = match parts.next()? {
        "" => None,
        secs => Some(chrono::DateTime::from_timestamp(secs.parse().ok()?, 0)?.naive_utc()),
    };
    let max_redirects = match parts.next()? {
        "" => None,
        max => Some(max.parse().ok()?),
    };
    let original_url = parts.next()?.into();
    Some(Link {
        url_id,
        user_id,
        original_url,
        is_active,
        expires_at,
        max_redirects,
    })
}

/// Splits an invalidation message into its id and codes.
pub(super) fn parse_message(payload: &str) -> Option<(&str, Vec<String>)> {
    let (id, codes) = payload.split_once(' ')?;
    Some((
        id,
        codes
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_survive_the_round_trip_even_with_pipes_in_the_target() {
        let link = Link {
            url_id: 7,
            user_id: 9,
            original_url: "https://e.com/a|b?c=|".into(),
            is_active: false,
            expires_at: crate::domain::parse_timestamp("2030-01-31T23:59:59"),
            max_redirects: Some(100),
        };
        assert_eq!(decode(&encode(&link)), Some(link.clone()));
        let plain = Link {
            expires_at: None,
            max_redirects: None,
            ..link
        };
        assert_eq!(decode(&encode(&plain)), Some(plain));
        assert_eq!(decode("garbage"), None);
        // An entry in the format before expiry: a miss.
        assert_eq!(decode("7|9|1|https://e.com/"), None);
    }

    #[test]
    fn messages_carry_an_id_and_codes() {
        assert_eq!(
            parse_message("ab12 x,y"),
            Some(("ab12", vec!["x".to_owned(), "y".to_owned()]))
        );
        assert_eq!(parse_message("nospace"), None);
    }
}
