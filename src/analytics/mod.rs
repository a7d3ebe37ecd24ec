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

use crate::domain::{Agent, Visitor};

/// Distinct user agents whose reading is kept.
const AGENT_CACHE_ENTRIES: usize = 4_096;

/// A user agent's text and its reading, as cached: every redirect from
/// the same browser shares both (the event keeps the text for `details`).
#[derive(Clone)]
struct Reading {
    text: Arc<str>,
    agent: Arc<Agent>,
}

/// What `Analytics::observe` makes of a redirect.
pub struct Observed {
    pub visitor: Visitor,
    /// The user agent's text, shared with the cache.
    pub user_agent: Option<Arc<str>>,
}

/// Reads redirects for their reports. One per process.
pub struct Analytics {
    parser: Parser,
    agents: quick_cache::sync::Cache<Box<str>, Reading>,
    /// The reading of a request without a user agent, made once.
    no_agent: Arc<Agent>,
    salter: Arc<Salter>,
    countries: Option<Arc<Countries>>,
}

impl Analytics {
    pub fn new(salter: Arc<Salter>, countries: Option<Arc<Countries>>) -> Self {
        let parser = Parser::new();
        Self {
            no_agent: Arc::new(classify(&parser, None)),
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
        referrer: Option<&str>,
        user_agent: Option<&str>,
    ) -> Observed {
        let reading = user_agent.map(|ua| match self.agents.get(ua) {
            Some(reading) => reading,
            None => {
                let reading = Reading {
                    text: ua.into(),
                    agent: Arc::new(classify(&self.parser, Some(ua))),
                };
                self.agents.insert(ua.into(), reading.clone());
                reading
            }
        });
        let (text, agent) = match reading {
            Some(Reading { text, agent }) => (Some(text), agent),
            None => (None, self.no_agent.clone()),
        };
        Observed {
            visitor: Visitor {
                id: self.salter.visitor(now.date(), ip, user_agent),
                referrer_host: referrer.and_then(referrer_host),
                country: self
                    .countries
                    .as_ref()
                    .zip(ip)
                    .and_then(|(c, ip)| c.country(ip)),
                agent,
            },
            user_agent: text,
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
            Some("https://t.co/x"),
            Some("Mozilla/5.0 (compatible; Googlebot/2.1)"),
        );
        let (a, b) = (&first.visitor, &second.visitor);
        assert!(Arc::ptr_eq(&a.agent, &b.agent));
        let (text_a, text_b) = (first.user_agent.unwrap(), second.user_agent.unwrap());
        assert!(Arc::ptr_eq(&text_a, &text_b));
        assert_eq!(&*text_a, "Mozilla/5.0 (compatible; Googlebot/2.1)");
        assert!(a.agent.bot);
        let anonymous = analytics.observe(now, None, None, None).visitor;
        let again = analytics.observe(now, None, None, None);
        assert!(again.user_agent.is_none());
        let again = again.visitor;
        assert!(Arc::ptr_eq(&anonymous.agent, &again.agent));
        assert!(!anonymous.agent.bot);
        assert_eq!(b.referrer_host.as_deref(), Some("t.co"));
        assert_eq!(a.id, b.id);
    }
}
