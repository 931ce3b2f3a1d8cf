//! The "+ PSA Tools" pages end to end over HTTP: the form, Test and Test and Save against the
//! PSA sandbox, a connection's page and its actions, and who may do what.

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sync365::sandbox::RunningSandbox;
use sync365::store::entity::{audit_event, customer, psa_connection, sync_run};
use sync365::store::runs;

use crate::helpers::{ADMIN_PASSWORD, TestApp, location, page};
use crate::sandbox::{AT_FULL, AT_OTHER_ZONE, CW_FULL, spawn_default};

const NEW: &str = "/tools/integrations/psa/new?psa_type=connectwise";

/// The app pointed at a fresh sandbox (no worker), with a signed-in admin of "Contoso IT".
pub async fn app_with_sandbox() -> (TestApp, RunningSandbox) {
    let sb = spawn_default().await;
    let app = TestApp::against(&sb, false).await;
    admin_of(&app, "Contoso IT", "admin@contoso.test").await;
    (app, sb)
}

/// Creates an admin of `tenant` and signs this browser in as them.
pub async fn admin_of(app: &TestApp, tenant: &str, email: &str) {
    app.create_user(Some(tenant), email, ADMIN_PASSWORD, "admin", false)
        .await;
    let resp = app.sign_in(email, ADMIN_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

fn cw_fields<'a>(private_key: &'a str, action: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("psa_type", "connectwise"),
        ("company_id", "sandbox"),
        ("site", "na"),
        ("site_url", ""),
        ("public_key", CW_FULL.0),
        ("private_key", private_key),
        ("action", action),
    ]
}

fn at_fields<'a>(
    zone: &'a str,
    user: (&'a str, &'a str),
    action: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("psa_type", "autotask"),
        ("zone", zone),
        ("username", user.0),
        ("secret", user.1),
        ("action", action),
    ]
}

async fn submit(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    app.post(NEW, "/tools/integrations/psa", fields).await
}

async fn connections(app: &TestApp) -> Vec<psa_connection::Model> {
    psa_connection::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
}

async fn audit_count(app: &TestApp, action: &str) -> u64 {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .count(&app.state.db)
        .await
        .unwrap()
}

/// Saves the sandbox's full-access ConnectWise member and returns the connection's id.
pub async fn save_connectwise(app: &TestApp) -> i64 {
    let resp = submit(app, &cw_fields(CW_FULL.1, "save")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let loc = location(&resp);
    loc.rsplit('/').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_form_shows_connectwise_by_default_and_autotask_when_asked() {
    let app = TestApp::signed_in_admin().await;
    let cw = app.get(NEW).await;
    assert_eq!(cw.status, StatusCode::OK);
    assert!(cw.has("#company_id") && cw.has("input[name=site][value=self_hosted]"));
    assert!(cw.has("fieldset#fields-autotask[hidden]"));
    assert!(
        cw.text("#public_key-help")
            .contains("System > Members > API Members")
    );
    let at = app
        .get("/tools/integrations/psa/new?psa_type=autotask")
        .await;
    assert!(at.has("fieldset#fields-connectwise[hidden]"));
    assert!(!at.has("fieldset#fields-autotask[hidden]"));
    assert_eq!(at.value("#psa_type"), "autotask");
    assert!(at.text("#zone-help").contains("ww2."));
}

#[tokio::test]
async fn members_and_support_users_cannot_open_the_form() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "m@contoso.test",
        ADMIN_PASSWORD,
        "member",
        false,
    )
    .await;
    app.sign_in("m@contoso.test", ADMIN_PASSWORD).await;
    assert_eq!(app.get(NEW).await.status, StatusCode::FORBIDDEN);
    let support = app.another_browser();
    support
        .create_user(None, "s@operator.test", ADMIN_PASSWORD, "admin", true)
        .await;
    support.sign_in("s@operator.test", ADMIN_PASSWORD).await;
    assert_eq!(support.get(NEW).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_fields_come_back_with_422_a_message_beside_each_and_no_secret() {
    let app = TestApp::signed_in_admin().await;
    let resp = submit(
        &app,
        &[
            ("psa_type", "connectwise"),
            ("company_id", "Contoso Ltd"),
            ("site", "self_hosted"),
            ("site_url", ""),
            ("public_key", "PublicKeyTyped01"),
            ("private_key", "TopSecretPrivate"),
            ("action", "save"),
        ],
    )
    .await;
    let p = page(resp).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.text("#company_id-error").contains("spaces"));
    assert!(p.text("#site_url-error").contains("required"));
    assert_eq!(p.value("#company_id"), "Contoso Ltd");
    assert_eq!(p.value("#public_key"), "PublicKeyTyped01");
    assert!(p.has("input[name=site][value=self_hosted][checked]"));
    assert!(!p.body.contains("TopSecretPrivate"));
    assert!(p.has("#secrets-hint"));
    assert!(connections(&app).await.is_empty());
}

#[tokio::test]
async fn autotask_field_errors_sit_beside_the_autotask_fields() {
    let app = TestApp::signed_in_admin().await;
    let fields = at_fields("not a zone!", ("", "Some*Secret"), "test");
    let p = page(submit(&app, &fields).await).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.has("#zone-error") && p.has("#username-error"));
    assert!(!p.has("fieldset#fields-autotask[hidden]"));
    assert!(!p.body.contains("Some*Secret"));
}

#[tokio::test]
async fn testing_good_connectwise_keys_shows_the_checklist_and_stores_nothing() {
    let (app, _sb) = app_with_sandbox().await;
    let p = page(submit(&app, &cw_fields(CW_FULL.1, "test")).await).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.has("#test-result table.checklist tr.check.pass"));
    assert!(!p.text("#detected").is_empty());
    assert!(!p.body.contains(CW_FULL.1));
    assert!(connections(&app).await.is_empty());
    assert_eq!(audit_count(&app, "psa_test").await, 1);
}

#[tokio::test]
async fn testing_good_autotask_credentials_shows_the_detected_zone_and_budget() {
    let (app, _sb) = app_with_sandbox().await;
    let p = page(submit(&app, &at_fields("", AT_FULL, "test")).await).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.text("#detected").contains("webservices2"));
    assert!(p.text("#threshold").contains("requests used this hour"));
    assert!(p.has("#test-result .badge.pass"));
    assert!(!p.body.contains(AT_FULL.1));
    assert!(connections(&app).await.is_empty());
}

#[tokio::test]
async fn saving_good_keys_stores_a_sealed_secret_and_queues_a_run() {
    let (app, _sb) = app_with_sandbox().await;
    let resp = submit(&app, &cw_fields(CW_FULL.1, "save")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let saved = connections(&app).await;
    assert_eq!(saved.len(), 1);
    let c = &saved[0];
    assert_eq!(location(&resp), format!("/tools/integrations/psa/{}", c.id));
    assert_eq!(
        (c.psa_type.as_str(), c.host.as_str()),
        ("connectwise", "na")
    );
    assert_eq!(c.account, "sandbox");
    assert!(!c.sealed_secret.contains(CW_FULL.1));
    let opened = app
        .state
        .sealer
        .open(c.tenant_id, c.id, &c.sealed_secret)
        .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&opened), CW_FULL.1);
    assert_eq!(c.last_test_ok, Some(true));
    assert!(
        c.checklist
            .as_deref()
            .unwrap_or_default()
            .contains("API keys")
    );
    let queued = sync_run::Entity::find()
        .filter(sync_run::Column::ConnectionId.eq(c.id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].state, "queued");
    assert_eq!(audit_count(&app, "psa_create").await, 1);
}

#[tokio::test]
async fn saving_autotask_with_an_empty_zone_stores_the_detected_zone() {
    let (app, _sb) = app_with_sandbox().await;
    let resp = submit(&app, &at_fields("", AT_FULL, "save")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let c = &connections(&app).await[0];
    assert_eq!(c.host, "webservices2");
    assert_eq!(c.account, AT_FULL.0);
    assert!(!c.sealed_secret.contains(AT_FULL.1));
}

#[tokio::test]
async fn a_wrong_private_key_is_reported_beside_the_private_key_and_nothing_is_stored() {
    let (app, _sb) = app_with_sandbox().await;
    let p = page(submit(&app, &cw_fields("WrongPrivateKey1", "save")).await).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.text("#private_key-error").contains("refused"),
        "{}",
        p.body
    );
    assert!(!p.body.contains("WrongPrivateKey1"));
    assert!(connections(&app).await.is_empty());
    assert_eq!(audit_count(&app, "psa_create").await, 1);
}

#[tokio::test]
async fn an_unknown_company_is_reported_beside_the_company_id() {
    let (app, _sb) = app_with_sandbox().await;
    let mut fields = cw_fields(CW_FULL.1, "save");
    fields[1] = ("company_id", "nosuchcompany");
    let p = page(submit(&app, &fields).await).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.text("#company_id-error").contains("nosuchcompany"),
        "{}",
        p.body
    );
    assert!(connections(&app).await.is_empty());
}

#[tokio::test]
async fn an_unknown_autotask_user_is_reported_beside_the_username() {
    let (app, _sb) = app_with_sandbox().await;
    let fields = at_fields("", ("nobody0000000@SANDBOX.EXAMPLE", "Whatever#1"), "save");
    let p = page(submit(&app, &fields).await).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.text("#username-error").contains("does not know"),
        "{}",
        p.body
    );
    assert_eq!(p.value("#username"), "nobody0000000@SANDBOX.EXAMPLE");
    assert!(connections(&app).await.is_empty());
}

#[tokio::test]
async fn an_autotask_user_in_another_zone_is_told_which_zone_to_use() {
    let (app, _sb) = app_with_sandbox().await;
    let p = page(submit(&app, &at_fields("webservices2", AT_OTHER_ZONE, "save")).await).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.text("#zone-error").contains("webservices5"), "{}", p.body);
    assert!(connections(&app).await.is_empty());
}

#[tokio::test]
async fn saving_the_same_account_twice_says_it_is_already_connected() {
    let (app, _sb) = app_with_sandbox().await;
    save_connectwise(&app).await;
    let p = page(submit(&app, &cw_fields(CW_FULL.1, "save")).await).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.text("#company_id-error").contains("already connected"));
    assert_eq!(connections(&app).await.len(), 1);
}

#[tokio::test]
async fn a_post_without_its_csrf_token_is_refused_and_stores_nothing() {
    let (app, _sb) = app_with_sandbox().await;
    let resp = app
        .post_raw("/tools/integrations/psa", &cw_fields(CW_FULL.1, "save"))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(connections(&app).await.is_empty());
}

#[tokio::test]
async fn members_get_403_on_every_post_and_see_no_buttons() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let member = app.another_browser();
    member
        .create_user(
            Some("Contoso IT"),
            "m@contoso.test",
            ADMIN_PASSWORD,
            "member",
            false,
        )
        .await;
    member.sign_in("m@contoso.test", ADMIN_PASSWORD).await;
    let show = format!("/tools/integrations/psa/{id}");
    let p = member.get(&show).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(!p.has("#connection-actions") && !p.has("#remove-button"));
    let create = member
        .post(
            &show,
            "/tools/integrations/psa",
            &cw_fields(CW_FULL.1, "save"),
        )
        .await;
    assert_eq!(create.status(), StatusCode::FORBIDDEN);
    for action in ["test", "sync", "edit", "delete"] {
        let path = format!("{show}/{action}");
        let resp = member.post(&show, &path, &[("confirm", "yes")]).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(connections(&app).await.len(), 1);
}

#[tokio::test]
async fn another_tenants_connection_answers_404_everywhere() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let other = app.another_browser();
    admin_of(&other, "Fabrikam", "admin@fabrikam.test").await;
    let show = format!("/tools/integrations/psa/{id}");
    for path in [
        show.clone(),
        format!("{show}/status.json"),
        format!("{show}/edit"),
    ] {
        assert_eq!(
            other.get_raw(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for action in ["test", "sync", "edit", "delete"] {
        let path = format!("{show}/{action}");
        let resp = other
            .post("/tools/integrations", &path, &[("confirm", "yes")])
            .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{action}");
    }
    assert_eq!(connections(&app).await.len(), 1);
}

#[tokio::test]
async fn the_connection_page_shows_what_is_stored_without_the_secret() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let p = app.get(&format!("/tools/integrations/psa/{id}")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.text("#conn-account"), "sandbox");
    assert_eq!(p.text("#conn-secret"), "set");
    assert_eq!(p.text("#conn-public-key"), "Full…001");
    assert!(!p.body.contains(CW_FULL.0) && !p.body.contains(CW_FULL.1));
    assert!(p.has("#test-result tr.check.pass"));
    assert_eq!(p.text("#run-state"), "queued");
    assert!(p.has("progress#progress-customers"));
    assert!(p.has("noscript"));
    assert!(p.has("#runs tbody tr"));
}

#[tokio::test]
async fn the_list_shows_each_connection_with_its_status() {
    let (app, _sb) = app_with_sandbox().await;
    assert!(app.get("/tools/integrations").await.has("#psa-empty"));
    save_connectwise(&app).await;
    let p = app.get("/tools/integrations").await;
    assert!(!p.has("#psa-empty") && p.has("#add-psa"));
    assert!(
        p.text("#connections tr.connection")
            .contains("North America")
    );
    assert!(p.text("#connections tr.connection").contains("sandbox"));
    assert_eq!(p.text("#connections .badge"), "queued");
}

#[tokio::test]
async fn status_json_carries_the_six_contract_keys() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let resp = app
        .get_raw(&format!("/tools/integrations/psa/{id}/status.json"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let json: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(json["state"], "queued");
    for key in ["customers", "agreements", "agreement_lines", "products"] {
        assert_eq!(json[key], 0, "{key}");
    }
    assert_eq!(
        json.get("error"),
        Some(&serde_json::Value::Null),
        "error is present, and null"
    );
    let keys: std::collections::BTreeSet<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let contract = [
        "state",
        "customers",
        "agreements",
        "agreement_lines",
        "products",
        "error",
    ];
    assert!(contract.iter().all(|k| keys.contains(k)), "{keys:?}");
    // `progress` (per-phase done and total, for the progress bars) is the one extra key.
    assert_eq!(keys.len(), contract.len() + 1, "{keys:?}");
}

#[tokio::test]
async fn test_again_and_sync_now_work_with_the_stored_credentials() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let show = format!("/tools/integrations/psa/{id}");
    let before = connections(&app).await[0].last_test_at;
    let resp = app.post(&show, &format!("{show}/test"), &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let after = &connections(&app).await[0];
    assert!(after.last_test_at > before);
    assert_eq!(after.last_test_ok, Some(true));
    let resp = app.post(&show, &format!("{show}/sync"), &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // One run was already queued by the save: sync now does not queue a second.
    let runs = sync_run::Entity::find().count(&app.state.db).await.unwrap();
    assert_eq!(runs, 1);
    assert_eq!(audit_count(&app, "psa_sync").await, 1);
    assert_eq!(audit_count(&app, "psa_test").await, 1);
}

#[tokio::test]
async fn editing_with_a_blank_private_key_keeps_the_stored_one() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let edit = format!("/tools/integrations/psa/{id}/edit");
    let form = app.get(&edit).await;
    assert_eq!(form.value("#company_id"), "sandbox");
    assert_eq!(form.value("#private_key"), "");
    let resp = app.post(&edit, &edit, &cw_fields("", "save")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let c = &connections(&app).await[0];
    let opened = app
        .state
        .sealer
        .open(c.tenant_id, c.id, &c.sealed_secret)
        .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&opened), CW_FULL.1);
    assert_eq!(audit_count(&app, "psa_edit").await, 1);
}

#[tokio::test]
async fn an_edit_that_fails_its_test_changes_nothing() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let before = connections(&app).await[0].clone();
    let edit = format!("/tools/integrations/psa/{id}/edit");
    let resp = app
        .post(&edit, &edit, &cw_fields("WrongPrivateKey1", "save"))
        .await;
    let p = page(resp).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.has("#private_key-error"));
    assert_eq!(connections(&app).await[0], before);
}

#[tokio::test]
async fn removing_needs_confirmation_then_deletes_the_connection_and_its_records() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let c = connections(&app).await[0].clone();
    crate::data::seed_customer(&app, &c, "Kept until removed").await;
    let show = format!("/tools/integrations/psa/{id}");
    let unconfirmed = page(app.post(&show, &format!("{show}/delete"), &[]).await).await;
    assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unconfirmed.has("#confirm-error"));
    assert_eq!(connections(&app).await.len(), 1);
    let resp = app
        .post(&show, &format!("{show}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/tools/integrations");
    assert!(connections(&app).await.is_empty());
    let db = &app.state.db;
    assert_eq!(sync_run::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(customer::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(audit_count(&app, "psa_delete").await, 1);
}

/// Puts the connection's open run into `state` with the given progress and error.
async fn set_run(
    app: &TestApp,
    connection_id: i64,
    state: &str,
    progress: &str,
    error: Option<&str>,
) {
    use sea_orm::{ActiveModelTrait, Set};
    let run = sync_run::Entity::find()
        .filter(sync_run::Column::ConnectionId.eq(connection_id))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut active: sync_run::ActiveModel = run.into();
    active.state = Set(state.into());
    active.progress = Set(progress.into());
    active.error = Set(error.map(str::to_string));
    active.update(&app.state.db).await.unwrap();
}

#[tokio::test]
async fn status_json_reports_a_running_runs_done_counts_and_a_failed_runs_error() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let progress = r#"{"customers":{"done":40,"total":120},"agreements":{"done":7,"total":null},
        "agreement_lines":{"done":0,"total":null},"products":{"done":0,"total":null}}"#;
    set_run(&app, id, "running", progress, None).await;
    let path = format!("/tools/integrations/psa/{id}/status.json");
    let json: serde_json::Value = app.get_raw(&path).await.json().await.unwrap();
    assert_eq!(json["state"], "running");
    assert_eq!(
        (json["customers"].as_u64(), json["agreements"].as_u64()),
        (Some(40), Some(7))
    );
    assert_eq!(json["progress"]["customers"]["total"], 120);
    let p = app.get(&format!("/tools/integrations/psa/{id}")).await;
    assert_eq!(p.value("progress#progress-customers"), "40");
    set_run(
        &app,
        id,
        "failed",
        progress,
        Some("ConnectWise failed while answering."),
    )
    .await;
    let json: serde_json::Value = app.get_raw(&path).await.json().await.unwrap();
    assert_eq!(json["state"], "failed");
    assert_eq!(
        json["customers"], 0,
        "idle: the live snapshot's counts, none yet"
    );
    assert_eq!(json["error"], "ConnectWise failed while answering.");
    let list = app.get("/tools/integrations").await;
    assert!(
        list.text("#connections tr.connection")
            .contains("failed while answering")
    );
}

#[tokio::test]
async fn a_failed_test_again_records_why_and_keeps_the_last_checklist() {
    let (app, sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    sb.stop().await.unwrap();
    let show = format!("/tools/integrations/psa/{id}");
    let resp = app.post(&show, &format!("{show}/test"), &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let c = &connections(&app).await[0];
    assert_eq!(c.last_test_ok, Some(false));
    let p = app.get(&show).await;
    assert!(!p.text("#last-test-message").is_empty());
    assert!(p.text("#last-verified").contains("failed"));
    assert!(
        p.has("#test-result tr.check.pass"),
        "the last good checklist stays"
    );
}

#[tokio::test]
async fn a_self_hosted_connectwise_is_saved_with_its_url_and_tested_again_there() {
    let (app, sb) = app_with_sandbox().await;
    let fields = [
        ("psa_type", "connectwise"),
        ("company_id", "sandboxonprem"),
        ("site", "self_hosted"),
        ("site_url", sb.base_url.as_str()),
        ("public_key", "OnPremPub0000001"),
        ("private_key", "OnPremPriv000001"),
        ("action", "save"),
    ];
    let resp = submit(&app, &fields).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "{}",
        page(resp).await.body
    );
    let c = connections(&app).await[0].clone();
    assert_eq!(c.host, sb.base_url.trim_end_matches('/'));
    let show = format!("/tools/integrations/psa/{}", c.id);
    assert_eq!(app.get(&show).await.text("#conn-host"), c.host);
    app.post(&show, &format!("{show}/test"), &[]).await;
    let after = &connections(&app).await[0];
    assert_eq!(
        after.last_test_ok,
        Some(true),
        "{:?}",
        after.last_test_message
    );
    let edit = app.get(&format!("{show}/edit")).await;
    assert!(edit.has("input[name=site][value=self_hosted][checked]"));
    assert_eq!(edit.value("#site_url"), c.host);
}

#[tokio::test]
async fn a_saved_connection_is_retrieved_by_the_worker_and_shown_on_the_data_pages() {
    let sb = spawn_default().await;
    let app = TestApp::against(&sb, true).await;
    admin_of(&app, "Contoso IT", "admin@contoso.test").await;
    let id = save_connectwise(&app).await;
    let path = format!("/tools/integrations/psa/{id}/status.json");
    let mut status = serde_json::Value::Null;
    for _ in 0..600 {
        status = app.get_raw(&path).await.json().await.unwrap();
        if status["state"] == "succeeded" || status["state"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status["state"], "succeeded", "{status}");
    assert!(status["customers"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(status["products"], 30);
    let customers = app.get("/customers").await;
    assert!(customers.has("#customers tr.customer"));
    let first = customers
        .html
        .select(&scraper::Selector::parse("#customers td a").unwrap())
        .next();
    let href = first
        .and_then(|a| a.value().attr("href"))
        .unwrap()
        .to_string();
    assert_eq!(app.get(&href).await.status, StatusCode::OK);
    assert!(app.get("/products").await.has("#products tr.product"));
    let show = app.get(&format!("/tools/integrations/psa/{id}")).await;
    assert_eq!(show.text("#run-state"), "succeeded");
    assert!(!show.has("#phases"));
}

/// Polls status.json until the run ends.
async fn wait_for_status(app: &TestApp, id: i64) -> serde_json::Value {
    let path = format!("/tools/integrations/psa/{id}/status.json");
    for _ in 0..1200 {
        let status: serde_json::Value = app.get_raw(&path).await.json().await.unwrap();
        if status["state"] == "succeeded" || status["state"] == "failed" {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the run of connection {id} did not end in time");
}

/// A sandbox with 10k companies and modest agreement and product counts.
async fn ten_thousand_companies() -> RunningSandbox {
    use sync365::sandbox::{DataSizes, SandboxConfig};
    let sizes = DataSizes {
        companies: 10_000,
        contacts_per_company: 0,
        agreements: 300,
        products: 50,
        tickets: 1,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    sync365::sandbox::start(
        SandboxConfig {
            sizes,
            ..SandboxConfig::default()
        },
        listener,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn both_psas_retrieve_ten_thousand_companies_and_the_customer_list_pages_them() {
    let sb = ten_thousand_companies().await;
    let app = TestApp::against(&sb, true).await;
    admin_of(&app, "Contoso IT", "admin@contoso.test").await;
    let cw = save_connectwise(&app).await;
    let cw_status = wait_for_status(&app, cw).await;
    assert_eq!(cw_status["state"], "succeeded", "{cw_status}");
    let cw_customers = cw_status["customers"].as_u64().unwrap();
    assert!(cw_customers > 9_000, "non-deleted companies: {cw_status}");

    let resp = submit(&app, &at_fields("webservices2", AT_FULL, "save")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let at = location(&resp)
        .rsplit('/')
        .next()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let at_status = wait_for_status(&app, at).await;
    assert_eq!(at_status["state"], "succeeded", "{at_status}");
    assert!(
        at_status["customers"].as_u64().unwrap() > 1_000,
        "active customers: {at_status}"
    );

    let first = app.get("/customers").await;
    assert_eq!(first.status, StatusCode::OK);
    let rows = first
        .html
        .select(&scraper::Selector::parse("#customers tr.customer").unwrap())
        .count();
    assert_eq!(rows, 50, "one page of 50");
    let last_page = (cw_customers + at_status["customers"].as_u64().unwrap()).div_ceil(50);
    let last = app.get(&format!("/customers?page={last_page}")).await;
    assert!(last.has("#customers tr.customer"), "the last page has rows");
}

#[tokio::test]
async fn editing_to_another_url_with_a_blank_key_asks_for_the_key_and_calls_nobody() {
    let (app, sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let before = connections(&app).await[0].clone();
    sb.clear_requests();
    let edit = format!("/tools/integrations/psa/{id}/edit");
    let mut fields = cw_fields("", "save");
    fields.retain(|(k, _)| *k != "site" && *k != "site_url");
    let elsewhere = format!("{}/elsewhere", sb.base_url);
    fields.push(("site", "self_hosted"));
    fields.push(("site_url", &elsewhere));
    let p = page(app.post(&edit, &edit, &fields).await).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.text("#private_key-error").contains("again"),
        "{}",
        p.text("#private_key-error")
    );
    assert!(sb.requests().is_empty(), "the stored key went nowhere");
    assert_eq!(connections(&app).await[0], before);
}

#[tokio::test]
async fn an_autotask_network_failure_is_shown_beside_the_zone() {
    let (app, sb) = app_with_sandbox().await;
    sb.set_faults(sync365::sandbox::Faults {
        reset_every: Some(1),
        ..Default::default()
    });
    let p = page(submit(&app, &at_fields("webservices2", AT_FULL, "test")).await).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let shown = format!("{}{}", p.text("#zone-error"), p.text("#form-error"));
    assert!(!shown.is_empty(), "the reason is visible: {}", p.body);
}

#[tokio::test]
async fn an_edit_during_a_run_stops_that_run_from_going_live_and_queues_a_new_one() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let db = &app.state.db;
    let lease = chrono::Duration::seconds(30);
    let old = runs::claim_next(db, "another-instance", lease)
        .await
        .unwrap()
        .unwrap();

    let edit = format!("/tools/integrations/psa/{id}/edit");
    let resp = app.post(&edit, &edit, &cw_fields("", "save")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let stopped = sync_run::Entity::find_by_id(old.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stopped.state, "failed");
    assert!(stopped.error.unwrap_or_default().contains("edited"));
    let progress = sync365::sync::progress::Progress::default();
    let still_ours = runs::heartbeat(db, old.id, "another-instance", lease, &progress).await;
    assert!(
        !still_ours.unwrap(),
        "the old run's instance learns it is no longer its run"
    );
    let key = sync365::store::snapshots::SnapshotKey {
        tenant_id: old.tenant_id,
        connection_id: id,
        snapshot: sync365::store::snapshots::snapshot_of(old.id, old.attempts),
    };
    let promoted = sync365::store::snapshots::promote_and_finish(
        db,
        key,
        old.id,
        "another-instance",
        &progress,
    )
    .await
    .unwrap();
    assert!(!promoted, "the old account's records never become live");
    let open = runs::find_open_run(db, old.tenant_id, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((open.state.as_str(), open.id > old.id), ("queued", true));
}

#[tokio::test]
async fn an_organisation_running_tests_without_pause_is_asked_to_wait() {
    let (app, sb) = app_with_sandbox().await;
    for _ in 0..30 {
        let resp = submit(&app, &cw_fields(CW_FULL.1, "test")).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let requests_before = sb.requests().len();
    let p = page(submit(&app, &cw_fields(CW_FULL.1, "test")).await).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.text("#form-error").contains("Wait five minutes"),
        "{}",
        p.text("#form-error")
    );
    assert_eq!(
        sb.requests().len(),
        requests_before,
        "the PSA was not called"
    );
}
