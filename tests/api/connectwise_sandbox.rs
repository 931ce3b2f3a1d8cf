//! ConnectWise connector against the PSA sandbox: its default accounts (full access, missing
//! agreement permission, restricted agreement types, disabled member, zero companies) and its
//! fault knobs, with the sandbox's request log as the witness.

use std::time::Duration;

use sync365::domain::connectwise::{CompanyId, Site};
use sync365::psa::connectwise::{ConnectWise, Credentials, ServerSettings};
use sync365::psa::http::OutboundPolicy;
use sync365::psa::records::Phase;
use sync365::psa::{CheckStatus, PsaError, Verification};
use sync365::sandbox::{self, Faults, RunningSandbox, SandboxConfig, accounts};

use super::retrieve::Collected;

const FULL: (&str, &str) = ("FullAccessPub001", "FullAccessPriv01");
const NO_AGREEMENTS: (&str, &str) = ("NoAgreementPub01", "NoAgreementPriv1");
const RESTRICTED: (&str, &str) = ("RestrictedPub001", "RestrictedPriv01");
const DISABLED: (&str, &str) = ("DisabledPub00001", "DisabledPriv0001");
const NO_COMPANIES: (&str, &str) = ("NoCompaniesPub01", "NoCompaniesPriv1");
const ON_PREM: (&str, &str) = ("OnPremPub0000001", "OnPremPriv000001");

/// Patient enough for a debug-build sandbox on a busy machine, with room for fault bursts.
fn policy() -> OutboundPolicy {
    let mut policy = super::policy();
    policy.request_timeout = Duration::from_secs(30);
    policy.retry.max_attempts = 8;
    policy
}

async fn spawn(config: SandboxConfig) -> RunningSandbox {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    sandbox::start(config, listener).await.unwrap()
}

/// The portal's settings as the sandbox prints them for the portal.
fn settings_for(sb: &RunningSandbox) -> ServerSettings {
    let value = |name: &str| {
        let found = sb.portal_settings().into_iter().find(|(k, _)| k == name);
        found.map(|(_, v)| v).unwrap()
    };
    let base = ServerSettings {
        client_id: value("SYNC365_CONNECTWISE_CLIENT_ID"),
        ..ServerSettings::default()
    };
    base.with_region_urls(&value("SYNC365_CONNECTWISE_REGION_URLS"))
        .unwrap()
}

fn member(sb: &RunningSandbox, company: &str, site: Site, keys: (&str, &str)) -> ConnectWise {
    let creds = Credentials {
        company_id: CompanyId::parse(company).unwrap(),
        site,
        public_key: keys.0.to_string().into(),
        private_key: keys.1.to_string().into(),
    };
    ConnectWise::new(creds, &settings_for(sb), &policy()).unwrap()
}

fn cloud(sb: &RunningSandbox, keys: (&str, &str)) -> ConnectWise {
    member(sb, accounts::CW_COMPANY_ID, Site::Cloud("na".into()), keys)
}

fn status_of(v: &Verification, item: &str) -> CheckStatus {
    let row = v.checks.iter().find(|c| c.item == item);
    row.unwrap_or_else(|| panic!("no row {item}: {:#?}", v.checks))
        .status
}

async fn retrieve(cw: &ConnectWise) -> Result<Collected, PsaError> {
    let mut sink = Collected::default();
    cw.retrieve(&mut sink).await.map(|()| sink)
}

fn expected(sink: &Collected, phase: Phase) -> usize {
    let found = sink.expected.iter().find(|(p, _)| *p == phase);
    found.map(|(_, n)| *n as usize).unwrap()
}

#[tokio::test]
async fn the_full_access_member_verifies_and_retrieves_every_record() {
    let sb = spawn(SandboxConfig::default()).await;
    let cw = cloud(&sb, FULL);
    let v = cw.verify().await.unwrap();
    assert!(v.passed(), "{:#?}", v.checks);
    assert!(v.api_root.ends_with("/v2025_1/apis/3.0/"), "{}", v.api_root);
    assert_eq!(status_of(&v, "Finance > Agreements"), CheckStatus::Pass);
    assert_eq!(status_of(&v, "System > Table Setup"), CheckStatus::Pass);
    let warned: Vec<_> = v
        .checks
        .iter()
        .filter(|c| c.status != CheckStatus::Pass)
        .collect();
    assert!(
        warned.is_empty(),
        "the full-access member has no warnings: {warned:#?}"
    );
    let got = retrieve(&cw).await.unwrap();
    assert_eq!(got.customers.len(), expected(&got, Phase::Customers));
    assert!(!got.customers.is_empty());
    assert_eq!(got.agreements.len(), 60);
    assert_eq!(got.products.len(), 30);
    assert!(!got.lines.is_empty());
    assert!(
        got.agreements
            .iter()
            .any(|a| a.parent_external_id.is_some())
    );
    let logged = sb.requests();
    assert!(
        logged
            .iter()
            .filter(|r| r.path.ends_with("/company/companies"))
            .all(|r| r.page_size == Some(1000))
    );
}

#[tokio::test]
async fn a_member_without_agreement_permission_fails_that_row_only() {
    let sb = spawn(SandboxConfig::default()).await;
    let v = cloud(&sb, NO_AGREEMENTS).verify().await.unwrap();
    assert_eq!(status_of(&v, "Finance > Agreements"), CheckStatus::Fail);
    assert_eq!(
        status_of(&v, "Companies > Company Maintenance"),
        CheckStatus::Pass
    );
    assert!(!v.passed());
    let err = retrieve(&cloud(&sb, NO_AGREEMENTS)).await.err().unwrap();
    assert!(
        matches!(&err, PsaError::PermissionMissing { item, .. } if item == "Finance > Agreements"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_role_restricted_to_child_agreement_types_is_warned_about_hidden_parents() {
    let sb = spawn(SandboxConfig::default()).await;
    let cw = cloud(&sb, RESTRICTED);
    let v = cw.verify().await.unwrap();
    let row = v
        .checks
        .iter()
        .find(|c| c.item == "Finance > Agreements: parent agreement types")
        .unwrap();
    assert_eq!(row.status, CheckStatus::Warn, "{row:#?}");
    assert!(
        row.detail.contains("'s parent (") && row.detail.contains("Managed Services"),
        "{}",
        row.detail
    );
    let err = retrieve(&cw).await.err().unwrap();
    let PsaError::PermissionMissing { item, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        item.starts_with("Agreement ") && item.contains("'s parent ("),
        "{item}"
    );
}

#[tokio::test]
async fn a_disabled_member_is_told_the_keys_were_refused() {
    let sb = spawn(SandboxConfig::default()).await;
    let err = cloud(&sb, DISABLED).verify().await.unwrap_err();
    assert!(
        matches!(err, PsaError::CredentialsRefused { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_role_that_sees_no_companies_warns_instead_of_passing() {
    let sb = spawn(SandboxConfig::default()).await;
    let v = cloud(&sb, NO_COMPANIES).verify().await.unwrap();
    assert_eq!(
        status_of(&v, "Companies > Company Maintenance"),
        CheckStatus::Warn
    );
}

#[tokio::test]
async fn an_unknown_company_is_named_with_the_sandbox_host() {
    let sb = spawn(SandboxConfig::default()).await;
    let err = member(&sb, "nosuchcompany", Site::Cloud("eu".into()), FULL)
        .verify()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PsaError::CompanyNotFound { company_id, .. } if company_id == "nosuchcompany"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_on_premise_server_typed_as_a_pasted_api_url_verifies() {
    let sb = spawn(SandboxConfig::default()).await;
    let typed = format!("{}/v4_6_release/apis/3.0/", sb.base_url);
    let site = Site::parse("self_hosted", &typed).unwrap();
    let v = member(&sb, accounts::CW_ONPREM_COMPANY_ID, site, ON_PREM)
        .verify()
        .await
        .unwrap();
    assert!(
        v.detected.contains("self-hosted") && v.api_root.ends_with("/v4_6_release/apis/3.0/"),
        "{v:#?}"
    );
}

#[tokio::test]
async fn a_revoked_client_id_is_reported_as_a_vendor_problem() {
    let sb = spawn(SandboxConfig::default()).await;
    let mut settings = settings_for(&sb);
    settings.client_id = "revoked".into();
    let creds = Credentials {
        company_id: CompanyId::parse(accounts::CW_COMPANY_ID).unwrap(),
        site: Site::Cloud("na".into()),
        public_key: FULL.0.to_string().into(),
        private_key: FULL.1.to_string().into(),
    };
    let err = ConnectWise::new(creds, &settings, &policy())
        .unwrap()
        .verify()
        .await
        .unwrap_err();
    assert!(matches!(err, PsaError::VendorIdRefused { .. }), "{err:?}");
}

#[tokio::test]
async fn retrieval_survives_throttling_error_bursts_cut_bodies_and_resets() {
    let sb = spawn(SandboxConfig::default()).await;
    let clean = retrieve(&cloud(&sb, FULL)).await.unwrap();
    let faults = Faults {
        throttle_every: Some(6),
        retry_after_secs: Some(1),
        error_burst: 2,
        error_every: Some(29),
        truncate_every: Some(9),
        reset_every: Some(13),
        ..Faults::default()
    };
    sb.set_faults(faults);
    sb.clear_requests();
    let got = retrieve(&cloud(&sb, FULL)).await.unwrap();
    assert_eq!(got.customers, clean.customers);
    assert_eq!(got.agreements, clean.agreements);
    assert_eq!(got.lines, clean.lines);
    assert_eq!(got.products, clean.products);
    let kinds: std::collections::BTreeSet<String> =
        sb.requests().into_iter().filter_map(|r| r.fault).collect();
    for kind in ["throttle", "server_error", "truncate", "reset"] {
        assert!(
            kinds.contains(kind),
            "fault {kind} never happened: {kinds:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_requests_stay_within_the_page_concurrency() {
    let config = SandboxConfig {
        sizes: sandbox::DataSizes {
            companies: 6000,
            agreements: 300,
            ..Default::default()
        },
        faults: Faults {
            latency_ms: 20,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    };
    let sb = spawn(config).await;
    retrieve(&cloud(&sb, FULL)).await.unwrap();
    let most = sb.requests().iter().map(|r| r.concurrency).max().unwrap();
    assert!((2..=4).contains(&most), "{most} concurrent requests");
}
