//! Per-request stage timings: where a request spent its time (local cache,
//! Redis, database). The middleware scopes a `StageTimes` around each
//! request; code deep in `cache/` or `store/` records into it through a
//! task-local, so nothing is passed down. Outside a request (the event
//! writer) recording is a no-op.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub enum Stage {
    CacheLocal,
    CacheRedis,
    Db,
}

/// Nanoseconds spent per stage during one request.
#[derive(Debug, Default)]
pub struct StageTimes {
    cache_local: AtomicU64,
    cache_redis: AtomicU64,
    db: AtomicU64,
}

impl StageTimes {
    fn slot(&self, stage: Stage) -> &AtomicU64 {
        match stage {
            Stage::CacheLocal => &self.cache_local,
            Stage::CacheRedis => &self.cache_redis,
            Stage::Db => &self.db,
        }
    }

    /// Milliseconds in a stage, or `None` if the request never entered it.
    pub fn millis(&self, stage: Stage) -> Option<f64> {
        match self.slot(stage).load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(nanos as f64 / 1e6),
        }
    }
}

tokio::task_local! {
    static CURRENT: Arc<StageTimes>;
}

/// Runs `request` with a fresh set of stage timings, returned beside its output.
pub async fn scope<F: std::future::Future>(request: F) -> (F::Output, Arc<StageTimes>) {
    let times = Arc::new(StageTimes::default());
    let output = CURRENT.scope(times.clone(), request).await;
    (output, times)
}

/// Adds the time until drop to `stage` of the current request, if any.
pub struct StageTimer {
    stage: Stage,
    started: Instant,
}

pub fn stage_timer(stage: Stage) -> StageTimer {
    StageTimer {
        stage,
        started: Instant::now(),
    }
}

impl Drop for StageTimer {
    fn drop(&mut self) {
        let nanos = u64::try_from(self.started.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        let _ =
            CURRENT.try_with(|times| times.slot(self.stage).fetch_add(nanos, Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn timers_add_up_inside_a_scope_and_do_nothing_outside() {
        drop(stage_timer(Stage::Db));
        let ((), times) = scope(async {
            drop(stage_timer(Stage::Db));
            drop(stage_timer(Stage::Db));
            drop(stage_timer(Stage::CacheLocal));
        })
        .await;
        assert!(times.millis(Stage::Db).is_some());
        assert!(times.millis(Stage::CacheLocal).is_some());
        assert!(times.millis(Stage::CacheRedis).is_none());
    }
}
