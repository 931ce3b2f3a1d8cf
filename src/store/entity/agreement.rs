//! A retrieved agreement (ConnectWise agreement, Autotask contract).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agreements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub connection_id: i64,
    pub tenant_id: i64,
    pub run_id: i64,
    pub external_id: String,
    pub removed: bool,
    pub customer_external_id: String,
    pub name: String,
    pub parent_external_id: Option<String>,
    pub agreement_type: Option<String>,
    pub billing_cycle: Option<String>,
    pub status: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
