//! One retrieval run of a connection: queued, claimed by one instance under a lease, finished.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub connection_id: i64,
    pub tenant_id: i64,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
    /// How many times an instance claimed it (a crashed instance's claim counts).
    pub attempts: i32,
    pub queued_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    /// JSON `sync::Progress`.
    pub progress: String,
    /// The user-facing message of a failure.
    pub error: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
