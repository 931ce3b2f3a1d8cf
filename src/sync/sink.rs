//! The record sink a retrieval streams into: each page goes straight into the run's snapshot,
//! and progress is shared with the heartbeat that stores it. A page is written again while the
//! database is away (inserts ignore rows already stored), so a blink loses nothing.

use std::sync::{Arc, Mutex};

use sea_orm::DatabaseConnection;

use super::outage::retry_while_away;
use super::progress::Progress;
use crate::psa::PsaError;
use crate::psa::records::{Agreement, AgreementLine, Customer, Phase, Product, RecordSink};
use crate::store::snapshots::{self, SnapshotKey};

/// Writes pages of one run and counts them.
pub struct SnapshotSink {
    pub db: DatabaseConnection,
    pub key: SnapshotKey,
    pub progress: Arc<Mutex<Progress>>,
    /// Records of one kind this run accepts (`MAX_RECORDS_PER_KIND` outside tests).
    pub max_per_kind: u64,
}

/// Records of one kind a run accepts. Real MSP accounts hold tens of thousands; a PSA (or a
/// host posing as one) sending more is stopped before it fills the disk or holds the worker.
pub const MAX_RECORDS_PER_KIND: u64 = 2_000_000;

impl SnapshotSink {
    fn count(&self, phase: Phase, n: usize) -> Result<(), PsaError> {
        let Ok(mut p) = self.progress.lock() else {
            return Ok(());
        };
        let done = &mut p.phase_mut(phase).done;
        *done += n as u64;
        if *done > self.max_per_kind {
            let what = match phase {
                Phase::Customers => "customers",
                Phase::Agreements => "agreements",
                Phase::AgreementLines => "agreement lines",
                Phase::Products => "products",
            };
            return Err(PsaError::TooMany {
                what,
                limit: self.max_per_kind,
            });
        }
        Ok(())
    }
}

fn store_error(e: sea_orm::DbErr) -> PsaError {
    PsaError::Store(e.to_string())
}

#[async_trait::async_trait]
impl RecordSink for SnapshotSink {
    async fn expect(&mut self, phase: Phase, total: u64) -> Result<(), PsaError> {
        if let Ok(mut p) = self.progress.lock() {
            p.phase_mut(phase).total = Some(total);
        }
        Ok(())
    }

    async fn customers(&mut self, page: Vec<Customer>) -> Result<(), PsaError> {
        let (db, key) = (&self.db, self.key);
        retry_while_away("storing customers", || {
            snapshots::insert_customers(db, key, &page)
        })
        .await
        .map_err(store_error)?;
        self.count(Phase::Customers, page.len())
    }

    async fn agreements(&mut self, page: Vec<Agreement>) -> Result<(), PsaError> {
        let (db, key) = (&self.db, self.key);
        retry_while_away("storing agreements", || {
            snapshots::insert_agreements(db, key, &page)
        })
        .await
        .map_err(store_error)?;
        self.count(Phase::Agreements, page.len())
    }

    async fn agreement_lines(&mut self, page: Vec<AgreementLine>) -> Result<(), PsaError> {
        let (db, key) = (&self.db, self.key);
        retry_while_away("storing agreement lines", || {
            snapshots::insert_agreement_lines(db, key, &page)
        })
        .await
        .map_err(store_error)?;
        self.count(Phase::AgreementLines, page.len())
    }

    async fn products(&mut self, page: Vec<Product>) -> Result<(), PsaError> {
        let (db, key) = (&self.db, self.key);
        retry_while_away("storing products", || {
            snapshots::insert_products(db, key, &page)
        })
        .await
        .map_err(store_error)?;
        self.count(Phase::Products, page.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(max_per_kind: u64) -> SnapshotSink {
        let key = SnapshotKey {
            tenant_id: 1,
            connection_id: 1,
            snapshot: 1000,
        };
        SnapshotSink {
            db: DatabaseConnection::default(),
            key,
            progress: Arc::default(),
            max_per_kind,
        }
    }

    #[test]
    fn a_kind_past_its_limit_stops_the_run_with_a_message_naming_it() {
        let s = sink(1000);
        assert!(s.count(Phase::Agreements, 1000).is_ok());
        let err = s.count(Phase::Agreements, 1).unwrap_err();
        assert!(matches!(
            err,
            PsaError::TooMany {
                what: "agreements",
                limit: 1000
            }
        ));
        assert!(err.user_message().contains("more than 1000 agreements"));
        assert!(
            s.count(Phase::Products, 1000).is_ok(),
            "each kind has its own limit"
        );
    }
}
