//! Retrieval runs: queueing, claiming under a lease (safe with several instances on one
//! database), heartbeats, progress, and the end of a run.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::entity::sync_run as run;
use crate::sync::progress::Progress;

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// Queues a run for a connection, unless one is already queued or running (then that one).
pub async fn queue_run(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    connection_id: i64,
) -> Result<run::Model, DbErr> {
    if let Some(open) = find_open_run(db, tenant_id, connection_id).await? {
        return Ok(open);
    }
    let fresh = run::ActiveModel {
        connection_id: Set(connection_id),
        tenant_id: Set(tenant_id),
        state: Set(QUEUED.into()),
        attempts: Set(0),
        queued_at: Set(super::now()),
        progress: Set(Progress::default().to_json()),
        ..Default::default()
    };
    // A concurrent request may have queued one since: the one-open-run index keeps the first,
    // and this insert quietly becomes nothing (inside a transaction too).
    run::Entity::insert(fresh)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .try_insert()
        .exec(db)
        .await?;
    find_open_run(db, tenant_id, connection_id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the run just queued".into()))
}

/// The queued or running run of a connection, if any.
pub async fn find_open_run(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    connection_id: i64,
) -> Result<Option<run::Model>, DbErr> {
    run::Entity::find()
        .filter(run::Column::TenantId.eq(tenant_id))
        .filter(run::Column::ConnectionId.eq(connection_id))
        .filter(run::Column::State.is_in([QUEUED, RUNNING]))
        .one(db)
        .await
}

/// A connection's runs, newest first.
pub async fn find_connection_runs(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    connection_id: i64,
    limit: u64,
) -> Result<Vec<run::Model>, DbErr> {
    run::Entity::find()
        .filter(run::Column::TenantId.eq(tenant_id))
        .filter(run::Column::ConnectionId.eq(connection_id))
        .order_by_desc(run::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Claimable: queued, or running with a lease that ran out (its instance died).
fn claimable(now: DateTime<Utc>) -> Condition {
    Condition::any().add(run::Column::State.eq(QUEUED)).add(
        Condition::all()
            .add(run::Column::State.eq(RUNNING))
            .add(run::Column::LeaseUntil.lt(now)),
    )
}

/// Claims the oldest claimable run for `owner`. The conditional update is the lock: of two
/// instances racing for one run, exactly one sees a row updated.
pub async fn claim_next(
    db: &impl ConnectionTrait,
    owner: &str,
    lease: Duration,
) -> Result<Option<run::Model>, DbErr> {
    // Limitation: leases use this instance's clock, so instances sharing a database need synchronised clocks.
    let now = super::now();
    let candidates = run::Entity::find()
        .filter(claimable(now))
        .order_by_asc(run::Column::Id)
        .limit(5)
        .all(db)
        .await?;
    for candidate in candidates {
        let claimed = run::Entity::update_many()
            .col_expr(run::Column::State, Expr::value(RUNNING))
            .col_expr(run::Column::LeaseOwner, Expr::value(owner))
            .col_expr(run::Column::LeaseUntil, Expr::value(now + lease))
            .col_expr(run::Column::Attempts, Expr::value(candidate.attempts + 1))
            .col_expr(
                run::Column::StartedAt,
                Expr::value(candidate.started_at.unwrap_or(now)),
            )
            .filter(run::Column::Id.eq(candidate.id))
            .filter(run::Column::Attempts.eq(candidate.attempts))
            .filter(claimable(now))
            .exec(db)
            .await?;
        if claimed.rows_affected == 1 {
            return run::Entity::find_by_id(candidate.id).one(db).await;
        }
    }
    Ok(None)
}

/// An update that ends runs in `state`, now, with `error`, and releases their lease.
fn ended(state: &str, error: Option<String>) -> sea_orm::UpdateMany<run::Entity> {
    run::Entity::update_many()
        .col_expr(run::Column::State, Expr::value(state))
        .col_expr(run::Column::FinishedAt, Expr::value(super::now()))
        .col_expr(
            run::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(run::Column::Error, Expr::value(error))
}

/// Fails a connection's queued or running run with `reason`: its instance notices at the next
/// heartbeat, and its snapshot can no longer become live.
pub async fn supersede_open_runs(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    connection_id: i64,
    reason: &str,
) -> Result<u64, DbErr> {
    let done = ended(FAILED, Some(reason.to_string()))
        .filter(run::Column::TenantId.eq(tenant_id))
        .filter(run::Column::ConnectionId.eq(connection_id))
        .filter(run::Column::State.is_in([QUEUED, RUNNING]))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Extends the lease and stores progress; false when the run is no longer ours.
pub async fn heartbeat(
    db: &impl ConnectionTrait,
    run_id: i64,
    owner: &str,
    lease: Duration,
    progress: &Progress,
) -> Result<bool, DbErr> {
    let done = run::Entity::update_many()
        .col_expr(run::Column::LeaseUntil, Expr::value(super::now() + lease))
        .col_expr(run::Column::Progress, Expr::value(progress.to_json()))
        .filter(run::Column::Id.eq(run_id))
        .filter(run::Column::LeaseOwner.eq(owner))
        .filter(run::Column::State.eq(RUNNING))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Marks a run we own as succeeded (inside the promotion's transaction).
pub async fn mark_succeeded(
    db: &impl ConnectionTrait,
    run_id: i64,
    owner: &str,
    progress: &Progress,
) -> Result<bool, DbErr> {
    finish(db, run_id, owner, progress, None).await
}

/// Ends a run we own: succeeded, or failed with the user-facing message.
pub async fn finish(
    db: &impl ConnectionTrait,
    run_id: i64,
    owner: &str,
    progress: &Progress,
    error: Option<String>,
) -> Result<bool, DbErr> {
    let state = if error.is_some() { FAILED } else { SUCCEEDED };
    let done = ended(state, error)
        .col_expr(run::Column::Progress, Expr::value(progress.to_json()))
        .filter(run::Column::Id.eq(run_id))
        .filter(run::Column::LeaseOwner.eq(owner))
        .filter(run::Column::State.eq(RUNNING))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Puts a run we own back in the queue (its claim still counts as an attempt); false when the
/// run is no longer ours.
pub async fn release(db: &impl ConnectionTrait, run_id: i64, owner: &str) -> Result<bool, DbErr> {
    let done = run::Entity::update_many()
        .col_expr(run::Column::State, Expr::value(QUEUED))
        .col_expr(run::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            run::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            run::Column::Progress,
            Expr::value(Progress::default().to_json()),
        )
        .filter(run::Column::Id.eq(run_id))
        .filter(run::Column::LeaseOwner.eq(owner))
        .filter(run::Column::State.eq(RUNNING))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// The newest run of a connection, for status badges.
pub async fn find_latest_run(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    connection_id: i64,
) -> Result<Option<run::Model>, DbErr> {
    Ok(find_connection_runs(db, tenant_id, connection_id, 1)
        .await?
        .into_iter()
        .next())
}

/// The state shown for a connection: `never` without any run.
pub fn state_of(latest: Option<&run::Model>) -> &str {
    latest.map_or("never", |r| r.state.as_str())
}
