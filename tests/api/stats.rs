//! Reports over HTTP: real user agents, referrers and forwarded client
//! addresses through the redirect path; bots and link previewers recorded
//! but not counted, HEAD counting nothing, visitors told apart by address
//! and agent; the range and granularity parameters; 404 and 400.

use std::time::Duration;

use serde_json::{json, Value};

use kurz_testkit::for_each_engine;
use kurz_testkit::{
    assert_error, country_db, eventually, spawn_app_with, test_settings, Engine, TestApp,
};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const SLACKBOT: &str = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)";

async fn follow(
    app: &TestApp,
    code: &str,
    agent: &str,
    ip: &str,
    referrer: Option<&str>,
    head: bool,
) {
    let path = app.url(&format!("/{code}"));
    let request = if head {
        app.client.head(path)
    } else {
        app.client.get(path)
    };
    let mut request = request
        .header("user-agent", agent)
        .header("x-forwarded-for", ip);
    if let Some(referrer) = referrer {
        request = request.header("referer", referrer);
    }
    assert_eq!(request.send().await.unwrap().status(), 302);
}

/// An app that trusts the test's forwarded addresses, a user and one link
/// of theirs: `(app, user id, link id, short code)`.
async fn app_with_a_link(
    mut settings: kurz::config::Settings,
    db: kurz_testkit::TestDb,
) -> (TestApp, i64, i64, String) {
    settings.trusted_proxies = vec!["127.0.0.1".into()];
    let app = spawn_app_with(settings, db).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com").await;
    let id = url["id"].as_i64().unwrap();
    let code = url["short_code"].as_str().unwrap().to_owned();
    (app, uid, id, code)
}

fn tallies(report: &Value, key: &str) -> Vec<(String, i64)> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["value"].as_str().unwrap().to_owned(),
                t["redirects"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn reports_count_people_not_bots_and_head_counts_nothing(engine: Engine) {
    let (settings, db) = test_settings(engine).await;
    let (app, uid, id, code) = app_with_a_link(settings, db).await;
    let code = code.as_str();
    for _ in 0..6 {
        follow(
            &app,
            code,
            CHROME,
            "203.0.113.1",
            Some("https://news.example/story"),
            false,
        )
        .await;
    }
    for _ in 0..3 {
        follow(&app, code, IPHONE, "203.0.113.2", None, false).await;
    }
    follow(
        &app,
        code,
        CHROME,
        "203.0.113.3",
        Some("https://www.news.example/other"),
        false,
    )
    .await;
    follow(&app, code, GOOGLEBOT, "66.249.66.1", None, false).await;
    follow(&app, code, GOOGLEBOT, "66.249.66.1", None, false).await;
    follow(
        &app,
        code,
        SLACKBOT,
        "3.3.3.3",
        Some("https://slack.com/"),
        false,
    )
    .await;
    follow(&app, code, CHROME, "203.0.113.4", None, true).await;
    let logged = eventually(Duration::from_secs(5), || async {
        app.events(&format!("url_id={id}&event_type=redirect"))
            .await
            .len()
            == 13
    })
    .await;
    assert!(logged, "13 GET redirects logged, HEAD none");
    // The report follows once the writer merges its roll-up window.
    let reported = eventually(Duration::from_secs(5), || async {
        app.get(&format!("/urls/{id}/stats")).await.json["redirects"] == json!(10)
    })
    .await;
    assert!(reported, "the report counts the ten human redirects");

    let report = app.get(&format!("/urls/{id}/stats")).await;
    assert_eq!(report.status, 200, "{}", report.text);
    let r = &report.json;
    assert_eq!(
        (r["url_id"].as_i64(), r["short_code"].as_str()),
        (Some(id), Some(code))
    );
    assert_eq!(
        (r["redirects"].as_i64(), r["bot_redirects"].as_i64()),
        (Some(10), Some(3))
    );
    assert_eq!(r["unique_visitors"], json!(3));
    assert_eq!(
        tallies(r, "referrers"),
        [("news.example".into(), 7), ("direct".into(), 3)]
    );
    assert_eq!(
        tallies(r, "browsers"),
        [("Chrome".into(), 7), ("Safari".into(), 3)]
    );
    assert_eq!(
        tallies(r, "operating_systems"),
        [("Windows".into(), 7), ("iOS".into(), 3)]
    );
    assert_eq!(
        tallies(r, "devices"),
        [("desktop".into(), 7), ("mobile".into(), 3)]
    );
    let series = r["series"].as_array().unwrap();
    assert_eq!(
        series
            .iter()
            .map(|b| b["redirects"].as_i64().unwrap())
            .sum::<i64>(),
        10
    );
    assert!(series[0]["bucket"].as_str().unwrap().ends_with("T00:00:00"));
    assert!(r["first_redirect_at"].is_string() && r["last_redirect_at"].is_string());

    let hourly = app.get(&format!("/urls/{id}/stats?granularity=hour")).await;
    assert!(hourly.json["series"][0]["bucket"]
        .as_str()
        .unwrap()
        .ends_with(":00:00"));
    let past = app
        .get(&format!(
            "/urls/{id}/stats?from=2020-01-01T00:00:00&to=2020-12-31T23:59:59"
        ))
        .await;
    assert_eq!(
        (
            past.json["redirects"].as_i64(),
            past.json["series"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    assert_eq!(past.json["first_redirect_at"], Value::Null);

    let other = app.create_url(uid, "https://example.org").await;
    follow(
        &app,
        other["short_code"].as_str().unwrap(),
        IPHONE,
        "203.0.113.9",
        None,
        false,
    )
    .await;
    let counted = eventually(Duration::from_secs(5), || async {
        app.get(&format!("/users/{uid}/stats")).await.json["redirects"] == json!(11)
    })
    .await;
    assert!(counted, "the user's report covers both links");
    let user = app.get(&format!("/users/{uid}/stats")).await;
    assert_eq!(user.json["user_id"], json!(uid));
    assert_eq!(user.json["bot_redirects"], json!(3));

    let reversed = app
        .get(&format!(
            "/urls/{id}/stats?from=2026-02-01T00:00:00&to=2026-01-01T00:00:00"
        ))
        .await;
    assert_eq!(
        (
            reversed.status.as_u16(),
            reversed.json["redirects"].as_i64()
        ),
        (200, Some(0))
    );
    for bad in [
        "granularity=week",
        "from=yesterday",
        "to=2026-02-30T00:00:00Z",
    ] {
        assert_error(&app.get(&format!("/urls/{id}/stats?{bad}")).await, 400);
    }
    assert_error(&app.get("/urls/999999/stats").await, 404);
    assert_error(&app.get("/users/999999/stats").await, 404);
}

async fn countries_come_from_a_maxmind_database_when_one_is_configured(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("countries.mmdb");
    let networks = [
        ("203.0.113.0".parse().unwrap(), 24, "DE"),
        ("198.51.100.0".parse().unwrap(), 24, "FR"),
    ];
    std::fs::write(&db_path, country_db(&networks)).unwrap();
    let (mut settings, db) = test_settings(engine).await;
    settings.geoip_db = Some(db_path);
    let (app, _, id, code) = app_with_a_link(settings, db).await;
    let code = code.as_str();
    for ip in ["203.0.113.5", "203.0.113.77", "198.51.100.1", "192.0.2.1"] {
        follow(&app, code, CHROME, ip, None, false).await;
    }
    let counted = eventually(Duration::from_secs(5), || async {
        app.get(&format!("/urls/{id}/stats")).await.json["redirects"] == json!(4)
    })
    .await;
    assert!(counted);
    let report = app.get(&format!("/urls/{id}/stats")).await;
    assert_eq!(
        tallies(&report.json, "countries"),
        [("DE".into(), 2), ("FR".into(), 1)]
    );
    let events = app.events(&format!("url_id={id}")).await;
    assert!(
        !events.iter().any(|e| e.to_string().contains("203.0.113")),
        "no address is kept"
    );
}

for_each_engine!(
    reports_count_people_not_bots_and_head_counts_nothing,
    countries_come_from_a_maxmind_database_when_one_is_configured,
);
