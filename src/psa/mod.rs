//! PSA connectors: what every PSA integration can do (verify, retrieve), the records they
//! produce, and the classified errors whose messages tell the user what to fix.

pub mod autotask;
pub mod connector;
pub mod connectwise;
pub mod error;
pub mod http;
pub mod records;

pub use error::PsaError;
pub use records::{Agreement, AgreementLine, Customer, Product, RecordSink};

use serde::{Deserialize, Serialize};

/// Outcome of one row of the permission checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

/// One row of the permission checklist shown after a test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionCheck {
    /// The permission as the vendor's guide names it, e.g. "Companies > Company Maintenance".
    pub item: String,
    pub status: CheckStatus,
    /// What was observed, in plain words.
    pub detail: String,
    /// Where in the PSA to fix it; empty when nothing needs fixing.
    pub fix: String,
}

/// Hourly request budget as reported by Autotask's ThresholdInformation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdUsage {
    pub used: u64,
    pub limit: u64,
}

/// What a successful test learned about the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// The detected version (ConnectWise codebase) or zone (Autotask), for display.
    pub detected: String,
    /// The API root the connection will use from now on (without credentials).
    pub api_root: String,
    pub checks: Vec<PermissionCheck>,
    pub threshold: Option<ThresholdUsage>,
}

impl Verification {
    /// True when no checklist row failed (warnings are allowed).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status != CheckStatus::Fail)
    }
}
