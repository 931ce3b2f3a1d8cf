//! PSA connections, retrieval runs, and the retrieved records (customers, agreements,
//! agreement lines, products), each row tagged with the run that wrote it.

use sea_orm_migration::prelude::*;

use crate::m20261203_000001_foundation::Tenants;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum PsaConnections {
    Table,
    Id,
    TenantId,
    PsaType,
    /// ConnectWise site (cloud key or URL) or Autotask zone as saved.
    Host,
    /// ConnectWise company ID or Autotask username.
    Account,
    PublicKey,
    SealedSecret,
    Detected,
    ApiRoot,
    LastTestAt,
    LastTestOk,
    LastTestMessage,
    Checklist,
    Threshold,
    LiveRunId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum SyncRuns {
    Table,
    Id,
    ConnectionId,
    TenantId,
    State,
    Attempts,
    QueuedAt,
    StartedAt,
    FinishedAt,
    LeaseOwner,
    LeaseUntil,
    Progress,
    Error,
    RequestId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Customers {
    Table,
    Name,
    Identifier,
    Status,
}

#[derive(DeriveIden, Clone, Copy)]
enum Agreements {
    Table,
    CustomerExternalId,
    Name,
    ParentExternalId,
    AgreementType,
    BillingCycle,
    Status,
    StartDate,
    EndDate,
}

#[derive(DeriveIden, Clone, Copy)]
enum AgreementLines {
    Table,
    AgreementExternalId,
    ProductExternalId,
    Description,
    Quantity,
    UnitPrice,
    Status,
}

#[derive(DeriveIden, Clone, Copy)]
enum Products {
    Table,
    Identifier,
    Description,
    Price,
    Active,
}

/// Columns every retrieved-record table has.
#[derive(DeriveIden)]
enum Record {
    Id,
    ConnectionId,
    TenantId,
    RunId,
    ExternalId,
    Removed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(connections()).await?;
        m.create_table(runs()).await?;
        m.create_index(
            Index::create()
                .name("idx_runs_state")
                .table(SyncRuns::Table)
                .col(SyncRuns::State)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_runs_connection")
                .table(SyncRuns::Table)
                .col(SyncRuns::ConnectionId)
                .to_owned(),
        )
        .await?;
        let customers = record_table(
            Customers::Table,
            vec![
                text(Customers::Name),
                opt_text(Customers::Identifier),
                opt_text(Customers::Status),
            ],
        );
        let agreements = record_table(
            Agreements::Table,
            vec![
                text(Agreements::CustomerExternalId),
                text(Agreements::Name),
                opt_text(Agreements::ParentExternalId),
                opt_text(Agreements::AgreementType),
                opt_text(Agreements::BillingCycle),
                opt_text(Agreements::Status),
                opt_text(Agreements::StartDate),
                opt_text(Agreements::EndDate),
            ],
        );
        let lines = record_table(
            AgreementLines::Table,
            vec![
                text(AgreementLines::AgreementExternalId),
                opt_text(AgreementLines::ProductExternalId),
                text(AgreementLines::Description),
                ColumnDef::new(AgreementLines::Quantity)
                    .double()
                    .not_null()
                    .to_owned(),
                ColumnDef::new(AgreementLines::UnitPrice)
                    .double()
                    .null()
                    .to_owned(),
                opt_text(AgreementLines::Status),
            ],
        );
        let products = record_table(
            Products::Table,
            vec![
                opt_text(Products::Identifier),
                text(Products::Description),
                ColumnDef::new(Products::Price).double().null().to_owned(),
                ColumnDef::new(Products::Active)
                    .boolean()
                    .not_null()
                    .to_owned(),
            ],
        );
        for (name, table) in [
            ("customers", customers),
            ("agreements", agreements),
            ("agreement_lines", lines),
            ("products", products),
        ] {
            m.create_table(table).await?;
            m.create_index(
                Index::create()
                    .name(format!("uq_{name}_run_external"))
                    .table(Alias::new(name))
                    .col(Record::ConnectionId)
                    .col(Record::RunId)
                    .col(Record::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_agreements_customer")
                .table(Agreements::Table)
                .col(Record::RunId)
                .col(Agreements::CustomerExternalId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_lines_agreement")
                .table(AgreementLines::Table)
                .col(Record::RunId)
                .col(AgreementLines::AgreementExternalId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_customers_name")
                .table(Customers::Table)
                .col(Record::RunId)
                .col(Customers::Name)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "products",
            "agreement_lines",
            "agreements",
            "customers",
            "sync_runs",
            "psa_connections",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn opt_text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().null().to_owned()
}

fn connections() -> TableCreateStatement {
    use PsaConnections as C;
    Table::create()
        .table(C::Table)
        .col(
            ColumnDef::new(C::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(ColumnDef::new(C::TenantId).big_integer().not_null())
        .col(ColumnDef::new(C::PsaType).string_len(16).not_null())
        .col(text(C::Host))
        .col(text(C::Account))
        .col(opt_text(C::PublicKey))
        .col(text(C::SealedSecret))
        .col(opt_text(C::Detected))
        .col(opt_text(C::ApiRoot))
        .col(
            ColumnDef::new(C::LastTestAt)
                .timestamp_with_time_zone()
                .null(),
        )
        .col(ColumnDef::new(C::LastTestOk).boolean().null())
        .col(opt_text(C::LastTestMessage))
        .col(opt_text(C::Checklist))
        .col(opt_text(C::Threshold))
        .col(ColumnDef::new(C::LiveRunId).big_integer().null())
        .col(
            ColumnDef::new(C::CreatedAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(C::UpdatedAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .foreign_key(
            ForeignKey::create()
                .from(C::Table, C::TenantId)
                .to(Tenants::Table, Tenants::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .index(
            Index::create()
                .name("uq_connection_identity")
                .col(C::TenantId)
                .col(C::PsaType)
                .col(C::Host)
                .col(C::Account)
                .unique(),
        )
        .to_owned()
}

fn runs() -> TableCreateStatement {
    use SyncRuns as R;
    Table::create()
        .table(R::Table)
        .col(
            ColumnDef::new(R::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(ColumnDef::new(R::ConnectionId).big_integer().not_null())
        .col(ColumnDef::new(R::TenantId).big_integer().not_null())
        .col(ColumnDef::new(R::State).string_len(16).not_null())
        .col(ColumnDef::new(R::Attempts).integer().not_null().default(0))
        .col(
            ColumnDef::new(R::QueuedAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(R::StartedAt)
                .timestamp_with_time_zone()
                .null(),
        )
        .col(
            ColumnDef::new(R::FinishedAt)
                .timestamp_with_time_zone()
                .null(),
        )
        .col(opt_text(R::LeaseOwner))
        .col(
            ColumnDef::new(R::LeaseUntil)
                .timestamp_with_time_zone()
                .null(),
        )
        .col(text(R::Progress))
        .col(opt_text(R::Error))
        .col(opt_text(R::RequestId))
        .foreign_key(
            ForeignKey::create()
                .from(R::Table, R::ConnectionId)
                .to(PsaConnections::Table, PsaConnections::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

/// A retrieved-record table: the shared columns, then the record's own.
fn record_table(table: impl IntoIden + Clone, own: Vec<ColumnDef>) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(table.clone())
        .col(
            ColumnDef::new(Record::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(
            ColumnDef::new(Record::ConnectionId)
                .big_integer()
                .not_null(),
        )
        .col(ColumnDef::new(Record::TenantId).big_integer().not_null())
        .col(ColumnDef::new(Record::RunId).big_integer().not_null())
        .col(text(Record::ExternalId))
        .col(
            ColumnDef::new(Record::Removed)
                .boolean()
                .not_null()
                .default(false),
        );
    for mut c in own {
        t.col(&mut c);
    }
    t.foreign_key(
        ForeignKey::create()
            .from(table, Record::ConnectionId)
            .to(PsaConnections::Table, PsaConnections::Id)
            .on_delete(ForeignKeyAction::Cascade),
    );
    t.to_owned()
}
