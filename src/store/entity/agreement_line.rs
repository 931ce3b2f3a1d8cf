//! A retrieved agreement line (ConnectWise addition, Autotask contract service with units).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agreement_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub connection_id: i64,
    pub tenant_id: i64,
    pub run_id: i64,
    pub external_id: String,
    pub removed: bool,
    pub agreement_external_id: String,
    pub product_external_id: Option<String>,
    pub description: String,
    pub quantity: f64,
    pub unit_price: Option<f64>,
    pub status: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
