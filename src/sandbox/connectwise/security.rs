//! `system/mySecurity`: the caller's permission rows, derived from its profile so the portal's
//! permission checklist has something real to read.

use serde_json::{Value, json};

use super::render::Ctx;
use crate::sandbox::accounts::{CwMember, CwProfile};

/// Module, function identifier, function name (identifiers are invented: brief §7 found none).
const FUNCTIONS: &[(&str, &str, &str)] = &[
    ("Companies", "CompanyMaintenance", "Company Maintenance"),
    ("Companies", "Contacts", "Contacts"),
    ("Finance", "Agreements", "Agreements"),
    ("Finance", "AgreementInvoicing", "Agreement Invoicing"),
    ("Finance", "Invoicing", "Invoicing"),
    ("Procurement", "ProductCatalog", "Product Catalog"),
    ("Procurement", "Products", "Products"),
    ("ServiceDesk", "ServiceTickets", "Service Tickets"),
    ("System", "TableSetup", "Table Setup"),
];

/// Inquire level and whether the function is customised, per profile.
fn levels(profile: CwProfile, function: &str) -> (&'static str, bool) {
    match (profile, function) {
        (CwProfile::NoAgreements, "Agreements") => ("None", false),
        (CwProfile::RestrictedAgreementTypes, "Agreements") => ("All", true),
        (CwProfile::NoCompanies, "CompanyMaintenance" | "Contacts") => ("My", false),
        _ => ("All", false),
    }
}

/// The module's display name, as the ConnectWise UI (and so the setup guide) spells it.
fn module_name(identifier: &str) -> &str {
    match identifier {
        "ServiceDesk" => "Service Desk",
        other => other,
    }
}

pub fn rows(member: &CwMember, ctx: &Ctx) -> Value {
    let rows: Vec<Value> = FUNCTIONS
        .iter()
        .enumerate()
        .map(|(i, (module, id, name))| {
            let (inquire, custom) = levels(member.profile, id);
            let change = if inquire == "None" { "None" } else { "All" };
            json!({
                "id": i + 1, "addLevel": change, "editLevel": change, "deleteLevel": "None",
                "inquireLevel": inquire, "moduleFunctionName": name, "moduleFunctionDescription": name,
                "myAllFlag": true, "moduleFunctionIdentifier": id, "reportFlag": false,
                "restrictFlag": inquire == "My", "customFlag": custom,
                "moduleDescription": module_name(module), "moduleIdentifier": module,
                "moduleName": module_name(module),
                "sortOrder": i + 1,
                "_info": {"mySecurity_href": format!("{}/system/mySecurity/{}", ctx.api_root, i + 1)},
            })
        })
        .collect();
    Value::Array(rows)
}
