//! Liveness and the pages every visitor meets first.

use crate::helpers::TestApp;

#[tokio::test]
async fn healthz_answers_ok_when_the_database_answers() {
    let app = TestApp::spawn().await;
    let resp = app.get_raw("/healthz").await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn healthz_answers_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state.db.clone().close().await.unwrap();
    let resp = app.get_raw("/healthz").await;
    assert_eq!(resp.status(), 503);
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = TestApp::spawn().await;
    let resp = app.get_raw("/login").await;
    let h = resp.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h.get("strict-transport-security").is_none(),
        "plain http sends no HSTS"
    );
}

#[tokio::test]
async fn behind_https_pages_send_hsts_and_a_host_only_secure_session_cookie() {
    let app = TestApp::spawn_with(&[("cookie_secure", "true")]).await;
    let resp = app.get_raw("/login").await;
    let h = resp.headers();
    assert!(
        h["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-sync365_session="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"));
}

#[tokio::test]
async fn an_unknown_page_is_a_404_page_with_a_request_id() {
    let app = TestApp::spawn().await;
    let page = app.get("/no/such/page").await;
    assert_eq!(page.status, 404);
    assert!(page.text("h1").contains("404"));
    assert!(!page.text(".request-id").is_empty());
}

#[tokio::test]
async fn the_stylesheet_is_served() {
    let app = TestApp::spawn().await;
    let resp = app.get_raw("/static/app.css").await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}
