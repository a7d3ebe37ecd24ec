//! Reports against a scan of the event log: random redirect batches (bots,
//! referrers, visitors, ten weeks of days and hours) go through the
//! writer's path (some summed in a roll-up window first), then every count of `Store::stats` must equal what
//! reading the events themselves gives, for the whole life, for one day
//! and for a range that starts and ends inside a day and a month (so every
//! roll-up tier answers a part); and rebuilding the roll-ups from the log
//! changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime, Timelike};
use kurz::domain::{
    now_utc, Agent, CountryCode, Device, Granularity, RedirectEvent, Referrer, SeenAgent, Stats,
    StatsRange, StatsScope, Visitor,
};
use kurz::store::{RollupWindow, Store};
use kurz_testkit::{scripted_codes, test_settings, Engine};
use rand::{Rng, SeedableRng};

use super::{link, user};

type Row = (
    NaiveDateTime,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
    Option<String>,
);

const SCAN: &str =
    "SELECT timestamp, visitor, referrer_host, browser, os, device, bot, country FROM events \
     WHERE url_id = $1 AND event_type = 'redirect'";

/// The rows of the event log itself.
async fn scan(url: &str, url_id: i64) -> Vec<Row> {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query_as(SCAN)
            .bind(url_id)
            .fetch_all(&pool)
            .await
            .unwrap()
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query_as(SCAN)
            .bind(url_id)
            .fetch_all(&pool)
            .await
            .unwrap()
    }
}

/// The report a scan of `rows` gives over `range`: counts and series
/// within the hours of its ends, the rest within their days.
fn report_of(rows: &[Row], range: StatsRange) -> Stats {
    let from = range.from.map_or(NaiveDateTime::MIN, |at| {
        at.date().and_hms_opt(at.hour(), 0, 0).unwrap()
    });
    let until = range.to.map_or(NaiveDateTime::MAX, |at| {
        at.date().and_hms_opt(at.hour(), 0, 0).unwrap() + Duration::hours(1)
    });
    let (first_day, last_day) = (from.date(), range.to.map_or(NaiveDate::MAX, |at| at.date()));
    let mut stats = Stats::default();
    let mut visitors = BTreeSet::new();
    let mut facets: [HashMap<String, i64>; 5] = Default::default();
    let mut series: BTreeMap<NaiveDateTime, i64> = BTreeMap::new();
    for (at, visitor, referrer, browser, os, device, bot, country) in rows {
        let counted = from <= *at && *at < until;
        if bot.unwrap() {
            stats.bot_redirects += i64::from(counted);
            continue;
        }
        if counted {
            stats.redirects += 1;
            *series
                .entry(at.date().and_hms_opt(0, 0, 0).unwrap())
                .or_default() += 1;
        }
        if at.date() < first_day || at.date() > last_day {
            continue;
        }
        visitors.insert((at.date(), visitor.unwrap()));
        stats.first_redirect_at = Some(stats.first_redirect_at.map_or(*at, |f| f.min(*at)));
        stats.last_redirect_at = Some(stats.last_redirect_at.map_or(*at, |l| l.max(*at)));
        let values = [
            referrer.clone().unwrap_or("direct".into()),
            browser.clone().unwrap(),
            os.clone().unwrap(),
            device.clone().unwrap(),
        ];
        for (facet, value) in facets.iter_mut().zip(values) {
            *facet.entry(value).or_default() += 1;
        }
        if let Some(country) = country {
            *facets[4].entry(country.clone()).or_default() += 1;
        }
    }
    stats.unique_visitors = visitors.len() as i64;
    stats.series = series
        .into_iter()
        .map(|(start, redirects)| kurz::domain::Bucket { start, redirects })
        .collect();
    let top = |counts: &HashMap<String, i64>| {
        let mut all: Vec<_> = counts
            .iter()
            .map(|(v, n)| kurz::domain::Tally {
                value: v.clone(),
                redirects: *n,
            })
            .collect();
        all.sort_by(|a, b| b.redirects.cmp(&a.redirects).then(a.value.cmp(&b.value)));
        all.truncate(10);
        all
    };
    stats.referrers = top(&facets[0]);
    stats.browsers = top(&facets[1]);
    stats.operating_systems = top(&facets[2]);
    stats.devices = top(&facets[3]);
    stats.countries = top(&facets[4]);
    stats
}

fn agents() -> Vec<Arc<SeenAgent>> {
    let agent = |browser: &str, os: &str, device, bot| {
        Arc::new(SeenAgent {
            text: None,
            reading: Agent {
                browser: browser.into(),
                os: os.into(),
                device,
                bot,
            },
        })
    };
    vec![
        agent("Chrome", "Windows", Device::Desktop, false),
        agent("Safari", "iOS", Device::Mobile, false),
        agent("Firefox", "Linux", Device::Desktop, false),
        agent("Safari", "iOS", Device::Tablet, false),
        agent("Googlebot", "Other", Device::Bot, true),
        agent("Other", "Other", Device::Bot, true),
    ]
}

pub async fn reports_equal_a_scan_of_the_event_log(engine: Engine) {
    let (settings, _db) = test_settings(engine).await;
    let url = settings.database_url();
    let store = Store::connect(&url, 4)
        .await
        .unwrap()
        .with_codes(scripted_codes(&[]));
    store.migrate().await.unwrap();
    let owner = user(&store).await;
    let links = [
        store.create_url(&link(owner, None)).await.unwrap(),
        store.create_url(&link(owner, None)).await.unwrap(),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let agents = agents();
    let referrers = [
        None,
        Some("news.example"),
        Some("t.co"),
        Some("mail.example"),
    ];
    let weeks = 10;
    let start = now_utc() - Duration::weeks(weeks);
    // The first four batches are summed in a window, merged by a flush.
    let mut window = RollupWindow::new(std::time::Duration::from_secs(3600));
    for batch_no in 0..6 {
        let batch: Vec<RedirectEvent> = (0..400)
            .map(|_| {
                let link = &links[rng.random_range(0..2)];
                RedirectEvent {
                    url_id: link.id.get(),
                    user_id: owner.get(),
                    timestamp: start + Duration::minutes(rng.random_range(0..weeks * 7 * 24 * 60)),
                    short_code: link.short_code.as_str().into(),
                    referrer: referrers[rng.random_range(0..referrers.len())].map(|host| {
                        Box::new(Referrer {
                            url: format!("https://{host}/").into(),
                            host: Some(host.into()),
                        })
                    }),
                    visitor: Visitor {
                        id: rng.random_range(0..40),
                        country: [None, Some("DE"), Some("FR")][rng.random_range(0..3)]
                            .and_then(CountryCode::parse),
                        agent: agents[rng.random_range(0..agents.len())].clone(),
                    },
                }
            })
            .collect();
        if batch_no >= 4 {
            store.append_redirects(&batch).await.unwrap();
            continue;
        }
        store
            .append_redirects_within(&batch, &mut window)
            .await
            .unwrap();
        if batch_no == 3 {
            let open = StatsRange {
                from: None,
                to: None,
                granularity: Granularity::Day,
            };
            let before = store.stats(StatsScope::User(owner.get()), open).await;
            assert_eq!(before.unwrap(), Stats::default(), "the window is pending");
            store.flush_rollups(&mut window).await.unwrap();
            assert!(window.is_empty());
        }
    }
    let whole = StatsRange {
        from: None,
        to: None,
        granularity: Granularity::Day,
    };
    let day_two = (start.date() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let one_day = StatsRange {
        from: Some(day_two),
        to: Some(day_two + Duration::seconds(86_399)),
        granularity: Granularity::Day,
    };
    // Inside a day and a month at each end, a whole month between.
    let ragged = StatsRange {
        from: Some(start + Duration::days(2) + Duration::minutes(317)),
        to: Some(start + Duration::days(66) + Duration::minutes(1_060)),
        granularity: Granularity::Day,
    };
    for link in &links {
        let rows = scan(&url, link.id.get()).await;
        let stats = store
            .stats(StatsScope::Link(link.id.get()), whole)
            .await
            .unwrap();
        assert!(
            stats.redirects > 500 && stats.bot_redirects > 100,
            "{stats:?}"
        );
        assert_eq!(stats, report_of(&rows, whole));
        let day = store
            .stats(StatsScope::Link(link.id.get()), one_day)
            .await
            .unwrap();
        assert_eq!(day, report_of(&rows, one_day));
        let part = store
            .stats(StatsScope::Link(link.id.get()), ragged)
            .await
            .unwrap();
        assert_eq!(part, report_of(&rows, ragged));
        assert!(part.redirects < stats.redirects && part.redirects > stats.redirects / 2);
        let hourly = StatsRange {
            granularity: Granularity::Hour,
            ..whole
        };
        let by_hour = store
            .stats(StatsScope::Link(link.id.get()), hourly)
            .await
            .unwrap();
        assert_eq!(
            by_hour.series.iter().map(|b| b.redirects).sum::<i64>(),
            stats.redirects
        );
        assert!(by_hour.series.len() > stats.series.len());
    }
    let both = store
        .stats(StatsScope::User(owner.get()), whole)
        .await
        .unwrap();
    let mut rows = scan(&url, links[0].id.get()).await;
    rows.extend(scan(&url, links[1].id.get()).await);
    let scanned = report_of(&rows, whole);
    assert_eq!(
        (both.redirects, both.bot_redirects),
        (scanned.redirects, scanned.bot_redirects)
    );
    assert_eq!(both.browsers, scanned.browsers);
    assert_eq!(both.countries, scanned.countries);
    // Rebuilt from the log, every tier says the same.
    let before = [whole, ragged, one_day].map(|range| (range, StatsScope::User(owner.get())));
    let mut reports = Vec::new();
    for (range, scope) in before {
        reports.push(store.stats(scope, range).await.unwrap());
    }
    store.rebuild_rollups().await.unwrap();
    for ((range, scope), report) in before.into_iter().zip(reports) {
        assert_eq!(store.stats(scope, range).await.unwrap(), report);
    }
}
