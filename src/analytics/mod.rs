//! Turning a redirect's request into what its report needs: the visitor's
//! browser, OS and device class, a bot flag, the referrer's host, the
//! country (with a MaxMind database) and an anonymous visitor hash
//! (`Visitor`). Runs on the redirect path, so a
//! user agent is read once and its `Agent` cached (links are followed by
//! the same few browsers over and over).

mod agent;
mod geo;
mod referrer;
mod visitor;

use std::net::IpAddr;
use std::sync::Arc;

use chrono::NaiveDateTime;
use woothee::parser::Parser;

pub use agent::classify;
pub use geo::Countries;
pub use referrer::referrer_host;
pub use visitor::Salter;

use crate::domain::{Referrer, SeenAgent, Visitor};

/// Distinct user agents whose reading is kept.
const AGENT_CACHE_ENTRIES: usize = 4_096;

/// What `Analytics::observe` makes of a redirect.
pub struct Observed {
    pub visitor: Visitor,
    /// The referring page and its host; boxed, as the event keeps it.
    pub referrer: Option<Box<Referrer>>,
}

/// Reads redirects for their reports. One per process.
pub struct Analytics {
    parser: Parser,
    agents: quick_cache::sync::Cache<Box<str>, Arc<SeenAgent>>,
    /// The reading of a request without a user agent, made once.
    no_agent: Arc<SeenAgent>,
    salter: Arc<Salter>,
    countries: Option<Arc<Countries>>,
}

impl Analytics {
    pub fn new(salter: Arc<Salter>, countries: Option<Arc<Countries>>) -> Self {
        let parser = Parser::new();
        Self {
            no_agent: Arc::new(SeenAgent {
                text: None,
                reading: classify(&parser, None),
            }),
            parser,
            agents: quick_cache::sync::Cache::new(AGENT_CACHE_ENTRIES),
            salter,
            countries,
        }
    }

    /// What the event of a redirect at `now` from `ip` carries.
    pub fn observe(
        &self,
        now: NaiveDateTime,
        ip: Option<IpAddr>,
        referrer: Option<Box<str>>,
        user_agent: Option<&str>,
    ) -> Observed {
        let agent = match user_agent {
            Some(ua) => match self.agents.get(ua) {
                Some(seen) => seen,
                None => {
                    let seen = Arc::new(SeenAgent {
                        text: Some(ua.into()),
                        reading: classify(&self.parser, Some(ua)),
                    });
                    self.agents.insert(ua.into(), seen.clone());
                    seen
                }
            },
            None => self.no_agent.clone(),
        };
        Observed {
            visitor: Visitor {
                id: self.salter.visitor(now.date(), ip, user_agent),
                country: self
                    .countries
                    .as_ref()
                    .zip(ip)
                    .and_then(|(c, ip)| c.country(ip)),
                agent,
            },
            referrer: referrer.map(|url| {
                let host = referrer_host(&url);
                Box::new(Referrer { url, host })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reading_per_user_agent_is_shared() {
        let analytics = Analytics::new(Arc::new(Salter::random()), None);
        let now = crate::domain::now_utc();
        let first = analytics.observe(
            now,
            None,
            None,
            Some("Mozilla/5.0 (compatible; Googlebot/2.1)"),
        );
        let second = analytics.observe(
            now,
            None,
            Some("https://t.co/x".into()),
            Some("Mozilla/5.0 (compatible; Googlebot/2.1)"),
        );
        let (a, b) = (&first.visitor, &second.visitor);
        assert!(Arc::ptr_eq(&a.agent, &b.agent));
        assert_eq!(
            a.agent.text.as_deref(),
            Some("Mozilla/5.0 (compatible; Googlebot/2.1)")
        );
        assert!(a.agent.reading.bot);
        let anonymous = analytics.observe(now, None, None, None).visitor;
        let again = analytics.observe(now, None, None, None).visitor;
        assert!(again.agent.text.is_none());
        assert!(Arc::ptr_eq(&anonymous.agent, &again.agent));
        assert!(!anonymous.agent.reading.bot);
        assert!(first.referrer.is_none());
        let referrer = second.referrer.as_deref();
        assert_eq!(referrer.map(|r| &*r.url), Some("https://t.co/x"));
        assert_eq!(referrer.and_then(|r| r.host.as_deref()), Some("t.co"));
        assert_eq!(a.id, b.id);
    }
}
