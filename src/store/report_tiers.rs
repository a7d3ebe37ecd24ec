//! Which roll-up tier answers which part of a report's range. The counts
//! are kept per hour and per day, the breakdowns per day and per month: a
//! range is read as the whole days (months) it covers from the coarse tier
//! plus the partial days (months) at its ends from the fine one, so a
//! report over a year reads about 365 count rows and twelve months of
//! breakdowns instead of 8,760 hours and 365 days of them.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// A span of a tier, both ends included; `None` reads nothing.
pub(super) type Span<T> = Option<(T, T)>;

/// A range cut into a fine head, a coarse middle and a fine tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tiers<Fine, Coarse> {
    pub(super) head: Span<Fine>,
    pub(super) whole: Span<Coarse>,
    pub(super) tail: Span<Fine>,
}

impl<Fine, Coarse> Tiers<Fine, Coarse> {
    /// Reads nothing.
    pub(super) fn none() -> Self {
        Self {
            head: None,
            whole: None,
            tail: None,
        }
    }

    /// Everything from the fine tier.
    pub(super) fn fine_only(first: Fine, last: Fine) -> Self {
        Self {
            head: Some((first, last)),
            whole: None,
            tail: None,
        }
    }
}

fn start_of(day: NaiveDate) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN)
}

/// Cuts the hours `[first, last]` (each the start of an hour) into the
/// hours before the first whole day, the whole days, and the hours after
/// the last whole day.
pub(super) fn hours_and_days(
    first: NaiveDateTime,
    last: NaiveDateTime,
) -> Tiers<NaiveDateTime, NaiveDate> {
    if first > last {
        return Tiers::none();
    }
    let first_day = if first.hour() == 0 {
        Some(first.date())
    } else {
        first.date().succ_opt()
    };
    let last_day = if last.hour() == 23 {
        Some(last.date())
    } else {
        last.date().pred_opt()
    };
    let (Some(first_day), Some(last_day)) = (first_day, last_day) else {
        return Tiers::fine_only(first, last);
    };
    if first_day > last_day {
        return Tiers::fine_only(first, last);
    }
    let hour = chrono::Duration::hours(1);
    let head_end = start_of(first_day) - hour;
    let tail_start = start_of(last_day) + chrono::Duration::days(1);
    Tiers {
        head: (first <= head_end).then_some((first, head_end)),
        whole: Some((first_day, last_day)),
        tail: (tail_start <= last).then_some((tail_start, last)),
    }
}

/// The first day of `day`'s month.
fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// Cuts the days `[first, last]` into the days before the first whole
/// month, the whole months (each named by its first day), and the days
/// after the last whole month.
pub(super) fn days_and_months(first: NaiveDate, last: NaiveDate) -> Tiers<NaiveDate, NaiveDate> {
    if first > last {
        return Tiers::none();
    }
    let first_month = if first.day() == 1 {
        Some(first)
    } else {
        month_of(first).checked_add_months(Months::new(1))
    };
    let after_last = last.succ_opt();
    let last_month = match after_last {
        // `last` ends its month.
        Some(next) if next.day() == 1 => Some(month_of(last)),
        None => Some(month_of(last)),
        Some(_) => month_of(last).checked_sub_months(Months::new(1)),
    };
    let (Some(first_month), Some(last_month)) = (first_month, last_month) else {
        return Tiers::fine_only(first, last);
    };
    if first_month > last_month {
        return Tiers::fine_only(first, last);
    }
    let head_end = first_month.checked_sub_days(Days::new(1));
    let tail_start = last_month.checked_add_months(Months::new(1));
    Tiers {
        head: head_end.filter(|end| first <= *end).map(|end| (first, end)),
        whole: Some((first_month, last_month)),
        tail: tail_start
            .filter(|start| *start <= last)
            .map(|start| (start, last)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M").unwrap()
    }

    fn day(raw: &str) -> NaiveDate {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn whole_days_come_from_the_day_tier_and_the_ends_from_hours() {
        let tiers = hours_and_days(at("2026-03-01 05:00"), at("2026-03-04 17:00"));
        assert_eq!(
            tiers.head,
            Some((at("2026-03-01 05:00"), at("2026-03-01 23:00")))
        );
        assert_eq!(tiers.whole, Some((day("2026-03-02"), day("2026-03-03"))));
        assert_eq!(
            tiers.tail,
            Some((at("2026-03-04 00:00"), at("2026-03-04 17:00")))
        );
    }

    #[test]
    fn aligned_ranges_have_no_ends_and_short_ones_no_middle() {
        let aligned = hours_and_days(at("2026-03-01 00:00"), at("2026-03-02 23:00"));
        assert_eq!(aligned.head, None);
        assert_eq!(aligned.tail, None);
        assert_eq!(aligned.whole, Some((day("2026-03-01"), day("2026-03-02"))));
        let short = hours_and_days(at("2026-03-01 05:00"), at("2026-03-02 04:00"));
        assert_eq!(
            short,
            Tiers::fine_only(at("2026-03-01 05:00"), at("2026-03-02 04:00"))
        );
        let backwards = hours_and_days(at("2026-03-02 05:00"), at("2026-03-01 04:00"));
        assert_eq!(
            (backwards.head, backwards.whole, backwards.tail),
            (None, None, None)
        );
    }

    #[test]
    fn whole_months_come_from_the_month_tier() {
        let tiers = days_and_months(day("2026-01-15"), day("2026-04-10"));
        assert_eq!(tiers.head, Some((day("2026-01-15"), day("2026-01-31"))));
        assert_eq!(tiers.whole, Some((day("2026-02-01"), day("2026-03-01"))));
        assert_eq!(tiers.tail, Some((day("2026-04-01"), day("2026-04-10"))));
        let february = days_and_months(day("2028-02-01"), day("2028-02-29"));
        assert_eq!(
            (february.head, february.whole, february.tail),
            (None, Some((day("2028-02-01"), day("2028-02-01"))), None)
        );
        let within = days_and_months(day("2026-01-02"), day("2026-02-27"));
        assert_eq!(within.whole, None);
        assert_eq!(within.head, Some((day("2026-01-02"), day("2026-02-27"))));
    }

    #[test]
    fn the_open_ends_of_the_calendar_are_whole() {
        let all = hours_and_days(at("0001-01-01 00:00"), at("9999-12-31 23:00"));
        assert_eq!(all.whole, Some((day("0001-01-01"), day("9999-12-31"))));
        assert_eq!((all.head, all.tail), (None, None));
        let all = days_and_months(day("0001-01-01"), day("9999-12-31"));
        assert_eq!(all.whole, Some((day("0001-01-01"), day("9999-12-01"))));
        assert_eq!((all.head, all.tail), (None, None));
    }
}
