//! When the event writer takes a batch: how long a batch may linger for
//! company, counted from its oldest event's arrival rather than from the
//! writer's waking, so that under load an event waits one linger (or one
//! commit, if that is longer) before its batch is taken, not both.

use std::time::{Duration, Instant};

/// When the writer last took a batch from the queue (or began an idle
/// merge of the roll-ups with nothing queued): what is queued now arrived
/// after it. And whether the take left events behind (more than one
/// batch was queued).
#[derive(Debug, Clone, Copy)]
pub(super) struct LastTake {
    pub(super) at: Instant,
    pub(super) left_backlog: bool,
}

/// Until when a batch just begun may linger for company.
///
/// Events the writer finds queued when it comes back from a write arrived
/// after the last take (they have waited up to `now - last.at`), so they
/// linger only for the rest of `linger`; a backlog left behind by a full
/// batch is older still and is written at once. Only an event that finds
/// the writer idle starts a whole linger.
pub(super) fn linger_until(
    now: Instant,
    linger: Duration,
    found_queued: bool,
    last: LastTake,
) -> Instant {
    if !found_queued {
        now + linger
    } else if last.left_backlog {
        now
    } else {
        (last.at + linger).clamp(now, now + linger)
    }
}

#[cfg(test)]
mod tests {
    use super::{linger_until, LastTake};
    use std::time::{Duration, Instant};

    #[test]
    fn a_batch_lingers_only_for_what_its_oldest_event_has_not_waited_yet() {
        let linger = Duration::from_millis(250);
        let taken = Instant::now();
        let drained = LastTake {
            at: taken,
            left_backlog: false,
        };
        let after = |ms| taken + Duration::from_millis(ms);
        // An event that finds the writer idle starts a whole linger.
        assert_eq!(
            linger_until(after(900), linger, false, drained),
            after(1150)
        );
        // Events queued during a 100 ms write wait out the other 150 ms.
        assert_eq!(linger_until(after(100), linger, true, drained), after(250));
        // A write longer than the linger: they are written at once.
        assert_eq!(linger_until(after(400), linger, true, drained), after(400));
        // A backlog beyond one batch is written at once, however recent the take.
        let backlog = LastTake {
            at: taken,
            left_backlog: true,
        };
        assert_eq!(linger_until(after(10), linger, true, backlog), after(10));
    }
}
