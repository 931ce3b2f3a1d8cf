//! A person who signs in: a tenant's admin or member, or a support user with no tenant.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Option<i64>,
    pub email: String,
    pub password_hash: String,
    /// `admin` or `member`.
    pub role: String,
    pub is_support: bool,
    pub active: bool,
    pub created_at: DateTimeUtc,
    /// Signed in with a temporary password: must choose their own before anything else.
    pub must_change_password: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
