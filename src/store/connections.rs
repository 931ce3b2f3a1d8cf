//! Saved PSA connections: insert, find, record a test, change, remove. Every query takes the
//! tenant id, so another tenant's connection id finds nothing.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, SqlErr,
};

use super::entity::{
    agreement, agreement_line, customer, product, psa_connection as conn, sync_run,
};
use crate::psa::Verification;

/// Who a connection signs in as: the columns of `uq_connection_identity` plus the public key.
// Limitation: the account is stored as typed, so `Contoso` and `contoso` (the same ConnectWise
// company) pass the case-sensitive unique constraint as two connections.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `connectwise` or `autotask`.
    pub psa_type: &'static str,
    /// ConnectWise site key or self-hosted URL; Autotask zone (canonical).
    pub host: String,
    /// ConnectWise company ID or Autotask username.
    pub account: String,
    pub public_key: Option<String>,
}

/// What a test learned, in the columns it is stored in.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub message: String,
    pub checklist: String,
    pub detected: String,
    pub api_root: String,
    pub threshold: Option<String>,
}

impl TestResult {
    /// A successful verification (its checklist may still hold failed rows).
    pub fn from_verification(v: &Verification) -> Self {
        let ok = v.passed();
        let message = if ok {
            "The connection works."
        } else {
            "The connection works, but permissions are missing: see the checklist."
        };
        Self {
            at: super::now(),
            ok,
            message: message.to_string(),
            checklist: serde_json::to_string(&v.checks).unwrap_or_else(|_| "[]".into()),
            detected: v.detected.clone(),
            api_root: v.api_root.clone(),
            threshold: v.threshold.and_then(|t| serde_json::to_string(&t).ok()),
        }
    }
}

/// Inserts a connection with an empty sealed secret: the secret is sealed with the row's id
/// bound in, so the caller seals it next and stores it with `set_sealed_secret` in the same
/// transaction.
pub async fn insert_connection(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    identity: &Identity,
    test: &TestResult,
) -> Result<conn::Model, DbErr> {
    let now = super::now();
    conn::ActiveModel {
        tenant_id: Set(tenant_id),
        psa_type: Set(identity.psa_type.to_string()),
        host: Set(identity.host.clone()),
        account: Set(identity.account.clone()),
        public_key: Set(identity.public_key.clone()),
        sealed_secret: Set(String::new()),
        detected: Set(Some(test.detected.clone())),
        api_root: Set(Some(test.api_root.clone())),
        last_test_at: Set(Some(test.at)),
        last_test_ok: Set(Some(test.ok)),
        last_test_message: Set(Some(test.message.clone())),
        checklist: Set(Some(test.checklist.clone())),
        threshold: Set(test.threshold.clone()),
        live_run_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn set_sealed_secret(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    id: i64,
    sealed: &str,
) -> Result<(), DbErr> {
    conn::Entity::update_many()
        .col_expr(conn::Column::SealedSecret, Expr::value(sealed))
        .filter(conn::Column::TenantId.eq(tenant_id))
        .filter(conn::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Stores a new test result on a connection; nothing else changes.
pub async fn update_test_result(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    id: i64,
    test: &TestResult,
) -> Result<(), DbErr> {
    conn::Entity::update_many()
        .col_expr(conn::Column::Detected, Expr::value(test.detected.clone()))
        .col_expr(conn::Column::ApiRoot, Expr::value(test.api_root.clone()))
        .col_expr(conn::Column::LastTestAt, Expr::value(test.at))
        .col_expr(conn::Column::LastTestOk, Expr::value(test.ok))
        .col_expr(
            conn::Column::LastTestMessage,
            Expr::value(test.message.clone()),
        )
        .col_expr(conn::Column::Checklist, Expr::value(test.checklist.clone()))
        .col_expr(conn::Column::Threshold, Expr::value(test.threshold.clone()))
        .col_expr(conn::Column::UpdatedAt, Expr::value(super::now()))
        .filter(conn::Column::TenantId.eq(tenant_id))
        .filter(conn::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Changes who a connection signs in as, with its freshly sealed secret and test result.
pub async fn update_identity(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    id: i64,
    identity: &Identity,
    sealed: &str,
) -> Result<(), DbErr> {
    conn::Entity::update_many()
        .col_expr(conn::Column::Host, Expr::value(identity.host.clone()))
        .col_expr(conn::Column::Account, Expr::value(identity.account.clone()))
        .col_expr(
            conn::Column::PublicKey,
            Expr::value(identity.public_key.clone()),
        )
        .col_expr(conn::Column::SealedSecret, Expr::value(sealed))
        .filter(conn::Column::TenantId.eq(tenant_id))
        .filter(conn::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// One of the tenant's connections.
pub async fn find_connection(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    id: i64,
) -> Result<Option<conn::Model>, DbErr> {
    conn::Entity::find()
        .filter(conn::Column::TenantId.eq(tenant_id))
        .filter(conn::Column::Id.eq(id))
        .one(db)
        .await
}

/// The tenant's connections, oldest first.
pub async fn find_connections(
    db: &impl ConnectionTrait,
    tenant_id: i64,
) -> Result<Vec<conn::Model>, DbErr> {
    conn::Entity::find()
        .filter(conn::Column::TenantId.eq(tenant_id))
        .order_by_asc(conn::Column::Id)
        .all(db)
        .await
}

/// Deletes a connection with its runs and records. The foreign keys cascade too, but SQLite
/// only enforces them on pool connections that ran `PRAGMA foreign_keys=ON`, so the children
/// are deleted explicitly; run it inside a transaction.
pub async fn delete_connection(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    id: i64,
) -> Result<bool, DbErr> {
    macro_rules! delete_children {
        ($($table:ident),*) => {$(
            $table::Entity::delete_many()
                .filter($table::Column::TenantId.eq(tenant_id))
                .filter($table::Column::ConnectionId.eq(id))
                .exec(db)
                .await?;
        )*};
    }
    delete_children!(agreement_line, agreement, customer, product, sync_run);
    let gone = conn::Entity::delete_many()
        .filter(conn::Column::TenantId.eq(tenant_id))
        .filter(conn::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(gone.rows_affected == 1)
}

/// True when the error is the database refusing a second connection with the same identity.
pub fn is_duplicate(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Records a failed re-test: when and why. The checklist and detected values of the last good
/// test stay, so the page still shows what was last known to work.
pub async fn record_failed_test(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    id: i64,
    message: &str,
) -> Result<(), DbErr> {
    conn::Entity::update_many()
        .col_expr(conn::Column::LastTestAt, Expr::value(super::now()))
        .col_expr(conn::Column::LastTestOk, Expr::value(false))
        .col_expr(conn::Column::LastTestMessage, Expr::value(message))
        .col_expr(conn::Column::UpdatedAt, Expr::value(super::now()))
        .filter(conn::Column::TenantId.eq(tenant_id))
        .filter(conn::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}
