//! A circuit breaker for the shared cache: after `failure_threshold`
//! consecutive errors or time-outs it opens, and calls skip Redis entirely;
//! after `cooldown` one probe is let through (half-open), and its outcome
//! closes or re-opens the breaker.
//!
//! A `std::sync::Mutex` guards the state: no `.await` happens while it is
//! held and each critical section is a few instructions.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    /// The value of the `kurz_cache_breaker_state` gauge.
    pub fn gauge_value(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half_open",
            Self::Open => "open",
        }
    }
}

enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

pub struct Breaker {
    inner: Mutex<Inner>,
    failure_threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    pub fn new(failure_threshold: u32, cooldown: Duration) -> Self {
        metrics::gauge!("kurz_cache_breaker_state").set(BreakerState::Closed.gauge_value());
        for to in [
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::Closed,
        ] {
            metrics::counter!("kurz_cache_breaker_transitions_total", "to" => to.label())
                .increment(0);
        }
        Self {
            inner: Mutex::new(Inner::Closed { failures: 0 }),
            failure_threshold: failure_threshold.max(1),
            cooldown,
        }
    }

    /// Whether a call may go to Redis now.
    pub fn allow(&self) -> bool {
        let mut inner = self.lock();
        match &mut *inner {
            Inner::Closed { .. } => true,
            Inner::Open { until } if Instant::now() >= *until => {
                *inner = Inner::HalfOpen { probing: true };
                transition(BreakerState::HalfOpen);
                true
            }
            Inner::Open { .. } => false,
            Inner::HalfOpen { probing } if !*probing => {
                *probing = true;
                true
            }
            Inner::HalfOpen { .. } => false,
        }
    }

    pub fn record_success(&self) {
        let mut inner = self.lock();
        match &mut *inner {
            Inner::Closed { failures } => *failures = 0,
            _ => {
                *inner = Inner::Closed { failures: 0 };
                transition(BreakerState::Closed);
            }
        }
    }

    pub fn record_failure(&self) {
        let mut inner = self.lock();
        let open = match &mut *inner {
            Inner::Closed { failures } => {
                *failures += 1;
                *failures >= self.failure_threshold
            }
            Inner::HalfOpen { .. } => true,
            Inner::Open { .. } => false,
        };
        if open {
            *inner = Inner::Open {
                until: Instant::now() + self.cooldown,
            };
            transition(BreakerState::Open);
        }
    }

    pub fn state(&self) -> BreakerState {
        match &*self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
            Inner::Open { .. } => BreakerState::Open,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the state half-written
        // (every write is one assignment), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn transition(to: BreakerState) {
    metrics::gauge!("kurz_cache_breaker_state").set(to.gauge_value());
    metrics::counter!("kurz_cache_breaker_transitions_total", "to" => to.label()).increment(1);
    tracing::warn!(state = to.label(), "redis circuit breaker changed state");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_and_probes_after_the_cooldown() {
        let breaker = Breaker::new(3, Duration::from_secs(2));
        breaker.record_failure();
        breaker.record_failure();
        breaker.record_success();
        breaker.record_failure();
        breaker.record_failure();
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "a success resets the count"
        );
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.allow());

        tokio::time::advance(Duration::from_millis(2001)).await;
        assert!(breaker.allow(), "one probe after the cooldown");
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(!breaker.allow(), "only one probe at a time");
        breaker.record_failure();
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a failed probe re-opens"
        );

        tokio::time::advance(Duration::from_millis(2001)).await;
        assert!(breaker.allow());
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.allow());
    }
}
