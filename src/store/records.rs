//! Reading retrieved records. Only each connection's live run is shown: rows of other runs are
//! a snapshot being written or one that was replaced.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use super::entity::{agreement, agreement_line, customer, product, psa_connection as conn};

/// Record counts of one snapshot, removed records left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub customers: u64,
    pub agreements: u64,
    pub agreement_lines: u64,
    pub products: u64,
}

/// The live snapshot's counts of a connection (zeros before its first good run).
pub async fn count_live(db: &impl ConnectionTrait, c: &conn::Model) -> Result<Counts, DbErr> {
    let Some(run_id) = c.live_run_id else {
        return Ok(Counts::default());
    };
    macro_rules! count {
        ($table:ident) => {
            $table::Entity::find()
                .filter($table::Column::TenantId.eq(c.tenant_id))
                .filter($table::Column::ConnectionId.eq(c.id))
                .filter($table::Column::RunId.eq(run_id))
                .filter($table::Column::Removed.eq(false))
                .count(db)
                .await?
        };
    }
    Ok(Counts {
        customers: count!(customer),
        agreements: count!(agreement),
        agreement_lines: count!(agreement_line),
        products: count!(product),
    })
}

/// The tenant's connections that have a live snapshot, by id.
async fn live_connections(
    db: &impl ConnectionTrait,
    tenant_id: i64,
) -> Result<HashMap<i64, conn::Model>, DbErr> {
    let all = conn::Entity::find()
        .filter(conn::Column::TenantId.eq(tenant_id))
        .filter(conn::Column::LiveRunId.is_not_null())
        .all(db)
        .await?;
    Ok(all.into_iter().map(|c| (c.id, c)).collect())
}

/// `(connection_id, run_id)` of every live snapshot, as a condition on a record table.
macro_rules! live_condition {
    ($table:ident, $live:expr) => {{
        let mut any = Condition::any();
        for c in $live.values() {
            any = any.add(
                Condition::all()
                    .add($table::Column::ConnectionId.eq(c.id))
                    .add($table::Column::RunId.eq(c.live_run_id)),
            );
        }
        // With no live snapshot, `any` of nothing would match everything.
        if $live.is_empty() {
            any = any.add($table::Column::Id.eq(-1));
        }
        any
    }};
}

/// One page of results and how many there are in all.
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Escapes LIKE wildcards so a search for `50%` finds that text.
fn like_pattern(search: &str) -> String {
    let escaped = search
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// `column` contains `search`, ignoring case.
// Limitation: SQLite's lower() folds ASCII only, so non-ASCII names match case-sensitively there.
fn contains(column: impl sea_orm::sea_query::IntoColumnRef, search: &str) -> Expr {
    let pattern = like_pattern(&search.to_lowercase());
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('\\'))
}

/// Customers of the tenant's live snapshots whose name contains `search`, by name.
pub async fn find_live_customers(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    search: &str,
    page: u64,
    per_page: u64,
) -> Result<(Page<customer::Model>, HashMap<i64, conn::Model>), DbErr> {
    let live = live_connections(db, tenant_id).await?;
    let mut query = customer::Entity::find()
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(live_condition!(customer, live));
    if !search.is_empty() {
        query = query.filter(contains(customer::Column::Name, search));
    }
    let paginator = query
        .order_by_asc(customer::Column::Name)
        .order_by_asc(customer::Column::Id)
        .paginate(db, per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page).await?;
    Ok((Page { items, total }, live))
}

/// Products of the tenant's live snapshots whose description contains `search`.
pub async fn find_live_products(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    search: &str,
    page: u64,
    per_page: u64,
) -> Result<(Page<product::Model>, HashMap<i64, conn::Model>), DbErr> {
    let live = live_connections(db, tenant_id).await?;
    let mut query = product::Entity::find()
        .filter(product::Column::TenantId.eq(tenant_id))
        .filter(live_condition!(product, live));
    if !search.is_empty() {
        query = query.filter(
            Condition::any()
                .add(contains(product::Column::Description, search))
                .add(contains(product::Column::Identifier, search)),
        );
    }
    let paginator = query
        .order_by_asc(product::Column::Description)
        .order_by_asc(product::Column::Id)
        .paginate(db, per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page).await?;
    Ok((Page { items, total }, live))
}

/// A customer of one of the tenant's live snapshots, with its connection.
pub async fn find_live_customer(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    id: i64,
) -> Result<Option<(customer::Model, conn::Model)>, DbErr> {
    let Some(found) = customer::Entity::find_by_id(id)
        .filter(customer::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let c = conn::Entity::find_by_id(found.connection_id)
        .filter(conn::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?;
    Ok(c.filter(|c| c.live_run_id == Some(found.run_id))
        .map(|c| (found, c)))
}

/// A line with the catalog item it names, when that item was retrieved.
pub type AgreementLineRow = (agreement_line::Model, Option<product::Model>);

/// An agreement with its lines.
pub struct AgreementWithLines {
    pub agreement: agreement::Model,
    pub lines: Vec<AgreementLineRow>,
}

/// A customer's agreements in the same snapshot, each with its lines.
pub async fn find_customer_agreements(
    db: &impl ConnectionTrait,
    customer: &customer::Model,
) -> Result<Vec<AgreementWithLines>, DbErr> {
    let agreements = agreement::Entity::find()
        .filter(agreement::Column::TenantId.eq(customer.tenant_id))
        .filter(agreement::Column::ConnectionId.eq(customer.connection_id))
        .filter(agreement::Column::RunId.eq(customer.run_id))
        .filter(agreement::Column::CustomerExternalId.eq(customer.external_id.clone()))
        .order_by_asc(agreement::Column::Name)
        .all(db)
        .await?;
    let ids: Vec<String> = agreements.iter().map(|a| a.external_id.clone()).collect();
    let lines = agreement_line::Entity::find()
        .filter(agreement_line::Column::TenantId.eq(customer.tenant_id))
        .filter(agreement_line::Column::ConnectionId.eq(customer.connection_id))
        .filter(agreement_line::Column::RunId.eq(customer.run_id))
        .filter(agreement_line::Column::AgreementExternalId.is_in(ids))
        .order_by_asc(agreement_line::Column::Id)
        .all(db)
        .await?;
    let product_ids: Vec<String> = lines
        .iter()
        .filter_map(|l| l.product_external_id.clone())
        .collect();
    let products: HashMap<String, product::Model> = product::Entity::find()
        .filter(product::Column::TenantId.eq(customer.tenant_id))
        .filter(product::Column::ConnectionId.eq(customer.connection_id))
        .filter(product::Column::RunId.eq(customer.run_id))
        .filter(product::Column::ExternalId.is_in(product_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.external_id.clone(), p))
        .collect();
    let mut by_agreement: HashMap<String, Vec<_>> = HashMap::new();
    for line in lines {
        let item = line
            .product_external_id
            .as_ref()
            .and_then(|p| products.get(p))
            .cloned();
        by_agreement
            .entry(line.agreement_external_id.clone())
            .or_default()
            .push((line, item));
    }
    Ok(agreements
        .into_iter()
        .map(|a| AgreementWithLines {
            lines: by_agreement.remove(&a.external_id).unwrap_or_default(),
            agreement: a,
        })
        .collect())
}
