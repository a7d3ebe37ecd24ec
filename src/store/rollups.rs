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

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::domain::RedirectEvent;
use chrono::{NaiveDate, NaiveDateTime, Timelike};

/// A referrer that is not there: the visitor typed or pasted the link.
pub const DIRECT: &str = "direct";

/// The facets a report breaks redirects down by, as stored (`country`
/// only for redirects whose country is known).
pub const FACETS: [&str; 5] = ["referrer", "browser", "os", "device", "country"];

/// When a human redirect came, first and last, within one link's day.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) first: NaiveDateTime,
    pub(super) last: NaiveDateTime,
}

/// One batch (or several: `RollupWindow`), summed.
#[derive(Debug, Default, Clone)]
pub(crate) struct Rollup {
    pub(super) hourly: BTreeMap<(i64, NaiveDateTime), (i64, i64)>,
    pub(super) facets: BTreeMap<(i64, NaiveDate, &'static str, String), i64>,
    pub(super) daily: BTreeMap<(i64, NaiveDate), Span>,
    /// Visitors the store may not have counted yet (see `SeenVisitors`).
    pub(super) seen: BTreeSet<(i64, NaiveDate, i64)>,
}

fn hour_of(at: NaiveDateTime) -> NaiveDateTime {
    at.date().and_time(chrono::NaiveTime::MIN) + chrono::Duration::hours(i64::from(at.hour()))
}

impl Rollup {
    /// Sums `batch`, leaving out of `seen` the visitors `known` already
    /// saw counted in the store.
    pub(crate) fn of(batch: &[RedirectEvent], known: &SeenVisitors) -> Self {
        let mut rollup = Self::default();
        for event in batch {
            let agent = &event.visitor.agent;
            let counts = rollup
                .hourly
                .entry((event.url_id, hour_of(event.timestamp)))
                .or_default();
            if agent.bot {
                counts.1 += 1;
                continue;
            }
            counts.0 += 1;
            let day = event.timestamp.date();
            let referrer = event.visitor.referrer_host.as_deref().unwrap_or(DIRECT);
            let values = [
                Some(referrer),
                Some(&*agent.browser),
                Some(&*agent.os),
                Some(agent.device.as_str()),
                event.visitor.country.as_deref(),
            ];
            for (facet, value) in FACETS.into_iter().zip(values) {
                let Some(value) = value else { continue };
                *rollup
                    .facets
                    .entry((event.url_id, day, facet, value.to_owned()))
                    .or_default() += 1;
            }
            rollup.widen(
                (event.url_id, day),
                Span {
                    first: event.timestamp,
                    last: event.timestamp,
                },
            );
            let key = (event.url_id, day, event.visitor.id);
            if !known.contains(&key) {
                rollup.seen.insert(key);
            }
        }
        rollup
    }

    fn widen(&mut self, key: (i64, NaiveDate), span: Span) {
        self.daily
            .entry(key)
            .and_modify(|known| {
                known.first = known.first.min(span.first);
                known.last = known.last.max(span.last);
            })
            .or_insert(span);
    }

    /// Adds another batch's sums to these.
    pub(super) fn absorb(&mut self, other: Rollup) {
        for (key, (humans, bots)) in other.hourly {
            let counts = self.hourly.entry(key).or_default();
            counts.0 += humans;
            counts.1 += bots;
        }
        for (key, n) in other.facets {
            *self.facets.entry(key).or_default() += n;
        }
        for (key, span) in other.daily {
            self.widen(key, span);
        }
        self.seen.extend(other.seen);
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
pub(crate) struct SeenVisitors(HashSet<(i64, NaiveDate, i64)>);

impl SeenVisitors {
    fn contains(&self, key: &(i64, NaiveDate, i64)) -> bool {
        self.0.contains(key)
    }

    /// Remembers a committed batch's visitors; forgets days before
    /// `oldest`, and everything when full.
    pub(crate) fn remember(
        &mut self,
        committed: BTreeSet<(i64, NaiveDate, i64)>,
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
