//! Autotask retrieval: paging, next-page verb and host, units, thread limit, budget.

use std::collections::HashSet;
use std::time::Duration;

use sync365::psa::PsaError;
use sync365::psa::autotask::ServerSettings;

use super::{Collect, Fake, SECRET, USER, connect, connect_with, settings};

async fn retrieve(
    _fake: &Fake,
    server: &ServerSettings,
    zone: &str,
) -> (Result<(), PsaError>, Collect) {
    let mut sink = Collect::default();
    let outcome = connect_with(server, zone, USER, SECRET)
        .retrieve(&mut sink)
        .await;
    (outcome, sink)
}

#[tokio::test]
async fn companies_are_paged_at_0_1_500_501_and_20000_rows() {
    let (server, mut fake) = Fake::start().await;
    for n in [0usize, 1, 500, 501, 20_000] {
        fake.rows.insert("Companies", n);
        fake.hits.lock().unwrap().clear();
        fake.mount(&server).await;

        let (outcome, sink) = retrieve(&fake, &settings(&fake.base), "webservices5").await;

        outcome.unwrap();
        assert_eq!(sink.customers.len(), n, "{n} rows");
        assert_eq!(sink.expected["Customers"], n as u64);
        let ids: HashSet<&str> = sink
            .customers
            .iter()
            .map(|c| c.external_id.as_str())
            .collect();
        assert_eq!(ids.len(), n, "no row twice");
        assert_eq!(
            fake.query_hits("Companies").len(),
            n.div_ceil(500).max(1),
            "pages for {n} rows"
        );
        assert!(sink.largest_page <= 500);
    }
}

#[tokio::test]
async fn next_pages_are_posted_with_the_same_body() {
    let (server, mut fake) = Fake::start().await;
    fake.rows.insert("Companies", 1_200);
    fake.mount(&server).await;

    let (outcome, _) = retrieve(&fake, &settings(&fake.base), "webservices5").await;

    outcome.unwrap();
    let hits = fake.query_hits("Companies");
    assert_eq!(hits.len(), 3);
    assert!(
        hits.iter().all(|h| h.method == "POST"),
        "a GET on a next page is a 405"
    );
    assert!(hits[1].path.ends_with("/query/next") && hits[2].path.ends_with("/query/next"));
    assert!(hits.iter().all(|h| h.body == hits[0].body));
    assert_eq!(hits[0].body["MaxRecords"], 500);
}

#[tokio::test]
async fn a_next_page_on_another_host_is_not_followed() {
    let (server, mut fake) = Fake::start().await;
    fake.rows.insert("Companies", 501);
    fake.next_base = Some("http://evil.example:8080".into());
    fake.mount(&server).await;

    let (outcome, sink) = retrieve(&fake, &settings(&fake.base), "webservices5").await;

    assert_eq!(
        outcome,
        Err(PsaError::ForeignLink {
            host: "evil.example".into()
        })
    );
    assert_eq!(
        sink.customers.len(),
        500,
        "the first page was kept, the link not followed"
    );
}

#[tokio::test]
async fn contract_services_carry_their_current_units_and_belong_to_retrieved_contracts() {
    let (server, mut fake) = Fake::start().await;
    fake.rows.extend([
        ("Companies", 40),
        ("Contracts", 90),
        ("ContractServices", 1_100),
    ]);
    fake.mount(&server).await;

    let (outcome, sink) = retrieve(&fake, &settings(&fake.base), "webservices5").await;

    outcome.unwrap();
    assert_eq!(sink.lines.len(), 1_100);
    for line in &sink.lines {
        let id: f64 = line.external_id.parse().unwrap();
        assert_eq!(line.quantity, id % 40.0 + 1.0, "line {id}");
        assert_eq!(line.product_external_id.as_deref(), Some("service:1"));
    }
    let contracts: HashSet<&str> = sink
        .agreements
        .iter()
        .map(|a| a.external_id.as_str())
        .collect();
    assert!(
        sink.lines
            .iter()
            .all(|l| contracts.contains(l.agreement_external_id.as_str()))
    );
    assert_eq!(
        sink.agreements[0].agreement_type.as_deref(),
        Some("Recurring Service")
    );
    assert_eq!(sink.products.len(), 4, "services and products together");
    assert_eq!(sink.expected["Products"], 4);
}

#[tokio::test]
async fn the_thread_limit_is_never_exceeded_even_when_configured_higher() {
    let (server, mut fake) = Fake::start().await;
    fake.rows.extend([
        ("Companies", 1_500),
        ("Contracts", 600),
        ("ContractServices", 4_000),
    ]);
    fake.delay = Duration::from_millis(5);
    fake.slow
        .insert("ContractServiceUnits", Duration::from_millis(120));
    fake.mount(&server).await;
    let eager = ServerSettings {
        entity_concurrency: 10,
        ..settings(&fake.base)
    };

    let (outcome, sink) = retrieve(&fake, &eager, "webservices5").await;

    outcome.unwrap();
    assert_eq!(sink.lines.len(), 4_000);
    for entity in [
        "Companies",
        "Contracts",
        "ContractServices",
        "ContractServiceUnits",
        "Services",
        "Products",
    ] {
        assert!(
            fake.peak_in_flight(entity) <= 3,
            "{entity}: {}",
            fake.peak_in_flight(entity)
        );
    }
    assert_eq!(
        fake.peak_in_flight("ContractServiceUnits"),
        3,
        "the allowed concurrency is used"
    );
}

#[tokio::test]
async fn a_lower_concurrency_setting_is_respected() {
    let (server, mut fake) = Fake::start().await;
    fake.rows.insert("ContractServices", 2_000);
    fake.slow
        .insert("ContractServiceUnits", Duration::from_millis(60));
    fake.mount(&server).await;
    let gentle = ServerSettings {
        entity_concurrency: 1,
        ..settings(&fake.base)
    };

    let (outcome, _) = retrieve(&fake, &gentle, "webservices5").await;

    outcome.unwrap();
    assert_eq!(fake.peak_in_flight("ContractServiceUnits"), 1);
}

#[tokio::test]
async fn thread_limit_refusals_are_waited_out_and_retried() {
    let (server, fake) = Fake::start().await;
    *fake.thread_refusals.lock().unwrap() = 2;
    fake.mount(&server).await;

    let (outcome, sink) = retrieve(&fake, &settings(&fake.base), "webservices5").await;

    outcome.unwrap();
    assert_eq!(sink.customers.len(), 3);
    assert_eq!(*fake.thread_refusals.lock().unwrap(), 0);
}

#[tokio::test]
async fn the_budget_reserve_stops_retrieval_before_any_query() {
    let (server, mut fake) = Fake::start().await;
    fake.used_before = 7_600;
    fake.mount(&server).await;

    let (outcome, sink) = retrieve(&fake, &settings(&fake.base), "webservices5").await;

    let err = outcome.unwrap_err();
    assert!(
        matches!(err, PsaError::BudgetReserve { limit: 10_000, .. }),
        "{err:?}"
    );
    assert!(err.user_message().contains("resumes on the next run"));
    assert!(
        fake.hits().iter().all(|h| !h.path.contains("/query")),
        "no query was sent"
    );
    assert!(sink.customers.is_empty());
}

#[tokio::test]
async fn the_budget_is_checked_again_during_retrieval() {
    let (server, mut fake) = Fake::start().await;
    fake.rows.insert("Companies", 20_000);
    fake.used_before = 7_450;
    fake.mount(&server).await;
    let checked = ServerSettings {
        budget_check_every: 5,
        ..settings(&fake.base)
    };

    let (outcome, sink) = retrieve(&fake, &checked, "webservices5").await;

    assert!(
        matches!(outcome, Err(PsaError::BudgetReserve { .. })),
        "{outcome:?}"
    );
    let sent = fake.hits().len() as u64;
    assert!(
        7_450 + sent <= 7_500 + 5,
        "stopped at the reserve: {sent} requests sent"
    );
    assert!(!sink.customers.is_empty() && sink.customers.len() < 20_000);
}

#[tokio::test]
async fn a_tenant_moved_to_another_zone_is_told_its_new_zone() {
    let (server, fake) = Fake::start().await;
    fake.mount(&server).await;

    let mut sink = Collect::default();
    let outcome = connect(&fake.base, "webservices2", USER, SECRET)
        .retrieve(&mut sink)
        .await;

    assert_eq!(
        outcome,
        Err(PsaError::WrongZone {
            typed: "webservices2".into(),
            detected: "webservices5".into(),
            detected_name: Some("America West".into())
        })
    );
}

#[tokio::test]
async fn a_secret_revoked_after_saving_stops_the_run_with_a_secret_message() {
    let (server, fake) = Fake::start().await;
    fake.mount(&server).await;

    let mut sink = Collect::default();
    let outcome = connect(&fake.base, "webservices5", USER, "old-secret")
        .retrieve(&mut sink)
        .await;

    assert!(
        matches!(
            outcome,
            Err(PsaError::AutotaskRefused {
                reason: sync365::psa::error::AutotaskRefusal::Secret,
                ..
            })
        ),
        "{outcome:?}"
    );
    let data_calls = fake
        .hits()
        .into_iter()
        .filter(|h| h.zone != "lookup")
        .count();
    assert_eq!(data_calls, 1, "a 401 is never retried");
}
