//! First-run setup, signing in and out, throttling, CSRF and return addresses.

use reqwest::StatusCode;

use crate::helpers::{ADMIN_PASSWORD, TestApp, location, page};

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_sign_in_and_brought_back() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "ann@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    let resp = app.get_raw("/tools/integrations").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login?next=%2Ftools%2Fintegrations");

    let login = app.get("/login?next=%2Ftools%2Fintegrations").await;
    assert_eq!(login.value("input[name=next]"), "/tools/integrations");
    let token = login.value("input[name=csrf_token]");
    let resp = app
        .post_raw(
            "/login",
            &[
                ("email", "ann@contoso.test"),
                ("password", ADMIN_PASSWORD),
                ("next", "/tools/integrations"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/tools/integrations");
    let settings = app.get("/tools/integrations").await;
    assert_eq!(settings.status, 200);
    assert_eq!(settings.text("h1"), "Integration Settings");
    assert!(settings.has("#psa-tools #add-psa"));
    assert!(settings.text(".who").contains("Contoso IT"));
}

#[tokio::test]
async fn off_site_return_addresses_are_refused() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "ann@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    for next in [
        "https://evil.test/",
        "//evil.test/",
        "/\\evil.test",
        "javascript:alert(1)",
    ] {
        let resp = app
            .post(
                "/login",
                "/login",
                &[
                    ("email", "ann@contoso.test"),
                    ("password", ADMIN_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&resp), "/", "next={next}");
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_message() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "ann@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    let wrong = page(app.sign_in("ann@contoso.test", "not the password").await).await;
    let unknown = page(app.sign_in("nobody@contoso.test", "not the password").await).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.text("#form-error"), unknown.text("#form-error"));
    assert!(!wrong.text("#form-error").is_empty());
    assert_eq!(wrong.value("input[name=email]"), "ann@contoso.test");
    assert!(
        !wrong.body.contains("not the password"),
        "the password is never written back"
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_account_with_a_time_to_wait() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "ann@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    for _ in 0..5 {
        app.sign_in("ann@contoso.test", "wrong password!").await;
    }
    let locked = page(app.sign_in("ann@contoso.test", ADMIN_PASSWORD).await).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        locked.text("#form-error").contains("Try again in 1 minute"),
        "{}",
        locked.text("#form-error")
    );
    let events = sync365::store::audit::find_events_by_action(&app.state.db, "sign_in")
        .await
        .unwrap();
    assert_eq!(events.iter().filter(|e| e.outcome == "failed").count(), 5);
    assert_eq!(events.last().unwrap().outcome, "throttled");
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "ann@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    app.get("/login").await;
    let missing = app
        .post_raw(
            "/login",
            &[("email", "ann@contoso.test"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let wrong = app
        .post_raw(
            "/login",
            &[
                ("email", "ann@contoso.test"),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(page(wrong).await.text("#error-message").contains("expired"));
    assert_eq!(
        app.get_raw("/tools/integrations").await.status(),
        StatusCode::SEE_OTHER,
        "still signed out"
    );
    let events = sync365::store::audit::find_events_by_action(&app.state.db, "sign_in")
        .await
        .unwrap();
    assert!(
        events.is_empty(),
        "a refused POST leaves no trace of a sign-in attempt"
    );
}

#[tokio::test]
async fn signing_in_renews_the_session_id() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "ann@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    let before = app.get_raw("/login").await;
    let before_cookie = session_cookie(&before);
    assert!(
        !before_cookie.is_empty(),
        "the sign-in page starts a session for its CSRF token"
    );
    let token = page(before).await.value("input[name=csrf_token]");
    let after = app
        .post_raw(
            "/login",
            &[
                ("email", "ann@contoso.test"),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    let after_cookie = session_cookie(&after);
    assert!(!after_cookie.is_empty());
    assert_ne!(before_cookie, after_cookie);

    // The pre-sign-in session key no longer signs anyone in.
    let fixated = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = fixated
        .get(app.url("/tools/integrations"))
        .header("cookie", format!("sync365_session={before_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

fn session_cookie(resp: &reqwest::Response) -> String {
    resp.cookies()
        .find(|c| c.name() == "sync365_session")
        .map(|c| c.value().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = TestApp::spawn().await;
    let resp = app.get_raw("/login").await;
    let raw = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(";");
    assert!(raw.contains("HttpOnly"), "{raw}");
    assert!(raw.contains("SameSite=Lax"), "{raw}");
    assert!(
        !raw.contains("Secure"),
        "not Secure unless SYNC365_COOKIE_SECURE is set"
    );
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = TestApp::signed_in_admin().await;
    let resp = app.post("/tools/integrations", "/logout", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_raw("/tools/integrations").await.status(),
        StatusCode::SEE_OTHER
    );
    let events = sync365::store::audit::find_events_by_action(&app.state.db, "sign_out")
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn first_run_setup_needs_the_token_and_then_disappears() {
    let app = TestApp::spawn().await;
    let login = app.get("/login").await;
    assert!(login.has("#needs-setup"));
    let token = app
        .state
        .setup_token
        .clone()
        .expect("a setup token while no user exists");

    let wrong = page(
        app.post(
            "/setup",
            "/setup",
            &[
                ("setup_token", "guess"),
                ("organisation", "Contoso IT"),
                ("email", "ann@contoso.test"),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text("#setup_token-error").contains("setup token"));
    assert_eq!(wrong.value("input[name=organisation]"), "Contoso IT");
    assert!(!wrong.body.contains(ADMIN_PASSWORD));
    assert_eq!(
        sync365::store::users::count_users(&app.state.db)
            .await
            .unwrap(),
        0
    );

    let ok = app
        .post(
            "/setup",
            "/setup",
            &[
                ("setup_token", &token),
                ("organisation", "Contoso IT"),
                ("email", "ann@contoso.test"),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_raw("/setup").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.sign_in("ann@contoso.test", ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn setup_field_errors_sit_beside_their_fields() {
    let app = TestApp::spawn().await;
    let token = app.state.setup_token.clone().unwrap();
    let p = page(
        app.post(
            "/setup",
            "/setup",
            &[
                ("setup_token", &token),
                ("organisation", ""),
                ("email", "nope"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!p.text("#organisation-error").is_empty());
    assert!(!p.text("#email-error").is_empty());
    assert!(p.text("#password-error").contains("12"));
}

#[tokio::test]
async fn a_deactivated_user_cannot_sign_in_and_loses_open_sessions() {
    use sea_orm::{ActiveModelTrait, Set};
    let app = TestApp::signed_in_admin().await;
    let user = sync365::store::users::find_user_by_email(&app.state.db, "admin@contoso.test")
        .await
        .unwrap()
        .unwrap();
    let mut active: sync365::store::entity::user::ActiveModel = user.into();
    active.active = Set(false);
    active.update(&app.state.db).await.unwrap();
    assert_eq!(
        app.get_raw("/tools/integrations").await.status(),
        StatusCode::SEE_OTHER
    );
    let other = app.another_browser();
    assert_eq!(
        other
            .sign_in("admin@contoso.test", ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_support_user_has_no_tenant_integration_page() {
    let app = TestApp::spawn().await;
    app.create_user(None, "help@operator.test", ADMIN_PASSWORD, "member", true)
        .await;
    app.sign_in("help@operator.test", ADMIN_PASSWORD).await;
    assert_eq!(
        app.get_raw("/tools/integrations").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_member_sees_integration_settings_without_the_add_button() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "bob@contoso.test",
        ADMIN_PASSWORD,
        "member",
        false,
    )
    .await;
    app.sign_in("bob@contoso.test", ADMIN_PASSWORD).await;
    let p = app.get("/tools/integrations").await;
    assert_eq!(p.status, 200);
    assert!(!p.has("#add-psa"));
}

#[tokio::test]
async fn users_of_one_tenant_are_not_listed_for_another() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "ann@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    app.create_user(
        Some("Fabrikam"),
        "fay@fabrikam.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    let contoso = sync365::store::users::find_tenant_by_name(&app.state.db, "Contoso IT")
        .await
        .unwrap()
        .unwrap();
    let listed = sync365::store::users::find_tenant_users(&app.state.db, contoso.id)
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(),
        vec!["ann@contoso.test"]
    );
}

#[tokio::test]
async fn parallel_guesses_get_no_more_tries_than_sequential_ones() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "ann@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    let token = app.csrf_token("/login").await;
    let guesses = (0..12).map(|i| {
        let pw = format!("wrong guess {i}");
        let fields = [
            ("email", "ann@contoso.test".to_string()),
            ("password", pw),
            ("csrf_token", token.clone()),
        ];
        app.client.post(app.url("/login")).form(&fields).send()
    });
    let statuses: Vec<u16> = futures::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 5,
        "only 5 guesses may reach the password check: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn two_setups_sent_at_once_create_exactly_one_first_admin() {
    let app = TestApp::spawn().await;
    let token = app.state.setup_token.clone().unwrap();
    let tabs: Vec<TestApp> = (0..4).map(|_| app.another_browser()).collect();
    let mut tokens = vec![];
    for tab in &tabs {
        tokens.push(tab.csrf_token("/setup").await);
    }
    let sends = tabs
        .iter()
        .zip(&tokens)
        .enumerate()
        .map(|(i, (tab, csrf))| {
            let organisation = format!("Org {i}");
            let email = format!("first{i}@contoso.test");
            let token = token.clone();
            async move {
                let fields = [
                    ("csrf_token", csrf.as_str()),
                    ("setup_token", token.as_str()),
                    ("organisation", organisation.as_str()),
                    ("email", email.as_str()),
                    ("password", ADMIN_PASSWORD),
                    ("password_confirm", ADMIN_PASSWORD),
                ];
                tab.post_raw("/setup", &fields).await.status()
            }
        });
    let statuses = futures::future::join_all(sends).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SEE_OTHER || *s == StatusCode::NOT_FOUND)
    );
    assert_eq!(
        sync365::store::users::count_users(&app.state.db)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn other_spellings_of_an_address_count_against_the_same_lockout() {
    let app = TestApp::spawn().await;
    app.create_user(
        Some("Contoso IT"),
        "ann@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    let with_control = app.sign_in("ann@contoso.test\u{7f}", ADMIN_PASSWORD).await;
    assert_eq!(
        with_control.status(),
        StatusCode::UNAUTHORIZED,
        "not the same account"
    );
    let spellings = [
        "Ann@Contoso.TEST",
        " ann@contoso.test ",
        "\u{3000}ann@contoso.test",
        "ANN@contoso.test\u{3000}",
        "ann@CONTOSO.test",
    ];
    for email in spellings {
        let status = app.sign_in(email, "wrong password!").await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{email:?}");
    }
    let locked = app.sign_in("ann@contoso.test", ADMIN_PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn text_that_is_not_an_email_is_not_stored_in_the_activity_log() {
    let app = TestApp::spawn().await;
    app.sign_in("my secret password typed here", "x").await;
    let events = sync365::store::audit::find_events_by_action(&app.state.db, "sign_in")
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert!(!format!("{:?}", events[0]).contains("secret password"));
}
