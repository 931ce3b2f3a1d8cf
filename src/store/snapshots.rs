//! Retrieved records, written as a snapshot per run. A run writes rows tagged with its id; only
//! when it succeeds does one transaction carry forward what disappeared (marked removed), point
//! the connection at the new snapshot and drop the old one. A failed run leaves the last good
//! snapshot untouched.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set, TransactionTrait,
};

use super::entity::{agreement, agreement_line, customer, product, psa_connection};
use crate::psa::records::{Agreement, AgreementLine, Customer, Product};

/// The tables of retrieved records, with the columns carried forward when a record disappears.
const TABLES: &[(&str, &str)] = &[
    ("customers", "name, identifier, status"),
    (
        "agreements",
        "customer_external_id, name, parent_external_id, agreement_type, billing_cycle, status, start_date, end_date",
    ),
    (
        "agreement_lines",
        "agreement_external_id, product_external_id, description, quantity, unit_price, status",
    ),
    ("products", "identifier, description, price, active"),
];

/// Where a run's records go.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotKey {
    pub tenant_id: i64,
    pub connection_id: i64,
    /// The snapshot tag (`snapshot_of`), stored in the records' `run_id` column.
    pub snapshot: i64,
}

/// Rows per INSERT: well under SQLite's bound-variable limit.
const CHUNK: usize = 400;

/// The tag of one claim's snapshot: each claim of a run writes its own rows, so an instance
/// that lost its claim can never touch the rows of the one that took over.
pub fn snapshot_of(run_id: i64, attempt: i32) -> i64 {
    run_id * 1000 + i64::from(attempt)
}

/// Removes the rows of a snapshot that did not become live (never the live one).
pub async fn clear_run(db: &impl ConnectionTrait, key: SnapshotKey) -> Result<(), DbErr> {
    let (c, r) = (key.connection_id, key.snapshot);
    for (table, _) in TABLES {
        let sql = format!(
            "DELETE FROM {table} WHERE connection_id = {c} AND run_id = {r} AND NOT EXISTS \
             (SELECT 1 FROM psa_connections p WHERE p.id = {c} AND p.live_run_id = {r})"
        );
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// Duplicates within one run (a record seen on two pages) keep the first copy.
fn ignore_duplicates<C: sea_orm::ColumnTrait + Copy>(cols: [C; 3]) -> OnConflict {
    OnConflict::columns(cols).do_nothing().to_owned()
}

pub async fn insert_customers(
    db: &impl ConnectionTrait,
    key: SnapshotKey,
    page: &[Customer],
) -> Result<(), DbErr> {
    use customer::Column as C;
    for chunk in page.chunks(CHUNK) {
        let rows = chunk.iter().map(|c| customer::ActiveModel {
            connection_id: Set(key.connection_id),
            tenant_id: Set(key.tenant_id),
            run_id: Set(key.snapshot),
            external_id: Set(c.external_id.clone()),
            removed: Set(false),
            name: Set(c.name.clone()),
            identifier: Set(c.identifier.clone()),
            status: Set(c.status.clone()),
            ..Default::default()
        });
        customer::Entity::insert_many(rows)
            .on_conflict(ignore_duplicates([
                C::ConnectionId,
                C::RunId,
                C::ExternalId,
            ]))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub async fn insert_agreements(
    db: &impl ConnectionTrait,
    key: SnapshotKey,
    page: &[Agreement],
) -> Result<(), DbErr> {
    use agreement::Column as C;
    for chunk in page.chunks(CHUNK) {
        let rows = chunk.iter().map(|a| agreement::ActiveModel {
            connection_id: Set(key.connection_id),
            tenant_id: Set(key.tenant_id),
            run_id: Set(key.snapshot),
            external_id: Set(a.external_id.clone()),
            removed: Set(false),
            customer_external_id: Set(a.customer_external_id.clone()),
            name: Set(a.name.clone()),
            parent_external_id: Set(a.parent_external_id.clone()),
            agreement_type: Set(a.agreement_type.clone()),
            billing_cycle: Set(a.billing_cycle.clone()),
            status: Set(a.status.clone()),
            start_date: Set(a.start_date.clone()),
            end_date: Set(a.end_date.clone()),
            ..Default::default()
        });
        agreement::Entity::insert_many(rows)
            .on_conflict(ignore_duplicates([
                C::ConnectionId,
                C::RunId,
                C::ExternalId,
            ]))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub async fn insert_agreement_lines(
    db: &impl ConnectionTrait,
    key: SnapshotKey,
    page: &[AgreementLine],
) -> Result<(), DbErr> {
    use agreement_line::Column as C;
    for chunk in page.chunks(CHUNK) {
        let rows = chunk.iter().map(|l| agreement_line::ActiveModel {
            connection_id: Set(key.connection_id),
            tenant_id: Set(key.tenant_id),
            run_id: Set(key.snapshot),
            external_id: Set(l.external_id.clone()),
            removed: Set(false),
            agreement_external_id: Set(l.agreement_external_id.clone()),
            product_external_id: Set(l.product_external_id.clone()),
            description: Set(l.description.clone()),
            quantity: Set(l.quantity),
            unit_price: Set(l.unit_price),
            status: Set(l.status.clone()),
            ..Default::default()
        });
        agreement_line::Entity::insert_many(rows)
            .on_conflict(ignore_duplicates([
                C::ConnectionId,
                C::RunId,
                C::ExternalId,
            ]))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub async fn insert_products(
    db: &impl ConnectionTrait,
    key: SnapshotKey,
    page: &[Product],
) -> Result<(), DbErr> {
    use product::Column as C;
    for chunk in page.chunks(CHUNK) {
        let rows = chunk.iter().map(|p| product::ActiveModel {
            connection_id: Set(key.connection_id),
            tenant_id: Set(key.tenant_id),
            run_id: Set(key.snapshot),
            external_id: Set(p.external_id.clone()),
            removed: Set(false),
            identifier: Set(p.identifier.clone()),
            description: Set(p.description.clone()),
            price: Set(p.price),
            active: Set(p.active),
            ..Default::default()
        });
        product::Entity::insert_many(rows)
            .on_conflict(ignore_duplicates([
                C::ConnectionId,
                C::RunId,
                C::ExternalId,
            ]))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Ends a run as succeeded and makes its snapshot the live one, in one transaction, only if
/// `owner` still holds the run. Writes come first, so SQLite takes the write lock at once and
/// PostgreSQL locks the connection row before reading it. Records of the previous snapshot
/// that this run did not see are carried forward as removed; older snapshots are dropped.
/// Returns false when the run was no longer ours (nothing changed).
pub async fn promote_and_finish(
    db: &sea_orm::DatabaseConnection,
    key: SnapshotKey,
    run_id: i64,
    owner: &str,
    progress: &crate::sync::progress::Progress,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    if !super::runs::mark_succeeded(&txn, run_id, owner, progress).await? {
        txn.rollback().await?;
        return Ok(false);
    }
    let previous = lock_connection(&txn, key).await?;
    if previous.is_some_and(|p| p >= key.snapshot) {
        // A newer snapshot is already live: keep it.
        txn.commit().await?;
        return Ok(true);
    }
    if let Some(previous) = previous {
        for (table, cols) in TABLES {
            txn.execute_unprepared(&carry_forward_sql(table, cols, key, previous))
                .await?;
        }
    }
    psa_connection::Entity::update_many()
        .col_expr(
            psa_connection::Column::LiveRunId,
            sea_orm::sea_query::Expr::value(key.snapshot),
        )
        .filter(psa_connection::Column::Id.eq(key.connection_id))
        .exec(&txn)
        .await?;
    for (table, _) in TABLES {
        let sql = format!(
            "DELETE FROM {table} WHERE connection_id = {} AND run_id < {}",
            key.connection_id, key.snapshot
        );
        txn.execute_unprepared(&sql).await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Touches the connection row (the lock) and reads its live snapshot.
async fn lock_connection(
    txn: &sea_orm::DatabaseTransaction,
    key: SnapshotKey,
) -> Result<Option<i64>, DbErr> {
    let touched = psa_connection::Entity::update_many()
        .col_expr(
            psa_connection::Column::UpdatedAt,
            sea_orm::sea_query::Expr::col(psa_connection::Column::UpdatedAt),
        )
        .filter(psa_connection::Column::Id.eq(key.connection_id))
        .filter(psa_connection::Column::TenantId.eq(key.tenant_id))
        .exec(txn)
        .await?;
    if touched.rows_affected != 1 {
        return Err(DbErr::RecordNotFound(
            "connection removed during the run".into(),
        ));
    }
    let conn = psa_connection::Entity::find_by_id(key.connection_id)
        .one(txn)
        .await?;
    Ok(conn.and_then(|c| c.live_run_id))
}

/// Every value spliced in is an i64 or a constant from `TABLES`: nothing from outside.
fn carry_forward_sql(table: &str, cols: &str, key: SnapshotKey, previous: i64) -> String {
    let (c, r) = (key.connection_id, key.snapshot);
    format!(
        "INSERT INTO {table} (connection_id, tenant_id, run_id, external_id, removed, {cols}) \
         SELECT connection_id, tenant_id, {r}, external_id, TRUE, {cols} FROM {table} old \
         WHERE old.connection_id = {c} AND old.run_id = {previous} AND NOT EXISTS \
         (SELECT 1 FROM {table} cur WHERE cur.connection_id = {c} AND cur.run_id = {r} AND cur.external_id = old.external_id)"
    )
}
