//! The credentials the sandbox accepts, each with the permission profile it stands for.
//!
//! The defaults are fixed strings so tests, the demo and people typing into the portal's forms
//! can all use them; `--accounts FILE` (TOML or JSON with the same shape) replaces them.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Default ConnectWise `clientId` the sandbox expects (the portal's vendor setting).
pub const CW_CLIENT_ID: &str = "sync365-sandbox-client-id";
/// Default cloud-style ConnectWise login company.
pub const CW_COMPANY_ID: &str = "sandbox";
/// Default on-premise style ConnectWise login company (`IsCloud` "False").
pub const CW_ONPREM_COMPANY_ID: &str = "sandboxonprem";
/// Default Autotask `ApiIntegrationCode` the sandbox expects (the portal's vendor setting).
pub const AT_INTEGRATION_CODE: &str = "SYNC365SANDBOXCODE";

/// Everything the sandbox accepts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    pub connectwise: ConnectWiseAccounts,
    pub autotask: AutotaskAccounts,
}

/// ConnectWise login companies and API members.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConnectWiseAccounts {
    pub client_id: String,
    pub companies: Vec<CwCompany>,
    pub members: Vec<CwMember>,
}

/// A login company as `companyinfo` describes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CwCompany {
    pub company_id: String,
    /// With its trailing slash, e.g. `v2025_1/` or `v4_6_release/`.
    pub codebase: String,
    pub is_cloud: bool,
}

/// An API member: keys plus what its security role allows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CwMember {
    pub label: String,
    pub company_id: String,
    pub public_key: String,
    pub private_key: String,
    pub profile: CwProfile,
    /// Agreement type names the role may see; only read for `restricted_agreement_types`.
    #[serde(default)]
    pub allowed_agreement_types: Vec<String>,
}

/// The security-role shapes the sandbox can reproduce.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CwProfile {
    FullAccess,
    /// Finance > Agreements has no Inquire level: agreements and additions answer 403.
    NoAgreements,
    /// Finance > Agreements customised to some agreement types (BR-13 lives here).
    RestrictedAgreementTypes,
    /// The member was set inactive: every call answers 401.
    Disabled,
    /// Company access limited to a location with no companies: lists come back empty.
    NoCompanies,
}

/// The Autotask integration code and API users.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AutotaskAccounts {
    pub integration_code: String,
    pub users: Vec<AtUser>,
}

/// An Autotask API-only user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AtUser {
    pub label: String,
    pub username: String,
    pub secret: String,
    /// Host name of the user's zone, e.g. `webservices2`.
    pub zone: String,
    pub level: AtLevel,
}

/// The security-level shapes the sandbox can reproduce.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AtLevel {
    FullAccess,
    /// A copied level without entity access: queries succeed with no rows.
    Restricted,
    /// The secret expired or the user was locked (BR-35): every data call answers 401.
    Locked,
}

impl Default for Accounts {
    fn default() -> Self {
        Self {
            connectwise: ConnectWiseAccounts {
                client_id: CW_CLIENT_ID.into(),
                companies: vec![
                    company(CW_COMPANY_ID, "v2025_1/", true),
                    company(CW_ONPREM_COMPANY_ID, "v4_6_release/", false),
                ],
                members: default_members(),
            },
            autotask: AutotaskAccounts {
                integration_code: AT_INTEGRATION_CODE.into(),
                users: default_users(),
            },
        }
    }
}

fn company(id: &str, codebase: &str, is_cloud: bool) -> CwCompany {
    CwCompany {
        company_id: id.into(),
        codebase: codebase.into(),
        is_cloud,
    }
}

fn member(label: &str, company: &str, keys: (&str, &str), profile: CwProfile) -> CwMember {
    CwMember {
        label: label.into(),
        company_id: company.into(),
        public_key: keys.0.into(),
        private_key: keys.1.into(),
        profile,
        allowed_agreement_types: Vec::new(),
    }
}

fn default_members() -> Vec<CwMember> {
    let mut restricted = member(
        "restricted agreement types (M365 Licensing only; parents are Managed Services)",
        CW_COMPANY_ID,
        ("RestrictedPub001", "RestrictedPriv01"),
        CwProfile::RestrictedAgreementTypes,
    );
    restricted.allowed_agreement_types = vec!["M365 Licensing".into()];
    vec![
        member(
            "full access",
            CW_COMPANY_ID,
            ("FullAccessPub001", "FullAccessPriv01"),
            CwProfile::FullAccess,
        ),
        member(
            "no Finance > Agreements permission",
            CW_COMPANY_ID,
            ("NoAgreementPub01", "NoAgreementPriv1"),
            CwProfile::NoAgreements,
        ),
        restricted,
        member(
            "disabled member",
            CW_COMPANY_ID,
            ("DisabledPub00001", "DisabledPriv0001"),
            CwProfile::Disabled,
        ),
        member(
            "role that sees zero companies",
            CW_COMPANY_ID,
            ("NoCompaniesPub01", "NoCompaniesPriv1"),
            CwProfile::NoCompanies,
        ),
        member(
            "full access, on-premise server",
            CW_ONPREM_COMPANY_ID,
            ("OnPremPub0000001", "OnPremPriv000001"),
            CwProfile::FullAccess,
        ),
    ]
}

fn user(label: &str, username: &str, secret: &str, zone: &str, level: AtLevel) -> AtUser {
    AtUser {
        label: label.into(),
        username: username.into(),
        secret: secret.into(),
        zone: zone.into(),
        level,
    }
}

fn default_users() -> Vec<AtUser> {
    vec![
        user(
            "full access",
            "sbxfullapi00001@SANDBOX.EXAMPLE",
            "Full*Secret#001",
            "webservices2",
            AtLevel::FullAccess,
        ),
        user(
            "restricted security level (empty results)",
            "sbxrestricted01@SANDBOX.EXAMPLE",
            "Restr$Secret~02",
            "webservices2",
            AtLevel::Restricted,
        ),
        user(
            "full access, tenant in another zone",
            "sbxotherzone001@SANDBOX.EXAMPLE",
            "Zone5@Secret#03",
            "webservices5",
            AtLevel::FullAccess,
        ),
        user(
            "secret expired / locked",
            "sbxlockedapi001@SANDBOX.EXAMPLE",
            "Locked#Secret04",
            "webservices2",
            AtLevel::Locked,
        ),
    ]
}

impl Accounts {
    /// Reads accounts from a `.json` file, or TOML for any other extension.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading accounts file {}", path.display()))?;
        let parsed = if path.extension().is_some_and(|ext| ext == "json") {
            serde_json::from_str(&text).map_err(anyhow::Error::from)
        } else {
            figment::Figment::from(
                <figment::providers::Toml as figment::providers::Format>::string(&text),
            )
            .extract()
            .map_err(anyhow::Error::from)
        };
        parsed.with_context(|| format!("parsing accounts file {}", path.display()))
    }

    /// The login company with this id; companyinfo matches case-insensitively (brief §8.6).
    pub fn cw_company(&self, company_id: &str) -> Option<&CwCompany> {
        let wanted = company_id.trim();
        self.connectwise
            .companies
            .iter()
            .find(|c| c.company_id.eq_ignore_ascii_case(wanted))
    }

    /// The Autotask user with this username (case-insensitive, like Autotask's own lookup).
    pub fn at_user(&self, username: &str) -> Option<&AtUser> {
        self.autotask
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username.trim()))
    }

    /// The first full-access ConnectWise member, for demos and examples.
    pub fn cw_full_access(&self) -> Option<&CwMember> {
        self.connectwise
            .members
            .iter()
            .find(|m| m.profile == CwProfile::FullAccess)
    }

    /// The first full-access Autotask user, for demos and examples.
    pub fn at_full_access(&self) -> Option<&AtUser> {
        self.autotask
            .users
            .iter()
            .find(|u| u.level == AtLevel::FullAccess)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_accounts_survive_a_json_round_trip() {
        let accounts = Accounts::default();
        let text = serde_json::to_string(&accounts).unwrap();
        assert_eq!(serde_json::from_str::<Accounts>(&text).unwrap(), accounts);
    }

    #[test]
    fn companyinfo_lookup_ignores_case_and_surrounding_space() {
        let accounts = Accounts::default();
        assert!(accounts.cw_company(" SandBox ").is_some());
        assert!(accounts.cw_company("Sandbox Pty Ltd").is_none());
    }
}
