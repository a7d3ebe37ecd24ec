//! Many new links at once: on SQLite they are written in groups, one
//! transaction each, and every creation must still get its own answer.
//! More creations than one group holds, some of them naming a missing
//! owner, some asking for the same alias, and generated codes that repeat,
//! so that members of one group collide with each other.

use std::collections::HashSet;
use std::sync::Arc;

use kurz::domain::Id;
use kurz::store::{ConflictField, Page, StoreError, UrlFilter};
use kurz_testkit::{scripted_codes, test_store, Engine};

use futures_util::TryStreamExt;

use super::{events_of, link, user};

const CREATIONS: usize = 300;

pub(crate) async fn creations_at_once_each_get_their_own_answer(engine: Engine) {
    // Every generated code twice in a row: the second draw collides with
    // the first, inside a group or across two.
    let script: Vec<String> = (0..CREATIONS)
        .flat_map(|i| {
            let code = format!("g{i:05}");
            [code.clone(), code]
        })
        .collect();
    let script: Vec<&str> = script.iter().map(String::as_str).collect();
    let (store, _db) = test_store(engine, scripted_codes(&script)).await;
    let store = Arc::new(store);
    let owner = user(&store).await;
    let missing_owner = Id::new(999_999).unwrap();

    let creations = (0..CREATIONS).map(|i| {
        let store = store.clone();
        let new = match i % 10 {
            3 => link(missing_owner, None),
            7 => link(owner, Some("one-alias")),
            _ => link(owner, None),
        };
        tokio::spawn(async move { (i, store.create_url(&new).await) })
    });
    let answers = futures_util::future::join_all(creations).await;

    let mut codes = HashSet::new();
    let mut alias_won = 0;
    let mut stored = 0;
    for answer in answers {
        let (i, answer) = answer.expect("no creation panics");
        match (i % 10, answer) {
            (3, Err(StoreError::NotFound("user"))) => {}
            (7, Ok(url)) => {
                assert_eq!(url.short_code, "one-alias");
                alias_won += 1;
                stored += 1;
            }
            (7, Err(StoreError::Conflict(ConflictField::ShortCode))) => {}
            (_, Ok(url)) if i % 10 != 3 && i % 10 != 7 => {
                assert_eq!(url.user_id, owner);
                assert!(
                    codes.insert(url.short_code.clone()),
                    "{} twice",
                    url.short_code
                );
                stored += 1;
            }
            (_, other) => panic!("creation {i} answered {other:?}"),
        }
    }
    assert_eq!(alias_won, 1, "the alias is given once");
    assert_eq!(codes.len(), CREATIONS - CREATIONS / 10 * 2);

    let filter = UrlFilter {
        user_id: Some(owner.get()),
        ..UrlFilter::default()
    };
    let links: Vec<_> = store
        .list_urls(filter, Page::All)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        links.len(),
        stored,
        "every answered link is stored, and no other"
    );
    for url in links {
        let events = events_of(&store, url.id).await;
        assert_eq!(events.len(), 1, "one created event for {}", url.short_code);
        assert_eq!(events[0].url_id, Some(url.id.get()));
    }
}
