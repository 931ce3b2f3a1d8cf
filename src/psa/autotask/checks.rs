//! The permission checklist shown after a test: one cheap count per row of the setup guide's
//! security table. A restricted security level answers with nothing rather than an error, so
//! seeing zero rows is a warning, never a pass.

use serde_json::{Value, json};

use super::api::Api;
use super::query::{count, every};
use crate::domain::autotask::Zone;
use crate::psa::{CheckStatus, PermissionCheck, PsaError, ThresholdUsage};

const LEVELS: &str =
    "Admin > Account Settings & Users > Resources/Users > Security Levels > (the API user's level)";

/// One row of the guide's table and how to probe it.
struct Row {
    item: &'static str,
    entity: &'static str,
    what: &'static str,
    fix: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        item: "CRM > Accounts (companies), Contacts: Add/Edit",
        entity: "Companies",
        what: "active customer companies",
        fix: "CRM: set Organization & Contact Access for Customer & Cancellation to All, and Accounts and Contacts to Add/Edit",
    },
    Row {
        item: "Contracts > Contracts, contract charges, visibility: View all, Add",
        entity: "Contracts",
        what: "contracts",
        fix: "Contracts: set Contracts to View All with Add, and Contract Visibility to Full",
    },
    Row {
        item: "Inventory > Items, Products: View all",
        entity: "Products",
        what: "products",
        fix: "Inventory: set Inventory Locations and Items (includes Inventory Products) to View All",
    },
    Row {
        item: "Service Desk > Tickets: View all, Add/Edit",
        entity: "Tickets",
        what: "tickets",
        fix: "Service Desk: set Tickets to View All and Add/Edit",
    },
];

/// Signing in worked: the Web Services API row passes.
pub fn login_row(zone: &Zone) -> PermissionCheck {
    PermissionCheck {
        item: "Web Services API > Can login to Web Services API".into(),
        status: CheckStatus::Pass,
        detail: format!("Signed in to {zone} as an API user."),
        fix: String::new(),
    }
}

/// Zone discovery could not confirm the zone, yet signing in to the typed zone worked.
pub fn unconfirmed_zone_row(zone: &Zone) -> PermissionCheck {
    PermissionCheck {
        item: "Webservices zone".into(),
        status: CheckStatus::Warn,
        detail: format!("Autotask's zone lookup did not confirm {zone}; signing in there worked."),
        fix: "Nothing to do unless later runs fail; then leave the zone empty to detect it.".into(),
    }
}

/// Warns when the MSP's hourly budget is already past the share we leave to other tools.
pub fn budget_row(usage: ThresholdUsage, reserve: u64) -> Option<PermissionCheck> {
    (usage.used + reserve >= usage.limit).then(|| PermissionCheck {
        item: "Hourly API request budget".into(),
        status: CheckStatus::Warn,
        detail: format!("{} of {} requests used in the last hour by all your Autotask tools.", usage.used, usage.limit),
        fix: "Retrieval waits until usage drops; check which integrations use the API in Autotask's API Usage report.".into(),
    })
}

// Limitation: the probes read; Add/Edit rights (contracts, companies, tickets) are not tried,
// because a test must not write into the MSP's Autotask.
/// Runs every row's probe; the entities differ, so they run side by side.
pub async fn permission_rows(
    api: &Api,
    customer_types: &[i64],
) -> Result<Vec<PermissionCheck>, PsaError> {
    let probes = ROWS.iter().map(|row| probe(api, row, customer_types));
    futures::future::join_all(probes)
        .await
        .into_iter()
        .collect()
}

async fn probe(api: &Api, row: &Row, customer_types: &[i64]) -> Result<PermissionCheck, PsaError> {
    let outcome = count(api, row.entity, filter(row.entity, customer_types)).await;
    let (status, detail) = match outcome {
        Ok(0) => (
            CheckStatus::Warn,
            format!(
                "No {} visible. A restricted security level sees nothing instead of an error.",
                row.what
            ),
        ),
        Ok(n) => (CheckStatus::Pass, format!("{n} {} visible.", row.what)),
        Err(PsaError::PermissionMissing { .. } | PsaError::AutotaskRefused { .. }) => (
            CheckStatus::Fail,
            format!("Autotask refused to show {}.", row.what),
        ),
        Err(PsaError::Upstream { .. }) => (
            CheckStatus::Warn,
            format!(
                "Could not check {}: Autotask answered with an error.",
                row.what
            ),
        ),
        Err(e) => return Err(e),
    };
    let fix = if status == CheckStatus::Pass {
        String::new()
    } else {
        format!("{LEVELS} > {}.", row.fix)
    };
    Ok(PermissionCheck {
        item: row.item.into(),
        status,
        detail,
        fix,
    })
}

fn filter(entity: &str, customer_types: &[i64]) -> Vec<Value> {
    match entity {
        "Companies" => vec![
            json!({"op": "eq", "field": "isActive", "value": true}),
            json!({"op": "in", "field": "companyType", "value": customer_types}),
        ],
        _ => vec![every()],
    }
}
