//! Autotask's limits, kept on our side: at most N requests in flight per entity (the vendor's
//! thread limit), pacing that backs off when answers slow down or are throttled, and the
//! MSP's shared hourly request budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::psa::{PsaError, ThresholdUsage};

/// Autotask's thread limit per (integration code, entity) for integrations made since 2023.1.
pub const VENDOR_THREAD_LIMIT: usize = 3;

/// A request slower than this many times the usual latency (and by at least `RISE_MARGIN`)
/// counts as "slowing down": Autotask adds 0.5 s to 1 s per call once half the hourly budget
/// is used, and that is our cue to ease off.
const RISE_FACTOR: f64 = 2.0;
const RISE_MARGIN: Duration = Duration::from_millis(150);
const MIN_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(5);

// Limitation: lanes live in one process and one run; several portal instances (or a scheduled
// run beside a user's) each allow `entity_concurrency`, hence the default of 2, not 3.
/// One lane per entity endpoint: a semaphore for the thread limit and a pacer.
#[derive(Debug)]
pub struct Lane {
    permits: Arc<Semaphore>,
    pacer: Mutex<Pacer>,
}

impl Lane {
    fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            pacer: Mutex::new(Pacer::default()),
        }
    }

    /// Waits for a free thread on this entity, then for the current pause.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, PsaError> {
        let permit =
            self.permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| PsaError::Upstream {
                    host: "(local)".into(),
                    detail: "request lane closed".into(),
                })?;
        let pause = self.pacer().pause;
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        Ok(permit)
    }

    /// Feeds one answer's latency (and whether it was throttled) into the pacing.
    pub fn observe(&self, latency: Duration, throttled: bool) {
        self.pacer().observe(latency, throttled);
    }

    fn pacer(&self) -> std::sync::MutexGuard<'_, Pacer> {
        self.pacer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The lanes of one run, created on first use.
#[derive(Debug)]
pub struct Lanes {
    limit: usize,
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
}

impl Lanes {
    /// `limit` is clamped to 1..=3: more would break Autotask's thread limit.
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.clamp(1, VENDOR_THREAD_LIMIT),
            lanes: Mutex::default(),
        }
    }

    pub fn get(&self, entity: &str) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        let key = entity.to_ascii_lowercase();
        lanes
            .entry(key)
            .or_insert_with(|| Arc::new(Lane::new(self.limit)))
            .clone()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// Adds a pause before each request when answers slow down or are throttled, and takes it
/// away again as they recover.
#[derive(Debug, Default)]
struct Pacer {
    usual: Option<Duration>,
    pause: Duration,
}

impl Pacer {
    fn observe(&mut self, latency: Duration, throttled: bool) {
        let usual = *self.usual.get_or_insert(latency);
        let rising = latency > usual.mul_f64(RISE_FACTOR) && latency > usual + RISE_MARGIN;
        self.pause = if throttled || rising {
            (self.pause * 2).clamp(MIN_PAUSE, MAX_PAUSE)
        } else if self.pause <= MIN_PAUSE {
            Duration::ZERO
        } else {
            self.pause / 2
        };
        // The usual latency follows improvements at once but rises slowly, so a steady climb
        // keeps standing out.
        self.usual = Some(if latency < usual {
            latency
        } else {
            usual.mul_f64(0.9) + latency.mul_f64(0.1)
        });
    }
}

/// The MSP's hourly request budget, shared with all its other Autotask tools. We stop while
/// a reserve is still left for them.
#[derive(Debug)]
pub struct Budget {
    reserve_fraction: f64,
    check_every: u64,
    state: Mutex<BudgetState>,
    /// Serialises refreshes so concurrent requests do not all ask at once.
    pub refresh: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct BudgetState {
    last: Option<ThresholdUsage>,
    since_check: u64,
}

impl Budget {
    pub fn new(reserve_fraction: f64, check_every: u64) -> Self {
        Self {
            reserve_fraction: reserve_fraction.clamp(0.0, 0.95),
            check_every: check_every.max(1),
            state: Mutex::default(),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// The number of requests left to others: never touched by us.
    pub fn reserve(&self, limit: u64) -> u64 {
        (limit as f64 * self.reserve_fraction).ceil() as u64
    }

    /// Records fresh usage from ThresholdInformation and says whether we may go on.
    pub fn record(&self, usage: ThresholdUsage) -> Result<(), PsaError> {
        let mut state = self.state();
        state.last = Some(usage);
        state.since_check = 0;
        self.verdict(usage)
    }

    /// Counts one of our requests; true when usage should be asked for again first. Until a
    /// first reading is recorded (during a test) the budget is not enforced.
    pub fn note_request(&self) -> bool {
        let mut state = self.state();
        let Some(last) = state.last else { return false };
        state.since_check += 1;
        let estimate = last.used + state.since_check;
        state.since_check >= self.check_every || estimate + self.reserve(last.limit) >= last.limit
    }

    /// False when another task refreshed the reading while we waited for the refresh lock.
    pub fn still_due(&self) -> bool {
        let state = self.state();
        match state.last {
            Some(last) => {
                state.since_check >= self.check_every
                    || last.used + state.since_check + self.reserve(last.limit) >= last.limit
            }
            None => false,
        }
    }

    fn verdict(&self, usage: ThresholdUsage) -> Result<(), PsaError> {
        if usage.used + self.reserve(usage.limit) >= usage.limit {
            return Err(PsaError::BudgetReserve {
                used: usage.used,
                limit: usage.limit,
            });
        }
        Ok(())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn concurrency_above_the_vendor_thread_limit_is_clamped() {
        assert_eq!(Lanes::new(10).limit(), 3);
        assert_eq!(Lanes::new(0).limit(), 1);
        assert_eq!(Lanes::new(2).limit(), 2);
    }

    #[test]
    fn entity_lanes_are_shared_whatever_the_casing() {
        let lanes = Lanes::new(3);
        assert!(Arc::ptr_eq(
            &lanes.get("Companies"),
            &lanes.get("companies")
        ));
        assert!(!Arc::ptr_eq(
            &lanes.get("Companies"),
            &lanes.get("Contracts")
        ));
    }

    #[test]
    fn the_pacer_pauses_when_latency_rises_and_recovers_when_it_falls() {
        let mut p = Pacer::default();
        for _ in 0..5 {
            p.observe(ms(30), false);
        }
        assert_eq!(p.pause, Duration::ZERO);
        p.observe(ms(600), false);
        assert_eq!(p.pause, MIN_PAUSE);
        p.observe(ms(650), false);
        assert_eq!(p.pause, MIN_PAUSE * 2);
        for _ in 0..5 {
            p.observe(ms(30), false);
        }
        assert_eq!(p.pause, Duration::ZERO);
    }

    #[test]
    fn throttling_doubles_the_pause_up_to_a_cap() {
        let mut p = Pacer::default();
        for _ in 0..20 {
            p.observe(ms(10), true);
        }
        assert_eq!(p.pause, MAX_PAUSE);
    }

    #[test]
    fn the_budget_stops_when_the_reserve_would_be_touched() {
        let b = Budget::new(0.2, 100);
        assert!(
            b.record(ThresholdUsage {
                used: 7_999,
                limit: 10_000
            })
            .is_ok()
        );
        let err = b
            .record(ThresholdUsage {
                used: 8_000,
                limit: 10_000,
            })
            .unwrap_err();
        assert_eq!(
            err,
            PsaError::BudgetReserve {
                used: 8_000,
                limit: 10_000
            }
        );
    }

    #[test]
    fn the_budget_asks_again_periodically_and_near_the_reserve() {
        let b = Budget::new(0.2, 3);
        assert!(!b.note_request(), "not enforced before a first reading");
        b.record(ThresholdUsage {
            used: 100,
            limit: 10_000,
        })
        .unwrap();
        assert!(!b.note_request());
        assert!(!b.note_request());
        assert!(b.note_request(), "every third request");
        b.record(ThresholdUsage {
            used: 7_999,
            limit: 10_000,
        })
        .unwrap();
        assert!(b.note_request(), "our own requests would reach the reserve");
    }
}
