//! A retrieved catalog item (ConnectWise catalog item; Autotask product or service).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub connection_id: i64,
    pub tenant_id: i64,
    pub run_id: i64,
    pub external_id: String,
    pub removed: bool,
    pub identifier: Option<String>,
    pub description: String,
    pub price: Option<f64>,
    pub active: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
