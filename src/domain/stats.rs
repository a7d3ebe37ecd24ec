//! A report on a link or on all of a user's links: how often it was
//! followed (bots apart), by how many visitors, when, from where and with
//! what. Built from the roll-ups the event writer keeps.

use chrono::NaiveDateTime;

/// How finely the series is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            _ => None,
        }
    }
}

/// The span of a report, both ends included; `None` leaves that end open.
/// Counts and series are kept per hour and are bounded to the hour of
/// each end; breakdowns, visitors and first/last redirect are kept per day
/// and bounded to the day.
#[derive(Debug, Clone, Copy)]
pub struct StatsRange {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub granularity: Granularity,
}

/// Whose report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsScope {
    Link(i64),
    /// Every link the user has now.
    User(i64),
}

/// One bucket of the series: its start and its human redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub start: NaiveDateTime,
    pub redirects: i64,
}

/// One value of a breakdown and its human redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub value: String,
    pub redirects: i64,
}

/// Most values listed per breakdown.
pub const TOP_VALUES: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Human redirects (bots and link previewers are not counted).
    pub redirects: i64,
    pub bot_redirects: i64,
    /// Distinct visitors per day, summed over the days (a visitor hash
    /// lives one day); for a user, summed over the links.
    pub unique_visitors: i64,
    pub first_redirect_at: Option<NaiveDateTime>,
    pub last_redirect_at: Option<NaiveDateTime>,
    /// Buckets with at least one redirect, oldest first.
    pub series: Vec<Bucket>,
    pub referrers: Vec<Tally>,
    pub browsers: Vec<Tally>,
    pub operating_systems: Vec<Tally>,
    pub devices: Vec<Tally>,
    /// ISO 3166-1 codes; empty without a country database.
    pub countries: Vec<Tally>,
}
