//! The database: connection, migrations, and the named queries the app needs. Every query of
//! tenant data takes the tenant id.

pub mod audit;
pub mod connections;
pub mod entity;
pub mod records;
pub mod runs;
pub mod sessions;
pub mod snapshots;
pub mod throttle;
pub mod users;

use migration::MigratorTrait;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Opens the database the URL names (SQLite file or PostgreSQL).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(if url.starts_with("sqlite:") { 8 } else { 20 })
        .connect_timeout(std::time::Duration::from_secs(5))
        .acquire_timeout(std::time::Duration::from_secs(5))
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite:") {
        tune_sqlite(&db).await?;
    }
    Ok(db)
}

/// WAL lets readers run beside the retrieval writer. (sqlx already sets foreign_keys and a
/// busy timeout on every pooled connection; this sets the file's journal mode.)
async fn tune_sqlite(db: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(
        "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;",
    )
    .await?;
    Ok(())
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    migration::Migrator::up(db, None).await
}

/// Current time, truncated to microseconds so SQLite and PostgreSQL store the same value.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    let t = chrono::Utc::now();
    t - chrono::Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1000))
}
