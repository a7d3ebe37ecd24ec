//! A redirect waiting to be logged, and the `details` object it becomes.
//!
//! A saturated replica holds up to the event queue's capacity of these
//! (65,536 by default) plus the batch being written, so the event is kept
//! to 80 bytes with one small allocation, its code: what most redirects
//! lack (a referrer) is boxed, what many share (the user agent's text and
//! reading) is one pointer, and the country is two bytes.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::Visitor;

#[derive(Debug, Clone)]
pub struct RedirectEvent {
    pub url_id: i64,
    pub user_id: i64,
    pub timestamp: NaiveDateTime,
    pub short_code: Box<str>,
    pub referrer: Option<Box<Referrer>>,
    /// What the reports group by (kept beside `details`, not in it).
    pub visitor: Visitor,
}

/// The page a redirect came from: the `Referer` header as sent, and the
/// host that reports group by (`www.` dropped; `None` when the header
/// names none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub url: Box<str>,
    pub host: Option<Box<str>>,
}

/// The `details` object of a redirect event, as stored.
#[derive(Serialize)]
pub struct RedirectDetails<'a> {
    pub short_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
}

impl RedirectEvent {
    pub fn details(&self) -> RedirectDetails<'_> {
        RedirectDetails {
            short_code: &self.short_code,
            referrer: self.referrer.as_ref().map(|r| &*r.url),
            user_agent: self.visitor.agent.text.as_deref(),
        }
    }

    /// The referring host reports group by; `None`: direct.
    pub fn referrer_host(&self) -> Option<&str> {
        self.referrer.as_ref().and_then(|r| r.host.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::RedirectEvent;

    #[test]
    fn a_queued_event_stays_small() {
        let size = std::mem::size_of::<RedirectEvent>();
        assert!(size <= 80, "{size} bytes");
    }
}
