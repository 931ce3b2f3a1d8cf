//! The audit log: every sign-in, change, test, run and support view leaves an event.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::entity::audit_event;

/// One event to record. `detail` is plain text that never holds a secret.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub tenant_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub actor_email: String,
    pub action: &'static str,
    pub target: String,
    pub outcome: &'static str,
    pub request_id: String,
    pub detail: String,
}

pub async fn insert_event(db: &impl ConnectionTrait, e: NewEvent) -> Result<(), DbErr> {
    audit_event::ActiveModel {
        at: Set(super::now()),
        tenant_id: Set(e.tenant_id),
        actor_user_id: Set(e.actor_user_id),
        actor_email: Set(e.actor_email),
        action: Set(e.action.to_string()),
        target: Set(e.target),
        outcome: Set(e.outcome.to_string()),
        request_id: Set(e.request_id),
        detail: Set(e.detail),
        ..Default::default()
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// A tenant's newest events first.
pub async fn find_tenant_events(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    limit: u64,
) -> Result<Vec<audit_event::Model>, DbErr> {
    audit_event::Entity::find()
        .filter(audit_event::Column::TenantId.eq(tenant_id))
        .order_by_desc(audit_event::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Every event of an action (tests and support use it).
pub async fn find_events_by_action(
    db: &impl ConnectionTrait,
    action: &str,
) -> Result<Vec<audit_event::Model>, DbErr> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .order_by_asc(audit_event::Column::Id)
        .all(db)
        .await
}

/// One page (0-based) of a tenant's events, newest first, filtered by actor email (contains)
/// and action (exact); with the number of matching events.
pub async fn find_tenant_events_page(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    who: &str,
    what: &str,
    page: u64,
    per_page: u64,
) -> Result<(Vec<audit_event::Model>, u64), DbErr> {
    use sea_orm::PaginatorTrait;
    let mut query = audit_event::Entity::find()
        .filter(audit_event::Column::TenantId.eq(tenant_id))
        .order_by_desc(audit_event::Column::Id);
    if !who.is_empty() {
        // Limitation: `%` and `_` typed into the filter act as LIKE wildcards.
        query = query.filter(audit_event::Column::ActorEmail.contains(who.to_lowercase()));
    }
    if !what.is_empty() {
        query = query.filter(audit_event::Column::Action.eq(what));
    }
    let paginator = query.paginate(db, per_page);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page).await?;
    Ok((rows, total))
}
