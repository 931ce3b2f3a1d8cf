//! The permission checklist a Test shows: one cheap read per row of the guide's role table,
//! the caller's own security rows where the server offers them, the agreement types the key
//! can see, and whether the parents of visible child agreements are visible too (BR-13).

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::api::{Api, Query};
use super::permissions::{AGREEMENTS, GUIDE, Level, Requirement};
use super::wire::{Count, CwAgreement, Reference};
use crate::psa::{CheckStatus, PermissionCheck, PsaError};

// Limitation: the parent check reads the first 1000 agreements and probes at most 10 parents.
/// Parents probed one by one at most, to keep a Test cheap.
const MAX_PARENT_PROBES: usize = 10;

/// A row of `system/mySecurity`: the caller's own levels (`All`, `My`, `None`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecurityRow {
    module_name: Option<String>,
    module_description: Option<String>,
    module_function_name: Option<String>,
    inquire_level: Option<String>,
    add_level: Option<String>,
    edit_level: Option<String>,
}

impl SecurityRow {
    fn matches(&self, req: &Requirement) -> bool {
        let same =
            |a: &Option<String>, b: &str| a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(b));
        let module_known = self.module_name.is_some() || self.module_description.is_some();
        let module_ok = !module_known
            || same(&self.module_name, req.module)
            || same(&self.module_description, req.module);
        module_ok && same(&self.module_function_name, req.function)
    }

    fn level(&self, level: Level) -> &str {
        let value = match level {
            Level::Inquire => &self.inquire_level,
            Level::Add => &self.add_level,
            Level::Edit => &self.edit_level,
        };
        value.as_deref().unwrap_or("None")
    }
}

/// What a probe read showed.
enum Probe {
    Allowed(u64),
    Denied,
    NotChecked(String),
}

/// Runs every row; a row that cannot be decided is a warning, never a silent pass.
pub async fn run(api: &Api) -> Vec<PermissionCheck> {
    let security = my_security(api).await;
    let rows = GUIDE
        .iter()
        .map(|req| guide_row(api, req, security.as_deref()));
    let mut checks = futures::future::join_all(rows).await;
    checks.push(agreement_types(api).await);
    checks.push(parent_agreements(api).await);
    checks
}

async fn my_security(api: &Api) -> Option<Vec<SecurityRow>> {
    let query: Query = vec![("pageSize", "1000".into())];
    let rows: Vec<SecurityRow> = api.get_json("system/mySecurity", &query).await.ok()?;
    (!rows.is_empty()).then_some(rows)
}

async fn guide_row(
    api: &Api,
    req: &Requirement,
    security: Option<&[SecurityRow]>,
) -> PermissionCheck {
    let probe = match req.probe {
        Some(path) => probe(api, path).await,
        None => Probe::NotChecked(req.unprobed_because.to_string()),
    };
    let own = security.and_then(|rows| rows.iter().find(|r| r.matches(req)));
    judge(req, probe, own)
}

async fn probe(api: &Api, path: &str) -> Probe {
    let query: Query = if path.starts_with("company/companies") {
        vec![("conditions", "deletedFlag=false".into())]
    } else {
        Vec::new()
    };
    match api.get_json::<Count>(path, &query).await {
        Ok(count) => Probe::Allowed(count.count),
        Err(PsaError::PermissionMissing { .. }) => Probe::Denied,
        Err(PsaError::ResourceNotFound { .. }) => {
            Probe::NotChecked("the server does not offer the request that would show it".into())
        }
        Err(e) => Probe::NotChecked(format!("the check failed: {e}")),
    }
}

/// Combines the probe with the caller's own security row, when there is one.
fn judge(req: &Requirement, probe: Probe, own: Option<&SecurityRow>) -> PermissionCheck {
    let row = |status, detail: String| PermissionCheck {
        item: req.item(),
        status,
        fix: if status == CheckStatus::Pass {
            String::new()
        } else {
            req.fix()
        },
        detail,
    };
    match (probe, own) {
        (Probe::Denied, _) => row(CheckStatus::Fail, "ConnectWise refused a read (403).".into()),
        (Probe::Allowed(0), _) if req.function == "Company Maintenance" => row(
            CheckStatus::Warn,
            "No companies are visible: the role is probably limited to the member's own location or level (My). Set Inquire Level to All.".into(),
        ),
        (_, Some(sec)) => judge_levels(req, sec, row),
        (Probe::Allowed(n), None) => judge_unseen_writes(req, n, row),
        (Probe::NotChecked(why), None) => row(CheckStatus::Warn, format!("Not checked: {why}.")),
    }
}

fn judge_levels<F>(req: &Requirement, sec: &SecurityRow, row: F) -> PermissionCheck
where
    F: Fn(CheckStatus, String) -> PermissionCheck,
{
    let levels: Vec<String> = req
        .levels
        .iter()
        .map(|l| format!("{} {}", l.name(), sec.level(*l)))
        .collect();
    let worst = req
        .levels
        .iter()
        .map(|l| sec.level(*l).to_ascii_lowercase())
        .fold(CheckStatus::Pass, |acc, v| match v.as_str() {
            "all" => acc,
            "my" if acc == CheckStatus::Pass => CheckStatus::Warn,
            "my" => acc,
            _ => CheckStatus::Fail,
        });
    row(worst, format!("The role grants {}.", levels.join(", ")))
}

fn judge_unseen_writes<F>(req: &Requirement, visible: u64, row: F) -> PermissionCheck
where
    F: Fn(CheckStatus, String) -> PermissionCheck,
{
    let writes: Vec<&str> = req
        .levels
        .iter()
        .filter(|l| **l != Level::Inquire)
        .map(|l| l.name())
        .collect();
    if writes.is_empty() {
        return row(
            CheckStatus::Pass,
            format!("Inquire works ({visible} visible)."),
        );
    }
    row(
        CheckStatus::Warn,
        format!(
            "Inquire works ({visible} visible); {} not checked: checking would change data in ConnectWise and the server does not list the role's levels.",
            writes.join("/")
        ),
    )
}

/// Lists the agreement types the key can see (BR-13 asks for them at Test time).
async fn agreement_types(api: &Api) -> PermissionCheck {
    let item = "Finance > Agreements: agreement types".to_string();
    let query: Query = vec![("pageSize", "1000".into()), ("fields", "id,name".into())];
    match api
        .get_json::<Vec<Reference>>("finance/agreements/types", &query)
        .await
    {
        Ok(types) => {
            let names: Vec<String> = types.into_iter().filter_map(|t| t.name).collect();
            let shown: Vec<&str> = names.iter().take(20).map(String::as_str).collect();
            let more = if names.len() > shown.len() {
                ", ..."
            } else {
                ""
            };
            let detail = format!(
                "{} agreement types visible: {}{more}",
                names.len(),
                shown.join(", ")
            );
            PermissionCheck {
                item,
                status: CheckStatus::Pass,
                detail,
                fix: String::new(),
            }
        }
        Err(e) => PermissionCheck {
            item,
            status: status_of(&e),
            detail: e.user_message(),
            fix: AGREEMENTS.fix(),
        },
    }
}

fn status_of(e: &PsaError) -> CheckStatus {
    match e {
        PsaError::PermissionMissing { .. } => CheckStatus::Fail,
        _ => CheckStatus::Warn,
    }
}

/// Child agreements whose parent the role cannot read: ConnectWise applies a type restriction
/// to the parent too, so their additions would fail on sync.
async fn parent_agreements(api: &Api) -> PermissionCheck {
    let item = "Finance > Agreements: parent agreement types".to_string();
    match hidden_parents(api).await {
        Ok(hidden) if hidden.is_empty() => PermissionCheck {
            item,
            status: CheckStatus::Pass,
            detail: "The parents of the visible child agreements are visible too.".into(),
            fix: String::new(),
        },
        Ok(hidden) => PermissionCheck {
            item,
            status: CheckStatus::Warn,
            detail: hidden.join(" "),
            fix: "In ConnectWise: System > Security Roles > (the API member's role) > Finance > Agreements > Customize: allow the parent agreements' types as well.".into(),
        },
        Err(e) => PermissionCheck { item, status: CheckStatus::Warn, detail: format!("Not checked: {}", e.user_message()), fix: String::new() },
    }
}

/// One sentence per child agreement whose parent cannot be read.
async fn hidden_parents(api: &Api) -> Result<Vec<String>, PsaError> {
    let query: Query = vec![
        ("pageSize", "1000".into()),
        ("fields", "id,name,type,parentAgreement".into()),
    ];
    let page: Vec<CwAgreement> = api.get_json("finance/agreements", &query).await?;
    let visible: HashSet<i64> = page.iter().map(|a| a.id).collect();
    let mut parents: BTreeMap<i64, (i64, Option<String>)> = BTreeMap::new();
    for child in &page {
        let Some(parent) = child.parent_id().filter(|p| !visible.contains(p)) else {
            continue;
        };
        let type_name = child
            .parent_agreement
            .as_ref()
            .and_then(|p| p.type_name.clone());
        parents.entry(parent).or_insert((child.id, type_name));
    }
    let mut hidden = Vec::new();
    for (parent, (child, type_name)) in parents.into_iter().take(MAX_PARENT_PROBES) {
        if !parent_readable(api, parent).await? {
            hidden.push(format!(
                "{}.",
                parent_sentence(child, parent, type_name.as_deref())
            ));
        }
    }
    Ok(hidden)
}

async fn parent_readable(api: &Api, parent: i64) -> Result<bool, PsaError> {
    let query: Query = vec![("fields", "id".into())];
    match api
        .get_json::<serde_json::Value>(&format!("finance/agreements/{parent}"), &query)
        .await
    {
        Ok(_) => Ok(true),
        Err(PsaError::PermissionMissing { .. } | PsaError::ResourceNotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// "Agreement 812's parent (700, Managed Services) is not visible to the API member – ...",
/// without a final stop so it can end a longer message.
pub fn parent_sentence(child: i64, parent: i64, type_name: Option<&str>) -> String {
    let what = match type_name {
        Some(t) => format!("{parent}, {t}"),
        None => parent.to_string(),
    };
    format!(
        "Agreement {child}'s parent ({what}) is not visible to the API member – add that type to the role"
    )
}
