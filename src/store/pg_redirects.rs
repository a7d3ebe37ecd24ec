//! Redirect batches into PostgreSQL: one `COPY … FROM STDIN` per batch,
//! ids in arrival order, rows in owner and link order.
//!
//! Most of what the server spends on a stored redirect is the two indexes
//! the event lists walk, `(url_id, id)` and `(user_id, id)`. Rows in
//! arrival order put consecutive inserts on leaves anywhere in both; rows
//! sorted by owner, then link, put them next to each other (one
//! owner's links are one run in both indexes), which took a third less of
//! the server's time per row (docs/performance.md, "Redirect batches in
//! link order on PostgreSQL"). The ids still follow arrival: the batch
//! takes as many ids from the sequence as it has events, in one statement,
//! and hands them out in the order the events came; only the order in
//! which the rows reach the table changes, and the heap does not keep id
//! order anyway.

use sqlx::{Postgres, Transaction};

use super::copy_text::CopyText;
use super::{StoreError, StoreResult};
use crate::domain::{format_spaced_timestamp, RedirectEvent};

/// Redirect rows per COPY data message: about 300 KiB with browsers'
/// user agents in `details`.
const COPY_ROWS_PER_MESSAGE: usize = 1_000;

/// The COPY that `copy_text` feeds.
const COPY_REDIRECTS: &str = "COPY events (id, url_id, user_id, event_type, timestamp, details, \
     visitor, referrer_host, browser, os, device, bot, country) FROM STDIN";

/// `$1` new event ids, smallest first. Each `nextval` is atomic, so ids
/// stay unique when other replicas take ids at the same time (theirs may
/// fall between ours).
const NEXT_EVENT_IDS: &str =
    "SELECT nextval('events_id_seq') FROM generate_series(1, $1::bigint) ORDER BY 1";

/// Appends the batch inside the caller's transaction.
pub(crate) async fn insert(
    tx: &mut Transaction<'static, Postgres>,
    batch: &[RedirectEvent],
) -> StoreResult<()> {
    let count = i64::try_from(batch.len()).unwrap_or(i64::MAX);
    let ids: Vec<i64> = sqlx::query_scalar(NEXT_EVENT_IDS)
        .bind(count)
        .fetch_all(&mut **tx)
        .await?;
    if ids.len() != batch.len() {
        return Err(StoreError::Corrupt(
            "the id sequence answered the wrong count",
        ));
    }
    let rows = owner_and_link_order(ids.into_iter().zip(batch).collect());
    let mut copy = tx.copy_in_raw(COPY_REDIRECTS).await?;
    // In pieces: the connection's write buffer keeps the size of the
    // largest message it ever sent.
    for rows in rows.chunks(COPY_ROWS_PER_MESSAGE) {
        copy.send(copy_text(rows)).await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Events with their ids, sorted by owner, then link; one link's events
/// keep their order (the sort is stable).
fn owner_and_link_order(mut rows: Vec<(i64, &RedirectEvent)>) -> Vec<(i64, &RedirectEvent)> {
    rows.sort_by_key(|(_, event)| (event.user_id, event.url_id));
    rows
}

/// Rows with their ids as COPY text for `COPY_REDIRECTS`.
fn copy_text(rows: &[(i64, &RedirectEvent)]) -> Vec<u8> {
    let mut copy = CopyText::with_capacity(rows.len() * 256);
    for &(id, event) in rows {
        copy.int(id);
        row(&mut copy, event);
        copy.end_row();
    }
    copy.into_bytes()
}

/// One redirect's columns after its id; PostgreSQL routes the row to its
/// month's partition and reads `details` straight into JSONB.
fn row(copy: &mut CopyText, event: &RedirectEvent) {
    let stamp = format_spaced_timestamp(&event.timestamp);
    copy.int(event.url_id).int(event.user_id).text(b"redirect");
    match stamp.ascii() {
        Some(ascii) => copy.text(&ascii),
        None => copy.plain(stamp),
    };
    let visitor = &event.visitor;
    let agent = &visitor.agent.reading;
    copy.json(&event.details())
        .int(visitor.id)
        .text_opt(event.referrer_host().map(str::as_bytes))
        .text(agent.browser.as_bytes())
        .text(agent.os.as_bytes())
        .text(agent.device.as_str().as_bytes())
        .text(if agent.bot { b"t" } else { b"f" })
        .text_opt(visitor.country.as_ref().map(|c| c.as_str().as_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn redirect(url_id: i64, user_id: i64) -> RedirectEvent {
        let at = NaiveDate::from_ymd_opt(2025, 9, 19)
            .and_then(|d| d.and_hms_opt(22, 25, 5))
            .unwrap();
        RedirectEvent {
            url_id,
            user_id,
            timestamp: at,
            short_code: "abc".into(),
            referrer: Some(Box::new(crate::domain::Referrer {
                url: "https://t.co/x".into(),
                host: Some("t.co".into()),
            })),
            visitor: crate::domain::Visitor {
                id: 99,
                country: crate::domain::CountryCode::parse("DE"),
                agent: std::sync::Arc::new(crate::domain::SeenAgent {
                    text: Some("curl/8".into()),
                    reading: crate::domain::Agent {
                        browser: "Other".into(),
                        os: "Linux".into(),
                        device: crate::domain::Device::Other,
                        bot: false,
                    },
                }),
            },
        }
    }

    #[test]
    fn a_redirect_is_one_copy_row_with_its_id_and_report_columns() {
        let event = redirect(7, 2);
        assert_eq!(
            String::from_utf8(copy_text(&[(41, &event)])).unwrap(),
            "41\t7\t2\tredirect\t2025-09-19 22:25:05\t{\"short_code\":\"abc\",\"referrer\":\"https://t.co/x\",\"user_agent\":\"curl/8\"}\
             \t99\tt.co\tOther\tLinux\tother\tf\tDE\n"
        );
    }

    #[test]
    fn rows_go_in_owner_and_link_order_and_keep_their_arrival_ids() {
        let batch = [
            redirect(5, 2),
            redirect(3, 1),
            redirect(5, 2),
            redirect(4, 2),
            redirect(3, 1),
        ];
        let ids = [10, 11, 12, 13, 14];
        let rows = owner_and_link_order(ids.into_iter().zip(&batch).collect());
        let placed: Vec<(i64, i64, i64)> = rows
            .iter()
            .map(|(id, event)| (event.user_id, event.url_id, *id))
            .collect();
        assert_eq!(
            placed,
            [(1, 3, 11), (1, 3, 14), (2, 4, 13), (2, 5, 10), (2, 5, 12)]
        );
    }
}
