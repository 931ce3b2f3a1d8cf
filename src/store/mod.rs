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
use std::time::Duration;

use sea_orm::sqlx;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, RuntimeErr};

/// How long a request waits for a pooled connection before it answers 503. While the database
/// refuses connections, the pool keeps trying for this long, so it bounds how long a page
/// hangs during an outage.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the database the URL names (SQLite file or PostgreSQL).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(if url.starts_with("sqlite:") { 8 } else { 20 })
        .connect_timeout(ACQUIRE_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite:") {
        tune_sqlite(&db).await?;
    }
    Ok(db)
}

/// Whether an error means the database could not be reached (no connection from the pool, a
/// connection dropped mid-query, a server shutting down) rather than that it refused a query.
/// Such errors pass when the database is back: pages answer 503 and the worker waits.
pub fn is_unavailable(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            lost_connection(e)
        }
        _ => false,
    }
}

/// sqlx reports a dropped connection as the query's own error (an I/O error), not as a
/// connection error, so the cause is read here.
fn lost_connection(e: &sqlx::Error) -> bool {
    use sqlx::Error;
    match e {
        Error::Io(_) | Error::Tls(_) | Error::PoolTimedOut | Error::PoolClosed => true,
        Error::WorkerCrashed => true,
        // PostgreSQL class 08 (connection exception) and 57P01..03 (shutting down, starting).
        Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::ConnAcquireErr;

    use super::*;

    fn failing_query(e: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
    }

    #[test]
    fn a_connection_dropped_mid_query_means_the_database_is_away() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_unavailable(&failing_query(sqlx::Error::Io(reset))));
        let timed_out = RuntimeErr::SqlxError(Arc::new(sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&DbErr::Exec(timed_out)));
        assert!(is_unavailable(&DbErr::ConnectionAcquire(
            ConnAcquireErr::Timeout
        )));
    }

    #[test]
    fn refused_queries_and_missing_rows_are_not_outages() {
        assert!(!is_unavailable(&failing_query(sqlx::Error::RowNotFound)));
        assert!(!is_unavailable(&DbErr::RecordNotUpdated));
        assert!(!is_unavailable(&DbErr::Custom("duplicate key".into())));
    }
}
