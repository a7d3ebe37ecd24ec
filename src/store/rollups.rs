//! The roll-ups behind link reports, kept by the event writer: each batch
//! of redirects is summed in memory (`Rollup::of`) and merged into six
//! tables in the batch's own transaction, so a report never disagrees with
//! the event log it summarises.
//!
//! - `link_hourly`, and `link_day_counts` coarser: redirects and bot
//!   redirects per link and hour (day);
//! - `link_facets`, and `link_month_facets` coarser: human redirects per
//!   link, day (month) and referrer host, browser, OS, device class or
//!   country;
//! - `link_daily`: distinct visitors, first and last human redirect per
//!   link and day;
//! - `link_visitors_seen`: who was already counted that day (a visitor
//!   hash is only unique within its day; see `analytics`).
//!
//! Each table gets one statement per batch (`rollup_merge`), in key order
//! (neighbouring keys share index pages); `rollup_rebuild` rebuilds them
//! all from the event log.

use hashbrown::{Equivalent, HashMap, HashSet};

use crate::domain::{CountryCode, RedirectEvent};
use chrono::{NaiveDate, NaiveDateTime, Timelike};

/// A referrer that is not there: the visitor typed or pasted the link.
pub const DIRECT: &str = "direct";

/// The facets a report breaks redirects down by, as stored (`country`
/// only for redirects whose country is known).
pub const FACETS: [&str; 5] = ["referrer", "browser", "os", "device", "country"];

/// The referrer, browser, OS, device and country of an imported redirect,
/// as `rollup_rebuild` reads a redirect without a reading (no country).
const IMPORTED_FACETS: [Option<&str>; 5] = [
    Some(DIRECT),
    Some("Other"),
    Some("Other"),
    Some("other"),
    None,
];

/// When a human redirect came, first and last, within one link's day.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) first: NaiveDateTime,
    pub(super) last: NaiveDateTime,
}

impl Span {
    fn widen(&mut self, at: NaiveDateTime) {
        self.first = self.first.min(at);
        self.last = self.last.max(at);
    }
}

/// A breakdown row's key: link, day, facet, value.
pub(super) type FacetKey = (i64, NaiveDate, &'static str, Box<str>);

/// A `FacetKey` with a borrowed value: looks a row up without copying the
/// value (it hashes exactly as the tuple does: field by field, in order).
#[derive(Hash)]
struct FacetRef<'a>(i64, NaiveDate, &'static str, &'a str);

impl Equivalent<FacetKey> for FacetRef<'_> {
    fn equivalent(&self, key: &FacetKey) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2 && self.3 == &*key.3
    }
}

/// Sums of redirects, kept in hash maps while they grow (one batch, or
/// every batch of a `RollupWindow`) and sorted only when merged
/// (`rollup_merge`), so that every replica writes rows in key order.
#[derive(Debug, Default)]
pub(crate) struct Rollup {
    pub(super) hourly: HashMap<(i64, NaiveDateTime), (i64, i64)>,
    pub(super) facets: HashMap<FacetKey, i64>,
    pub(super) daily: HashMap<(i64, NaiveDate), Span>,
    /// Visitors the store may not have counted yet (see `SeenVisitors`).
    pub(super) seen: HashSet<(i64, NaiveDate, i64)>,
}

fn hour_of(at: NaiveDateTime) -> NaiveDateTime {
    at.date().and_time(chrono::NaiveTime::MIN) + chrono::Duration::hours(i64::from(at.hour()))
}

/// A map's entries in key order.
pub(super) fn sorted<K: Ord, V>(map: &HashMap<K, V>) -> Vec<(&K, &V)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

impl Rollup {
    /// Adds `batch` to these sums, leaving out of `seen` the visitors
    /// `known` already saw counted in the store. Eight hash look-ups per
    /// human redirect; a facet value is copied only when it is new here.
    pub(crate) fn add(&mut self, batch: &[RedirectEvent], known: &SeenVisitors) {
        for event in batch {
            let agent = &event.visitor.agent.reading;
            let counts = self
                .hourly
                .entry((event.url_id, hour_of(event.timestamp)))
                .or_default();
            if agent.bot {
                counts.1 += 1;
                continue;
            }
            counts.0 += 1;
            let referrer = event.referrer_host().unwrap_or(DIRECT);
            self.add_human_facets(
                event.url_id,
                event.timestamp,
                [
                    Some(referrer),
                    Some(&*agent.browser),
                    Some(&*agent.os),
                    Some(agent.device.as_str()),
                    event.visitor.country.as_ref().map(CountryCode::as_str),
                ],
            );
            let key = (event.url_id, event.timestamp.date(), event.visitor.id);
            if !known.contains(&key) {
                self.seen.insert(key);
            }
        }
    }

    /// Adds one imported redirect, counted as `rebuild_rollups` counts
    /// it: human, no referrer, browser and OS `Other`, device `other`, no
    /// country and no visitor (an import carries no reading of its own).
    pub(crate) fn add_imported(&mut self, url_id: i64, at: NaiveDateTime) {
        self.hourly.entry((url_id, hour_of(at))).or_default().0 += 1;
        self.add_human_facets(url_id, at, IMPORTED_FACETS);
    }

    /// Counts a human redirect in its day's breakdowns (one value per
    /// facet of `FACETS`, `None` where unknown) and widens the day's span.
    /// A facet value is copied only when it is new here.
    fn add_human_facets(&mut self, url_id: i64, at: NaiveDateTime, values: [Option<&str>; 5]) {
        let day = at.date();
        for (facet, value) in FACETS.into_iter().zip(values) {
            let Some(value) = value else { continue };
            match self.facets.get_mut(&FacetRef(url_id, day, facet, value)) {
                Some(n) => *n += 1,
                None => {
                    self.facets.insert((url_id, day, facet, value.into()), 1);
                }
            }
        }
        self.daily
            .entry((url_id, day))
            .and_modify(|span| span.widen(at))
            .or_insert(Span {
                first: at,
                last: at,
            });
    }

    /// How many rows the sums hold.
    pub(super) fn rows(&self) -> usize {
        self.hourly.len() + self.facets.len() + self.daily.len() + self.seen.len()
    }
}

/// Most visitor keys remembered; past it the memo starts over (the store
/// still decides, it is only asked more often).
const SEEN_CAPACITY: usize = 100_000;

/// The `(link, day, visitor)` keys this process knows the store has
/// counted, so a returning visitor costs no row in the next batch. The
/// store's `link_visitors_seen` stays the authority (several replicas
/// count into it); keys are added only after their batch committed.
#[derive(Debug, Default)]
pub(crate) struct SeenVisitors(std::collections::HashSet<(i64, NaiveDate, i64)>);

impl SeenVisitors {
    fn contains(&self, key: &(i64, NaiveDate, i64)) -> bool {
        self.0.contains(key)
    }

    /// Remembers a committed batch's visitors; forgets days before
    /// `oldest`, and everything when full.
    pub(crate) fn remember(
        &mut self,
        committed: HashSet<(i64, NaiveDate, i64)>,
        oldest: NaiveDate,
    ) {
        if self.0.len() + committed.len() > SEEN_CAPACITY {
            self.0.clear();
        }
        self.0.retain(|(_, day, _)| *day >= oldest);
        self.0.extend(committed);
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}
