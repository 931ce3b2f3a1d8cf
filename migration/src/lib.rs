//! Every schema change of the portal, applied in order on SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod m20261203_000001_foundation;
mod m20261203_000002_integrations;
mod m20261203_000003_one_open_run;
mod m20261203_000004_temporary_passwords;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261203_000001_foundation::Migration),
            Box::new(m20261203_000002_integrations::Migration),
            Box::new(m20261203_000003_one_open_run::Migration),
            Box::new(m20261203_000004_temporary_passwords::Migration),
        ]
    }
}
