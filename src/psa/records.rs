//! The records retrieved from a PSA, in one shape for both vendors, and the sink they stream into.

use serde::{Deserialize, Serialize};

use super::PsaError;

/// A customer company of the MSP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The PSA's own id, as text.
    pub external_id: String,
    pub name: String,
    /// ConnectWise company identifier or Autotask account number, when present.
    pub identifier: Option<String>,
    pub status: Option<String>,
}

/// A billing agreement (ConnectWise agreement, Autotask contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub external_id: String,
    pub customer_external_id: String,
    pub name: String,
    pub parent_external_id: Option<String>,
    pub agreement_type: Option<String>,
    pub billing_cycle: Option<String>,
    pub status: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

/// A billable line of an agreement (ConnectWise addition, Autotask contract service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementLine {
    pub external_id: String,
    pub agreement_external_id: String,
    pub product_external_id: Option<String>,
    pub description: String,
    pub quantity: f64,
    pub unit_price: Option<f64>,
    pub status: Option<String>,
}

/// A catalog item (ConnectWise catalog item; Autotask product or service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub external_id: String,
    pub identifier: Option<String>,
    pub description: String,
    pub price: Option<f64>,
    pub active: bool,
}

/// Retrieval phases, in the order a run reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Customers,
    Agreements,
    AgreementLines,
    Products,
}

/// Receives retrieved records page by page, so memory stays bounded by the page size.
#[async_trait::async_trait]
pub trait RecordSink: Send {
    /// The expected number of records of a phase, when the PSA can count them.
    async fn expect(&mut self, phase: Phase, total: u64) -> Result<(), PsaError>;
    async fn customers(&mut self, page: Vec<Customer>) -> Result<(), PsaError>;
    async fn agreements(&mut self, page: Vec<Agreement>) -> Result<(), PsaError>;
    async fn agreement_lines(&mut self, page: Vec<AgreementLine>) -> Result<(), PsaError>;
    async fn products(&mut self, page: Vec<Product>) -> Result<(), PsaError>;
}
