//! List endpoints: query parameters (filters, pagination) and the streamed
//! JSON array answer.
//!
//! A list is written as rows arrive from the store, a few kilobytes at a
//! time, so memory stays flat however many rows match. The first row is
//! awaited before the answer starts, so a store that is down still gets a
//! proper JSON error instead of a cut-off 200.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;

use super::error::ApiError;
use crate::store::{Page, RowStream};

const DEFAULT_PER_PAGE: u32 = 100;
const MAX_PER_PAGE: u32 = 1000;
/// Bytes gathered before a chunk is handed to the connection.
const CHUNK_BYTES: usize = 16 * 1024;

/// The query string as name → value (the last one wins on repeats).
pub struct QueryParams(BTreeMap<String, String>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self(pairs)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An integer filter; anything else is a 400.
    pub fn integer(&self, name: &str, problems: &mut BTreeMap<String, String>) -> Option<i64> {
        let raw = self.text(name)?;
        match raw.trim().parse::<i64>() {
            Ok(value) => Some(value),
            Err(_) => {
                problems.insert(name.into(), "must be an integer".into());
                None
            }
        }
    }

    /// `true` or `false` (any case); anything else is a 400.
    pub fn boolean(&self, name: &str, problems: &mut BTreeMap<String, String>) -> Option<bool> {
        let raw = self.text(name)?;
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                problems.insert(name.into(), "must be true or false".into());
                None
            }
        }
    }

    /// `page`/`per_page` or `after_id`/`per_page`, with the contract's defaults.
    pub fn page(&self, problems: &mut BTreeMap<String, String>) -> Page {
        let page = self.integer("page", problems);
        let per_page = self.integer("per_page", problems);
        let after_id = self.integer("after_id", problems);
        if let Some(p) = page.filter(|p| *p < 1 || *p > i64::from(u32::MAX)) {
            problems.insert("page".into(), format!("must be at least 1, got {p}"));
        }
        if let Some(n) = per_page.filter(|n| *n < 1 || *n > i64::from(MAX_PER_PAGE)) {
            problems.insert(
                "per_page".into(),
                format!("must be between 1 and {MAX_PER_PAGE}, got {n}"),
            );
        }
        if let Some(a) = after_id.filter(|a| *a < 0) {
            problems.insert("after_id".into(), format!("must not be negative, got {a}"));
        }
        if after_id.is_some() && page.is_some() {
            problems.insert("after_id".into(), "cannot be combined with page".into());
        }
        let per_page = per_page.map_or(DEFAULT_PER_PAGE, |n| n.clamp(1, 1000) as u32);
        match (after_id, page) {
            (Some(after_id), _) => Page::After {
                after_id: after_id.max(0),
                per_page,
            },
            (None, Some(page)) => Page::Offset {
                page: page.clamp(1, i64::from(u32::MAX)) as u32,
                per_page,
            },
            (None, None) if self.text("per_page").is_some() => Page::Offset { page: 1, per_page },
            (None, None) => Page::All,
        }
    }
}

/// Fails with a 400 naming every bad parameter, if any.
pub fn check(problems: BTreeMap<String, String>) -> Result<(), ApiError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest {
            message: "invalid query parameter".into(),
            details: problems,
        })
    }
}

/// Answers with the stream as a JSON array.
pub async fn json_array<T>(mut rows: RowStream<T>) -> Result<Response, ApiError>
where
    T: Serialize + Send + 'static,
{
    let first = match rows.next().await {
        None => return Ok(([(header::CONTENT_TYPE, json_type())], "[]").into_response()),
        Some(row) => row?,
    };
    let body = async_stream::stream! {
        let mut buffer = Vec::with_capacity(CHUNK_BYTES + 1024);
        buffer.push(b'[');
        if let Err(e) = serde_json::to_writer(&mut buffer, &first) {
            yield Err(std::io::Error::other(e));
            return;
        }
        while let Some(row) = rows.next().await {
            let row = match row {
                Ok(row) => row,
                Err(e) => {
                    tracing::error!(error = %e, "list stream failed part-way; closing the response");
                    yield Err(std::io::Error::other(e));
                    return;
                }
            };
            buffer.push(b',');
            if let Err(e) = serde_json::to_writer(&mut buffer, &row) {
                yield Err(std::io::Error::other(e));
                return;
            }
            if buffer.len() >= CHUNK_BYTES {
                yield Ok(Bytes::from(std::mem::replace(&mut buffer, Vec::with_capacity(CHUNK_BYTES + 1024))));
            }
        }
        buffer.push(b']');
        yield Ok(Bytes::from(buffer));
    };
    Ok((
        [(header::CONTENT_TYPE, json_type())],
        Body::from_stream(body),
    )
        .into_response())
}

fn json_type() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_of(query: &str) -> Result<Page, BTreeMap<String, String>> {
        let mut problems = BTreeMap::new();
        let page = QueryParams::parse(Some(query)).page(&mut problems);
        if problems.is_empty() {
            Ok(page)
        } else {
            Err(problems)
        }
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
