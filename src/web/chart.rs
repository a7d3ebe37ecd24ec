//! The series of a report as an SVG bar chart, drawn on the server so the
//! page needs no JavaScript. Every bar carries its own `<title>` (a
//! tooltip, and text for screen readers); the page lists the same numbers
//! in a table beside it.

use std::fmt::Write as _;

use chrono::{Days, NaiveDate};

const WIDTH: usize = 640;
const HEIGHT: usize = 160;
const GAP: usize = 2;

/// `days` daily buckets ending with `last`, zeros where nothing happened.
pub fn daily_buckets(
    series: &[(NaiveDate, i64)],
    last: NaiveDate,
    days: u64,
) -> Vec<(NaiveDate, i64)> {
    (0..days)
        .rev()
        .filter_map(|back| last.checked_sub_days(Days::new(back)))
        .map(|day| {
            let count = series
                .iter()
                .find(|(d, _)| *d == day)
                .map_or(0, |(_, n)| *n);
            (day, count)
        })
        .collect()
}

/// The bars of `buckets`, scaled to the largest; an accessible SVG.
pub fn bars(buckets: &[(NaiveDate, i64)], label: &str) -> String {
    let most = buckets.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let slot = WIDTH / buckets.len().max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\" \
         preserveAspectRatio=\"none\"><title>{}</title>",
        escape(label),
        escape(label)
    );
    for (i, (day, count)) in buckets.iter().enumerate() {
        let height = (*count as usize * (HEIGHT - 4)) / most as usize;
        let height = if *count > 0 { height.max(2) } else { 0 };
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{height}\"><title>{day}: {count}</title></rect>",
            i * slot + GAP / 2,
            HEIGHT - height,
            slot.saturating_sub(GAP).max(1),
        );
    }
    svg.push_str("</svg>");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_zero_filled_and_bars_scale_to_the_largest() {
        let last = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let series = [
            (last, 4),
            (NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(), 2),
        ];
        let buckets = daily_buckets(&series, last, 3);
        assert_eq!(buckets.iter().map(|b| b.1).collect::<Vec<_>>(), [2, 0, 4]);
        let svg = bars(&buckets, "Redirects <per> day");
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("height=\"156\"") && svg.contains("height=\"78\""));
        assert!(svg.contains("Redirects &lt;per&gt; day"));
    }
}
