//! `kurz import --events` through the service's pipeline (a reader thread,
//! chunks written two at a time): every row lands once, the first of a
//! repeated id wins, and the imported redirects count in the reports
//! exactly as a rebuild of the roll-ups from the event log counts them.

use chrono::{Duration, NaiveDate};
use kurz::domain::{Granularity, StatsRange, StatsScope};
use kurz::service::import::import_events;
use kurz::store::Store;
use kurz_testkit::{test_settings, Engine};

use super::{link, user};

/// More rows than one chunk of the pipeline, so several are in flight.
const ROWS: i64 = 45_000;

pub async fn imported_redirects_count_in_reports_as_a_rebuild_counts_them(engine: Engine) {
    let (settings, _db) = test_settings(engine).await;
    let store = Store::connect(&settings.database_url(), 4).await.unwrap();
    store.migrate().await.unwrap();
    let owner = user(&store).await;
    let links = [
        store.create_url(&link(owner, None)).await.unwrap().id.get(),
        store.create_url(&link(owner, None)).await.unwrap().id.get(),
    ];
    let start = NaiveDate::from_ymd_opt(2026, 3, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let first_id = 1_000_000;
    let mut csv = String::from("id,url_id,user_id,event_type,timestamp,details\n");
    let mut redirects = 0;
    for i in 0..ROWS {
        let at = start + Duration::minutes(i * 7 % (40 * 24 * 60));
        let url_id = links[(i % 2) as usize];
        let (kind, url) = match i % 10 {
            0 => ("created", url_id.to_string()),
            1 => ("redirect", String::new()),
            _ => {
                redirects += 1;
                ("redirect", url_id.to_string())
            }
        };
        csv.push_str(&format!(
            "{},{url},{owner},{kind},{},\"{{\"\"n\"\": {i}}}\"\n",
            first_id + i,
            at.format("%Y-%m-%d %H:%M:%S")
        ));
    }
    // A repeated id (the first row keeps it) and a row that is refused.
    csv.push_str(&format!(
        "{first_id},{},{owner},redirect,2026-03-02 00:00:00,\n",
        links[0]
    ));
    csv.push_str("7,1,1,redirect,2026-03-02 00:00:00,\"[1]\"\n");
    let report = import_events(&store, csv.into()).await.unwrap();
    assert_eq!(report.imported as i64, ROWS + 1, "{report:?}");
    assert_eq!(report.rejected, 1, "{report:?}");
    let again = import_events(
        &store,
        format!("id,event_type\n{},redirect\n", first_id + 5).into(),
    )
    .await
    .unwrap();
    assert_eq!(
        again.imported, 1,
        "an id already stored is accepted untouched"
    );

    let ranges = [Granularity::Day, Granularity::Hour].map(|granularity| StatsRange {
        from: None,
        to: None,
        granularity,
    });
    let mut imported = Vec::new();
    for range in ranges {
        imported.push(
            store
                .stats(StatsScope::User(owner.get()), range)
                .await
                .unwrap(),
        );
    }
    assert_eq!(imported[0].redirects, redirects);
    assert!(
        imported[0].series.len() >= 40,
        "{} days",
        imported[0].series.len()
    );
    store.rebuild_rollups().await.unwrap();
    for (range, report) in ranges.into_iter().zip(imported) {
        let rebuilt = store
            .stats(StatsScope::User(owner.get()), range)
            .await
            .unwrap();
        assert_eq!(rebuilt, report, "{:?}", range.granularity);
    }
}
