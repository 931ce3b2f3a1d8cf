//! Users whose password was handed to them (a temporary one) must choose their own before
//! anything else.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Users {
    Table,
    MustChangePassword,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Users::MustChangePassword)
            .boolean()
            .not_null()
            .default(false)
            .to_owned();
        let alter = Table::alter()
            .table(Users::Table)
            .add_column(column)
            .to_owned();
        m.alter_table(alter).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let alter = Table::alter()
            .table(Users::Table)
            .drop_column(Users::MustChangePassword)
            .to_owned();
        m.alter_table(alter).await
    }
}
