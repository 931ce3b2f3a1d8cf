//! Tools > Users and the own-password page: who may do what, temporary passwords, deactivation
//! and password changes ending sessions, and nothing changed on a refusal.

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sync365::store::entity::{audit_event, user};

use crate::helpers::{ADMIN_PASSWORD, TestApp, location, page};
use crate::support::support_browser;

const MEMBER: &str = "member@contoso.test";

async fn find(app: &TestApp, email: &str) -> user::Model {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

async fn user_count(app: &TestApp) -> u64 {
    user::Entity::find().count(&app.state.db).await.unwrap()
}

/// An admin of Contoso IT (this browser) and a member of it, signed in in another browser.
async fn admin_and_member() -> (TestApp, TestApp, i64) {
    let app = TestApp::signed_in_admin().await;
    let id = app
        .create_user(Some("Contoso IT"), MEMBER, ADMIN_PASSWORD, "member", false)
        .await;
    let member = app.another_browser();
    let resp = member.sign_in(MEMBER, ADMIN_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    (app, member, id)
}

#[tokio::test]
async fn an_admin_adds_a_user_whose_temporary_password_is_shown_once_and_works() {
    let app = TestApp::signed_in_admin().await;
    let resp = app
        .post(
            "/tools/users",
            "/tools/users",
            &[("email", "New@Contoso.test"), ("role", "member")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let shown = crate::helpers::page(resp).await;
    let temporary = shown.text("#temporary-password");
    assert!(temporary.len() >= 12);

    let again = app.get("/tools/users").await;
    assert!(!again.body.contains(&temporary), "shown only once");
    let stored = find(&app, "new@contoso.test").await;
    assert_eq!(stored.role, "member");
    assert!(!stored.password_hash.contains(&temporary));
    let events = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user_create"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert!(!format!("{events:?}").contains(&temporary), "never logged");

    let newcomer = app.another_browser();
    let resp = newcomer.sign_in("new@contoso.test", &temporary).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    choose_own_password(&newcomer, &temporary).await;
}

/// A user signed in with a temporary password is held on the password page until they choose
/// their own, then goes on as usual.
pub async fn choose_own_password(user: &TestApp, temporary: &str) {
    for path in ["/tools/integrations", "/customers", "/tools/activity"] {
        let held = user.get_raw(path).await;
        assert_eq!(held.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&held).starts_with("/account/password"), "{path}");
    }
    let page = user.get("/account/password?first=1").await;
    assert!(page.has("#must-change"));
    let own = "my very own passphrase";
    let change = [("current", temporary), ("new", own), ("confirm", own)];
    let resp = user
        .post("/account/password", "/account/password", &change)
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(user.get("/tools/integrations").await.status, StatusCode::OK);
}

#[tokio::test]
async fn adding_an_existing_email_is_refused_with_a_message() {
    let (app, _member, _) = admin_and_member().await;
    let before = user_count(&app).await;
    let resp = app
        .post(
            "/tools/users",
            "/tools/users",
            &[("email", MEMBER), ("role", "admin")],
        )
        .await;
    let refused = page(resp).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text("#email-error").contains("already exists"));
    assert_eq!(
        refused.value("#email"),
        MEMBER,
        "the email stays in the field"
    );
    assert_eq!(user_count(&app).await, before);
}

#[tokio::test]
async fn an_admin_changes_a_role_but_cannot_demote_or_deactivate_themselves() {
    let (app, _member, member_id) = admin_and_member().await;
    let me = find(&app, "admin@contoso.test").await;

    let resp = app
        .post(
            "/tools/users",
            &format!("/tools/users/{member_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(find(&app, MEMBER).await.role, "admin");

    let resp = app
        .post(
            "/tools/users",
            &format!("/tools/users/{}/role", me.id),
            &[("role", "member")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = resp.text().await.unwrap();
    assert!(body.contains("You cannot change your own role"));

    let resp = app
        .post(
            "/tools/users",
            &format!("/tools/users/{}/deactivate", me.id),
            &[],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let after = find(&app, "admin@contoso.test").await;
    assert_eq!((after.role.as_str(), after.active), ("admin", true));
}

#[tokio::test]
async fn a_deactivated_user_loses_their_sessions_and_cannot_sign_in() {
    let (app, member, member_id) = admin_and_member().await;
    assert_eq!(member.get("/tools/activity").await.status, StatusCode::OK);

    let resp = app
        .post(
            "/tools/users",
            &format!("/tools/users/{member_id}/deactivate"),
            &[],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(!find(&app, MEMBER).await.active);

    let resp = member.get_raw("/tools/activity").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(location(&resp).starts_with("/login"));
    let resp = member.sign_in(MEMBER, ADMIN_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let log = app.get("/tools/activity?what=user_deactivate").await;
    assert!(log.body.contains(MEMBER));
}

#[tokio::test]
async fn members_support_other_tenants_and_anonymous_are_refused_and_nothing_changes() {
    let (app, member, member_id) = admin_and_member().await;
    let admin_id = find(&app, "admin@contoso.test").await.id;
    let before = user_count(&app).await;

    // A member: 403 on every users route.
    assert_eq!(
        member.get("/tools/users").await.status,
        StatusCode::FORBIDDEN
    );
    let token = member.csrf_token("/tools/activity").await;
    let posts = [
        (
            "/tools/users".to_string(),
            vec![("email", "x@contoso.test"), ("role", "admin")],
        ),
        (
            format!("/tools/users/{member_id}/role"),
            vec![("role", "admin")],
        ),
        (
            format!("/tools/users/{admin_id}/role"),
            vec![("role", "member")],
        ),
        (format!("/tools/users/{admin_id}/deactivate"), vec![]),
    ];
    for (path, fields) in &posts {
        let mut fields = fields.clone();
        fields.push(("csrf_token", &token));
        let resp = member.post_raw(path, &fields).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }

    // Support: 403 on tenant pages.
    let support = support_browser(&app).await;
    for path in ["/tools/users", "/tools/activity", "/tools/integrations"] {
        assert_eq!(
            support.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    // Another tenant's admin: Contoso's users are not found.
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
    let listed = other.get("/tools/users").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.body.contains(MEMBER));
    for (path, fields) in &posts[1..] {
        let resp = other.post("/tools/users", path, fields).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // Anonymous: sent to sign in.
    let anonymous = app.another_browser();
    for path in [
        "/tools/users",
        "/tools/activity",
        "/account/password",
        "/support/tenants",
        "/support/tenants/1",
    ] {
        let resp = anonymous.get_raw(path).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&resp).starts_with("/login"), "{path}");
    }
    let resp = anonymous
        .post(
            "/login",
            "/tools/users",
            &[("email", "y@contoso.test"), ("role", "admin")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    assert_eq!(
        user_count(&app).await,
        before + 2,
        "only the two test users were added"
    );
    let member_after = find(&app, MEMBER).await;
    assert_eq!(
        (member_after.role.as_str(), member_after.active),
        ("member", true)
    );
    let admin_after = find(&app, "admin@contoso.test").await;
    assert_eq!(
        (admin_after.role.as_str(), admin_after.active),
        ("admin", true)
    );
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_keeps_this_one() {
    let app = TestApp::signed_in_admin().await;
    let elsewhere = app.another_browser();
    elsewhere
        .sign_in("admin@contoso.test", ADMIN_PASSWORD)
        .await;
    assert_eq!(
        elsewhere.get("/tools/activity").await.status,
        StatusCode::OK
    );

    let new = "a much longer new passphrase";
    let wrong = app
        .post(
            "/account/password",
            "/account/password",
            &[("current", "not it at all"), ("new", new), ("confirm", new)],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let short = app
        .post(
            "/account/password",
            "/account/password",
            &[
                ("current", ADMIN_PASSWORD),
                ("new", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        elsewhere.get("/tools/activity").await.status,
        StatusCode::OK
    );

    let resp = app
        .post(
            "/account/password",
            "/account/password",
            &[("current", ADMIN_PASSWORD), ("new", new), ("confirm", new)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/tools/activity").await.status, StatusCode::OK);
    assert_eq!(
        elsewhere.get_raw("/tools/activity").await.status(),
        StatusCode::SEE_OTHER
    );
    let fresh = app.another_browser();
    assert_eq!(
        fresh
            .sign_in("admin@contoso.test", ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fresh.sign_in("admin@contoso.test", new).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn each_role_gets_exactly_the_pages_it_may_open() {
    let (admin, member, _) = admin_and_member().await;
    let contoso = find(&admin, "admin@contoso.test").await.tenant_id.unwrap();
    let support = support_browser(&admin).await;
    let other = admin.another_browser();
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
    let anonymous = admin.another_browser();
    let tenant_page = format!("/support/tenants/{contoso}");

    const OK: u16 = 200;
    const NO: u16 = 403;
    const SIGN_IN: u16 = 303;
    // Path, then anonymous, member, admin, support, another tenant's admin.
    let matrix: [(&str, [u16; 5]); 7] = [
        ("/tools/integrations", [SIGN_IN, OK, OK, NO, OK]),
        ("/customers", [SIGN_IN, OK, OK, NO, OK]),
        ("/tools/activity", [SIGN_IN, OK, OK, NO, OK]),
        ("/tools/users", [SIGN_IN, NO, OK, NO, OK]),
        ("/account/password", [SIGN_IN, OK, OK, OK, OK]),
        ("/support/tenants", [SIGN_IN, NO, NO, OK, NO]),
        (&tenant_page, [SIGN_IN, NO, NO, OK, NO]),
    ];
    let who = [
        ("anonymous", &anonymous),
        ("member", &member),
        ("admin", &admin),
        ("support", &support),
        ("another tenant's admin", &other),
    ];
    for (path, expected) in matrix {
        for ((name, browser), want) in who.iter().zip(expected) {
            let got = browser.get_raw(path).await.status().as_u16();
            assert_eq!(got, want, "{path} for {name}");
        }
    }
}

#[tokio::test]
async fn the_activity_log_pages_by_fifty_newest_first() {
    use sync365::store::audit::{NewEvent, insert_event};
    let app = TestApp::signed_in_admin().await;
    let tenant = find(&app, "admin@contoso.test").await.tenant_id;
    for i in 0..60 {
        let e = NewEvent {
            tenant_id: tenant,
            actor_email: "admin@contoso.test".into(),
            action: "psa_test",
            target: format!("connection {i}"),
            outcome: "succeeded",
            ..Default::default()
        };
        insert_event(&app.state.db, e).await.unwrap();
    }
    let first = app.get("/tools/activity?what=psa_test").await;
    assert_eq!(
        first
            .html
            .select(&scraper::Selector::parse("tr.event").unwrap())
            .count(),
        50
    );
    assert!(first.body.contains("connection 59"));
    assert!(!first.body.contains("connection 9<"));
    let second = app.get("/tools/activity?what=psa_test&page=2").await;
    assert_eq!(
        second
            .html
            .select(&scraper::Selector::parse("tr.event").unwrap())
            .count(),
        10
    );
    assert!(second.body.contains("connection 0<"));
    assert!(second.has("#prev-page"));
}

#[tokio::test]
async fn only_admins_see_users_in_the_tools_menu() {
    let (admin, member, _) = admin_and_member().await;
    let menu = "a[href='/tools/users']";
    assert!(admin.get("/tools/activity").await.has(menu));
    assert!(!member.get("/tools/activity").await.has(menu));
    assert!(
        member
            .get("/tools/activity")
            .await
            .has("a[href='/tools/activity']")
    );
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_without_locking_the_owner_out_of_sign_in() {
    let app = TestApp::signed_in_admin().await;
    let new = "a much longer new passphrase";
    let change = |current: &'static str| [("current", current), ("new", new), ("confirm", new)];
    for _ in 0..5 {
        let resp = app
            .post(
                "/account/password",
                "/account/password",
                &change("wrong guess"),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let resp = app
        .post(
            "/account/password",
            "/account/password",
            &change(ADMIN_PASSWORD),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page(resp).await.text("#form-error").contains("Too many"));

    let fresh = app.another_browser();
    let signed_in = fresh.sign_in("admin@contoso.test", ADMIN_PASSWORD).await;
    assert_eq!(
        signed_in.status(),
        StatusCode::SEE_OTHER,
        "the old password still works"
    );
}

#[tokio::test]
async fn password_errors_sit_beside_their_field_and_the_old_password_cannot_be_kept() {
    let app = TestApp::signed_in_admin().await;
    let new = "a much longer new passphrase";
    let cases = [
        (
            [("current", "not it at all"), ("new", new), ("confirm", new)],
            "#current-error",
        ),
        (
            [
                ("current", ADMIN_PASSWORD),
                ("new", "short"),
                ("confirm", "short"),
            ],
            "#new-error",
        ),
        (
            [
                ("current", ADMIN_PASSWORD),
                ("new", ADMIN_PASSWORD),
                ("confirm", ADMIN_PASSWORD),
            ],
            "#new-error",
        ),
        (
            [
                ("current", ADMIN_PASSWORD),
                ("new", new),
                ("confirm", "something else"),
            ],
            "#confirm-error",
        ),
    ];
    for (fields, beside) in cases {
        let p = page(
            app.post("/account/password", "/account/password", &fields)
                .await,
        )
        .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{beside}");
        assert!(!p.text(beside).is_empty(), "{beside}");
        assert!(!p.has("#form-error"), "{beside}: not above the form");
    }
    let kept = page(
        app.post(
            "/account/password",
            "/account/password",
            &[
                ("current", ADMIN_PASSWORD),
                ("new", ADMIN_PASSWORD),
                ("confirm", ADMIN_PASSWORD),
            ],
        )
        .await,
    )
    .await;
    assert!(
        kept.text("#new-error")
            .contains("different from the current")
    );
}
