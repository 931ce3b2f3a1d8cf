//! Sign-in throttling state, kept in the database so it holds across app instances.
//!
//! Each key (an account or a client address) counts failures within a window; past the
//! allowance the key is locked for a time that doubles with every further failure.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use super::entity::sign_in_throttle as row;

/// How many failures a key may have before it is locked, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub allowed_failures: i32,
    pub window: Duration,
    pub first_lock: Duration,
    pub max_lock: Duration,
}

/// Per account: five tries, then one minute, doubling up to fifteen.
pub const PER_ACCOUNT: ThrottlePolicy = ThrottlePolicy {
    allowed_failures: 5,
    window: Duration::minutes(15),
    first_lock: Duration::minutes(1),
    max_lock: Duration::minutes(15),
};

/// Per client address: more room (offices share an address), same growth.
pub const PER_ADDRESS: ThrottlePolicy = ThrottlePolicy {
    allowed_failures: 20,
    window: Duration::minutes(15),
    first_lock: Duration::minutes(1),
    max_lock: Duration::minutes(15),
};

/// The time a key stays locked until, if it is locked now.
pub async fn locked_until(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let found = row::Entity::find_by_id(key.to_string()).one(db).await?;
    Ok(found
        .and_then(|r| r.locked_until)
        .filter(|until| *until > Utc::now()))
}

/// Counts one attempt for the key (atomically, whichever instance sees it) and locks it past
/// the allowance. Sign-in counts before checking the password, so parallel guesses cannot all
/// slip in before the lock. Returns the attempts now counted in the window.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    key: &str,
    policy: ThrottlePolicy,
) -> Result<i32, DbErr> {
    let now = super::now();
    let fresh = row::ActiveModel {
        key: Set(key.to_string()),
        failures: Set(1),
        window_start: Set(now),
        locked_until: Set(None),
    };
    row::Entity::insert(fresh)
        .on_conflict(
            OnConflict::column(row::Column::Key)
                .value(
                    row::Column::Failures,
                    Expr::col((row::Entity, row::Column::Failures)).add(1),
                )
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    apply_policy(db, key, policy, now).await
}

async fn apply_policy(
    db: &impl ConnectionTrait,
    key: &str,
    policy: ThrottlePolicy,
    now: DateTime<Utc>,
) -> Result<i32, DbErr> {
    let Some(current) = row::Entity::find_by_id(key.to_string()).one(db).await? else {
        return Ok(0);
    };
    let mut failures = current.failures;
    // An update by key, not of the row read: a successful sign-in may have cleared the row since
    // (then there is nothing left to lock, and nothing fails).
    let update = row::Entity::update_many().filter(row::Column::Key.eq(key));
    if now - current.window_start > policy.window && current.locked_until.is_none_or(|u| u < now) {
        failures = 1;
        update
            .col_expr(row::Column::Failures, Expr::value(1))
            .col_expr(row::Column::WindowStart, Expr::value(now))
            .col_expr(
                row::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .exec(db)
            .await?;
    } else if current.failures >= policy.allowed_failures {
        let until = now + lock_for(current.failures, policy);
        update
            .col_expr(row::Column::LockedUntil, Expr::value(Some(until)))
            .exec(db)
            .await?;
    }
    Ok(failures)
}

/// Takes back one counted attempt (it was a successful sign-in), so an office sharing one
/// address is not locked out by its own successful sign-ins.
pub async fn forgive_one(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    row::Entity::update_many()
        .col_expr(
            row::Column::Failures,
            Expr::col(row::Column::Failures).sub(1),
        )
        .filter(row::Column::Key.eq(key))
        .filter(row::Column::Failures.gt(0))
        .exec(db)
        .await
        .map(|_| ())
}

/// Forgets keys idle for a day (called now and then by the worker).
pub async fn delete_stale(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let cutoff = Utc::now() - Duration::days(1);
    let done = row::Entity::delete_many()
        .filter(row::Column::WindowStart.lt(cutoff))
        .filter(
            sea_orm::Condition::any()
                .add(row::Column::LockedUntil.is_null())
                .add(row::Column::LockedUntil.lt(Utc::now())),
        )
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Lock length after `failures` failures: the first lock, doubled per extra failure, capped.
pub fn lock_for(failures: i32, policy: ThrottlePolicy) -> Duration {
    let extra = (failures - policy.allowed_failures).clamp(0, 10);
    (policy.first_lock * 2i32.pow(extra as u32)).min(policy.max_lock)
}

/// Forgets the failures of a key (after a successful sign-in).
pub async fn clear(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    row::Entity::delete_by_id(key.to_string())
        .exec(db)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_doubles_and_is_capped() {
        assert_eq!(lock_for(5, PER_ACCOUNT), Duration::minutes(1));
        assert_eq!(lock_for(6, PER_ACCOUNT), Duration::minutes(2));
        assert_eq!(lock_for(9, PER_ACCOUNT), Duration::minutes(15));
    }
}
