//! Black-box tests of the PSA sandbox: each starts its own sandbox on port 0.
#![allow(clippy::unwrap_used)]

mod autotask;
mod connectwise;
mod faults;
mod perf;

use base64::Engine as _;
use sync365::sandbox::{self, RunningSandbox, SandboxConfig, accounts};

/// Starts a sandbox with the given configuration on a random port.
pub async fn spawn(config: SandboxConfig) -> RunningSandbox {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    sandbox::start(config, listener).await.unwrap()
}

pub async fn spawn_default() -> RunningSandbox {
    spawn(SandboxConfig::default()).await
}

/// `Authorization` value for a ConnectWise member.
pub fn cw_basic(company: &str, public: &str, private: &str) -> String {
    let raw = format!("{company}+{public}:{private}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A GET to the ConnectWise API as the given member, with the sandbox clientId.
pub fn cw_get(sandbox: &RunningSandbox, keys: (&str, &str), path: &str) -> reqwest::RequestBuilder {
    let url = format!("{}/v4_6_release/apis/3.0/{path}", sandbox.base_url);
    reqwest::Client::new()
        .get(url)
        .header("clientId", accounts::CW_CLIENT_ID)
        .header(
            "Authorization",
            cw_basic(accounts::CW_COMPANY_ID, keys.0, keys.1),
        )
}

pub const CW_FULL: (&str, &str) = ("FullAccessPub001", "FullAccessPriv01");
pub const CW_NO_AGREEMENTS: (&str, &str) = ("NoAgreementPub01", "NoAgreementPriv1");
pub const CW_RESTRICTED: (&str, &str) = ("RestrictedPub001", "RestrictedPriv01");
pub const CW_DISABLED: (&str, &str) = ("DisabledPub00001", "DisabledPriv0001");
pub const CW_NO_COMPANIES: (&str, &str) = ("NoCompaniesPub01", "NoCompaniesPriv1");

pub const AT_FULL: (&str, &str) = ("sbxfullapi00001@SANDBOX.EXAMPLE", "Full*Secret#001");
pub const AT_RESTRICTED: (&str, &str) = ("sbxrestricted01@SANDBOX.EXAMPLE", "Restr$Secret~02");
pub const AT_OTHER_ZONE: (&str, &str) = ("sbxotherzone001@SANDBOX.EXAMPLE", "Zone5@Secret#03");
pub const AT_LOCKED: (&str, &str) = ("sbxlockedapi001@SANDBOX.EXAMPLE", "Locked#Secret04");

/// A request to the Autotask API of `zone` as the given user.
pub fn at_request(
    sandbox: &RunningSandbox,
    method: reqwest::Method,
    user: (&str, &str),
    zone: &str,
    path: &str,
) -> reqwest::RequestBuilder {
    let url = format!("{}/{zone}/atservicesrest/v1.0/{path}", sandbox.base_url);
    reqwest::Client::new()
        .request(method, url)
        .header("ApiIntegrationCode", accounts::AT_INTEGRATION_CODE)
        .header("UserName", user.0)
        .header("Secret", user.1)
}

/// POSTs a query body to `{entity}/query` as the full-access user in webservices2.
pub async fn at_query(
    sandbox: &RunningSandbox,
    entity: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    at_request(
        sandbox,
        reqwest::Method::POST,
        AT_FULL,
        "webservices2",
        &format!("{entity}/query"),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}
