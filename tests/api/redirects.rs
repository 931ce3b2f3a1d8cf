//! A PSA (or something posing as one) that answers with a redirect: the portal never follows
//! it, the listener it points at gets no connection, the user reads which host redirected and
//! what to enter instead, and nothing is saved.

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sync365::sandbox::Faults;
use sync365::store::entity::{customer, psa_connection};
use sync365::store::runs;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::net::CountingListener;
use crate::helpers::{ADMIN_PASSWORD, Page, TestApp, page};
use crate::sync::{live_customers, sandbox_with, store_connectwise, wait_for_end};

const STATUSES: [u16; 4] = [301, 302, 307, 308];

/// A server answering every request with `status` and a `Location` on the counting listener.
async fn redirector(status: u16, to: &CountingListener) -> MockServer {
    let server = MockServer::start().await;
    redirect_all(&server, status, to).await;
    server
}

async fn redirect_all(server: &MockServer, status: u16, to: &CountingListener) {
    server.reset().await;
    let location = format!("{}atservicesrest/v1.0/elsewhere", to.url());
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).insert_header("Location", location))
        .mount(server)
        .await;
}

/// `host:port` of a server, as messages name it.
fn host_of(server: &MockServer) -> String {
    server.uri().trim_start_matches("http://").to_string()
}

async fn signed_in(overrides: &[(&str, &str)]) -> TestApp {
    let app = TestApp::spawn_with(overrides).await;
    app.create_user(
        Some("Contoso IT"),
        "admin@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    app.sign_in("admin@contoso.test", ADMIN_PASSWORD).await;
    app
}

async fn submit(app: &TestApp, psa: &str, fields: &[(&str, &str)]) -> Page {
    let form = format!("/tools/integrations/psa/new?psa_type={psa}");
    page(app.post(&form, "/tools/integrations/psa", fields).await).await
}

async fn saved_connections(app: &TestApp) -> u64 {
    psa_connection::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap()
}

/// The message names the host that redirected, where it pointed, and what to change.
fn assert_explains(message: &str, host: &str, target: &CountingListener, fix: &str) {
    assert!(message.contains(host), "names the host: {message}");
    assert!(
        message.contains("redirect"),
        "says it was a redirect: {message}"
    );
    let target = format!("127.0.0.1:{}", target.port);
    assert!(
        message.contains(&target),
        "says where it pointed: {message}"
    );
    assert!(message.contains(fix), "says what to fix: {message}");
}

#[tokio::test]
async fn a_connectwise_url_that_redirects_is_not_followed_on_test_or_save() {
    let app = signed_in(&[]).await;
    let elsewhere = CountingListener::start().await;
    for status in STATUSES {
        let server = redirector(status, &elsewhere).await;
        let site_url = server.uri();
        for action in ["test", "save"] {
            let fields = [
                ("psa_type", "connectwise"),
                ("company_id", "contoso"),
                ("site", "self_hosted"),
                ("site_url", site_url.as_str()),
                ("public_key", "PublicKey0000001"),
                ("private_key", "PrivateKey000001"),
                ("action", action),
            ];
            let p = submit(&app, "connectwise", &fields).await;
            assert_eq!(
                p.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{status} {action}"
            );
            let message = p.text("#site_url-error");
            assert_explains(&message, &host_of(&server), &elsewhere, "Enter the address");
            assert!(
                !p.body.contains("PrivateKey000001"),
                "no secret in the page"
            );
        }
    }
    assert_eq!(
        elsewhere.accepted(),
        0,
        "nobody connected where redirects pointed"
    );
    assert_eq!(saved_connections(&app).await, 0, "nothing was saved");
}

#[tokio::test]
async fn an_autotask_zone_lookup_that_redirects_asks_for_the_zone_and_saves_nothing() {
    let elsewhere = CountingListener::start().await;
    let server = MockServer::start().await;
    let lookup = format!("{}/atservicesrest/", server.uri());
    let template = format!("{}{{zone}}/atservicesrest/", elsewhere.url());
    let app = signed_in(&[
        ("autotask_zone_lookup_url", &lookup),
        ("autotask_zone_url_template", &template),
    ])
    .await;
    for status in STATUSES {
        redirect_all(&server, status, &elsewhere).await;
        for action in ["test", "save"] {
            let fields = [
                ("psa_type", "autotask"),
                ("zone", ""),
                ("username", "api@contoso.example"),
                ("secret", "Secret#0001"),
                ("action", action),
            ];
            let p = submit(&app, "autotask", &fields).await;
            assert_eq!(
                p.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{status} {action}"
            );
            let message = p.text("#zone-error");
            assert_explains(&message, &host_of(&server), &elsewhere, "webservices zone");
        }
    }
    assert_eq!(
        elsewhere.accepted(),
        0,
        "nobody connected where redirects pointed"
    );
    assert_eq!(saved_connections(&app).await, 0, "nothing was saved");
}

#[tokio::test]
async fn an_autotask_zone_whose_api_redirects_is_reported_beside_the_zone() {
    let elsewhere = CountingListener::start().await;
    let server = redirector(307, &elsewhere).await;
    let lookup = format!("{}/atservicesrest/", server.uri());
    let template = format!("{}/{{zone}}/atservicesrest/", server.uri());
    let app = signed_in(&[
        ("autotask_zone_lookup_url", &lookup),
        ("autotask_zone_url_template", &template),
    ])
    .await;
    let fields = [
        ("psa_type", "autotask"),
        ("zone", "webservices5"),
        ("username", "api@contoso.example"),
        ("secret", "Secret#0001"),
        ("action", "save"),
    ];
    let p = submit(&app, "autotask", &fields).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = p.text("#zone-error");
    assert_explains(
        &message,
        &host_of(&server),
        &elsewhere,
        "Check the webservices zone",
    );
    assert_eq!(elsewhere.accepted(), 0);
    assert_eq!(saved_connections(&app).await, 0);
}

#[tokio::test]
async fn a_page_redirected_during_retrieval_fails_the_run_and_keeps_the_last_good_data() {
    let sb = sandbox_with(60).await;
    let app = TestApp::against(&sb, true).await;
    let conn = store_connectwise(&app, "FullAccessPriv01").await;
    let clean = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    assert_eq!(wait_for_end(&app, clean.id).await.state, runs::SUCCEEDED);
    let before = live_customers(&app, conn.id).await;

    let elsewhere = CountingListener::start().await;
    for status in STATUSES {
        sb.clear_requests();
        sb.set_faults(Faults {
            redirect_every: Some(3),
            redirect_to: Some(elsewhere.url()),
            redirect_status: Some(status),
            ..Faults::default()
        });
        let run = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
            .await
            .unwrap();
        let done = wait_for_end(&app, run.id).await;
        assert_eq!(done.state, runs::FAILED, "{status}");
        let error = done.error.unwrap_or_default();
        let host = sb.base_url.trim_start_matches("http://");
        assert!(
            error.contains(host) && error.contains("redirect"),
            "{status}: {error}"
        );
        let redirected: Vec<_> = sb
            .requests()
            .into_iter()
            .filter(|r| r.status == status)
            .collect();
        assert!(
            !redirected.is_empty() && redirected.iter().all(|r| r.path.contains("/apis/3.0/")),
            "{status}: an API request was redirected: {redirected:?}"
        );
        let stray = customer::Entity::find()
            .filter(customer::Column::ConnectionId.eq(conn.id))
            .filter(customer::Column::RunId.gt(clean.id * 1000 + 999))
            .count(&app.state.db)
            .await
            .unwrap();
        assert_eq!(stray, 0, "{status}: the failed run left no rows");
    }
    assert_eq!(
        elsewhere.accepted(),
        0,
        "nobody connected where redirects pointed"
    );
    assert_eq!(
        live_customers(&app, conn.id).await,
        before,
        "the last good data is intact"
    );
}
