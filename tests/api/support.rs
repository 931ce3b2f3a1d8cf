//! The support console: who gets in, what it shows (never a secret), and the audit trail it
//! leaves in the viewed tenant's log.

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sync365::store::entity::{audit_event, psa_connection};

use crate::helpers::{ADMIN_PASSWORD, TestApp, location, page};
use crate::integrations::{app_with_sandbox, save_connectwise};
use crate::sandbox::CW_FULL;

pub const SUPPORT: &str = "help@sync365.test";

/// Another browser of the same app, signed in as a support user.
pub async fn support_browser(app: &TestApp) -> TestApp {
    let support = app.another_browser();
    support
        .create_user(None, SUPPORT, ADMIN_PASSWORD, "member", true)
        .await;
    let resp = support.sign_in(SUPPORT, ADMIN_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    support
}

async fn support_views(app: &TestApp, tenant_id: i64) -> u64 {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("support_view"))
        .filter(audit_event::Column::TenantId.eq(tenant_id))
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn support_users_see_every_tenant_and_its_connection_without_secrets() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let c = psa_connection::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let support = support_browser(&app).await;

    let home = support.get_raw("/").await;
    assert_eq!(location(&home), "/support/tenants");

    let list = support.get("/support/tenants").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Contoso IT"));
    assert!(list.body.contains("ConnectWise"));

    let filtered = support.get("/support/tenants?q=nobody").await;
    assert!(!filtered.body.contains("Contoso IT"));

    let before = support_views(&app, c.tenant_id).await;
    let show = support
        .get(&format!("/support/tenants/{}", c.tenant_id))
        .await;
    assert_eq!(show.status, StatusCode::OK);
    assert!(show.has("textarea.diagnostic"));
    assert!(
        show.text("textarea.diagnostic")
            .contains("Company ID or username: sandbox")
    );
    assert!(
        !show.body.contains(CW_FULL.1),
        "the private key never shows"
    );
    assert!(
        !show.body.contains(CW_FULL.0),
        "the public key shows shortened"
    );
    assert!(!show.body.contains(&c.sealed_secret));
    assert_eq!(support_views(&app, c.tenant_id).await, before + 1);
}

#[tokio::test]
async fn an_unknown_tenant_answers_404_to_support() {
    let app = TestApp::spawn().await;
    let support = support_browser(&app).await;
    let resp = support.get("/support/tenants/9999").await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tenant_users_get_403_on_the_support_console_and_support_gets_403_on_tenant_pages() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    for path in ["/support/tenants", "/support/tenants/1"] {
        assert_eq!(app.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let support = support_browser(&app).await;
    for path in ["/tools/integrations", "/customers"] {
        assert_eq!(
            support.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let token = support.csrf_token("/support/tenants").await;
    let resp = support
        .post_raw(
            &format!("/tools/integrations/psa/{id}/test"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn support_cannot_test_again_unless_the_setting_allows_it() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let c = psa_connection::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let support = support_browser(&app).await;
    let show = format!("/support/tenants/{}", c.tenant_id);
    let resp = support
        .post(
            &show,
            &format!("/support/tenants/{}/integrations/{id}/test", c.tenant_id),
            &[],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let after = psa_connection::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.last_test_at, c.last_test_at, "nothing changed");
    assert!(
        !page(support.get_raw(&show).await)
            .await
            .body
            .contains("Test again")
    );
}

#[tokio::test]
async fn support_views_show_in_the_tenants_activity_log_and_filters_narrow_it() {
    let (app, _sb) = app_with_sandbox().await;
    let id = save_connectwise(&app).await;
    let c = psa_connection::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let support = support_browser(&app).await;
    support
        .get(&format!("/support/tenants/{}", c.tenant_id))
        .await;

    let log = app.get("/tools/activity").await;
    assert_eq!(log.status, StatusCode::OK);
    assert_eq!(log.text("tr.event td.who"), SUPPORT, "newest first");
    assert_eq!(log.text("tr.event td.what"), "support_view");

    let mine = app.get("/tools/activity?who=contoso").await;
    assert!(!mine.body.contains(&format!("<td class=\"who\">{SUPPORT}")));
    assert!(mine.body.contains("psa_create") || mine.body.contains("sign_in"));

    let views = app.get("/tools/activity?what=support_view").await;
    assert!(views.body.contains(SUPPORT));
    assert!(!views.body.contains("<td class=\"who\">admin@contoso.test"));
    assert!(!views.body.contains("<td class=\"what\">sign_in"));

    // A member reads it too; another tenant sees none of it.
    app.create_user(
        Some("Contoso IT"),
        "member@contoso.test",
        ADMIN_PASSWORD,
        "member",
        false,
    )
    .await;
    let member = app.another_browser();
    member.sign_in("member@contoso.test", ADMIN_PASSWORD).await;
    assert!(member.get("/tools/activity").await.body.contains(SUPPORT));
    let other = app.another_browser();
    other
        .create_user(
            Some("Fabrikam"),
            "admin@fabrikam.test",
            ADMIN_PASSWORD,
            "admin",
            false,
        )
        .await;
    other.sign_in("admin@fabrikam.test", ADMIN_PASSWORD).await;
    let theirs = other.get("/tools/activity").await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(!theirs.body.contains(SUPPORT));
}

#[tokio::test]
async fn support_tests_again_when_allowed_and_only_the_test_result_changes() {
    let sb = crate::sandbox::spawn_default().await;
    let owned = crate::helpers::sandbox_overrides(&sb);
    let mut pairs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.push(("support_can_test", "true"));
    let app = TestApp::spawn_with(&pairs).await;
    crate::integrations::admin_of(&app, "Contoso IT", "admin@contoso.test").await;
    let id = save_connectwise(&app).await;
    let c = psa_connection::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let support = support_browser(&app).await;
    let show = format!("/support/tenants/{}", c.tenant_id);
    assert!(support.get(&show).await.body.contains("Test again"));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let resp = support
        .post(
            &show,
            &format!("/support/tenants/{}/integrations/{id}/test", c.tenant_id),
            &[],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), show);
    let after = psa_connection::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.last_test_ok, Some(true));
    assert!(after.last_test_at > c.last_test_at);
    assert_eq!(after.sealed_secret, c.sealed_secret);
    assert_eq!(after.account, c.account);
    let log = app.get("/tools/activity?what=support_psa_test").await;
    assert!(log.body.contains(SUPPORT));

    // Not for another tenant's connection id under this tenant.
    let resp = support
        .post(
            &show,
            &format!("/support/tenants/9999/integrations/{id}/test"),
            &[],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn failing_tenants_come_first_on_the_support_list() {
    use sea_orm::{ActiveModelTrait, Set};
    let (app, _sb) = app_with_sandbox().await;
    save_connectwise(&app).await;
    let fabrikam = app.another_browser();
    crate::integrations::admin_of(&fabrikam, "Fabrikam", "admin@fabrikam.test").await;
    let failing = save_connectwise(&fabrikam).await;
    let c = psa_connection::Entity::find_by_id(failing)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut broken: psa_connection::ActiveModel = c.into();
    broken.last_test_ok = Set(Some(false));
    broken.last_test_message = Set(Some("The private key was refused.".into()));
    broken.update(&app.state.db).await.unwrap();

    let support = support_browser(&app).await;
    let list = support.get("/support/tenants").await;
    assert!(
        list.text("tr.tenant").starts_with("Fabrikam"),
        "{}",
        list.body
    );
    assert!(list.has("tr.tenant.failing"));
    assert!(list.body.contains("The private key was refused."));
    assert!(list.body.contains("Contoso IT"));
}

#[tokio::test]
async fn support_creates_a_tenant_whose_admin_signs_in_with_the_password_shown_once() {
    let app = TestApp::spawn().await;
    app.create_user(
        None,
        "help@operator.test",
        crate::helpers::ADMIN_PASSWORD,
        "member",
        true,
    )
    .await;
    app.sign_in("help@operator.test", crate::helpers::ADMIN_PASSWORD)
        .await;
    let fields = [
        ("organisation", "Northwind IT"),
        ("admin_email", "nina@northwind.test"),
    ];
    let page = crate::helpers::page(
        app.post("/support/tenants", "/support/tenants", &fields)
            .await,
    )
    .await;
    assert_eq!(page.status, reqwest::StatusCode::OK);
    let temporary = page.text("#temporary-password");
    assert_eq!(temporary.len(), 20);
    let again = app.get("/support/tenants").await;
    assert!(!again.body.contains(&temporary), "shown only once");

    let admin = app.another_browser();
    assert_eq!(
        admin
            .sign_in("nina@northwind.test", &temporary)
            .await
            .status(),
        reqwest::StatusCode::SEE_OTHER
    );
    crate::users::choose_own_password(&admin, &temporary).await;
    assert!(
        admin
            .get("/tools/users")
            .await
            .body
            .contains("nina@northwind.test")
    );
    let dup = crate::helpers::page(
        app.post("/support/tenants", "/support/tenants", &fields)
            .await,
    )
    .await;
    assert_eq!(dup.status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_tenant_admin_cannot_create_tenants() {
    let app = TestApp::signed_in_admin().await;
    let token = app.csrf_token("/tools/integrations").await;
    let resp = app
        .post_raw(
            "/support/tenants",
            &[
                ("organisation", "Evil Corp"),
                ("admin_email", "e@evil.test"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(resp.status(), reqwest::StatusCode::FORBIDDEN);
    assert!(
        sync365::store::users::find_tenant_by_name(&app.state.db, "Evil Corp")
            .await
            .unwrap()
            .is_none()
    );
}
