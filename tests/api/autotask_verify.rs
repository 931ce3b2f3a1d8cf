//! The Test button for Autotask: zone, sign-in failures, checklist and budget.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use secrecy::SecretString;
use sync365::psa::autotask::ServerSettings;
use sync365::psa::error::{AutotaskRefusal, Field};
use sync365::psa::{CheckStatus, PsaError, Verification};

use super::{Auth, CODE, Fake, SECRET, USER, connect, connect_with, settings};

fn row<'a>(v: &'a Verification, item_start: &str) -> &'a sync365::psa::PermissionCheck {
    v.checks
        .iter()
        .find(|c| c.item.starts_with(item_start))
        .unwrap_or_else(|| panic!("no row {item_start}: {v:#?}"))
}

fn refusal(e: &PsaError) -> AutotaskRefusal {
    match e {
        PsaError::AutotaskRefused { reason, .. } => *reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_user_in_another_zone_is_told_which_zone() {
    let (server, fake) = Fake::start().await;
    fake.mount(&server).await;

    let err = connect(&fake.base, "webservices2", USER, SECRET)
        .verify()
        .await
        .unwrap_err();

    assert_eq!(
        err,
        PsaError::WrongZone {
            typed: "webservices2".into(),
            detected: "webservices5".into(),
            detected_name: Some("America West".into())
        }
    );
    assert_eq!(err.field(), Field::Zone);
    assert!(
        err.user_message()
            .contains("Your API user lives in webservices5, America West, not webservices2")
    );
    assert!(
        fake.hits().iter().all(|h| h.zone == "lookup"),
        "no credentials sent to the wrong zone"
    );
}

#[tokio::test]
async fn an_empty_zone_is_detected_and_shown_with_its_name() {
    let (server, fake) = Fake::start().await;
    fake.mount(&server).await;

    let v = connect(&fake.base, "", USER, SECRET)
        .verify()
        .await
        .unwrap();

    assert_eq!(v.detected, "webservices5 (America West)");
    assert_eq!(
        v.api_root,
        format!("{}/webservices5/atservicesrest/", fake.base)
    );
    assert!(v.passed());
    assert!(
        v.checks.iter().all(|c| c.status == CheckStatus::Pass),
        "{v:#?}"
    );
    let t = v.threshold.unwrap();
    assert_eq!(t.limit, 10_000);
    assert!(t.used > 100);
}

#[tokio::test]
async fn every_spelling_of_the_right_zone_verifies() {
    let (server, fake) = Fake::start().await;
    fake.mount(&server).await;

    for typed in [
        "webservices5",
        "ww5",
        "5",
        "WW5.autotask.net",
        "https://ww5.autotask.net/Autotask/AutotaskExtend/ExecuteCommand.aspx",
        "https://webservices5.autotask.net/atservicesrest/v1.0/Companies/query",
        "webservices5 (America West)",
    ] {
        let v = connect(&fake.base, typed, USER, SECRET).verify().await;
        assert_eq!(
            v.map(|v| v.detected),
            Ok("webservices5 (America West)".to_string()),
            "{typed}"
        );
    }
}

#[tokio::test]
async fn an_unknown_user_is_pointed_at_the_username_field() {
    let (server, fake) = Fake::start().await;
    fake.mount(&server).await;

    let err = connect(&fake.base, "", "apiuser@contoso.test", SECRET)
        .verify()
        .await
        .unwrap_err();

    assert_eq!(
        err,
        PsaError::UserUnknown {
            username: "apiuser@contoso.test".into()
        }
    );
    assert_eq!(err.field(), Field::Username);
    let lookups = fake
        .hits()
        .into_iter()
        .filter(|h| h.zone == "lookup")
        .count();
    assert_eq!(
        lookups, 1,
        "an unknown user is an answer, not an outage to retry"
    );
}

#[tokio::test]
async fn a_typed_zone_is_tried_when_the_lookup_does_not_know_the_user() {
    let (server, mut fake) = Fake::start().await;
    fake.lookup_unknown = true;
    fake.mount(&server).await;

    let v = connect(&fake.base, "webservices5", USER, SECRET)
        .verify()
        .await
        .unwrap();
    assert_eq!(row(&v, "Webservices zone").status, CheckStatus::Warn);
    assert!(v.passed());

    let typo = connect(&fake.base, "webservices5", "apiuser@contoso.test", SECRET)
        .verify()
        .await
        .unwrap_err();
    assert_eq!(
        typo,
        PsaError::UserUnknown {
            username: "apiuser@contoso.test".into()
        }
    );
}

#[tokio::test]
async fn a_wrong_secret_is_reported_beside_the_secret_with_what_to_check() {
    let (server, fake) = Fake::start().await;
    fake.mount(&server).await;

    let err = connect(&fake.base, "", USER, "wrong")
        .verify()
        .await
        .unwrap_err();

    assert_eq!(refusal(&err), AutotaskRefusal::Secret);
    assert_eq!(err.field(), Field::Secret);
    let msg = err.user_message();
    for hint in [
        "secret",
        "API User (API-only)",
        "Integration Vendor",
        "expired",
    ] {
        assert!(msg.contains(hint), "{hint} missing from {msg}");
    }
}

#[tokio::test]
async fn a_refused_integration_code_asks_for_the_integration_vendor_without_retrying() {
    let (server, mut fake) = Fake::start().await;
    fake.auth = Auth::IntegrationCode500;
    fake.mount(&server).await;

    let err = connect(&fake.base, "", USER, SECRET)
        .verify()
        .await
        .unwrap_err();

    assert_eq!(refusal(&err), AutotaskRefusal::IntegrationCode);
    assert!(
        err.user_message()
            .contains("choose Sync 365 as the Integration Vendor")
    );
    let data_calls = fake
        .hits()
        .into_iter()
        .filter(|h| h.zone != "lookup")
        .count();
    assert_eq!(data_calls, 1, "a business error sent as 500 is not retried");
}

#[tokio::test]
async fn our_integration_code_refused_with_an_empty_401_still_mentions_the_vendor() {
    let (server, fake) = Fake::start().await;
    fake.mount(&server).await;
    let wrong_code = ServerSettings {
        integration_code: SecretString::from("OTHERCODE"),
        ..settings(&fake.base)
    };

    let err = connect_with(&wrong_code, "", USER, SECRET)
        .verify()
        .await
        .unwrap_err();

    assert_eq!(refusal(&err), AutotaskRefusal::Secret);
    assert!(
        err.user_message()
            .contains("Integration Vendor is Sync 365")
    );
}

#[tokio::test]
async fn an_expired_secret_says_so_and_suggests_an_api_only_level() {
    let (server, mut fake) = Fake::start().await;
    fake.auth = Auth::Expired401;
    fake.mount(&server).await;

    let err = connect(&fake.base, "webservices5", USER, SECRET)
        .verify()
        .await
        .unwrap_err();

    assert_eq!(refusal(&err), AutotaskRefusal::SecretExpired);
    assert!(err.user_message().contains("has expired"));
    assert!(err.user_message().contains("API User (API-only)"));
}

#[tokio::test]
async fn an_unreachable_lookup_is_reported_unless_a_zone_was_typed() {
    let (server, fake) = Fake::start().await;
    fake.mount(&server).await;
    let closed = ServerSettings::new(
        SecretString::from(CODE),
        "http://127.0.0.1:9/atservicesrest/",
        &format!("{}/{{zone}}/atservicesrest/", fake.base),
    )
    .unwrap();

    let err = connect_with(&closed, "", USER, SECRET)
        .verify()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PsaError::Unreachable {
            host: "127.0.0.1:9".into()
        }
    );

    let v = connect_with(&closed, "ww5", USER, SECRET)
        .verify()
        .await
        .unwrap();
    assert_eq!(row(&v, "Webservices zone").status, CheckStatus::Warn);

    let err = connect_with(&closed, "ww5", USER, "wrong")
        .verify()
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&err),
        AutotaskRefusal::ZoneUnconfirmed,
        "the zone could be wrong too"
    );
}

#[tokio::test]
async fn a_restricted_security_level_gets_warnings_not_passes() {
    let (server, mut fake) = Fake::start().await;
    fake.restricted = true;
    fake.mount(&server).await;

    let v = connect(&fake.base, "", USER, SECRET)
        .verify()
        .await
        .unwrap();

    assert_eq!(row(&v, "Web Services API").status, CheckStatus::Pass);
    for item in ["CRM", "Contracts", "Inventory", "Service Desk"] {
        let r = row(&v, item);
        assert_eq!(r.status, CheckStatus::Warn, "{item}");
        assert!(
            r.fix.starts_with(
                "Admin > Account Settings & Users > Resources/Users > Security Levels"
            ),
            "{}",
            r.fix
        );
    }
    assert!(
        row(&v, "Contracts")
            .fix
            .contains("Contract Visibility to Full")
    );
}

#[tokio::test]
async fn a_forbidden_entity_fails_its_row_and_the_test() {
    let (server, mut fake) = Fake::start().await;
    fake.forbidden = vec!["Contracts"];
    fake.mount(&server).await;

    let v = connect(&fake.base, "", USER, SECRET)
        .verify()
        .await
        .unwrap();

    assert_eq!(row(&v, "Contracts").status, CheckStatus::Fail);
    assert_eq!(row(&v, "CRM").status, CheckStatus::Pass);
    assert!(!v.passed());
}

#[tokio::test]
async fn a_nearly_spent_hourly_budget_is_a_warning() {
    let (server, mut fake) = Fake::start().await;
    fake.used_before = 9_000;
    fake.mount(&server).await;

    let v = connect(&fake.base, "", USER, SECRET)
        .verify()
        .await
        .unwrap();

    assert_eq!(
        row(&v, "Hourly API request budget").status,
        CheckStatus::Warn
    );
    assert!(v.threshold.unwrap().used >= 9_000);
}

/// A writer the test can read back: what the connector logged.
#[derive(Clone, Default)]
struct Logged(Arc<Mutex<Vec<u8>>>);

impl Write for Logged {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide log of this test binary. A global subscriber, because a thread-local one
/// misses events whose call sites other test threads cached as unobserved.
fn global_log() -> Option<Logged> {
    static LOG: OnceLock<Option<Logged>> = OnceLock::new();
    LOG.get_or_init(|| {
        let logged = Logged::default();
        let writer = logged.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .ok()
            .map(|_| logged)
    })
    .clone()
}

#[tokio::test]
async fn secrets_never_reach_the_logs_but_hosts_and_entities_do() {
    let Some(logged) = global_log() else {
        panic!("another test installed a global subscriber; this test needs its own");
    };
    let (server, fake) = Fake::start().await;
    fake.mount(&server).await;

    connect(&fake.base, "", USER, SECRET)
        .verify()
        .await
        .unwrap();
    let _ = connect(&fake.base, "", USER, "wrong-secret").verify().await;

    let text = String::from_utf8_lossy(&logged.0.lock().unwrap()).into_owned();
    let host = fake.base.trim_start_matches("http://");
    assert!(
        text.contains(&format!("autotask.request{{host={host} entity=Companies")),
        "{text}"
    );
    for secret in [SECRET, "wrong-secret", CODE] {
        assert!(!text.contains(secret), "{secret} was logged");
    }
}
