//! Waiting out a database outage: the worker tries a write again while the database cannot be
//! reached, instead of failing a run because the database blinked.

use std::time::Duration;

use sea_orm::DbErr;

use crate::psa::http::RetryPolicy;
use crate::store::is_unavailable;

/// Pauses between tries: short at first so work resumes soon after the database is back, then
/// a few seconds, so a long outage costs a query now and then and no CPU.
const PAUSES: RetryPolicy = RetryPolicy {
    max_attempts: u32::MAX,
    base_delay: Duration::from_millis(250),
    max_delay: Duration::from_secs(5),
};

/// The pause before try number `attempt` (1-based) while the database is away.
pub fn pause(attempt: u32) -> Duration {
    PAUSES.backoff(attempt)
}

/// Runs `op` until it succeeds or fails for another reason than an unreachable database. The
/// caller bounds the wait (a run's heartbeat deadline), so `op` must be safe to repeat.
pub async fn retry_while_away<T, F, Fut>(what: &'static str, mut op: F) -> Result<T, DbErr>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if is_unavailable(&e) => {
                tracing::warn!(error = %e, attempt, what, "database unavailable; waiting");
                tokio::time::sleep(pause(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
