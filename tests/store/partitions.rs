//! The PostgreSQL event log's monthly partitions: created ahead of their
//! month, rows no month covers parked in the default partition and moved
//! into their own month by the next round, whole months dropped by retention, and event
//! ids unique across partitions even though the key also holds the time.

use chrono::{NaiveDate, NaiveDateTime};
use kurz::domain::{now_utc, EventType, Id, NewEvent};
use kurz::store::{ImportOutcome, ImportedEvent, Store, StoreError};
use kurz_testkit::{scripted_codes, test_store, Engine};

fn at(y: i32, m: u32, d: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|day| day.and_hms_opt(12, 0, 0))
        .unwrap()
}

async fn stored_at(store: &Store, id: i64) -> NaiveDateTime {
    store
        .get_event(Id::new(id).unwrap())
        .await
        .unwrap()
        .timestamp
}

async fn log_event(store: &Store, timestamp: NaiveDateTime) -> Id {
    let new = NewEvent {
        url_id: None,
        user_id: None,
        event_type: EventType::parse("note").unwrap(),
        timestamp,
        details: serde_json::Map::new(),
    };
    store.create_event(&new).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn months_are_created_ahead_moved_out_of_the_default_and_dropped_by_retention() {
    let (store, _db) = test_store(Engine::Postgres, scripted_codes(&[])).await;
    let now = now_utc();
    let today = log_event(&store, now).await;
    let far = log_event(&store, at(2031, 3, 15)).await;

    // A new database has no month yet: both rows wait in the default
    // partition until the first round creates their months.
    let first = store.maintain_event_partitions(now, None).await.unwrap();
    assert!(first.ran);
    assert_eq!(
        first.created.len(),
        4,
        "this month, two ahead, March 2031: {first:?}"
    );
    assert!(first.created.contains(&"events_2031_03".to_owned()));
    assert_eq!(first.moved, 2);
    let again = store.maintain_event_partitions(now, None).await.unwrap();
    assert!(
        again.created.is_empty() && again.dropped.is_empty(),
        "{again:?}"
    );
    assert_eq!(store.get_event(today).await.unwrap().id, today);

    // March 2031 arrives: two months ahead of it are created.
    let march = store
        .maintain_event_partitions(at(2031, 3, 10), None)
        .await
        .unwrap();
    assert_eq!(march.created, ["events_2031_04", "events_2031_05"]);
    assert_eq!(march.moved, 0);
    assert_eq!(stored_at(&store, far.get()).await, at(2031, 3, 15));

    // Thirty days of retention in March 2031 drop everything before it.
    let kept = store
        .maintain_event_partitions(at(2031, 3, 10), Some(30))
        .await
        .unwrap();
    assert_eq!(
        kept.dropped.len(),
        3,
        "the three months of 2026-27: {kept:?}"
    );
    assert!(!kept
        .dropped
        .iter()
        .any(|name| name.starts_with("events_2031")));
    assert!(matches!(
        store.get_event(today).await,
        Err(StoreError::NotFound("event"))
    ));
    assert_eq!(store.get_event(far).await.unwrap().id, far);
    // New events still land (today's month now goes to the default).
    log_event(&store, now_utc()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_id_is_present_whatever_its_timestamp() {
    let (store, _db) = test_store(Engine::Postgres, scripted_codes(&[])).await;
    let row = |id: i64, timestamp: NaiveDateTime| ImportedEvent {
        id: Id::new(id).unwrap(),
        url_id: None,
        user_id: None,
        event_type: "note".into(),
        timestamp,
        details: "{}".into(),
    };
    let first = store
        .import_events(&[
            row(41, at(2025, 1, 1)),
            row(41, at(2025, 6, 1)),
            row(42, at(2030, 1, 1)),
        ])
        .await
        .unwrap();
    assert_eq!(
        first,
        [
            ImportOutcome::Inserted,
            ImportOutcome::AlreadyPresent,
            ImportOutcome::Inserted
        ]
    );
    let again = store
        .import_events(&[row(41, at(2029, 1, 1)), row(43, at(2025, 1, 1))])
        .await
        .unwrap();
    assert_eq!(
        again,
        [ImportOutcome::AlreadyPresent, ImportOutcome::Inserted]
    );
    assert_eq!(stored_at(&store, 41).await, at(2025, 1, 1));
    // The sequence moved past the imported ids.
    assert!(log_event(&store, now_utc()).await.get() > 43);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_event_table_becomes_a_partition_in_place() {
    // A database as the releases before partitioning left it.
    let url = kurz_testkit::empty_pg_database().await;
    let old = tempfile::tempdir().unwrap();
    for name in ["0001_schema.sql", "0002_api_keys.sql"] {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/store/migrations/postgres")
            .join(name);
        std::fs::copy(from, old.path().join(name)).unwrap();
    }
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(old.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO events (url_id, user_id, event_type, timestamp, details) \
         SELECT g % 50, g % 7, CASE WHEN g % 10 = 0 THEN 'created' ELSE 'redirect' END, \
                (now() AT TIME ZONE 'UTC') - g * interval '1 hour', '{\"n\": 1}' \
         FROM generate_series(1, 5000) g; \
         INSERT INTO events (url_id, user_id, event_type, timestamp, details) \
         VALUES (1, 1, 'note', '2031-03-15 12:00:00', '{}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = Store::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    // Every old row is still there under its id, the future one included.
    assert_eq!(stored_at(&store, 5001).await, at(2031, 3, 15));
    let created = kurz::store::EventFilter {
        event_type: Some("created".into()),
        ..Default::default()
    };
    let listed: Vec<_> = futures_util::TryStreamExt::try_collect::<Vec<_>>(
        store.list_events(created, kurz::store::Page::All),
    )
    .await
    .unwrap();
    assert_eq!(listed.len(), 500);
    // New ids continue after the old ones; the upkeep moves the future row.
    assert_eq!(log_event(&store, now_utc()).await.get(), 5002);
    let upkeep = store
        .maintain_event_partitions(now_utc(), None)
        .await
        .unwrap();
    assert_eq!(upkeep.moved, 1, "{upkeep:?}");
    assert_eq!(
        store
            .get_event(Id::new(5001).unwrap())
            .await
            .unwrap()
            .id
            .get(),
        5001
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_month_is_rewritten_in_link_order_once() {
    let (settings, _db) = kurz_testkit::test_settings(Engine::Postgres).await;
    let url = settings.database_url();
    let store = Store::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    // Ids rise while links fall: time order is the reverse of link order.
    let rows: Vec<ImportedEvent> = (1..=300)
        .map(|id| ImportedEvent {
            id: Id::new(id).unwrap(),
            url_id: Some(301 - id),
            user_id: None,
            event_type: "redirect".into(),
            timestamp: at(2025, 1, 1) + chrono::Duration::minutes(id),
            details: "{}".into(),
        })
        .collect();
    store.import_events(&rows).await.unwrap();
    let now = now_utc();
    store.maintain_event_partitions(now, None).await.unwrap();
    log_event(&store, now).await;

    let ordered = store.order_closed_months(now).await.unwrap();
    let names: Vec<&str> = ordered.iter().map(|m| m.partition.as_str()).collect();
    assert_eq!(names, ["events_2025_01"], "only ended months: {ordered:?}");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let physical: Vec<i64> = sqlx::query_scalar("SELECT url_id FROM events_2025_01")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        physical,
        (1..=300).collect::<Vec<i64>>(),
        "heap in link order"
    );
    assert!(
        store.order_closed_months(now).await.unwrap().is_empty(),
        "a month is rewritten once"
    );
    assert_eq!(
        stored_at(&store, 7).await,
        at(2025, 1, 1) + chrono::Duration::minutes(7)
    );
}
