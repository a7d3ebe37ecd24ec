//! Importing an events CSV (`id,url_id,user_id,event_type,timestamp,details`)
//! as a pipeline: a blocking thread reads and checks rows and hands them
//! on in chunks while the store writes earlier chunks, two at a time.
//!
//! A file of a million events is mostly work for the database (each row's
//! index entries); reading it took a third of the time when it came first
//! and writing waited for it. Now reading overlaps writing, chunks of rows
//! are the only thing held in memory besides the file, and the `details`
//! text is checked and passed on as it is instead of being built into an
//! object and written out again.

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use tokio::sync::mpsc;

use super::import::{open_csv, optional_id, optional_time, required_id, ImportReport};
use super::ServiceError;
use crate::domain::{check_details_text, DomainError, EventType, Id};
use crate::store::{ImportedEvent, Store};

/// Rows the reader hands to the store at a time.
const CHUNK_ROWS: usize = 20_000;
/// Chunks written at once (each its own transaction and connection).
const WRITERS: usize = 2;

/// What the reader made of a run of rows.
#[derive(Default)]
struct Parsed {
    rows: Vec<ImportedEvent>,
    lines: Vec<u64>,
    rejected: Vec<(u64, String)>,
}

/// Where each column is, once for the file.
struct Columns {
    id: Option<usize>,
    url_id: Option<usize>,
    user_id: Option<usize>,
    event_type: Option<usize>,
    timestamp: Option<usize>,
    details: Option<usize>,
}

impl Columns {
    fn of(headers: &[String]) -> Self {
        let at = |name: &str| headers.iter().position(|h| h == name);
        Self {
            id: at("id"),
            url_id: at("url_id"),
            user_id: at("user_id"),
            event_type: at("event_type"),
            timestamp: at("timestamp"),
            details: at("details"),
        }
    }

    fn event(&self, record: &csv::StringRecord) -> Result<ImportedEvent, DomainError> {
        let cell = |at: Option<usize>| at.and_then(|i| record.get(i)).unwrap_or("");
        Ok(ImportedEvent {
            id: required_id(cell(self.id), "id")?,
            url_id: optional_id(cell(self.url_id), "url_id")?.map(Id::get),
            user_id: optional_id(cell(self.user_id), "user_id")?.map(Id::get),
            event_type: EventType::parse(cell(self.event_type))?.into_string(),
            timestamp: optional_time(cell(self.timestamp), "timestamp")?,
            details: check_details_text(cell(self.details))?.into(),
        })
    }
}

/// Imports the events of a CSV file; each row's id is kept, and an id
/// already stored (or earlier in the file) leaves the stored event as it is.
pub async fn import_events(store: &Store, bytes: Bytes) -> Result<ImportReport, ServiceError> {
    // A file that cannot be read (not UTF-8, a column missing) is the
    // reader's first and only message: nothing is written.
    let (chunks, mut received) = mpsc::channel(WRITERS);
    let reader = tokio::task::spawn_blocking(move || read_events(&bytes, &chunks));
    let import = store.begin_event_import().await?;
    let mut report = ImportReport::default();
    let written: Result<(), ServiceError> = async {
        let writes = stream::poll_fn(|cx| received.poll_recv(cx))
            .map(|parsed: Result<Parsed, ServiceError>| {
                // Claimed here, in file order, whichever chunk commits first.
                let claimed = parsed.map(|p| (import.claim(p.rows), p.lines, p.rejected));
                let import = &import;
                async move {
                    let (claimed, lines, rejected) = claimed?;
                    let outcomes = import.write(claimed).await?;
                    Ok::<_, ServiceError>((lines, rejected, outcomes))
                }
            })
            .buffered(WRITERS);
        let mut writes = std::pin::pin!(writes);
        while let Some(written) = writes.next().await {
            let (lines, rejected, outcomes) = written?;
            for (line, reason) in rejected {
                report.reject(line, reason);
            }
            report.record(&lines, &outcomes);
        }
        Ok(())
    }
    .await;
    // Also after a failed chunk: the committed ones reach the reports.
    let finished = import.finish().await;
    written?;
    finished?;
    reader
        .await
        .map_err(|e| ServiceError::Internal(anyhow::Error::new(e).context("CSV reader failed")))?;
    report.errors.sort_by_key(|e| e.line);
    Ok(report)
}

/// Reads the file's rows into chunks; stops early when nobody listens.
fn read_events(bytes: &[u8], chunks: &mpsc::Sender<Result<Parsed, ServiceError>>) {
    let (headers, mut reader) = match open_csv(bytes, &["id", "event_type"]) {
        Ok(opened) => opened,
        Err(e) => {
            let _ = chunks.blocking_send(Err(e));
            return;
        }
    };
    let columns = Columns::of(&headers);
    let mut record = csv::StringRecord::new();
    let mut parsed = Parsed::default();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let _ = chunks
                    .blocking_send(Err(ServiceError::BadFile(format!("unreadable CSV: {e}"))));
                return;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        match columns.event(&record) {
            Ok(event) => {
                parsed.lines.push(line);
                parsed.rows.push(event);
            }
            Err(e) => parsed.rejected.push((line, e.to_string())),
        }
        if parsed.rows.len() + parsed.rejected.len() >= CHUNK_ROWS
            && chunks
                .blocking_send(Ok(std::mem::take(&mut parsed)))
                .is_err()
        {
            return;
        }
    }
    let _ = chunks.blocking_send(Ok(parsed));
}
