//! Progress of a retrieval run per phase, stored as JSON on the run and shown as progress bars.

use serde::{Deserialize, Serialize};

use crate::psa::records::Phase;

/// Done of total for one phase; `total` is None until the PSA has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseProgress {
    pub done: u64,
    pub total: Option<u64>,
}

impl PhaseProgress {
    /// Percent done, 0..=100 (100 when the total is known and reached).
    pub fn percent(&self) -> u64 {
        match self.total {
            Some(0) => 100,
            Some(t) => (self.done.min(t) * 100) / t,
            None => 0,
        }
    }
}

/// All four phases of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub customers: PhaseProgress,
    pub agreements: PhaseProgress,
    pub agreement_lines: PhaseProgress,
    pub products: PhaseProgress,
}

impl Progress {
    pub fn phase_mut(&mut self, phase: Phase) -> &mut PhaseProgress {
        match phase {
            Phase::Customers => &mut self.customers,
            Phase::Agreements => &mut self.agreements,
            Phase::AgreementLines => &mut self.agreement_lines,
            Phase::Products => &mut self.products,
        }
    }

    /// Reads the stored JSON; unreadable progress shows as nothing done.
    pub fn from_json(text: &str) -> Progress {
        serde_json::from_str(text).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}
