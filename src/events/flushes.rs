//! Flush requests to the event writer (`EventSink::flush`), and when they
//! are due: once every event queued before them is written.

use tokio::sync::oneshot;

/// A flush request: answered once every event queued before it is written.
pub(super) type FlushWaiter = oneshot::Sender<()>;

/// Flush requests waiting, and how many more events must be written
/// before they are answered: the events in hand and queued when the last
/// one came (the queue is first in, first out, so those are the next ones
/// written).
#[derive(Default)]
pub(super) struct Flushes {
    pub(super) waiting: Vec<FlushWaiter>,
    owed: usize,
}

impl Flushes {
    pub(super) fn add(&mut self, done: FlushWaiter, queued: usize) {
        self.waiting.push(done);
        self.owed = self.owed.max(queued);
    }

    /// Counts `written` events; true once the waiting flushes are due.
    pub(super) fn wrote(&mut self, written: usize) -> bool {
        self.owed = self.owed.saturating_sub(written);
        !self.waiting.is_empty() && self.owed == 0
    }
}

#[cfg(test)]
mod tests {
    use super::Flushes;
    use tokio::sync::oneshot;

    #[test]
    fn a_flush_is_due_once_the_events_before_it_are_written() {
        let mut flushes = Flushes::default();
        assert!(!flushes.wrote(10), "no flush waits");
        let (first, _wait_first) = oneshot::channel();
        flushes.add(first, 5);
        assert!(!flushes.wrote(3));
        let (second, _wait_second) = oneshot::channel();
        // The first's two still queued, and two more behind them.
        flushes.add(second, 4);
        assert!(!flushes.wrote(1));
        assert!(flushes.wrote(3));
        let (nothing_queued, _wait) = oneshot::channel();
        let mut idle = Flushes::default();
        idle.add(nothing_queued, 0);
        assert!(idle.wrote(0), "nothing queued: due at once");
    }
}
