//! Hostile input through the real forms: never a 500, never a change.

use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use sync365::store::entity::psa_connection;

use crate::helpers::TestApp;

/// Forgets Contoso's connection tests so far: these tests send more than the hourly allowance,
/// and every value must reach the connector, not the allowance's refusal.
async fn allow_more_tests(app: &TestApp) {
    let db = &app.state.db;
    let tenant = sync365::store::users::find_or_insert_tenant(db, "Contoso IT")
        .await
        .unwrap();
    let key = format!("psa_test:{}", tenant.id);
    sync365::store::throttle::clear(db, &key).await.unwrap();
}

/// Values that have broken form handlers elsewhere.
fn hostile_values() -> Vec<String> {
    vec![
        "x".repeat(70_000),
        "a\0b".into(),
        "line\r\nSet-Cookie: stolen=1".into(),
        "\u{202e}gnp.exe".into(),
        "東京テック🚰".into(),
        "<script>alert(1)</script>".into(),
        "https://[::ffff:127.0.0.1]/".into(),
        "http://0177.0.0.1/".into(),
        "%00%0d%0a".into(),
        String::new(),
    ]
}

const FIELDS: &[&str] = &[
    "company_id",
    "site",
    "site_url",
    "public_key",
    "private_key",
    "zone",
    "username",
    "secret",
    "psa_type",
    "action",
];

#[tokio::test]
async fn hostile_values_in_any_psa_field_never_cause_a_500_or_a_save() {
    let app = TestApp::signed_in_admin().await;
    let form = "/tools/integrations/psa/new?psa_type=connectwise";
    for value in hostile_values() {
        for field in FIELDS {
            let mut fields = vec![
                ("psa_type", "connectwise"),
                ("company_id", "contoso"),
                ("site", "self_hosted"),
                ("site_url", "https://127.0.0.1:9"),
                ("public_key", "pub"),
                ("private_key", "priv"),
                ("action", "save"),
            ];
            fields.retain(|(k, _)| k != field);
            fields.push((field, value.as_str()));
            let status = app
                .post(form, "/tools/integrations/psa", &fields)
                .await
                .status();
            allow_more_tests(&app).await;
            assert!(
                status.is_client_error() || status == StatusCode::SEE_OTHER,
                "{field}={:.40?}: {status}",
                value
            );
            assert_ne!(
                status,
                StatusCode::SEE_OTHER,
                "{field}={:.40?} was saved",
                value
            );
        }
    }
    let saved = psa_connection::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(saved, 0);
}

#[tokio::test]
async fn hostile_sign_in_values_never_cause_a_500() {
    let app = TestApp::spawn().await;
    for value in hostile_values() {
        for (email, password) in [(value.as_str(), "pw"), ("ann@contoso.test", value.as_str())] {
            let status = app
                .post(
                    "/login",
                    "/login",
                    &[
                        ("email", email),
                        ("password", password),
                        ("next", value.as_str()),
                    ],
                )
                .await
                .status();
            assert!(
                status.is_client_error() || status == StatusCode::SEE_OTHER,
                "{email:.40?}: {status}"
            );
        }
    }
}

/// A self-hosted ConnectWise at `url`, with the production policy (no private hosts).
async fn verify_self_hosted(
    url: &str,
) -> Result<sync365::psa::Verification, sync365::psa::PsaError> {
    use secrecy::SecretString;
    use sync365::domain::connectwise::{CompanyId, Site};
    use sync365::psa::connectwise::{ConnectWise, Credentials, ServerSettings};
    let creds = Credentials {
        company_id: CompanyId::parse("contoso").unwrap(),
        site: Site::parse("self_hosted", url).map_err(|e| {
            sync365::psa::PsaError::HostNotAllowed {
                host: url.into(),
                reason: e.message,
            }
        })?,
        public_key: SecretString::from("pub"),
        private_key: SecretString::from("priv"),
    };
    let policy = sync365::psa::http::OutboundPolicy::default();
    ConnectWise::new(creds, &ServerSettings::default(), &policy)?
        .verify()
        .await
}

#[tokio::test]
async fn self_hosted_addresses_on_loopback_in_any_spelling_are_refused_before_any_request() {
    for url in [
        "https://localhost:9/",
        "https://127.0.0.1:9/",
        "https://[::1]:9/",
        "https://[::ffff:127.0.0.1]:9/",
        "https://2130706433:9/",
        "https://0x7f.1:9/",
        "https://0177.0.0.1:9/",
        "https://0:9/",
        "http://example.com/",
    ] {
        let result = verify_self_hosted(url).await;
        assert!(
            matches!(result, Err(sync365::psa::PsaError::HostNotAllowed { .. })),
            "{url}: {result:?}"
        );
    }
}

#[tokio::test]
async fn hostile_search_and_filter_values_never_cause_a_500() {
    let app = TestApp::signed_in_admin().await;
    // URLs have a length limit of their own: the long value is cut to 2,000 characters here.
    for value in hostile_values() {
        let value: String = value.chars().take(2000).collect();
        let q: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        for path in [
            format!("/customers?q={q}"),
            format!("/customers?page={q}"),
            format!("/products?page={q}"),
            format!("/tools/activity?who={q}&what={q}"),
        ] {
            let status = app.get_raw(&path).await.status();
            assert!(
                status.is_success() || status.is_client_error(),
                "{path:.60}: {status}"
            );
        }
    }
}

/// A value for one field: arbitrary Unicode (control characters and NUL included), a known
/// hostile value, or a long run of one character.
fn any_value() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        any::<String>(),
        proptest::sample::select(hostile_values()),
        (any::<char>(), 0usize..5000).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

/// A form: some of the route's real fields and some made-up ones, each with any value. The
/// ConnectWise site stays on a region so every PSA call goes to the sandbox.
fn any_form() -> impl proptest::strategy::Strategy<Value = Vec<(String, String)>> {
    use proptest::prelude::*;
    let names = proptest::sample::select(vec![
        "email",
        "password",
        "password_confirm",
        "setup_token",
        "organisation",
        "admin_email",
        "current",
        "new",
        "confirm",
        "role",
        "psa_type",
        "company_id",
        "public_key",
        "private_key",
        "zone",
        "username",
        "secret",
        "action",
        "next",
        "unknown\0field",
    ]);
    proptest::collection::vec((names.prop_map(String::from), any_value()), 0..8).prop_map(
        |mut fields| {
            fields.push(("site".into(), "na".into()));
            fields
        },
    )
}

#[tokio::test]
async fn generated_forms_sent_to_every_post_route_never_cause_a_500() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRunner};

    let sb = crate::sandbox::spawn_default().await;
    let app = TestApp::against(&sb, false).await;
    crate::integrations::admin_of(&app, "Contoso IT", "admin@contoso.test").await;
    let connection = crate::integrations::save_connectwise(&app).await;
    let mut runner = TestRunner::new(Config::with_cases(24));
    // Signing out would end the test's session; its form has no fields anyway.
    let routes = crate::security::POST_ROUTES
        .iter()
        .filter(|r| **r != "/logout");
    for route in routes {
        let path = crate::security::fill(route, connection, 1, connection);
        for _ in 0..24 {
            let form = any_form().new_tree(&mut runner).unwrap().current();
            let fields: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let status = app
                .post("/tools/integrations", &path, &fields)
                .await
                .status();
            allow_more_tests(&app).await;
            assert!(
                !status.is_server_error(),
                "{path} with {form:.200?}: {status}"
            );
        }
    }
}
