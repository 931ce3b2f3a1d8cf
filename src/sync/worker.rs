//! The retrieval worker: claims queued runs from the database (one instance per run, under a
//! lease kept alive by a heartbeat), retrieves into a fresh snapshot, and promotes it only on
//! success. A run whose instance died is claimed again once its lease runs out. While the
//! database is away the worker waits: a short outage only pauses a run, a long one puts it
//! back in the queue (the claim still counts towards the run's attempts).

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Duration as Lease;
use futures::FutureExt;
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::DatabaseConnection;

use super::credentials::credentials_of;
use super::outage::{pause, retry_while_away};
use super::progress::Progress;
use super::sink::SnapshotSink;
use crate::psa::connector::Connector;
use crate::store::entity::{psa_connection, sync_run};
use crate::store::runs;
use crate::store::snapshots::{self, SnapshotKey};
use crate::web::AppState;

/// Why a retrieval stopped before its end.
enum Stop {
    /// The run failed; the message is for the user.
    Failed(String),
    /// The database stayed away past the heartbeat deadline: the run goes back to the queue.
    DatabaseAway,
}

/// How long a claim holds without a heartbeat, and how often the heartbeat runs.
#[derive(Debug, Clone, Copy)]
pub struct WorkerTiming {
    pub lease: Duration,
    pub heartbeat: Duration,
    pub idle_poll: Duration,
    /// Claims after which an interrupted run is marked failed instead of tried again.
    pub max_attempts: i32,
    /// The longest a run may take: a PSA that never stops answering must not hold the worker.
    pub max_run: Duration,
}

impl WorkerTiming {
    /// The timing for the settings: the heartbeat beats ten times per lease.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let lease = Duration::from_secs(settings.worker_lease_secs);
        Self {
            lease,
            heartbeat: (lease / 10).max(Duration::from_millis(300)),
            max_run: Duration::from_secs(settings.worker_max_run_secs),
            ..Self::default()
        }
    }
}

impl Default for WorkerTiming {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(2),
            idle_poll: Duration::from_secs(1),
            max_attempts: 3,
            // The largest standard data set takes minutes; hours mean something is wrong.
            max_run: Duration::from_secs(4 * 3600),
        }
    }
}

/// Starts the worker loop on a thread of its own with its own runtime, so retrievals never
/// compete with page requests for an executor thread.
pub fn spawn(
    state: Arc<AppState>,
    timing: WorkerTiming,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let owner = format!(
        "{}-{}",
        hostname(),
        Alphanumeric.sample_string(&mut rand::rng(), 8)
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("sync365-worker".into())
        .spawn(move || runtime.block_on(work(state, owner, timing)))
}

async fn work(state: Arc<AppState>, owner: String, timing: WorkerTiming) {
    tracing::info!(owner, "retrieval worker started");
    let mut last_cleanup = std::time::Instant::now() - CLEANUP_EVERY;
    let mut failed_claims = 0;
    loop {
        if last_cleanup.elapsed() >= CLEANUP_EVERY {
            cleanup(&state).await;
            last_cleanup = std::time::Instant::now();
        }
        match runs::claim_next(&state.db, &owner, lease(timing)).await {
            Ok(claimed) => {
                failed_claims = 0;
                match claimed {
                    Some(run) => run_claimed(&state, &owner, timing, run).await,
                    None => tokio::time::sleep(timing.idle_poll).await,
                }
            }
            Err(e) => {
                // Queued runs stay queued in the database; wait for it, longer each time.
                failed_claims += 1;
                tracing::warn!(error = %e, "worker cannot reach the database");
                tokio::time::sleep(pause(failed_claims)).await;
            }
        }
    }
}

const CLEANUP_EVERY: Duration = Duration::from_secs(600);

/// Expired sessions and stale throttling rows would otherwise grow without bound.
async fn cleanup(state: &AppState) {
    let sessions = crate::store::sessions::delete_expired(&state.db).await;
    let throttle = crate::store::throttle::delete_stale(&state.db).await;
    if let (Err(e), _) | (_, Err(e)) = (&sessions, &throttle) {
        tracing::warn!(error = %e, "cleanup failed; will try again");
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "sync365".into())
}

fn lease(t: WorkerTiming) -> Lease {
    Lease::from_std(t.lease).unwrap_or(Lease::seconds(30))
}

#[tracing::instrument(skip_all, fields(run_id = run.id, connection_id = run.connection_id, tenant_id = run.tenant_id))]
async fn run_claimed(state: &AppState, owner: &str, timing: WorkerTiming, run: sync_run::Model) {
    let progress = Arc::new(Mutex::new(Progress::default()));
    let key = SnapshotKey {
        tenant_id: run.tenant_id,
        connection_id: run.connection_id,
        snapshot: snapshots::snapshot_of(run.id, run.attempts),
    };
    let outcome = if run.attempts > timing.max_attempts {
        Err(Stop::Failed(INTERRUPTED.to_string()))
    } else {
        // A panic while reading a PSA's answer fails this run only, never the worker.
        let work = retrieve_with_heartbeat(state, owner, timing, &run, key, progress.clone());
        let caught = AssertUnwindSafe(work).catch_unwind();
        match tokio::time::timeout(timing.max_run, caught).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => {
                tracing::error!("retrieval panicked");
                Err(Stop::Failed(UNEXPECTED.to_string()))
            }
            Err(_) => {
                tracing::warn!("retrieval ran past its time limit");
                Err(Stop::Failed(too_long(timing.max_run)))
            }
        }
    };
    let ended = end_run(&state.db, key, run.id, owner, &current(&progress), outcome).await;
    match ended {
        Ok(true) => tracing::info!("run ended"),
        Ok(false) => tracing::warn!("run was taken over before it ended"),
        Err(e) => tracing::error!(error = %e, "could not record the end of the run"),
    }
}

/// Records how the run ended, waiting for the database if it is away: every step is safe to
/// repeat, and only the owner of the run can change it.
async fn end_run(
    db: &DatabaseConnection,
    key: SnapshotKey,
    run_id: i64,
    owner: &str,
    progress: &Progress,
    outcome: Result<(), Stop>,
) -> Result<bool, sea_orm::DbErr> {
    match outcome {
        Ok(()) => {
            let promote = || snapshots::promote_and_finish(db, key, run_id, owner, progress);
            retry_while_away("promoting the run", promote).await
        }
        Err(Stop::Failed(message)) => {
            let fail = || fail(db, key, run_id, owner, progress, message.clone());
            retry_while_away("recording the failed run", fail).await
        }
        Err(Stop::DatabaseAway) => {
            tracing::warn!("database away too long; the run goes back to the queue");
            retry_while_away("queueing the run again", || requeue(db, key, run_id, owner)).await
        }
    }
}

const INTERRUPTED: &str =
    "The retrieval was interrupted several times and has stopped. Click Sync now to try again.";
fn too_long(limit: Duration) -> String {
    let secs = limit.as_secs();
    let took = match secs {
        0..=119 => format!("{secs} seconds"),
        120..=7199 => format!("{} minutes", secs / 60),
        _ => format!("{:.1} hours", secs as f64 / 3600.0),
    };
    format!(
        "The retrieval was still going after {took} and was stopped; the last complete \
         data stays. Check that the connection points at your own PSA, then click Sync now."
    )
}

const UNEXPECTED: &str = "The retrieval failed unexpectedly. Try again; our team has been told.";

/// Drops this claim's partial rows (the live snapshot stays) and records the failure.
async fn fail(
    db: &DatabaseConnection,
    key: SnapshotKey,
    run_id: i64,
    owner: &str,
    progress: &Progress,
    message: String,
) -> Result<bool, sea_orm::DbErr> {
    snapshots::clear_run(db, key).await?;
    runs::finish(db, run_id, owner, progress, Some(message)).await
}

/// Drops this claim's partial rows and puts the run back in the queue for the next claim.
async fn requeue(
    db: &DatabaseConnection,
    key: SnapshotKey,
    run_id: i64,
    owner: &str,
) -> Result<bool, sea_orm::DbErr> {
    snapshots::clear_run(db, key).await?;
    runs::release(db, run_id, owner).await
}

fn current(progress: &Arc<Mutex<Progress>>) -> Progress {
    progress.lock().map(|p| *p).unwrap_or_default()
}

/// A run whose heartbeat has not reached the database for this share of the lease stops, before
/// another instance may take it over.
fn heartbeat_deadline(t: WorkerTiming) -> Duration {
    t.lease * 2 / 3
}

/// Retrieves while a heartbeat extends the lease and stores progress; a lost lease stops the
/// retrieval (another instance owns the run now), and so does a database away too long.
async fn retrieve_with_heartbeat(
    state: &AppState,
    owner: &str,
    timing: WorkerTiming,
    run: &sync_run::Model,
    key: SnapshotKey,
    progress: Arc<Mutex<Progress>>,
) -> Result<(), Stop> {
    let retrieval = retrieve(state, run, key, progress.clone());
    tokio::pin!(retrieval);
    let mut beat = tokio::time::interval(timing.heartbeat);
    // After a heartbeat that waited on an unreachable database, beat once, not once per tick.
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_beat = std::time::Instant::now();
    loop {
        tokio::select! {
            result = &mut retrieval => return result,
            _ = beat.tick() => {
                match runs::heartbeat(&state.db, run.id, owner, lease(timing), &current(&progress)).await {
                    Ok(true) => last_beat = std::time::Instant::now(),
                    Ok(false) => return Err(Stop::Failed(TAKEN_OVER.into())),
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed; retrying"),
                }
                if last_beat.elapsed() > heartbeat_deadline(timing) {
                    return Err(Stop::DatabaseAway);
                }
            }
        }
    }
}

const TAKEN_OVER: &str = "The run was taken over by another instance.";

async fn retrieve(
    state: &AppState,
    run: &sync_run::Model,
    key: SnapshotKey,
    progress: Arc<Mutex<Progress>>,
) -> Result<(), Stop> {
    let conn = find_connection(state, run).await?;
    let creds = credentials_of(&conn, &state.sealer).map_err(|e| {
        tracing::error!(error = %e, "stored connection unusable");
        Stop::Failed(
            "The stored connection could not be used. Edit the connection and enter the secret again."
                .to_string(),
        )
    })?;
    let connector =
        Connector::new(creds, &state.psa).map_err(|e| Stop::Failed(e.user_message()))?;
    retry_while_away("clearing the run's rows", || {
        snapshots::clear_run(&state.db, key)
    })
    .await
    .map_err(database_error)?;
    let mut sink = SnapshotSink {
        db: state.db.clone(),
        key,
        progress,
        max_per_kind: super::sink::MAX_RECORDS_PER_KIND,
    };
    connector.retrieve(&mut sink).await.map_err(|e| {
        tracing::warn!(error = %e, "retrieval failed");
        Stop::Failed(e.user_message())
    })
}

async fn find_connection(
    state: &AppState,
    run: &sync_run::Model,
) -> Result<psa_connection::Model, Stop> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let find = || {
        psa_connection::Entity::find_by_id(run.connection_id)
            .filter(psa_connection::Column::TenantId.eq(run.tenant_id))
            .one(&state.db)
    };
    retry_while_away("reading the connection", find)
        .await
        .map_err(database_error)?
        .ok_or_else(|| Stop::Failed("The connection was removed.".to_string()))
}

/// A database error that is not an outage (those are waited out): the detail goes to the log.
fn database_error(e: sea_orm::DbErr) -> Stop {
    tracing::error!(error = %e, "database error during a run");
    Stop::Failed(UNEXPECTED.to_string())
}
