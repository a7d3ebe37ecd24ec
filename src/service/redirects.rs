//! Where a redirect is served: resolve the code through the cache tiers
//! (no store round trip on a hit), decide found / gone / unknown, and queue
//! the `redirect` event. Nothing here waits on a database write.

use super::{Service, ServiceResult};
use crate::domain::{is_expired, now_utc, RedirectEvent, ShortCode};

/// Who followed a link, as far as the event log keeps it. `None` for a HEAD
/// request, which records nothing.
#[derive(Debug, Clone, Default)]
pub struct Visit<'a> {
    pub referrer: Option<Box<str>>,
    /// Borrowed from the request: the event keeps the cached copy.
    pub user_agent: Option<std::borrow::Cow<'a, str>>,
    /// The client's address (behind a trusted proxy, the forwarded one):
    /// only hashed, never kept.
    pub client_ip: Option<std::net::IpAddr>,
}

/// What a short link answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// Active: the stored target (the caller appends the request's query).
    Found(std::sync::Arc<str>),
    /// Deactivated, expired, or its redirect budget spent: 410.
    Gone,
    /// Never existed, or deleted: 404.
    Unknown,
}

impl Service {
    /// Resolves `code`; for an active link with a `visit`, queues its event.
    /// A link with a redirect budget spends from it in the store first (a
    /// HEAD only asks whether any is left), so the budget holds exactly
    /// across replicas; other links never wait on the store.
    pub async fn follow(
        &self,
        code: &ShortCode,
        visit: Option<Visit<'_>>,
    ) -> ServiceResult<Redirect> {
        let Some(link) = self.links.resolve(code).await? else {
            return Ok(Redirect::Unknown);
        };
        let now = now_utc();
        if !link.is_active || is_expired(link.expires_at, now) {
            return Ok(Redirect::Gone);
        }
        if link.max_redirects.is_some()
            && !self
                .store
                .take_redirect(link.url_id, visit.is_some())
                .await?
        {
            return Ok(Redirect::Gone);
        }
        if let Some(visit) = visit {
            let observed = self.analytics.observe(
                now,
                visit.client_ip,
                visit.referrer,
                visit.user_agent.as_deref(),
            );
            self.events
                .record(RedirectEvent {
                    url_id: link.url_id,
                    user_id: link.user_id,
                    timestamp: now,
                    short_code: code.as_str().into(),
                    referrer: observed.referrer,
                    visitor: observed.visitor,
                })
                .await;
        }
        Ok(Redirect::Found(link.original_url))
    }
}
