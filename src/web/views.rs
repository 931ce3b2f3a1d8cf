//! What the integration pages show of stored connections, tests and runs: plain strings and
//! numbers built once, so templates hold no logic and never see a sealed secret.

use crate::psa::{CheckStatus, PermissionCheck, ThresholdUsage, Verification};
use crate::store::entity::{psa_connection, sync_run};
use crate::store::runs;
use crate::sync::progress::{PhaseProgress, Progress};

/// `2026-12-03 14:05 UTC`.
pub fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn psa_label(psa_type: &str) -> &'static str {
    if psa_type == "autotask" {
        "Autotask"
    } else {
        "ConnectWise"
    }
}

/// A ConnectWise cloud key in words; a self-hosted URL or an Autotask zone as stored.
pub fn host_label(psa_type: &str, host: &str) -> String {
    if psa_type == "autotask" {
        return host.to_string();
    }
    match host {
        "na" => "North America".into(),
        "eu" => "Europe".into(),
        "aus" => "Australia".into(),
        other => other.to_string(),
    }
}

/// One row of the PSA Tools list.
pub struct ConnectionRow {
    pub id: i64,
    pub psa: &'static str,
    pub host: String,
    pub account: String,
    /// `never`, `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
    pub last_verified: String,
    /// Counts of the latest run, or its error.
    pub last_run: String,
}

impl ConnectionRow {
    pub fn new(c: &psa_connection::Model, latest: Option<&sync_run::Model>) -> Self {
        Self {
            id: c.id,
            psa: psa_label(&c.psa_type),
            host: host_label(&c.psa_type, &c.host),
            account: c.account.clone(),
            state: runs::state_of(latest).to_string(),
            last_verified: last_verified(c),
            last_run: latest
                .map(run_summary)
                .unwrap_or_else(|| "No run yet".into()),
        }
    }
}

fn last_verified(c: &psa_connection::Model) -> String {
    match (c.last_test_at, c.last_test_ok) {
        (Some(at), Some(true)) => when(at),
        (Some(at), _) => format!("{} (failed)", when(at)),
        _ => "Never".into(),
    }
}

/// `12 customers, 60 agreements, 140 lines, 30 products`, or the run's error.
fn run_summary(r: &sync_run::Model) -> String {
    if let Some(error) = r.error.as_ref().filter(|_| r.state == runs::FAILED) {
        return error.clone();
    }
    let p = Progress::from_json(&r.progress);
    let counts = format!(
        "{} customers, {} agreements, {} lines, {} products",
        p.customers.done, p.agreements.done, p.agreement_lines.done, p.products.done
    );
    match r.state.as_str() {
        runs::QUEUED => "Queued".into(),
        runs::RUNNING => format!("Running: {counts} so far"),
        _ => counts,
    }
}

/// The connection's stored values, secrets reduced to "set".
pub struct ConnectionView {
    pub id: i64,
    pub psa: &'static str,
    pub is_autotask: bool,
    pub host: String,
    pub account: String,
    /// The public key's first and last characters only.
    pub public_key: String,
    pub secret_set: bool,
    pub detected: String,
    pub api_root: String,
    pub last_verified: String,
    pub last_test_ok: bool,
    pub last_test_message: String,
}

impl ConnectionView {
    pub fn new(c: &psa_connection::Model) -> Self {
        Self {
            id: c.id,
            psa: psa_label(&c.psa_type),
            is_autotask: c.psa_type == "autotask",
            host: host_label(&c.psa_type, &c.host),
            account: c.account.clone(),
            public_key: c.public_key.as_deref().map(shorten).unwrap_or_default(),
            secret_set: !c.sealed_secret.is_empty(),
            detected: c.detected.clone().unwrap_or_default(),
            api_root: c.api_root.clone().unwrap_or_default(),
            last_verified: last_verified(c),
            last_test_ok: c.last_test_ok == Some(true),
            last_test_message: c.last_test_message.clone().unwrap_or_default(),
        }
    }
}

/// `Full…001`: enough to recognise a key, not enough to use it.
fn shorten(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "…".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}…{tail}")
}

/// One checklist row.
pub struct CheckRow {
    pub item: String,
    /// `pass`, `warn` or `fail` (the badge's class).
    pub status: &'static str,
    /// `Pass`, `Warn` or `Fail`.
    pub label: &'static str,
    pub detail: String,
    pub fix: String,
}

impl From<&PermissionCheck> for CheckRow {
    fn from(c: &PermissionCheck) -> Self {
        let (status, label) = match c.status {
            CheckStatus::Pass => ("pass", "Pass"),
            CheckStatus::Warn => ("warn", "Warn"),
            CheckStatus::Fail => ("fail", "Fail"),
        };
        Self {
            item: c.item.clone(),
            status,
            label,
            detail: c.detail.clone(),
            fix: c.fix.clone(),
        }
    }
}

/// A test's outcome: the checklist, what was detected, the request budget.
pub struct TestView {
    pub passed: bool,
    pub detected: String,
    pub api_root: String,
    pub checks: Vec<CheckRow>,
    /// `120 of 10000 requests this hour`, empty when the PSA has no such budget.
    pub threshold: String,
}

impl TestView {
    pub fn from_verification(v: &Verification) -> Self {
        Self {
            passed: v.passed(),
            detected: v.detected.clone(),
            api_root: v.api_root.clone(),
            checks: v.checks.iter().map(CheckRow::from).collect(),
            threshold: v.threshold.map(threshold_text).unwrap_or_default(),
        }
    }

    /// The last stored test, when there is a checklist.
    pub fn from_stored(c: &psa_connection::Model) -> Option<Self> {
        let checks: Vec<PermissionCheck> = serde_json::from_str(c.checklist.as_deref()?).ok()?;
        let threshold: Option<ThresholdUsage> = c
            .threshold
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok());
        Some(Self {
            passed: checks.iter().all(|r| r.status != CheckStatus::Fail),
            detected: c.detected.clone().unwrap_or_default(),
            api_root: c.api_root.clone().unwrap_or_default(),
            checks: checks.iter().map(CheckRow::from).collect(),
            threshold: threshold.map(threshold_text).unwrap_or_default(),
        })
    }
}

fn threshold_text(t: ThresholdUsage) -> String {
    format!("{} of {} requests used this hour", t.used, t.limit)
}

/// One progress bar.
pub struct PhaseView {
    /// `customers`, `agreements`, `agreement_lines` or `products` (as in status.json).
    pub key: &'static str,
    pub label: &'static str,
    pub done: u64,
    /// 0 when the PSA has not counted yet (the bar then shows as indeterminate).
    pub total: u64,
}

pub fn phases(p: &Progress) -> Vec<PhaseView> {
    let phase = |key, label, ph: &PhaseProgress| PhaseView {
        key,
        label,
        done: ph.done,
        total: ph.total.unwrap_or(0),
    };
    vec![
        phase("customers", "Customers", &p.customers),
        phase("agreements", "Agreements", &p.agreements),
        phase("agreement_lines", "Agreement lines", &p.agreement_lines),
        phase("products", "Products", &p.products),
    ]
}

/// One row of the run history.
pub struct RunView {
    pub state: String,
    pub started: String,
    pub duration: String,
    pub summary: String,
}

impl RunView {
    pub fn new(r: &sync_run::Model) -> Self {
        let duration = match (r.started_at, r.finished_at) {
            (Some(s), Some(f)) => format!("{} s", (f - s).num_seconds().max(0)),
            _ => String::new(),
        };
        Self {
            state: r.state.clone(),
            started: r
                .started_at
                .map_or_else(|| format!("queued {}", when(r.queued_at)), when),
            duration,
            summary: run_summary(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_is_shortened_to_its_ends_and_a_short_one_hidden() {
        assert_eq!(shorten("FullAccessPub001"), "Full…001");
        assert_eq!(shorten("short"), "…");
    }

    #[test]
    fn cloud_keys_read_as_regions_and_zones_are_labelled() {
        assert_eq!(host_label("connectwise", "aus"), "Australia");
        assert_eq!(
            host_label("connectwise", "https://cw.example.com"),
            "https://cw.example.com"
        );
        assert_eq!(host_label("autotask", "webservices5"), "webservices5");
    }
}
