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
const AGENT_CACHE_ENTRIES: u64 = 4_096;

/// Reads redirects for their reports. One per process.
pub struct Analytics {
    parser: Parser,
    agents: moka::sync::Cache<Box<str>, Arc<Agent>>,
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
            agents: moka::sync::Cache::new(AGENT_CACHE_ENTRIES),
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
    ) -> Visitor {
        let agent = match user_agent {
            Some(ua) => match self.agents.get(ua) {
                Some(agent) => agent,
                None => {
                    let agent = Arc::new(classify(&self.parser, Some(ua)));
                    self.agents.insert(ua.into(), agent.clone());
                    agent
                }
            },
            None => self.no_agent.clone(),
        };
        Visitor {
            id: self.salter.visitor(now.date(), ip, user_agent),
            referrer_host: referrer.and_then(referrer_host),
            country: self
                .countries
                .as_ref()
                .zip(ip)
                .and_then(|(c, ip)| c.country(ip)),
            agent,
        }
    }
}

/// The host of a referring URL, lower case, without a leading `www.`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reading_per_user_agent_is_shared() {
        let analytics = Analytics::new(Arc::new(Salter::random()), None);
        let now = crate::domain::now_utc();
        let a = analytics.observe(
            now,
            None,
            None,
            Some("Mozilla/5.0 (compatible; Googlebot/2.1)"),
        );
        let b = analytics.observe(
            now,
            None,
            Some("https://t.co/x"),
            Some("Mozilla/5.0 (compatible; Googlebot/2.1)"),
        );
        assert!(Arc::ptr_eq(&a.agent, &b.agent));
        assert!(a.agent.bot);
        let anonymous = analytics.observe(now, None, None, None);
        let again = analytics.observe(now, None, None, None);
        assert!(Arc::ptr_eq(&anonymous.agent, &again.agent));
        assert!(!anonymous.agent.bot);
        assert_eq!(b.referrer_host.as_deref(), Some("t.co"));
        assert_eq!(a.id, b.id);
    }
}
