//! A retrieved customer company. Rows are written per run; the connection's live run is shown.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub connection_id: i64,
    pub tenant_id: i64,
    pub run_id: i64,
    pub external_id: String,
    /// Gone from the PSA since an earlier run; kept so nothing mapped to it is lost.
    pub removed: bool,
    pub name: String,
    pub identifier: Option<String>,
    pub status: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
