//! The store on its own, on both engines: what each write leaves behind
//! (rows and events in one transaction), the code registry and its
//! collision retry, imports, and the redirect batch. The HTTP suite
//! (tests/api) checks the same rules through the API; this one pins them
//! where they live.

use code_filter::the_code_filter_knows_every_writers_codes;
use creations::creations_at_once_each_get_their_own_answer;
use futures_util::TryStreamExt;
use imports::imported_redirects_count_in_reports_as_a_rebuild_counts_them;
use kurz::domain::{
    now_utc, Email, EventType, Id, NewEvent, NewShortUrl, NewUser, RedirectEvent, ShortCode,
    TargetPolicy, TargetUrl, Title, UrlPatch, UserPatch, Username,
};
use kurz::store::{ConflictField, EventFilter, Page, Store, StoreError, UrlFilter};
use kurz_testkit::{for_each_engine, random_suffix, scripted_codes, test_store, Engine};
use lists::{
    a_list_dropped_part_way_leaves_the_store_whole,
    a_whole_list_reads_back_every_column_as_a_page_does,
};
use stats::reports_equal_a_scan_of_the_event_log;

mod code_filter;
mod creations;
mod imports;
mod lists;
mod partitions;
mod stats;

/// A user agent header `text` read as a browser (not a bot).
fn human_agent(
    text: &str,
    browser: &str,
    os: &str,
    device: kurz::domain::Device,
) -> std::sync::Arc<kurz::domain::SeenAgent> {
    std::sync::Arc::new(kurz::domain::SeenAgent {
        text: Some(text.into()),
        reading: kurz::domain::Agent {
            browser: browser.into(),
            os: os.into(),
            device,
            bot: false,
        },
    })
}

fn id(raw: i64) -> Id {
    Id::new(raw).unwrap()
}

pub(crate) async fn user(store: &Store) -> Id {
    let tag = random_suffix();
    let new = NewUser {
        id: None,
        username: Username::parse(&format!("u{tag}")).unwrap(),
        email: Email::parse(&format!("u{tag}@example.com")).unwrap(),
        created_at: now_utc(),
    };
    store.create_user(&new).await.unwrap().id
}

pub(crate) fn link(user_id: Id, alias: Option<&str>) -> NewShortUrl {
    NewShortUrl {
        user_id,
        target: TargetUrl::parse("https://example.com/a", TargetPolicy::default()).unwrap(),
        title: Some(Title::parse("A").unwrap()),
        alias: alias.map(|a| ShortCode::parse_alias(a).unwrap()),
        expires_at: None,
        max_redirects: None,
    }
}

async fn events_of(store: &Store, url_id: Id) -> Vec<kurz::domain::Event> {
    let filter = EventFilter {
        url_id: Some(url_id.get()),
        ..EventFilter::default()
    };
    store
        .list_events(filter, Page::All)
        .try_collect()
        .await
        .unwrap()
}

async fn a_generated_code_that_collides_is_retried_and_a_full_streak_is_a_conflict(engine: Engine) {
    let (store, _db) = test_store(
        engine,
        scripted_codes(&["aaaaaa", "aaaaaa", "aaaaaa", "bbbbbb"]),
    )
    .await;
    let owner = user(&store).await;
    let first = store.create_url(&link(owner, None)).await.unwrap();
    assert_eq!(first.short_code, "aaaaaa");
    let second = store.create_url(&link(owner, None)).await.unwrap();
    assert_eq!(
        second.short_code, "bbbbbb",
        "two collisions, then a free code"
    );

    let taken = ["cccccc"; 17];
    let (store, _db2) = test_store(engine, scripted_codes(&taken)).await;
    let owner = user(&store).await;
    store.create_url(&link(owner, None)).await.unwrap();
    let exhausted = store.create_url(&link(owner, None)).await;
    assert!(
        matches!(
            exhausted,
            Err(StoreError::Conflict(ConflictField::ShortCode))
        ),
        "{exhausted:?}"
    );
}

async fn a_deleted_links_code_is_retired_for_good(engine: Engine) {
    let (store, _db) = test_store(engine, scripted_codes(&["dddddd"])).await;
    let owner = user(&store).await;
    let url = store
        .create_url(&link(owner, Some("keep-me")))
        .await
        .unwrap();
    store.delete_url(url.id).await.unwrap();
    let again = store.create_url(&link(owner, Some("keep-me"))).await;
    assert!(matches!(
        again,
        Err(StoreError::Conflict(ConflictField::ShortCode))
    ));
    assert!(store
        .find_link(&ShortCode::parse("keep-me").unwrap())
        .await
        .unwrap()
        .is_none());
    let events = events_of(&store, url.id).await;
    let kinds: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["created", "deleted"]);
    assert_eq!(events[1].details["reason"], "user_requested");
}

async fn an_update_writes_one_event_per_changed_field_and_nothing_when_unchanged(engine: Engine) {
    let (store, _db) = test_store(engine, scripted_codes(&[])).await;
    let owner = user(&store).await;
    let url = store.create_url(&link(owner, None)).await.unwrap();
    let patch = UrlPatch {
        title: Some(None),
        is_active: Some(false),
        target: Some(TargetUrl::parse("https://example.com/a", TargetPolicy::default()).unwrap()),
        ..UrlPatch::default()
    };
    let change = store.update_url(url.id, &patch).await.unwrap();
    assert!(change.changed);
    assert_eq!(change.url.title, None);
    assert!(!change.url.is_active);
    let unchanged = store.update_url(url.id, &patch).await.unwrap();
    assert!(!unchanged.changed);
    assert_eq!(unchanged.url.updated_at, change.url.updated_at);
    let updated: Vec<_> = events_of(&store, url.id)
        .await
        .into_iter()
        .filter(|e| e.event_type == EventType::UPDATED)
        .map(|e| e.details["field"].clone())
        .collect();
    assert_eq!(updated, ["title", "is_active"]);
}

async fn deleting_a_user_removes_their_links_with_an_event_each(engine: Engine) {
    let (store, _db) = test_store(engine, scripted_codes(&[])).await;
    let owner = user(&store).await;
    let other = user(&store).await;
    let a = store.create_url(&link(owner, None)).await.unwrap();
    let b = store.create_url(&link(owner, None)).await.unwrap();
    let kept = store.create_url(&link(other, None)).await.unwrap();
    let removed = store.delete_user(owner).await.unwrap();
    let mut codes: Vec<_> = removed.iter().map(|u| u.short_code.clone()).collect();
    codes.sort();
    let mut expected = vec![a.short_code.clone(), b.short_code.clone()];
    expected.sort();
    assert_eq!(codes, expected);
    for url in [&a, &b] {
        let last = events_of(&store, url.id).await.pop().unwrap();
        assert_eq!(last.event_type, "deleted");
        assert_eq!(last.details["reason"], "user_deleted");
    }
    let left: Vec<_> = store
        .list_urls(UrlFilter::default(), Page::All)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, kept.id);
    assert!(matches!(
        store.get_user(owner).await,
        Err(StoreError::NotFound("user"))
    ));
}

async fn usernames_and_emails_are_unique_case_insensitively_for_email(engine: Engine) {
    let (store, _db) = test_store(engine, scripted_codes(&[])).await;
    let new = |name: &str, email: &str| NewUser {
        id: None,
        username: Username::parse(name).unwrap(),
        email: Email::parse(email).unwrap(),
        created_at: now_utc(),
    };
    let ada = store
        .create_user(&new("ada", "Ada@Example.com"))
        .await
        .unwrap();
    let same_email = store.create_user(&new("other", "ada@example.COM")).await;
    assert!(matches!(
        same_email,
        Err(StoreError::Conflict(ConflictField::Email))
    ));
    let same_name = store.create_user(&new("ada", "x@example.com")).await;
    assert!(matches!(
        same_name,
        Err(StoreError::Conflict(ConflictField::Username))
    ));
    let bob = store
        .create_user(&new("bob", "bob@example.com"))
        .await
        .unwrap();
    let rename = UserPatch {
        username: Some(Username::parse("ada").unwrap()),
        email: None,
    };
    let clash = store.update_user(bob.id, &rename).await;
    assert!(matches!(
        clash,
        Err(StoreError::Conflict(ConflictField::Username))
    ));
    assert_eq!(
        store.get_user(ada.id).await.unwrap().email,
        "Ada@Example.com"
    );
}

async fn a_redirect_batch_lands_in_order_in_one_statement(engine: Engine) {
    let (store, _db) = test_store(engine, scripted_codes(&[])).await;
    let owner = user(&store).await;
    let url = store.create_url(&link(owner, None)).await.unwrap();
    let agent = human_agent(
        "agent \"quoted\" \u{e9}",
        "Other",
        "Other",
        kurz::domain::Device::Other,
    );
    let batch: Vec<RedirectEvent> = (0..1500)
        .map(|i| RedirectEvent {
            url_id: url.id.get(),
            user_id: owner.get(),
            timestamp: now_utc(),
            short_code: url.short_code.as_str().into(),
            referrer: (i % 2 == 0).then(|| {
                Box::new(kurz::domain::Referrer {
                    url: format!("https://ref/{i}").into(),
                    host: Some("ref".into()),
                })
            }),
            visitor: kurz::domain::Visitor {
                id: i,
                country: None,
                agent: agent.clone(),
            },
        })
        .collect();
    store.append_redirects(&batch).await.unwrap();
    let filter = EventFilter {
        url_id: Some(url.id.get()),
        event_type: Some("redirect".into()),
        ..EventFilter::default()
    };
    let stored: Vec<_> = store
        .list_events(filter, Page::All)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stored.len(), 1500);
    assert_eq!(stored[0].details["referrer"], "https://ref/0");
    assert!(stored[1].details.get("referrer").is_none());
    assert_eq!(
        stored[1499].details["user_agent"],
        "agent \"quoted\" \u{e9}"
    );
    assert!(stored.windows(2).all(|w| w[0].id < w[1].id));
}

/// A batch larger than one COPY message (1,000 rows) and than one roll-up
/// upsert (4,096 rows): every piece lands, and the report counts all of
/// it. The referrers seen twice sort last, so they sit in the last slice.
async fn a_batch_larger_than_one_message_is_stored_and_counted_whole(engine: Engine) {
    let (store, _db) = test_store(engine, scripted_codes(&[])).await;
    let owner = user(&store).await;
    let url = store.create_url(&link(owner, None)).await.unwrap();
    let agent = human_agent("Firefox", "Firefox", "Linux", kurz::domain::Device::Desktop);
    let at = now_utc();
    let hosts: Vec<String> = (0..4_500)
        .map(|i| format!("a{i:05}.example"))
        .chain((0..1_500).map(|i| format!("z{:05}.example", i % 750)))
        .collect();
    let batch: Vec<RedirectEvent> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| RedirectEvent {
            url_id: url.id.get(),
            user_id: owner.get(),
            timestamp: at,
            short_code: url.short_code.as_str().into(),
            referrer: Some(Box::new(kurz::domain::Referrer {
                url: format!("https://{host}/").into(),
                host: Some(host.as_str().into()),
            })),
            visitor: kurz::domain::Visitor {
                id: i as i64,
                country: None,
                agent: agent.clone(),
            },
        })
        .collect();
    store.append_redirects(&batch).await.unwrap();
    // The redirects and the link's `created` event.
    assert_eq!(events_of(&store, url.id).await.len(), 6_001);
    let range = kurz::domain::StatsRange {
        from: None,
        to: None,
        granularity: kurz::domain::Granularity::Day,
    };
    let report = store
        .stats(kurz::domain::StatsScope::Link(url.id.get()), range)
        .await
        .unwrap();
    assert_eq!(report.redirects, 6_000);
    assert_eq!(report.unique_visitors, 6_000);
    assert_eq!(report.browsers[0].redirects, 6_000);
    assert_eq!(report.referrers.len(), 10);
    assert!(
        report
            .referrers
            .iter()
            .all(|r| r.redirects == 2 && r.value.starts_with('z')),
        "{:?}",
        report.referrers
    );
}

async fn the_sqlite_writer_cache_is_sized_to_the_store(engine: Engine) {
    let (store, _db) = test_store(engine, scripted_codes(&[])).await;
    user(&store).await;
    // One user, no links, batches of at most 1,000 rows: the floor, 2,048
    // pages of the 1 KiB a new file has.
    assert_eq!(
        store.fit_writer_cache(1_000).await.unwrap(),
        sqlite_only(engine, 2 * 1024)
    );
    // Batches of 100,000 rows: 15.3 MiB of new table pages.
    assert_eq!(
        store.fit_writer_cache(100_000).await.unwrap(),
        sqlite_only(engine, 15_626)
    );
}

/// A file made before new files had 1 KiB pages keeps its 4 KiB ones, and
/// its writer's cache floor is the same 2,048 pages: 8 MiB.
#[tokio::test]
async fn a_sqlite_file_with_4_kib_pages_keeps_them() {
    use std::str::FromStr;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("old.db").display());
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .page_size(4096)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let mut old = sqlx::ConnectOptions::connect(&options).await.unwrap();
    sqlx::query("CREATE TABLE made_before (x INTEGER)")
        .execute(&mut old)
        .await
        .unwrap();
    sqlx::Connection::close(old).await.unwrap();

    let store = kurz::store::Store::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.fit_writer_cache(1_000).await.unwrap(), Some(8 * 1024));
    let mut check = sqlx::ConnectOptions::connect(&options).await.unwrap();
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut check)
        .await
        .unwrap();
    assert_eq!(page_size, 4096);
}

/// `Some(kib)` on SQLite, `None` on PostgreSQL (no writer cache there).
fn sqlite_only(engine: Engine, kib: u64) -> Option<u64> {
    match engine {
        Engine::Postgres => None,
        Engine::Sqlite => Some(kib),
    }
}

async fn a_client_event_must_name_things_that_exist(engine: Engine) {
    let (store, _db) = test_store(engine, scripted_codes(&[])).await;
    let owner = user(&store).await;
    let event = |url_id: Option<Id>, user_id: Option<Id>| NewEvent {
        url_id,
        user_id,
        event_type: EventType::parse("click").unwrap(),
        timestamp: now_utc(),
        details: serde_json::Map::new(),
    };
    let missing_url = store
        .create_event(&event(Some(id(999_999)), Some(owner)))
        .await;
    assert!(matches!(missing_url, Err(StoreError::NotFound("url"))));
    let missing_user = store.create_event(&event(None, Some(id(999_999)))).await;
    assert!(matches!(missing_user, Err(StoreError::NotFound("user"))));
    let made = store.create_event(&event(None, Some(owner))).await.unwrap();
    assert_eq!(store.get_event(made.id).await.unwrap(), made);
}

for_each_engine!(
    creations_at_once_each_get_their_own_answer,
    the_code_filter_knows_every_writers_codes,
    the_sqlite_writer_cache_is_sized_to_the_store,
    a_whole_list_reads_back_every_column_as_a_page_does,
    a_list_dropped_part_way_leaves_the_store_whole,
    imported_redirects_count_in_reports_as_a_rebuild_counts_them,
    reports_equal_a_scan_of_the_event_log,
    a_generated_code_that_collides_is_retried_and_a_full_streak_is_a_conflict,
    a_deleted_links_code_is_retired_for_good,
    an_update_writes_one_event_per_changed_field_and_nothing_when_unchanged,
    deleting_a_user_removes_their_links_with_an_event_each,
    usernames_and_emails_are_unique_case_insensitively_for_email,
    a_redirect_batch_lands_in_order_in_one_statement,
    a_batch_larger_than_one_message_is_stored_and_counted_whole,
    a_client_event_must_name_things_that_exist,
);
