//! ConnectWise connector against mock servers: verification, failure classes, the checklist.
#![allow(clippy::unwrap_used)]

#[path = "connectwise_retrieve.rs"]
mod retrieve;

#[path = "connectwise_sandbox.rs"]
mod against_sandbox;

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use sync365::domain::connectwise::{CompanyId, Site};
use sync365::psa::connectwise::{Cloud, ConnectWise, Credentials, ServerSettings};
use sync365::psa::http::{OutboundPolicy, RetryPolicy};
use sync365::psa::{CheckStatus, PsaError, Verification};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const COMPANY: &str = "contoso";
pub const ROOT: &str = "/v2025_1/apis/3.0";

/// Fast retries and short timeouts, loopback allowed.
pub fn policy() -> OutboundPolicy {
    OutboundPolicy {
        allow_private: true,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        },
        ..OutboundPolicy::default()
    }
}

/// Settings whose clouds are the given servers, keyed `na`, `eu`, `aus`.
pub fn settings(clouds: &[(&str, &MockServer)]) -> ServerSettings {
    let clouds = clouds
        .iter()
        .map(|(key, server)| Cloud {
            key: (*key).into(),
            label: format!("Cloud {key}"),
            base: url::Url::parse(&server.uri()).unwrap(),
        })
        .collect();
    ServerSettings {
        client_id: "test-client-id".into(),
        clouds,
        ..ServerSettings::default()
    }
}

pub fn connect(server: &MockServer) -> ConnectWise {
    connect_to(Site::Cloud("na".into()), &settings(&[("na", server)]))
}

pub fn connect_to(site: Site, server_settings: &ServerSettings) -> ConnectWise {
    let creds = Credentials {
        company_id: CompanyId::parse(COMPANY).unwrap(),
        site,
        public_key: SecretString::from("pubkey"),
        private_key: SecretString::from("privkey"),
    };
    ConnectWise::new(creds, server_settings, &policy()).unwrap()
}

pub async fn companyinfo(server: &MockServer, is_cloud: Value) {
    let body = json!({"CompanyName": COMPANY, "Codebase": "v2025_1/", "VersionCode": "v2025.1",
        "VersionNumber": "v4.6.10333", "CompanyID": "CT", "IsCloud": is_cloud});
    Mock::given(method("GET"))
        .and(path(format!("/login/companyinfo/{COMPANY}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

pub async fn api(server: &MockServer, rel: &str, status: u16, body: Value) {
    Mock::given(method("GET"))
        .and(path(format!("{ROOT}/{rel}")))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

/// A tenant where every read works and a few records exist.
pub async fn full_access(server: &MockServer) {
    companyinfo(server, json!("True")).await;
    api(
        server,
        "system/info",
        200,
        json!({"version": "v2025.1.10333", "isCloud": true}),
    )
    .await;
    for rel in [
        "company/companies/count",
        "company/contacts/count",
        "finance/agreements/count",
        "procurement/catalog/count",
        "procurement/products/count",
        "service/tickets/count",
    ] {
        api(server, rel, 200, json!({"count": 3})).await;
    }
    api(
        server,
        "finance/agreements/types",
        200,
        json!([{"id": 1, "name": "M365"}, {"id": 2, "name": "Managed Services"}]),
    )
    .await;
    api(server, "finance/agreements", 200, json!([{"id": 700, "type": {"id": 2, "name": "Managed Services"}},
        {"id": 812, "type": {"id": 1, "name": "M365"}, "parentAgreement": {"id": 700, "type": "Managed Services"}}])).await;
}

async fn verify(server: &MockServer) -> Result<Verification, PsaError> {
    connect(server).verify().await
}

fn row<'a>(v: &'a Verification, item: &str) -> &'a sync365::psa::PermissionCheck {
    v.checks
        .iter()
        .find(|c| c.item == item)
        .unwrap_or_else(|| panic!("no row {item}: {:#?}", v.checks))
}

#[tokio::test]
async fn an_unknown_company_id_names_the_host() {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/login/companyinfo/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("null"))
        .mount(&server)
        .await;
    let err = verify(&server).await.unwrap_err();
    let host = server.address().to_string();
    assert_eq!(
        err,
        PsaError::CompanyNotFound {
            company_id: COMPANY.into(),
            host: host.clone(),
            found_at: None
        }
    );
    assert!(
        err.user_message()
            .contains(&format!("Company ID contoso was not found at {host}"))
    );
}

#[tokio::test]
async fn a_company_unknown_at_the_chosen_cloud_says_which_cloud_knows_it() {
    let (na, eu, aus) = (
        MockServer::start().await,
        MockServer::start().await,
        MockServer::start().await,
    );
    for unknown in [&na, &aus] {
        Mock::given(path_regex("^/login/companyinfo/"))
            .respond_with(ResponseTemplate::new(404))
            .mount(unknown)
            .await;
    }
    companyinfo(&eu, json!(true)).await;
    let cw = connect_to(
        Site::Cloud("na".into()),
        &settings(&[("na", &na), ("eu", &eu), ("aus", &aus)]),
    );
    let err = cw.verify().await.unwrap_err();
    let PsaError::CompanyNotFound {
        found_at: Some(found),
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        found.contains("Cloud eu") && found.contains(&eu.address().to_string()),
        "{found}"
    );
    let asked_eu = eu.received_requests().await.unwrap();
    assert!(
        asked_eu
            .iter()
            .all(|r| !r.headers.contains_key("authorization")),
        "credentials sent to another cloud"
    );
}

#[tokio::test]
async fn refused_keys_are_reported_as_a_key_problem() {
    let server = MockServer::start().await;
    companyinfo(&server, json!("True")).await;
    api(
        &server,
        "system/info",
        401,
        json!({"code": "ConnectWiseApi", "message": "UserNotAuthenticated"}),
    )
    .await;
    let err = verify(&server).await.unwrap_err();
    assert_eq!(
        err,
        PsaError::CredentialsRefused {
            host: server.address().to_string()
        }
    );
    let calls = server.received_requests().await.unwrap();
    assert_eq!(
        calls
            .iter()
            .filter(|r| r.url.path().ends_with("system/info"))
            .count(),
        1,
        "a 401 must not be retried"
    );
}

#[tokio::test]
async fn a_refused_client_id_is_reported_as_our_problem_not_the_users() {
    let server = MockServer::start().await;
    companyinfo(&server, json!("True")).await;
    Mock::given(path(format!("{ROOT}/system/info")))
        .respond_with(ResponseTemplate::new(401).set_body_string("clientId revoked"))
        .mount(&server)
        .await;
    let err = verify(&server).await.unwrap_err();
    assert_eq!(
        err,
        PsaError::VendorIdRefused {
            host: server.address().to_string()
        }
    );
    assert!(err.user_message().contains("contact our support"));
}

#[tokio::test]
async fn a_web_page_instead_of_the_api_is_named_as_the_wrong_host() {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/login/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("<!DOCTYPE html><html>Sign in</html>", "text/html"),
        )
        .mount(&server)
        .await;
    let err = verify(&server).await.unwrap_err();
    assert_eq!(
        err,
        PsaError::NotTheApi {
            host: server.address().to_string()
        }
    );
}

#[tokio::test]
async fn an_api_answer_in_html_is_named_as_the_wrong_host() {
    let server = MockServer::start().await;
    companyinfo(&server, json!("True")).await;
    Mock::given(path(format!("{ROOT}/system/info")))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("  <html><body>login</body></html>"),
        )
        .mount(&server)
        .await;
    assert!(matches!(
        verify(&server).await,
        Err(PsaError::NotTheApi { .. })
    ));
}

fn self_hosted(url: &str) -> ConnectWise {
    let site = Site::parse("self_hosted", url).unwrap();
    connect_to(site, &settings(&[]))
}

#[tokio::test]
async fn an_unresolvable_host_is_a_dns_failure_naming_the_host() {
    let err = self_hosted("http://no-such-host.invalid")
        .verify()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PsaError::Dns {
            host: "no-such-host.invalid".into()
        }
    );
}

#[tokio::test]
async fn a_refused_connection_names_the_host() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = self_hosted(&format!("http://127.0.0.1:{port}"))
        .verify()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PsaError::Unreachable {
            host: format!("127.0.0.1:{port}")
        }
    );
}

#[tokio::test]
async fn a_host_that_does_not_speak_tls_is_a_tls_failure_naming_the_host() {
    let server = MockServer::start().await;
    let port = server.address().port();
    let err = self_hosted(&format!("https://127.0.0.1:{port}"))
        .verify()
        .await
        .unwrap_err();
    let PsaError::Tls { host, problem } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(host, &format!("127.0.0.1:{port}"));
    assert!(!problem.is_empty());
}

#[tokio::test]
async fn a_self_signed_certificate_is_named_as_an_unknown_issuer() {
    let port = self_signed_tls_server();
    let err = self_hosted(&format!("https://localhost:{port}"))
        .verify()
        .await
        .unwrap_err();
    let PsaError::Tls { host, problem } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(host, &format!("localhost:{port}"));
    assert!(problem.contains("unknown issuer"), "{problem}");
}

/// A TLS listener with a fresh self-signed certificate for `localhost`; it only handshakes.
fn self_signed_tls_server() -> u16 {
    use std::io::Read;
    use std::sync::Arc;
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = key.cert.der().clone();
    let private = rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], private)
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let _ = tls.read(&mut [0u8; 64]);
        }
    });
    port
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_naming_the_host() {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/login/"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let err = verify(&server).await.unwrap_err();
    assert_eq!(
        err,
        PsaError::Timeout {
            host: server.address().to_string()
        }
    );
}

#[tokio::test]
async fn a_private_address_is_refused_unless_the_policy_allows_it() {
    let creds = Credentials {
        company_id: CompanyId::parse(COMPANY).unwrap(),
        site: Site::parse("self_hosted", "http://10.0.0.5").unwrap(),
        public_key: SecretString::from("p"),
        private_key: SecretString::from("q"),
    };
    let result = ConnectWise::new(
        creds,
        &ServerSettings::default(),
        &OutboundPolicy::default(),
    );
    assert!(matches!(result, Err(PsaError::HostNotAllowed { .. })));
}

#[tokio::test]
async fn the_keys_client_id_and_pinned_version_are_sent_as_connectwise_expects() {
    let server = MockServer::start().await;
    full_access(&server).await;
    // base64("contoso+pubkey:privkey")
    Mock::given(path(format!("{ROOT}/system/info")))
        .and(header(
            "authorization",
            "Basic Y29udG9zbytwdWJrZXk6cHJpdmtleQ==",
        ))
        .and(header("clientid", "test-client-id"))
        .and(header(
            "accept",
            "application/vnd.connectwise.com+json; version=2025.1",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "v2025.1.1"})))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    let v = verify(&server).await.unwrap();
    assert!(v.detected.contains("v2025.1.1"), "{}", v.detected);
}

#[tokio::test]
async fn a_full_access_role_passes_every_row_it_can_check_and_warns_on_the_rest() {
    let server = MockServer::start().await;
    full_access(&server).await;
    let v = verify(&server).await.unwrap();
    assert!(v.passed(), "{:#?}", v.checks);
    assert_eq!(v.api_root, format!("{}/v2025_1/apis/3.0/", server.uri()));
    assert!(
        v.detected.contains("v2025_1/") && v.detected.contains("cloud"),
        "{}",
        v.detected
    );
    assert_eq!(
        row(&v, "Companies > Company Maintenance").status,
        CheckStatus::Pass
    );
    assert_eq!(
        row(&v, "Procurement > Product Catalog").status,
        CheckStatus::Pass
    );
    let table = row(&v, "System > Table Setup");
    assert_eq!(table.status, CheckStatus::Warn);
    assert!(table.detail.starts_with("Not checked"), "{}", table.detail);
    let contacts = row(&v, "Companies > Contacts");
    assert_eq!(contacts.status, CheckStatus::Warn);
    assert!(
        contacts.detail.contains("Add/Edit not checked"),
        "{}",
        contacts.detail
    );
    assert!(
        row(&v, "Finance > Agreements: agreement types")
            .detail
            .contains("M365, Managed Services")
    );
}

#[tokio::test]
async fn the_roles_own_levels_decide_rows_a_read_cannot_check() {
    let server = MockServer::start().await;
    full_access(&server).await;
    let sec = |module: &str, function: &str, add: &str| json!({"moduleName": module, "moduleFunctionName": function, "inquireLevel": "All", "addLevel": add, "editLevel": add});
    api(
        &server,
        "system/mySecurity",
        200,
        json!([
            sec("Companies", "Contacts", "All"),
            sec("System", "Table Setup", "None"),
            sec("Service Desk", "Service Tickets", "My")
        ]),
    )
    .await;
    let v = verify(&server).await.unwrap();
    assert_eq!(row(&v, "Companies > Contacts").status, CheckStatus::Pass);
    assert_eq!(row(&v, "System > Table Setup").status, CheckStatus::Fail);
    assert_eq!(
        row(&v, "Service Desk > Service Tickets").status,
        CheckStatus::Warn
    );
    assert!(!v.passed());
}

#[tokio::test]
async fn zero_visible_companies_is_a_warning_not_a_pass() {
    let server = MockServer::start().await;
    api(&server, "company/companies/count", 200, json!({"count": 0})).await;
    full_access(&server).await;
    let v = verify(&server).await.unwrap();
    let companies = row(&v, "Companies > Company Maintenance");
    assert_eq!(companies.status, CheckStatus::Warn);
    assert!(
        companies.detail.contains("No companies are visible"),
        "{}",
        companies.detail
    );
    assert!(
        companies.fix.contains("System > Security Roles"),
        "{}",
        companies.fix
    );
}

#[tokio::test]
async fn a_missing_agreement_permission_fails_its_row_with_the_menu_path() {
    let server = MockServer::start().await;
    let denied = json!({"code": "Security", "message": "You do not have security permission to perform this action."});
    api(&server, "finance/agreements/count", 403, denied).await;
    full_access(&server).await;
    let v = verify(&server).await.unwrap();
    let agreements = row(&v, "Finance > Agreements");
    assert_eq!(agreements.status, CheckStatus::Fail);
    assert!(
        agreements
            .fix
            .contains("System > Security Roles > (the API member's role) > Finance > Agreements"),
        "{}",
        agreements.fix
    );
    assert!(!v.passed(), "a failed row must fail the test");
}

#[tokio::test]
async fn a_child_agreement_whose_parent_type_is_hidden_is_warned_about() {
    let server = MockServer::start().await;
    api(
        &server,
        "finance/agreements",
        200,
        json!([{"id": 812, "type": {"id": 1, "name": "M365"},
        "parentAgreement": {"id": 700, "type": "Managed Services"}}]),
    )
    .await;
    api(
        &server,
        "finance/agreements/700",
        403,
        json!({"code": "Security", "message": "no"}),
    )
    .await;
    full_access(&server).await;
    let v = verify(&server).await.unwrap();
    let parents = row(&v, "Finance > Agreements: parent agreement types");
    assert_eq!(parents.status, CheckStatus::Warn);
    assert_eq!(
        parents.detail,
        "Agreement 812's parent (700, Managed Services) is not visible to the API member – add that type to the role."
    );
}

#[tokio::test]
async fn an_older_model_parent_id_is_checked_too() {
    let server = MockServer::start().await;
    api(
        &server,
        "finance/agreements",
        200,
        json!([{"id": 812, "parentAgreementId": 700}]),
    )
    .await;
    api(
        &server,
        "finance/agreements/700",
        404,
        json!({"code": "NotFound", "message": "no"}),
    )
    .await;
    full_access(&server).await;
    let v = verify(&server).await.unwrap();
    let parents = row(&v, "Finance > Agreements: parent agreement types");
    assert!(
        parents.detail.starts_with("Agreement 812's parent (700)"),
        "{}",
        parents.detail
    );
}

#[tokio::test]
async fn a_refused_api_version_falls_back_to_plain_json() {
    let server = MockServer::start().await;
    Mock::given(path(format!("{ROOT}/system/info")))
        .and(header("accept", "application/vnd.connectwise.com+json; version=2025.1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"code": "ConnectWiseApi", "message": "The resource does not support the API version '2025.1'"}),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    full_access(&server).await;
    let v = verify(&server).await.unwrap();
    assert!(v.detected.contains("v2025.1.10333"), "{}", v.detected);
    let calls = server.received_requests().await.unwrap();
    let later = calls.iter().filter(|r| r.url.path().ends_with("/count"));
    assert!(later.clone().count() > 0);
    assert!(
        later
            .into_iter()
            .all(|r| r.headers.get("accept").unwrap() == "application/json")
    );
}

#[tokio::test]
async fn a_stale_codebase_is_resolved_again_once_after_a_404() {
    let server = MockServer::start().await;
    // The first companyinfo names an old codebase, the second the current one (BR-03).
    let old = json!({"Codebase": "v2023_1/", "IsCloud": true});
    Mock::given(path(format!("/login/companyinfo/{COMPANY}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(old))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path_regex("^/v2023_1/"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    full_access(&server).await;
    let v = verify(&server).await.unwrap();
    assert!(v.api_root.ends_with("/v2025_1/apis/3.0/"), "{}", v.api_root);
    let calls = server.received_requests().await.unwrap();
    assert_eq!(
        calls
            .iter()
            .filter(|r| r.url.path().starts_with("/v2023_1/"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_path_that_stays_missing_after_re_resolving_is_reported_not_retried_forever() {
    let server = MockServer::start().await;
    companyinfo(&server, json!("False")).await;
    let cw = connect(&server);
    let mut sink = retrieve::Collected::default();
    let err = cw.retrieve(&mut sink).await.unwrap_err();
    assert!(matches!(err, PsaError::ResourceNotFound { .. }), "{err:?}");
    // One companyinfo to start, then one re-read per 404 (the count, then page 1).
    let infos = server.received_requests().await.unwrap();
    assert_eq!(
        infos
            .iter()
            .filter(|r| r.url.path().starts_with("/login"))
            .count(),
        3
    );
}

#[tokio::test]
async fn is_cloud_as_a_boolean_is_understood() {
    let server = MockServer::start().await;
    companyinfo(&server, json!(false)).await;
    full_access(&server).await;
    let v = verify(&server).await.unwrap();
    assert!(v.detected.contains("self-hosted"), "{}", v.detected);
}

#[tokio::test]
async fn keys_accepted_but_system_info_forbidden_still_verifies() {
    let server = MockServer::start().await;
    api(
        &server,
        "system/info",
        403,
        json!({"code": "Security", "message": "no"}),
    )
    .await;
    full_access(&server).await;
    let v = verify(&server).await.unwrap();
    assert_eq!(row(&v, "API keys").status, CheckStatus::Pass);
    assert!(v.detected.contains("v2025.1"), "{}", v.detected);
}

#[tokio::test]
async fn a_408_from_a_server_closing_an_idle_connection_is_sent_again() {
    let server = MockServer::start().await;
    Mock::given(path_regex("/company/companies/count$"))
        .respond_with(ResponseTemplate::new(408))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    full_access(&server).await;
    let v = verify(&server).await.unwrap();
    assert!(v.passed(), "{:#?}", v.checks);
    let calls = server.received_requests().await.unwrap();
    let counts = calls
        .iter()
        .filter(|r| r.url.path().ends_with("/company/companies/count"));
    assert!(counts.count() >= 2, "the 408 was followed by a second try");
}
