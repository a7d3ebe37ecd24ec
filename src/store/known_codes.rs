//! Which short codes the store may hold: a Bloom filter over every code
//! ever handed out (`short_codes`), so that a code no link has is answered
//! without a database round trip.
//!
//! A Bloom filter never forgets a code it was given, so "not in the filter"
//! is a sure answer, and "maybe" sends the look-up on to the store. It is
//! trusted only while it is complete:
//! - this process adds a code before the transaction that claims it
//!   commits, so its own writes are known before any client can ask;
//! - codes written by other processes arrive through `code_watch`
//!   (PostgreSQL notifications, SQLite's growing rowid);
//! - a rebuild scans the table while new codes are also kept aside in
//!   `pending` and replayed into the new filter, so none falls between the
//!   scan and the swap; codes added in the last `RECENT` are replayed too,
//!   because a code added just before a rebuild began may commit after
//!   the scan's snapshot was taken.
//!
//! Until the first build, and whenever the watch may have missed codes,
//! `surely_absent` answers `false` and every look-up goes to the store.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use fastbloom::BloomFilter;
use tokio::sync::Notify;

/// The false-positive rate at full capacity: one unknown code in a
/// hundred still reaches the store.
const FALSE_POSITIVE_RATE: f64 = 0.01;
/// The smallest filter, in codes (about 80 KiB).
const MIN_CAPACITY: usize = 65_536;
/// How long an added code is kept for the next rebuild: far longer than a
/// transaction that claims codes stays open.
const RECENT: Duration = Duration::from_secs(60);
/// Most codes kept for the next rebuild, so a bulk import through the API
/// does not hold every code it stored for a minute. Past it the oldest go:
/// on PostgreSQL their announcement still reaches the watch, on SQLite the
/// code log does within a second.
const RECENT_MOST: usize = 65_536;

struct State {
    /// `None` while the filter may be missing codes.
    filter: Option<BloomFilter>,
    /// Codes added while a rebuild scans the table (each shared with
    /// `recent`, not copied).
    pending: Option<Vec<Arc<str>>>,
    /// Codes added in the last `RECENT`, oldest first.
    recent: VecDeque<(Instant, Arc<str>)>,
    /// Codes the filter was sized for, and codes in it.
    capacity: usize,
    held: usize,
}

/// The filter and its upkeep state; one per store.
pub(crate) struct KnownCodes {
    state: RwLock<State>,
    /// Woken when the filter holds more codes than it was sized for.
    pub(crate) outgrown: Notify,
    /// Set once a watch keeps the filter: until then (and for good in a
    /// process that never serves redirects, or one using Redis) `add` does
    /// nothing, so creates and imports keep no codes for nobody.
    kept: AtomicBool,
}

/// A filter being built by a rebuild's scan.
pub(crate) struct Rebuild {
    filter: BloomFilter,
    capacity: usize,
    held: usize,
}

impl Rebuild {
    pub(crate) fn add(&mut self, code: &str) {
        if !self.filter.insert(code) {
            self.held += 1;
        }
    }
}

/// How many codes a filter for `stored` codes is sized for: half again,
/// so that it outgrows itself rarely.
pub(crate) fn capacity_for(stored: usize) -> usize {
    stored.saturating_add(stored / 2).max(MIN_CAPACITY)
}

impl Default for KnownCodes {
    fn default() -> Self {
        Self {
            state: RwLock::new(State {
                filter: None,
                pending: None,
                recent: VecDeque::new(),
                capacity: 0,
                held: 0,
            }),
            outgrown: Notify::new(),
            kept: AtomicBool::new(false),
        }
    }
}

impl KnownCodes {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// True only when the filter is complete and does not hold `code`.
    pub(crate) fn surely_absent(&self, code: &str) -> bool {
        self.read()
            .filter
            .as_ref()
            .is_some_and(|filter| !filter.contains(code))
    }

    /// Whether look-ups can be answered from the filter now.
    pub(crate) fn trusted(&self) -> bool {
        self.read().filter.is_some()
    }

    /// Codes in the filter now (0 while it is not trusted).
    pub(crate) fn held(&self) -> usize {
        let state = self.read();
        if state.filter.is_some() {
            state.held
        } else {
            0
        }
    }

    /// From now on, codes added are kept for the filter.
    pub(crate) fn keep(&self) {
        self.kept.store(true, Ordering::Release);
    }

    /// Records a code that is (or is about to be) stored.
    pub(crate) fn add(&self, code: &str) {
        if !self.kept.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.write();
        let code: Arc<str> = code.into();
        if let Some(pending) = &mut state.pending {
            pending.push(code.clone());
        }
        let now = Instant::now();
        while state.recent.len() >= RECENT_MOST
            || state
                .recent
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > RECENT)
        {
            state.recent.pop_front();
        }
        state.recent.push_back((now, code.clone()));
        let outgrown = match &mut state.filter {
            // A code seen twice (its own write, then the watch) counts once.
            Some(filter) => {
                if !filter.insert(&*code) {
                    state.held += 1;
                }
                state.held > state.capacity
            }
            None => false,
        };
        if outgrown {
            self.outgrown.notify_one();
        }
    }

    /// Stops answering from the filter until the next rebuild finishes:
    /// codes may have been stored that it never saw.
    pub(crate) fn distrust(&self) {
        self.write().filter = None;
    }

    /// Starts a rebuild for about `stored` codes; codes added from now on
    /// are also kept for `finish`.
    pub(crate) fn begin(&self, stored: usize) -> Rebuild {
        self.write().pending = Some(Vec::new());
        let capacity = capacity_for(stored);
        Rebuild {
            filter: BloomFilter::with_false_pos(FALSE_POSITIVE_RATE).expected_items(capacity),
            capacity,
            held: 0,
        }
    }

    /// Swaps in a finished rebuild, with every code added while it scanned.
    pub(crate) fn finish(&self, mut rebuild: Rebuild) {
        let mut state = self.write();
        for code in state.pending.take().unwrap_or_default() {
            rebuild.add(&code);
        }
        for (_, code) in &state.recent {
            rebuild.add(code);
        }
        state.filter = Some(rebuild.filter);
        state.capacity = rebuild.capacity;
        state.held = rebuild.held;
    }

    /// Gives up a rebuild whose scan failed; the filter in place, if any,
    /// saw every code meanwhile and stays.
    pub(crate) fn abandon(&self) {
        self.write().pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Filter state as a running watch has it.
    fn kept() -> KnownCodes {
        let known = KnownCodes::default();
        known.keep();
        known
    }

    #[test]
    fn codes_are_kept_only_once_a_watch_keeps_the_filter() {
        let known = KnownCodes::default();
        known.add("unwatched");
        known.finish(known.begin(0));
        assert!(known.surely_absent("unwatched"));
        assert_eq!(known.read().recent.len(), 0);
    }

    #[test]
    fn nothing_is_surely_absent_before_the_first_build() {
        let known = kept();
        known.add("abc123");
        assert!(!known.surely_absent("zzz999"));
        assert!(!known.trusted());
    }

    #[test]
    fn a_code_added_during_the_scan_survives_the_swap() {
        let known = kept();
        let mut rebuild = known.begin(2);
        rebuild.add("scanned");
        // Stored after the scan's snapshot: only `add` saw it.
        known.add("late");
        known.finish(rebuild);
        assert!(known.trusted());
        assert!(!known.surely_absent("scanned"));
        assert!(!known.surely_absent("late"));
        assert_eq!(known.held(), 2);
        let unknown = (0..1000)
            .filter(|i| known.surely_absent(&format!("missing{i}")))
            .count();
        assert!(unknown > 950, "{unknown} of 1000 unknown codes told apart");
    }

    #[test]
    fn a_code_added_just_before_the_scan_survives_the_swap() {
        let known = kept();
        // Claimed, not yet committed: the scan's snapshot will not hold it.
        known.add("in-flight");
        let rebuild = known.begin(0);
        known.finish(rebuild);
        assert!(!known.surely_absent("in-flight"));
    }

    #[test]
    fn at_most_recent_most_codes_wait_for_the_next_rebuild() {
        let known = kept();
        for i in 0..RECENT_MOST + 10 {
            known.add(&format!("bulk{i}"));
        }
        let recent = &known.read().recent;
        assert_eq!(recent.len(), RECENT_MOST);
        assert_eq!(recent.front().map(|(_, code)| &**code), Some("bulk10"));
    }

    #[test]
    fn a_distrusted_filter_answers_nothing_until_rebuilt() {
        let known = kept();
        known.finish(known.begin(0));
        assert!(known.surely_absent("gone"));
        known.distrust();
        assert!(!known.surely_absent("gone"));
        known.abandon();
        assert!(!known.trusted());
    }

    #[test]
    fn a_filter_past_its_capacity_asks_for_a_rebuild() {
        let known = kept();
        known.finish(known.begin(0));
        // Some codes look present already (false positives) and do not
        // count: twice the capacity is surely past it.
        for i in 0..2 * MIN_CAPACITY {
            known.add(&format!("c{i}"));
        }
        assert!(known.held() > MIN_CAPACITY);
        // The permit is stored: a wait started now completes at once.
        let asked = futures_util::FutureExt::now_or_never(known.outgrown.notified());
        assert!(asked.is_some());
    }

    #[test]
    fn filters_are_sized_half_again_over_the_store() {
        assert_eq!(capacity_for(0), MIN_CAPACITY);
        assert_eq!(capacity_for(10_000_000), 15_000_000);
    }
}
