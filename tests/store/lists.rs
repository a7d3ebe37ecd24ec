//! Link lists read back exactly what was written: each link as created
//! holds what was sent, a whole list and a page of the same filter agree
//! on every column (NULL or not, text in several scripts, timestamps to
//! the microsecond), and each row equals the link read alone. A whole list
//! dropped part-way leaves the store's connections usable and the next
//! lists whole.

use futures_util::{StreamExt, TryStreamExt};
use kurz::domain::{now_utc, MaxRedirects, ShortUrl, Title, UrlPatch};
use kurz::store::{Page, Store, UrlFilter};
use kurz_testkit::{scripted_codes, test_store, Engine, TestDb};

use crate::{link, user};

const LINKS: usize = 320;

async fn list(store: &Store, filter: &UrlFilter, page: Page) -> Vec<ShortUrl> {
    store
        .list_urls(filter.clone(), page)
        .try_collect()
        .await
        .unwrap()
}

/// `LINKS` links of one owner (and one of another), every third with a
/// title in several scripts, an expiry and a redirect budget, every fifth
/// deactivated.
async fn varied_links(store: &Store) -> (kurz::domain::Id, Vec<ShortUrl>) {
    let owner = user(store).await;
    store
        .create_url(&link(user(store).await, None))
        .await
        .unwrap();
    let mut made = Vec::new();
    for i in 0..LINKS {
        let mut new = link(owner, None);
        new.title = match i % 3 {
            0 => Some(Title::parse(&format!("Grüße, 世界 \"{i}\" \\ ok")).unwrap()),
            1 => None,
            _ => Some(Title::parse(&"x".repeat(200)).unwrap()),
        };
        if i % 3 == 0 {
            new.expires_at = Some(now_utc() + chrono::Duration::days(i as i64 + 1));
            new.max_redirects = Some(MaxRedirects::parse(i as i64 + 1).unwrap());
        }
        let before = now_utc();
        let mut url = store.create_url(&new).await.unwrap();
        // Checked against what was written, not only against another read.
        assert_eq!(url.user_id, owner);
        assert_eq!(url.original_url, new.target.as_str());
        assert_eq!(url.title.as_deref(), new.title.as_ref().map(Title::as_str));
        assert_eq!(url.expires_at, new.expires_at);
        assert_eq!(url.max_redirects, new.max_redirects.map(MaxRedirects::get));
        assert!(url.is_active);
        assert!(before <= url.created_at && url.created_at <= now_utc());
        assert_eq!(url.updated_at, url.created_at);
        if i % 5 == 0 {
            let off = UrlPatch {
                is_active: Some(false),
                ..UrlPatch::default()
            };
            url = store.update_url(url.id, &off).await.unwrap().url;
        }
        made.push(url);
    }
    (owner, made)
}

/// A fresh store with `varied_links`, the filter for their owner, and
/// the links as created.
async fn store_of_varied_links(engine: Engine) -> (Store, TestDb, UrlFilter, Vec<ShortUrl>) {
    let (store, db) = test_store(engine, scripted_codes(&[])).await;
    let (owner, made) = varied_links(&store).await;
    let mine = UrlFilter {
        user_id: Some(owner.get()),
        ..UrlFilter::default()
    };
    (store, db, mine, made)
}

pub(crate) async fn a_whole_list_reads_back_every_column_as_a_page_does(engine: Engine) {
    let (store, _db, mine, made) = store_of_varied_links(engine).await;
    let owner = mine.user_id;
    assert_eq!(list(&store, &mine, Page::All).await, made);
    for filter in [
        UrlFilter::default(),
        mine.clone(),
        UrlFilter {
            is_active: Some(false),
            ..UrlFilter::default()
        },
        UrlFilter {
            user_id: owner,
            is_active: Some(true),
        },
    ] {
        let whole = list(&store, &filter, Page::All).await;
        let paged = list(
            &store,
            &filter,
            Page::Offset {
                page: 1,
                per_page: 1000,
            },
        )
        .await;
        assert!(!whole.is_empty(), "{filter:?}");
        assert_eq!(whole, paged, "{filter:?}");
        for url in whole.iter().step_by(37) {
            assert_eq!(&store.get_url(url.id).await.unwrap(), url);
        }
    }
}

pub(crate) async fn a_list_dropped_part_way_leaves_the_store_whole(engine: Engine) {
    let (store, _db, mine, made) = store_of_varied_links(engine).await;
    // More abandoned lists than the pool has connections, dropped early
    // and late.
    for read in [1, LINKS - 10].repeat(3) {
        let mut rows = store.list_urls(mine.clone(), Page::All);
        for expected in &made[..read] {
            assert_eq!(&rows.next().await.unwrap().unwrap(), expected);
        }
        drop(rows);
    }
    for _ in 0..6 {
        assert_eq!(list(&store, &mine, Page::All).await, made);
        assert_eq!(store.get_url(made[1].id).await.unwrap(), made[1]);
    }
}
