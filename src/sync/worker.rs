//! The retrieval worker: claims queued runs from the database (one instance per run, under a
//! lease kept alive by a heartbeat), retrieves into a fresh snapshot, and promotes it only on
//! success. A run whose instance died is claimed again once its lease runs out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Duration as Lease;
use rand::distr::{Alphanumeric, SampleString};

use super::credentials::credentials_of;
use super::progress::Progress;
use super::sink::SnapshotSink;
use crate::psa::connector::Connector;
use crate::store::entity::{psa_connection, sync_run};
use crate::store::runs;
use crate::store::snapshots::{self, SnapshotKey};
use crate::web::AppState;

/// How long a claim holds without a heartbeat, and how often the heartbeat runs.
#[derive(Debug, Clone, Copy)]
pub struct WorkerTiming {
    pub lease: Duration,
    pub heartbeat: Duration,
    pub idle_poll: Duration,
    /// Claims after which an interrupted run is marked failed instead of tried again.
    pub max_attempts: i32,
}

impl Default for WorkerTiming {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(2),
            idle_poll: Duration::from_secs(1),
            max_attempts: 3,
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
    {
        loop {
            match runs::claim_next(&state.db, &owner, lease(timing)).await {
                Ok(Some(run)) => run_claimed(&state, &owner, timing, run).await,
                Ok(None) => tokio::time::sleep(timing.idle_poll).await,
                Err(e) => {
                    // The database is away: wait and try again; queued runs stay queued.
                    tracing::warn!(error = %e, "worker cannot reach the database");
                    tokio::time::sleep(timing.idle_poll * 5).await;
                }
            }
        }
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
    let outcome = if run.attempts > timing.max_attempts {
        Err("The retrieval was interrupted several times and has stopped. Click Sync now to try again.".to_string())
    } else {
        retrieve_with_heartbeat(state, owner, timing, &run, progress.clone()).await
    };
    let snapshot = current(&progress);
    let key = SnapshotKey {
        tenant_id: run.tenant_id,
        connection_id: run.connection_id,
        run_id: run.id,
    };
    let error = match outcome {
        Ok(()) => snapshots::promote(&state.db, key).await.err().map(|e| {
            tracing::error!(error = %e, "promoting the snapshot failed");
            "The retrieved records could not be stored. Try again; our team has been told."
                .to_string()
        }),
        Err(message) => Some(message),
    };
    if error.is_some() {
        // The previous snapshot stays live; this run's partial rows go.
        let _ = snapshots::clear_run(&state.db, key).await;
    }
    match runs::finish(&state.db, run.id, owner, &snapshot, error.clone()).await {
        Ok(true) => tracing::info!(failed = error.is_some(), "run finished"),
        Ok(false) => tracing::warn!("run was taken over before it finished"),
        Err(e) => tracing::error!(error = %e, "could not record the end of the run"),
    }
}

fn current(progress: &Arc<Mutex<Progress>>) -> Progress {
    progress.lock().map(|p| *p).unwrap_or_default()
}

/// Retrieves while a heartbeat extends the lease and stores progress; a lost lease stops the
/// retrieval (another instance owns the run now).
async fn retrieve_with_heartbeat(
    state: &AppState,
    owner: &str,
    timing: WorkerTiming,
    run: &sync_run::Model,
    progress: Arc<Mutex<Progress>>,
) -> Result<(), String> {
    let retrieval = retrieve(state, run, progress.clone());
    tokio::pin!(retrieval);
    let mut beat = tokio::time::interval(timing.heartbeat);
    loop {
        tokio::select! {
            result = &mut retrieval => return result,
            _ = beat.tick() => {
                match runs::heartbeat(&state.db, run.id, owner, lease(timing), &current(&progress)).await {
                    Ok(true) => {}
                    Ok(false) => return Err("The run was taken over by another instance.".into()),
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed; retrying"),
                }
            }
        }
    }
}

async fn retrieve(
    state: &AppState,
    run: &sync_run::Model,
    progress: Arc<Mutex<Progress>>,
) -> Result<(), String> {
    let conn = find_connection(state, run).await?;
    let creds = credentials_of(&conn, &state.sealer).map_err(|e| {
        tracing::error!(error = %e, "stored connection unusable");
        "The stored connection could not be used. Edit the connection and enter the secret again."
            .to_string()
    })?;
    let connector = Connector::new(creds, &state.psa).map_err(|e| e.user_message())?;
    let key = SnapshotKey {
        tenant_id: run.tenant_id,
        connection_id: run.connection_id,
        run_id: run.id,
    };
    snapshots::clear_run(&state.db, key)
        .await
        .map_err(|e| e.to_string())?;
    let mut sink = SnapshotSink {
        db: state.db.clone(),
        key,
        progress,
    };
    connector.retrieve(&mut sink).await.map_err(|e| {
        tracing::warn!(error = %e, "retrieval failed");
        e.user_message()
    })
}

async fn find_connection(
    state: &AppState,
    run: &sync_run::Model,
) -> Result<psa_connection::Model, String> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    psa_connection::Entity::find_by_id(run.connection_id)
        .filter(psa_connection::Column::TenantId.eq(run.tenant_id))
        .one(&state.db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "The connection was removed.".to_string())
}
