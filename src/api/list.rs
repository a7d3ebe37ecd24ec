//! List endpoints: query parameters (filters, pagination) and the streamed
//! JSON array answer.
//!
//! A list is written as rows arrive from the store, 64 KiB at a time, so
//! memory stays flat however many rows match (16 KiB chunks cost a
//! 1,000-row list a quarter of its latency in hand-offs between the row
//! task and the connection). The first row is
//! awaited before the answer starts, so a store that is down still gets a
//! proper JSON error instead of a cut-off 200. A client that stops reading
//! is cut off after a while, so it cannot keep the database connection
//! and the list turn its list holds.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::mpsc::{self, error::SendTimeoutError};
use utoipa::IntoParams;

use super::body::Problems;
use super::error::ApiError;
use crate::store::{Page, RowStream};

pub const DEFAULT_PER_PAGE: u32 = 100;
pub const MAX_PER_PAGE: u32 = 1000;
/// Bytes gathered before a chunk is handed to the connection
/// (docs/performance.md, "Turns for whole lists").
const CHUNK_BYTES: usize = 64 * 1024;

/// Reads a query string into one of the query structs below. Values stay
/// text here, so a bad one is reported by name, with every other bad one.
pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
}

/// Which slice of a list: `page`/`per_page`, or `after_id`/`per_page`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ListQuery {
    /// 1-based page number; `per_page` defaults to 100. Not with `after_id`.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4294967295_i64)]
    page: Option<String>,
    /// Rows per page (1..=1000); alone, it means page 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    per_page: Option<String>,
    /// Keyset paging: rows with an id greater than this.
    #[param(value_type = Option<i64>, minimum = 0)]
    after_id: Option<String>,
}

/// An integer parameter; anything else is a problem named after it.
pub fn integer(name: &str, raw: Option<&str>, problems: &mut Problems) -> Option<i64> {
    let raw = raw?;
    match raw.trim().parse::<i64>() {
        Ok(value) => Some(value),
        Err(_) => {
            problems.add(name, "must be an integer");
            None
        }
    }
}

/// `true` or `false` (any case); anything else is a problem.
pub fn boolean(name: &str, raw: Option<&str>, problems: &mut Problems) -> Option<bool> {
    match raw?.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            problems.add(name, "must be true or false");
            None
        }
    }
}

impl ListQuery {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        parse_query(raw)
    }

    /// The page asked for, with the contract's defaults; a 400 naming
    /// every bad parameter otherwise.
    pub fn page(&self) -> Result<Page, ApiError> {
        let mut problems = Problems::default();
        let page = self.page_with(&mut problems);
        problems.finish_query()?;
        Ok(page)
    }

    /// Like `page`, adding problems to those of the filters.
    pub fn page_with(&self, problems: &mut Problems) -> Page {
        let page = integer("page", self.page.as_deref(), problems);
        let per_page = integer("per_page", self.per_page.as_deref(), problems);
        let after_id = integer("after_id", self.after_id.as_deref(), problems);
        let page = page.filter(|p| {
            let ok = (1..=i64::from(u32::MAX)).contains(p);
            if !ok {
                problems.add("page", format!("must be at least 1, got {p}"));
            }
            ok
        });
        let per_page = per_page.filter(|n| {
            let ok = (1..=i64::from(MAX_PER_PAGE)).contains(n);
            if !ok {
                problems.add(
                    "per_page",
                    format!("must be between 1 and {MAX_PER_PAGE}, got {n}"),
                );
            }
            ok
        });
        let after_id = after_id.filter(|a| {
            if *a < 0 {
                problems.add("after_id", format!("must not be negative, got {a}"));
            }
            *a >= 0
        });
        if after_id.is_some() && page.is_some() {
            problems.add("after_id", "cannot be combined with page");
        }
        // Each value was checked against its range just above.
        let per_page = per_page.map_or(DEFAULT_PER_PAGE, |n| n as u32);
        match (after_id, page) {
            (Some(after_id), _) => Page::After { after_id, per_page },
            (None, Some(page)) => Page::Offset {
                page: page as u32,
                per_page,
            },
            (None, None) if self.per_page.is_some() => Page::Offset { page: 1, per_page },
            (None, None) => Page::All,
        }
    }
}

/// Answers with the stream as a JSON array, each row turned into its wire
/// shape by `wire`.
pub async fn json_array<R, T>(rows: RowStream<R>, wire: fn(R) -> T) -> Result<Response, ApiError>
where
    R: Send + 'static,
    T: Serialize + Send + 'static,
{
    json_array_within(rows, wire, READER_STALL).await
}

/// How long a client may leave a list unread before it is cut off. A list
/// holds a database connection and a list turn while it streams; a client
/// that stops reading must not keep them.
const READER_STALL: Duration = Duration::from_secs(10);

async fn json_array_within<R, T>(
    mut rows: RowStream<R>,
    wire: fn(R) -> T,
    stall: Duration,
) -> Result<Response, ApiError>
where
    R: Send + 'static,
    T: Serialize + Send + 'static,
{
    let first = match rows.next().await {
        None => return Ok(([(header::CONTENT_TYPE, json_type())], "[]").into_response()),
        Some(row) => wire(row?),
    };
    // The rows are read and written out by their own task, a chunk or two
    // ahead of the client; when the client reads nothing for `stall`, the
    // task gives up and frees what the list holds.
    let (chunks, mut received) = mpsc::channel::<std::io::Result<Bytes>>(2);
    tokio::spawn(async move {
        let mut array = ArrayWriter::new(&first);
        while let Some(row) = rows.next().await {
            let row = match row {
                Ok(row) => wire(row),
                Err(e) => {
                    tracing::error!(error = %e, "list stream failed part-way; closing the response");
                    array.fail(std::io::Error::other(e));
                    break;
                }
            };
            array.push(&row);
            if let Some(chunk) = array.full_chunk() {
                let ends = chunk.is_err();
                if !send_within(&chunks, chunk, stall).await || ends {
                    return;
                }
            }
        }
        if let Some(last) = array.finish() {
            send_within(&chunks, last, stall).await;
        }
    });
    let body = async_stream::stream! {
        while let Some(chunk) = received.recv().await {
            yield chunk;
        }
    };
    Ok((
        [(header::CONTENT_TYPE, json_type())],
        Body::from_stream(body),
    )
        .into_response())
}

/// Hands a chunk to the response; false when the client went away or
/// read nothing for `stall`.
async fn send_within(
    chunks: &mpsc::Sender<std::io::Result<Bytes>>,
    chunk: std::io::Result<Bytes>,
    stall: Duration,
) -> bool {
    match chunks.send_timeout(chunk, stall).await {
        Ok(()) => true,
        Err(SendTimeoutError::Closed(_)) => false,
        Err(SendTimeoutError::Timeout(_)) => {
            tracing::warn!(
                stall_secs = stall.as_secs(),
                "client stopped reading a list; closing the response"
            );
            false
        }
    }
}

/// A JSON array written a chunk at a time.
struct ArrayWriter {
    buffer: Vec<u8>,
    failed: Option<std::io::Error>,
}

impl ArrayWriter {
    fn new(first: &impl Serialize) -> Self {
        let mut buffer = Vec::with_capacity(CHUNK_BYTES + 1024);
        buffer.push(b'[');
        let failed = serde_json::to_writer(&mut buffer, first)
            .err()
            .map(std::io::Error::other);
        Self { buffer, failed }
    }

    fn push(&mut self, row: &impl Serialize) {
        if self.failed.is_some() {
            return;
        }
        self.buffer.push(b',');
        if let Err(e) = serde_json::to_writer(&mut self.buffer, row) {
            self.failed = Some(std::io::Error::other(e));
        }
    }

    fn fail(&mut self, error: std::io::Error) {
        self.failed.get_or_insert(error);
    }

    /// A chunk to send: an error once writing failed, or the buffer once
    /// it holds enough.
    fn full_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        (self.buffer.len() >= CHUNK_BYTES).then(|| {
            let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES + 1024));
            Ok(Bytes::from(full))
        })
    }

    /// The rest of the array, or the error that ended it.
    fn finish(mut self) -> Option<std::io::Result<Bytes>> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        self.buffer.push(b']');
        Some(Ok(Bytes::from(self.buffer)))
    }
}

fn json_type() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Rows of about a kilobyte each; `alive` counts while the stream lives.
    fn rows(n: usize, alive: Arc<()>) -> RowStream<String> {
        Box::pin(futures_util::stream::iter(0..n).map(move |i| {
            let _ = &alive;
            Ok(format!("{i:01000}"))
        }))
    }

    #[tokio::test]
    async fn a_list_streams_every_row_as_one_json_array() {
        let response = json_array(rows(300, Arc::new(())), |row| row)
            .await
            .unwrap();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let rows: Vec<String> = serde_json::from_slice(&body).unwrap();
        assert_eq!(rows.len(), 300);
        assert_eq!(rows[299], format!("{:01000}", 299));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_loses_the_list_and_frees_its_rows() {
        let alive = Arc::new(());
        let stall = Duration::from_secs(10);
        let response = json_array_within(rows(300, alive.clone()), |row| row, stall)
            .await
            .unwrap();
        tokio::time::sleep(stall / 2).await;
        assert_eq!(Arc::strong_count(&alive), 2, "the list still streams");
        tokio::time::sleep(stall).await;
        assert_eq!(
            Arc::strong_count(&alive),
            1,
            "an unread list lets go of its rows"
        );
        drop(response);
    }

    fn page_of(query: &str) -> Result<Page, ()> {
        ListQuery::parse(Some(query))
            .and_then(|q| q.page())
            .map_err(|_| ())
    }

    #[test]
    fn pagination_follows_the_contracts_defaults() {
        assert_eq!(page_of(""), Ok(Page::All));
        assert_eq!(
            page_of("page=2"),
            Ok(Page::Offset {
                page: 2,
                per_page: 100
            })
        );
        assert_eq!(
            page_of("per_page=5"),
            Ok(Page::Offset {
                page: 1,
                per_page: 5
            })
        );
        assert_eq!(
            page_of("after_id=7"),
            Ok(Page::After {
                after_id: 7,
                per_page: 100
            })
        );
        assert_eq!(
            page_of("after_id=0&per_page=3"),
            Ok(Page::After {
                after_id: 0,
                per_page: 3
            })
        );
    }

    #[test]
    fn bad_pagination_is_refused() {
        for bad in [
            "page=0",
            "page=-1",
            "page=x",
            "per_page=0",
            "per_page=1001",
            "after_id=-1",
            "after_id=1&page=1",
            "per_page=",
            "page=1.5",
        ] {
            assert!(page_of(bad).is_err(), "{bad} should be refused");
        }
    }
}
