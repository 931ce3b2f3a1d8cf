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
}

impl SnapshotSink {
    fn count(&self, phase: Phase, n: usize) {
        if let Ok(mut p) = self.progress.lock() {
            p.phase_mut(phase).done += n as u64;
        }
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
        self.count(Phase::Customers, page.len());
        Ok(())
    }

    async fn agreements(&mut self, page: Vec<Agreement>) -> Result<(), PsaError> {
        let (db, key) = (&self.db, self.key);
        retry_while_away("storing agreements", || {
            snapshots::insert_agreements(db, key, &page)
        })
        .await
        .map_err(store_error)?;
        self.count(Phase::Agreements, page.len());
        Ok(())
    }

    async fn agreement_lines(&mut self, page: Vec<AgreementLine>) -> Result<(), PsaError> {
        let (db, key) = (&self.db, self.key);
        retry_while_away("storing agreement lines", || {
            snapshots::insert_agreement_lines(db, key, &page)
        })
        .await
        .map_err(store_error)?;
        self.count(Phase::AgreementLines, page.len());
        Ok(())
    }

    async fn products(&mut self, page: Vec<Product>) -> Result<(), PsaError> {
        let (db, key) = (&self.db, self.key);
        retry_while_away("storing products", || {
            snapshots::insert_products(db, key, &page)
        })
        .await
        .map_err(store_error)?;
        self.count(Phase::Products, page.len());
        Ok(())
    }
}
