//! The roll-ups of several event batches summed in memory before they are
//! merged: with redirects spread over many links, one 40 ms batch holds a
//! few events per link and its roll-up has about as many rows as events;
//! a second of batches sums to one row per link and value. The event
//! writer keeps one `RollupWindow` and adds each batch to it once
//! (`Store::sum_redirects`), before its first attempt to commit the batch;
//! `Store::commit_redirect_batch` merges the window in the transaction of
//! the batch that finds it due, and `Store::flush_rollups` merges it alone
//! (idle writer, a flush, a stop). A failed commit leaves the window as it
//! was, the batch's sums in it, and is retried with the same window, so a
//! retried batch never counts twice; nothing merges the window between a
//! batch's sums and its commit, because the writer retries that batch
//! before it does anything else.

use std::time::{Duration, Instant};

use super::rollups::{Rollup, SeenVisitors};
use crate::domain::RedirectEvent;

/// Past this many summed rows the window is due whatever its age.
const MOST_PENDING_ROWS: usize = 200_000;

#[derive(Debug)]
pub struct RollupWindow {
    period: Duration,
    pending: Rollup,
    /// When the oldest pending sums were committed with their events.
    since: Option<Instant>,
}

impl RollupWindow {
    /// Sums batches for up to `period` before merging them.
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            pending: Rollup::default(),
            since: None,
        }
    }

    /// Merges every batch's roll-up with the batch itself.
    pub fn immediate() -> Self {
        Self::new(Duration::ZERO)
    }

    /// When the pending sums must be merged; `None` when there are none.
    pub fn due_at(&self) -> Option<Instant> {
        self.since.map(|since| since + self.period)
    }

    pub(super) fn is_due(&self) -> bool {
        self.period.is_zero()
            || self.pending.rows() >= MOST_PENDING_ROWS
            || self.due_at().is_some_and(|due| due <= Instant::now())
    }

    pub(super) fn pending(&self) -> &Rollup {
        &self.pending
    }

    /// Whether no sums are pending.
    pub fn is_empty(&self) -> bool {
        self.since.is_none()
    }

    /// After a failed merge: due again one period from now.
    pub fn postpone(&mut self) {
        if self.since.is_some() {
            self.since = Some(Instant::now());
        }
    }

    /// Adds the sums of a batch about to be committed.
    pub(super) fn add(&mut self, batch: &[RedirectEvent], known: &SeenVisitors) {
        if batch.is_empty() {
            return;
        }
        self.pending.add(batch, known);
        self.since.get_or_insert_with(Instant::now);
    }

    /// Hands over what was merged, leaving the window empty.
    pub(super) fn take(&mut self) -> Rollup {
        self.since = None;
        std::mem::take(&mut self.pending)
    }
}
