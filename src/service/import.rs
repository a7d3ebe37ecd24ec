//! Loading the hackathon CSV files (users, urls, events).
//!
//! Shared by `POST /users/bulk` and `kurz import`: a file is checked as a
//! whole (UTF-8, required columns), then each row is parsed into domain types
//! and handed to the store; a bad row is reported with its line number and
//! never stops the others.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{
    now_utc, parse_timestamp, DomainError, Email, Id, NewUser, ShortCode, TargetPolicy, TargetUrl,
    Username,
};
use crate::store::{ImportOutcome, ImportedUrl, Store};

pub use super::event_import::import_events;

use super::ServiceError;

/// How many row errors an answer lists; the count covers all of them.
const MAX_LISTED_ERRORS: usize = 10;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

/// The answer to an import: `count` and `imported` both count accepted rows
/// (inserted, or already present with the same id).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub count: usize,
    pub imported: usize,
    pub rejected: usize,
    pub errors: Vec<RowError>,
}

impl ImportReport {
    pub(super) fn reject(&mut self, line: u64, reason: impl Into<String>) {
        self.rejected += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(RowError {
                line,
                reason: reason.into(),
            });
        }
    }

    pub(super) fn record(&mut self, lines: &[u64], outcomes: &[ImportOutcome]) {
        for (line, outcome) in lines.iter().zip(outcomes) {
            match outcome {
                ImportOutcome::Rejected(reason) => self.reject(*line, *reason),
                _ => {
                    self.count += 1;
                    self.imported += 1;
                }
            }
        }
    }
}

/// A CSV file read into rows of named cells.
struct Table {
    headers: Vec<String>,
    rows: Vec<(u64, csv::StringRecord)>,
}

/// A CSV file's reader, past its header: the lower-cased column names, or
/// why the file as a whole cannot be read (not UTF-8, no header, a
/// required column missing).
pub(super) fn open_csv<'a>(
    bytes: &'a [u8],
    required: &[&str],
) -> Result<(Vec<String>, csv::Reader<&'a [u8]>), ServiceError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ServiceError::BadFile("file is not UTF-8 text".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ServiceError::BadFile(format!("unreadable CSV header: {e}")))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let missing: Vec<&str> = required
        .iter()
        .filter(|c| !headers.iter().any(|h| h == *c))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(ServiceError::BadFile(format!(
            "CSV header lacks column(s): {}",
            missing.join(", ")
        )));
    }
    Ok((headers, reader))
}

impl Table {
    fn read(bytes: &[u8], required: &[&str]) -> Result<Self, ServiceError> {
        let (headers, mut reader) = open_csv(bytes, required)?;
        let mut rows = Vec::new();
        for record in reader.records() {
            let record =
                record.map_err(|e| ServiceError::BadFile(format!("unreadable CSV: {e}")))?;
            let line = record.position().map_or(0, |p| p.line());
            rows.push((line, record));
        }
        Ok(Self { headers, rows })
    }

    fn cell<'r>(&self, record: &'r csv::StringRecord, column: &str) -> &'r str {
        self.headers
            .iter()
            .position(|h| h == column)
            .and_then(|i| record.get(i))
            .unwrap_or("")
    }
}

pub(super) fn optional_id(raw: &str, field: &'static str) -> Result<Option<Id>, DomainError> {
    if raw.is_empty() {
        return Ok(None);
    }
    Id::parse(raw)
        .map(Some)
        .ok_or_else(|| DomainError::new(field, "must be a positive integer"))
}

pub(super) fn required_id(raw: &str, field: &'static str) -> Result<Id, DomainError> {
    optional_id(raw, field)?.ok_or_else(|| DomainError::new(field, "is required"))
}

pub(super) fn optional_time(
    raw: &str,
    field: &'static str,
) -> Result<chrono::NaiveDateTime, DomainError> {
    if raw.is_empty() {
        return Ok(now_utc());
    }
    parse_timestamp(raw).ok_or_else(|| DomainError::new(field, "must be YYYY-MM-DD HH:MM:SS"))
}

fn parse_bool(raw: &str) -> Result<bool, DomainError> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Ok(true),
        "false" | "f" | "0" | "no" => Ok(false),
        _ => Err(DomainError::new("is_active", "must be true or false")),
    }
}

/// Imports `id,username,email,created_at` rows (`id`, `created_at` optional).
pub async fn import_users(store: &Store, bytes: &[u8]) -> Result<ImportReport, ServiceError> {
    let table = Table::read(bytes, &["username", "email"])?;
    let mut report = ImportReport::default();
    let mut lines = Vec::new();
    let mut users = Vec::new();
    for (line, record) in &table.rows {
        let parsed = (|| {
            Ok::<_, DomainError>(NewUser {
                id: optional_id(table.cell(record, "id"), "id")?,
                username: Username::parse(table.cell(record, "username"))?,
                email: Email::parse(table.cell(record, "email"))?,
                created_at: optional_time(table.cell(record, "created_at"), "created_at")?,
            })
        })();
        match parsed {
            Ok(user) => {
                lines.push(*line);
                users.push(user);
            }
            Err(e) => report.reject(*line, e.to_string()),
        }
    }
    let outcomes = store.import_users(&users).await?;
    report.record(&lines, &outcomes);
    report.errors.sort_by_key(|e| e.line);
    Ok(report)
}

/// Imports `id,user_id,short_code,original_url,title,is_active,created_at,updated_at`.
pub async fn import_urls(store: &Store, bytes: &[u8]) -> Result<ImportReport, ServiceError> {
    let table = Table::read(bytes, &["id", "user_id", "short_code", "original_url"])?;
    let mut report = ImportReport::default();
    let mut lines = Vec::new();
    let mut urls = Vec::new();
    for (line, record) in &table.rows {
        let cell = |c| table.cell(record, c);
        let parsed = (|| {
            let created_at = optional_time(cell("created_at"), "created_at")?;
            let updated = cell("updated_at");
            Ok::<_, DomainError>(ImportedUrl {
                id: required_id(cell("id"), "id")?,
                user_id: required_id(cell("user_id"), "user_id")?,
                short_code: ShortCode::parse(cell("short_code"))?,
                target: TargetUrl::parse(cell("original_url"), TargetPolicy::default())?,
                title: Some(cell("title").to_owned()).filter(|t| !t.is_empty()),
                is_active: if cell("is_active").is_empty() {
                    true
                } else {
                    parse_bool(cell("is_active"))?
                },
                created_at,
                updated_at: if updated.is_empty() {
                    created_at
                } else {
                    optional_time(updated, "updated_at")?
                },
            })
        })();
        match parsed {
            Ok(url) => {
                lines.push(*line);
                urls.push(url);
            }
            Err(e) => report.reject(*line, e.to_string()),
        }
    }
    let outcomes = store.import_urls(&urls).await?;
    report.record(&lines, &outcomes);
    report.errors.sort_by_key(|e| e.line);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_needs_utf8_and_the_required_columns() {
        assert!(matches!(
            Table::read(b"\xff\xfe", &["email"]),
            Err(ServiceError::BadFile(_))
        ));
        assert!(matches!(
            Table::read(b"id,name\n1,x\n", &["username", "email"]),
            Err(ServiceError::BadFile(_))
        ));
        let t = Table::read(
            b"\xef\xbb\xbfEmail,username\na@b.c,ann\n",
            &["username", "email"],
        )
        .unwrap();
        assert_eq!(t.cell(&t.rows[0].1, "username"), "ann");
        assert_eq!(t.rows[0].0, 2);
    }
}
