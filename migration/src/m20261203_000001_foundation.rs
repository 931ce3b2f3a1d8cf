//! Tenants, users, sessions, sign-in throttling and the audit log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Tenants {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    TenantId,
    Email,
    PasswordHash,
    Role,
    IsSupport,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    KeyHash,
    UserId,
    State,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SignInThrottle {
    Table,
    Key,
    Failures,
    WindowStart,
    LockedUntil,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    At,
    TenantId,
    ActorUserId,
    ActorEmail,
    Action,
    Target,
    Outcome,
    RequestId,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(tenants()).await?;
        m.create_table(users()).await?;
        m.create_table(sessions()).await?;
        m.create_table(throttle()).await?;
        m.create_table(audit_events()).await?;
        m.create_index(
            Index::create()
                .name("idx_audit_tenant_at")
                .table(AuditEvents::Table)
                .col(AuditEvents::TenantId)
                .col(AuditEvents::At)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sessions_user")
                .table(Sessions::Table)
                .col(Sessions::UserId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            AuditEvents::Table.into_iden(),
            SignInThrottle::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn now(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn tenants() -> TableCreateStatement {
    Table::create()
        .table(Tenants::Table)
        .col(id(Tenants::Id))
        .col(
            ColumnDef::new(Tenants::Name)
                .string_len(200)
                .not_null()
                .unique_key(),
        )
        .col(now(Tenants::CreatedAt))
        .to_owned()
}

fn users() -> TableCreateStatement {
    Table::create()
        .table(Users::Table)
        .col(id(Users::Id))
        .col(ColumnDef::new(Users::TenantId).big_integer().null())
        .col(
            ColumnDef::new(Users::Email)
                .string_len(320)
                .not_null()
                .unique_key(),
        )
        .col(ColumnDef::new(Users::PasswordHash).string().not_null())
        .col(ColumnDef::new(Users::Role).string_len(16).not_null())
        .col(
            ColumnDef::new(Users::IsSupport)
                .boolean()
                .not_null()
                .default(false),
        )
        .col(
            ColumnDef::new(Users::Active)
                .boolean()
                .not_null()
                .default(true),
        )
        .col(now(Users::CreatedAt))
        .foreign_key(
            ForeignKey::create()
                .from(Users::Table, Users::TenantId)
                .to(Tenants::Table, Tenants::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn sessions() -> TableCreateStatement {
    Table::create()
        .table(Sessions::Table)
        .col(
            ColumnDef::new(Sessions::KeyHash)
                .string_len(64)
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(Sessions::UserId).big_integer().null())
        .col(ColumnDef::new(Sessions::State).text().not_null())
        .col(now(Sessions::ExpiresAt))
        .to_owned()
}

fn throttle() -> TableCreateStatement {
    Table::create()
        .table(SignInThrottle::Table)
        .col(
            ColumnDef::new(SignInThrottle::Key)
                .string_len(400)
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(SignInThrottle::Failures)
                .integer()
                .not_null(),
        )
        .col(now(SignInThrottle::WindowStart))
        .col(
            ColumnDef::new(SignInThrottle::LockedUntil)
                .timestamp_with_time_zone()
                .null(),
        )
        .to_owned()
}

fn audit_events() -> TableCreateStatement {
    Table::create()
        .table(AuditEvents::Table)
        .col(id(AuditEvents::Id))
        .col(now(AuditEvents::At))
        .col(ColumnDef::new(AuditEvents::TenantId).big_integer().null())
        .col(
            ColumnDef::new(AuditEvents::ActorUserId)
                .big_integer()
                .null(),
        )
        .col(
            ColumnDef::new(AuditEvents::ActorEmail)
                .string_len(320)
                .not_null(),
        )
        .col(
            ColumnDef::new(AuditEvents::Action)
                .string_len(64)
                .not_null(),
        )
        .col(
            ColumnDef::new(AuditEvents::Target)
                .string_len(400)
                .not_null(),
        )
        .col(
            ColumnDef::new(AuditEvents::Outcome)
                .string_len(32)
                .not_null(),
        )
        .col(
            ColumnDef::new(AuditEvents::RequestId)
                .string_len(64)
                .not_null(),
        )
        .col(ColumnDef::new(AuditEvents::Detail).text().not_null())
        .to_owned()
}
