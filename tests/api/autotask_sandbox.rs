//! The connector against the PSA sandbox: its default accounts, limits and request log.

use secrecy::SecretString;
use sync365::domain::autotask::Zone;
use sync365::psa::autotask::{Autotask, Credentials, ServerSettings};
use sync365::psa::error::AutotaskRefusal;
use sync365::psa::{CheckStatus, PsaError};
use sync365::sandbox::{
    self, AutotaskLimits, DataSizes, Faults, LoggedRequest, RunningSandbox, SandboxConfig, Vendor,
    accounts,
};

use super::{Collect, policy};

const FULL: (&str, &str) = ("sbxfullapi00001@SANDBOX.EXAMPLE", "Full*Secret#001");
const RESTRICTED: (&str, &str) = ("sbxrestricted01@SANDBOX.EXAMPLE", "Restr$Secret~02");
const OTHER_ZONE: (&str, &str) = ("sbxotherzone001@SANDBOX.EXAMPLE", "Zone5@Secret#03");
const LOCKED: (&str, &str) = ("sbxlockedapi001@SANDBOX.EXAMPLE", "Locked#Secret04");

async fn spawn(config: SandboxConfig) -> RunningSandbox {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    sandbox::start(config, listener).await.unwrap()
}

fn sized(companies: usize, agreements: usize, products: usize) -> SandboxConfig {
    let sizes = DataSizes {
        companies,
        contacts_per_company: 0,
        agreements,
        products,
        tickets: 5,
    };
    SandboxConfig {
        sizes,
        ..SandboxConfig::default()
    }
}

/// The settings `portal_settings()` names, as the portal would build them.
fn settings(sb: &RunningSandbox) -> ServerSettings {
    let base = &sb.base_url;
    ServerSettings::new(
        SecretString::from(accounts::AT_INTEGRATION_CODE),
        &format!("{base}/atservicesrest/"),
        &format!("{base}/{{zone}}/atservicesrest/"),
    )
    .unwrap()
}

fn connect(server: &ServerSettings, zone: &str, user: (&str, &str)) -> Autotask {
    let creds = Credentials {
        zone: Zone::parse(zone).unwrap(),
        username: user.0.into(),
        secret: SecretString::from(user.1),
    };
    Autotask::new(creds, server, &policy()).unwrap()
}

fn autotask_log(sb: &RunningSandbox) -> Vec<LoggedRequest> {
    sb.requests()
        .into_iter()
        .filter(|r| r.vendor == Vendor::Autotask)
        .collect()
}

#[tokio::test]
async fn the_full_access_user_passes_every_row_in_every_zone_spelling() {
    let sb = spawn(SandboxConfig::default()).await;
    for zone in [
        "",
        "webservices2",
        "ww2",
        "2",
        "ww2.autotask.net",
        "https://ww2.autotask.net/Autotask/Home.aspx",
    ] {
        let v = connect(&settings(&sb), zone, FULL).verify().await.unwrap();
        assert_eq!(v.detected, "webservices2 (Pre-release)", "{zone}");
        assert!(
            v.checks.iter().all(|c| c.status == CheckStatus::Pass),
            "{zone}: {v:#?}"
        );
    }
}

#[tokio::test]
async fn the_restricted_user_gets_warnings_with_where_to_fix_them() {
    let sb = spawn(SandboxConfig::default()).await;
    let v = connect(&settings(&sb), "", RESTRICTED)
        .verify()
        .await
        .unwrap();
    let warned: Vec<&str> = v
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Warn)
        .map(|c| c.item.as_str())
        .collect();
    assert_eq!(warned.len(), 4, "{v:#?}");
    assert!(
        v.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Warn)
            .all(|c| c.fix.contains("Security Levels"))
    );
}

#[tokio::test]
async fn the_user_in_another_zone_is_told_which_zone() {
    let sb = spawn(SandboxConfig::default()).await;
    let err = connect(&settings(&sb), "ww2", OTHER_ZONE)
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
    let v = connect(&settings(&sb), "", OTHER_ZONE)
        .verify()
        .await
        .unwrap();
    assert_eq!(v.detected, "webservices5 (America West)");
}

#[tokio::test]
async fn a_locked_or_expired_user_is_refused_with_the_secret_message() {
    let sb = spawn(SandboxConfig::default()).await;
    let err = connect(&settings(&sb), "", LOCKED)
        .verify()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PsaError::AutotaskRefused {
                reason: AutotaskRefusal::Secret,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.user_message().contains("expired"));
}

#[tokio::test]
async fn a_wrong_secret_unknown_user_and_wrong_integration_code_are_refused() {
    let sb = spawn(SandboxConfig::default()).await;
    let err = connect(&settings(&sb), "", (FULL.0, "wrong"))
        .verify()
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        PsaError::AutotaskRefused {
            reason: AutotaskRefusal::Secret,
            ..
        }
    ));
    let err = connect(&settings(&sb), "", ("nobody@SANDBOX.EXAMPLE", FULL.1))
        .verify()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PsaError::UserUnknown {
            username: "nobody@SANDBOX.EXAMPLE".into()
        }
    );
    let wrong_code = ServerSettings {
        integration_code: SecretString::from("NOTOURCODE"),
        ..settings(&sb)
    };
    let err = connect(&wrong_code, "", FULL).verify().await.unwrap_err();
    assert!(err.user_message().contains("Integration Vendor"));
}

#[tokio::test]
async fn companies_are_paged_at_0_1_500_and_501_customers() {
    for companies in [0, 1, 500, 501, 1_300] {
        let sb = spawn(sized(companies, 20, 10)).await;
        let mut sink = Collect::default();
        connect(&settings(&sb), "ww2", FULL)
            .retrieve(&mut sink)
            .await
            .unwrap();

        let expected = sink.expected["Customers"] as usize;
        assert_eq!(sink.customers.len(), expected, "{companies} companies");
        let pages = autotask_log(&sb)
            .iter()
            .filter(|r| {
                r.path.to_ascii_lowercase().contains("/companies/query")
                    && !r.path.ends_with("count")
            })
            .count();
        assert_eq!(
            pages,
            expected.div_ceil(500).max(1),
            "{companies} companies"
        );
    }
}

#[tokio::test]
async fn retrieval_matches_the_sandbox_and_stays_within_its_limits() {
    let mut config = sized(1_200, 1_500, 600);
    config.faults = Faults {
        latency_ms: 30,
        ..Faults::default()
    };
    let sb = spawn(config).await;
    let server = ServerSettings {
        entity_concurrency: 3,
        ..settings(&sb)
    };
    let mut sink = Collect::default();

    connect(&server, "webservices2", FULL)
        .retrieve(&mut sink)
        .await
        .unwrap();

    assert!(sink.customers.len() > 500 && sink.agreements.len() > 500 && sink.lines.len() > 500);
    let counted = sink.lines.iter().filter(|l| l.quantity > 0.0).count();
    assert!(
        counted * 2 > sink.lines.len(),
        "active lines carry the current period's unit count"
    );
    assert_eq!(sink.products.len() as u64, sink.expected["Products"]);
    let customers: std::collections::HashSet<&str> = sink
        .customers
        .iter()
        .map(|c| c.external_id.as_str())
        .collect();
    assert!(
        sink.agreements
            .iter()
            .all(|a| customers.contains(a.customer_external_id.as_str()))
    );
    let log = autotask_log(&sb);
    assert!(
        log.iter().all(|r| r.status < 400),
        "no 405 (wrong verb), 429 (threads) or other refusal"
    );
    assert!(log.iter().all(|r| r.concurrency <= 3), "thread limit");
    assert!(log.iter().all(|r| r.page_size.is_none_or(|p| p <= 500)));
    assert!(
        log.iter()
            .filter(|r| r.path.ends_with("/next"))
            .all(|r| r.method == "POST")
    );
    assert!(
        log.iter().any(|r| r.concurrency >= 2),
        "the allowed concurrency is used"
    );
}

#[tokio::test]
async fn the_budget_reserve_stops_retrieval_before_the_sandbox_refuses() {
    let mut config = sized(6_000, 100, 10);
    config.autotask_limits = AutotaskLimits {
        hourly_threshold: 30,
        latency_steps_ms: [0, 0],
        ..AutotaskLimits::default()
    };
    let sb = spawn(config).await;
    let server = ServerSettings {
        budget_check_every: 5,
        ..settings(&sb)
    };

    let mut sink = Collect::default();
    let err = connect(&server, "ww2", FULL)
        .retrieve(&mut sink)
        .await
        .unwrap_err();

    assert!(
        matches!(err, PsaError::BudgetReserve { limit: 30, .. }),
        "{err:?}"
    );
    let log = autotask_log(&sb);
    assert!(
        log.iter().all(|r| r.status != 429),
        "stopped before the threshold refused anything"
    );
    assert!(
        log.len() <= 22 + 1,
        "30 minus a 25% reserve: {} requests",
        log.len()
    );
    assert!(
        !sink.customers.is_empty(),
        "it got some way before stopping"
    );
}
