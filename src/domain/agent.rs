//! What a redirect's report groups by: the visitor's browser and OS
//! families, device class and bot flag (`Agent`), and the anonymous
//! visitor and referrer host beside them (`Visitor`). Reading a user
//! agent into an `Agent` is `analytics`' job; these are the plain values.

use std::sync::Arc;

/// The device class of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    Other,
}

impl Device {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::Bot => "bot",
            Self::Other => "other",
        }
    }
}

/// One user agent, as reports group it. Shared: many redirects carry the
/// same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub browser: Arc<str>,
    pub os: Arc<str>,
    pub device: Device,
    /// A crawler, link previewer or headless browser: recorded, never counted.
    pub bot: bool,
}

/// What a redirect's event carries for its reports.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Salted daily hash of address and user agent (see `analytics`).
    pub id: i64,
    /// The referring page's host, `www.` dropped; `None`: direct.
    pub referrer_host: Option<Box<str>>,
    /// ISO 3166-1 code, when a country database is configured and knows.
    pub country: Option<Box<str>>,
    pub agent: Arc<Agent>,
}
