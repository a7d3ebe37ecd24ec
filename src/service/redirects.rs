//! Where a redirect is served: resolve the code through the cache tiers
//! (no store round trip on a hit), decide found / gone / unknown, and queue
//! the `redirect` event. Nothing here waits on a database write.

use super::{Service, ServiceResult};
use crate::domain::{now_utc, RedirectEvent, ShortCode};

/// Who followed a link, as far as the event log keeps it. `None` for a HEAD
/// request, which records nothing.
#[derive(Debug, Clone, Default)]
pub struct Visit {
    pub referrer: Option<Box<str>>,
    pub user_agent: Option<Box<str>>,
}

/// What a short link answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// Active: the stored target (the caller appends the request's query).
    Found(String),
    /// Deactivated: 410.
    Gone,
    /// Never existed, or deleted: 404.
    Unknown,
}

impl Service {
    /// Resolves `code`; for an active link with a `visit`, queues its event.
    pub async fn follow(&self, code: &ShortCode, visit: Option<Visit>) -> ServiceResult<Redirect> {
        let Some(link) = self.links.resolve(code).await? else {
            return Ok(Redirect::Unknown);
        };
        if !link.is_active {
            return Ok(Redirect::Gone);
        }
        if let Some(visit) = visit {
            self.events
                .record(RedirectEvent {
                    url_id: link.url_id,
                    user_id: link.user_id,
                    timestamp: now_utc(),
                    short_code: code.as_str().into(),
                    referrer: visit.referrer,
                    user_agent: visit.user_agent,
                })
                .await;
        }
        Ok(Redirect::Found(link.original_url))
    }
}
