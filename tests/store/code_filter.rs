//! The store's filter of codes: complete after its first build, told of
//! this store's codes before their commit, and of codes another process
//! stores through the watch (one at a time and in bulk).

use std::sync::Arc;
use std::time::Duration;

use kurz::store::Store;
use kurz_testkit::{eventually, random_suffix, test_settings, Engine};
use tokio_util::sync::CancellationToken;

use crate::{link, user};

/// How many of twenty codes nobody stored the filter rules out (it may
/// let about one in a hundred through).
fn ruled_out(store: &Store) -> usize {
    (0..20)
        .filter(|i| store.surely_lacks_code(&format!("nobody{i}")))
        .count()
}

async fn run_elsewhere(url: &str, engine: Engine, sql: &str) {
    match engine {
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Engine::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

pub(crate) async fn the_code_filter_knows_every_writers_codes(engine: Engine) {
    let (settings, _db) = test_settings(engine).await;
    let url = settings.database_url();
    let ours = Arc::new(Store::connect(&url, 4).await.unwrap());
    ours.migrate().await.unwrap();
    let theirs = Store::connect(&url, 2).await.unwrap();
    let owner = user(&ours).await;
    let early = ours.create_url(&link(owner, None)).await.unwrap();
    assert!(!ours.knows_every_code());
    assert!(
        !ours.surely_lacks_code("nobody0"),
        "no answer before a build"
    );

    let stop = CancellationToken::new();
    let watch = tokio::spawn(ours.clone().keep_known_codes(stop.clone()));
    let built = eventually(Duration::from_secs(10), || async {
        ours.knows_every_code()
    })
    .await;
    assert!(built, "the filter was never built");
    assert!(!ours.surely_lacks_code(&early.short_code), "scanned");
    assert!(ruled_out(&ours) >= 15);

    let mine = ours.create_url(&link(owner, None)).await.unwrap();
    assert!(!ours.surely_lacks_code(&mine.short_code), "known at once");

    let alias = format!("theirs{}", random_suffix());
    assert!(ours.surely_lacks_code(&alias));
    theirs.create_url(&link(owner, Some(&alias))).await.unwrap();
    let told = eventually(Duration::from_secs(5), || async {
        !ours.surely_lacks_code(&alias)
    })
    .await;
    assert!(told, "another store's code never reached the filter");

    let bulk = format!("bulk{}", random_suffix());
    run_elsewhere(
        &url,
        engine,
        &format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300) \
             INSERT INTO short_codes (code) SELECT '{bulk}' || n FROM g"
        ),
    )
    .await;
    let told = eventually(Duration::from_secs(10), || async {
        ours.knows_every_code() && (1..=300).all(|n| !ours.surely_lacks_code(&format!("{bulk}{n}")))
    })
    .await;
    assert!(
        told,
        "codes stored in bulk elsewhere never reached the filter"
    );
    assert!(ruled_out(&ours) >= 15, "the rebuilt filter answers again");
    stop.cancel();
    watch.await.unwrap();
}

/// The SQLite code log stays bounded with no watch pruning it (the filter
/// off, Redis, or only the command line): the trigger keeps the newest
/// 100,000 codes, in order, with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_code_log_keeps_only_the_newest_codes() {
    let (settings, _db) = test_settings(Engine::Sqlite).await;
    let url = settings.database_url();
    let store = Store::connect(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    run_elsewhere(
        &url,
        Engine::Sqlite,
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100050) \
         INSERT INTO short_codes (code) SELECT 'c' || n FROM g",
    )
    .await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let (rows, oldest, newest): (i64, i64, i64) =
        sqlx::query_as("SELECT count(*), min(seq), max(seq) FROM code_log")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(rows, 100_000);
    assert_eq!(newest - oldest + 1, rows, "a gap in the kept log");
    let last: String = sqlx::query_scalar("SELECT code FROM code_log WHERE seq = $1")
        .bind(newest)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(last, "c100050");
    pool.close().await;
}

/// PostgreSQL: a link kurz creates has its code announced by kurz itself,
/// once before the insert and once after the commit, and the trigger on
/// `short_codes` stays quiet for that insert (its announcement would hold
/// NOTIFY's lock through the commit's flush); a code another writer
/// inserts is still announced by the trigger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_links_code_is_announced_before_and_after_its_commit() {
    let (settings, _db) = test_settings(Engine::Postgres).await;
    let url = settings.database_url();
    let store = Store::connect(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let owner = user(&store).await;
    let mut listener = sqlx::postgres::PgListener::connect(&url).await.unwrap();
    listener.listen("kurz_codes").await.unwrap();
    let mut heard = Vec::new();
    let mut hear_all = async || {
        while let Ok(Ok(note)) =
            tokio::time::timeout(Duration::from_millis(500), listener.recv()).await
        {
            heard.push(note.payload().to_owned());
        }
    };

    let made = store.create_url(&link(owner, None)).await.unwrap();
    let theirs = format!("tool{}", random_suffix());
    run_elsewhere(
        &url,
        Engine::Postgres,
        &format!("INSERT INTO short_codes (code) VALUES ('{theirs}')"),
    )
    .await;
    hear_all().await;
    assert_eq!(heard, [made.short_code.clone(), made.short_code, theirs]);
}
