//! Tenants and users: find and insert. Emails are stored lowercased.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, Set,
};

use super::entity::{tenant, user};

/// A role inside a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// What a new user is made of; the password is already hashed.
pub struct NewUser<'a> {
    pub tenant_id: Option<i64>,
    pub email: &'a str,
    pub password_hash: String,
    pub role: Role,
    pub is_support: bool,
    /// The password was handed over (temporary): the user must choose their own.
    pub must_change_password: bool,
}

pub async fn count_users(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    user::Entity::find().count(db).await
}

pub async fn find_user_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email.to_lowercase()))
        .one(db)
        .await
}

pub async fn find_user(db: &impl ConnectionTrait, id: i64) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).one(db).await
}

pub async fn find_tenant(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<tenant::Model>, DbErr> {
    tenant::Entity::find_by_id(id).one(db).await
}

pub async fn find_tenant_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<tenant::Model>, DbErr> {
    tenant::Entity::find()
        .filter(tenant::Column::Name.eq(name))
        .one(db)
        .await
}

/// Users of one tenant, for the tenant's own pages.
pub async fn find_tenant_users(
    db: &impl ConnectionTrait,
    tenant_id: i64,
) -> Result<Vec<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .all(db)
        .await
}

pub async fn insert_tenant(db: &impl ConnectionTrait, name: &str) -> Result<tenant::Model, DbErr> {
    tenant::ActiveModel {
        name: Set(name.to_string()),
        created_at: Set(super::now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// The tenant of that name, created if it does not exist yet.
pub async fn find_or_insert_tenant(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<tenant::Model, DbErr> {
    match find_tenant_by_name(db, name).await? {
        Some(t) => Ok(t),
        None => insert_tenant(db, name).await,
    }
}

pub async fn insert_user(
    db: &impl ConnectionTrait,
    new: NewUser<'_>,
) -> Result<user::Model, DbErr> {
    user::ActiveModel {
        tenant_id: Set(new.tenant_id),
        email: Set(new.email.to_lowercase()),
        password_hash: Set(new.password_hash),
        role: Set(new.role.as_str().to_string()),
        is_support: Set(new.is_support),
        active: Set(true),
        created_at: Set(super::now()),
        must_change_password: Set(new.must_change_password),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// True when the error is a unique-constraint violation (an email or name already taken).
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Every tenant, by name (the support console).
pub async fn all_tenants(db: &impl ConnectionTrait) -> Result<Vec<tenant::Model>, DbErr> {
    use sea_orm::QueryOrder;
    tenant::Entity::find()
        .order_by_asc(tenant::Column::Name)
        .all(db)
        .await
}

/// Changes a tenant user's role; false when no such user is in that tenant.
pub async fn set_role(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    id: i64,
    role: Role,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let done = user::Entity::update_many()
        .col_expr(user::Column::Role, Expr::value(role.as_str()))
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Deactivates a tenant user; false when no such user is in that tenant.
pub async fn deactivate(db: &impl ConnectionTrait, tenant_id: i64, id: i64) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let done = user::Entity::update_many()
        .col_expr(user::Column::Active, Expr::value(false))
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Replaces a user's password hash.
pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    id: i64,
    password_hash: &str,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(user::Column::MustChangePassword, Expr::value(false))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}
