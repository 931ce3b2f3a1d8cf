//! The database goes away for a while and comes back. PostgreSQL sits behind a relay the test
//! cuts and restores: pages answer 503 with the error page meanwhile and 200 after, without a
//! restart; the worker waits, and runs queued or in progress finish with every record. Runs only
//! when `SYNC365_TEST_DATABASE_URL` names a PostgreSQL server.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sync365::psa::RecordSink;
use sync365::psa::records::Customer;
use sync365::sandbox::{self, DataSizes, Faults, RunningSandbox, SandboxConfig};
use sync365::store::entity::{agreement, agreement_line, customer, product, psa_connection};
use sync365::store::runs;
use sync365::store::snapshots::{self, SnapshotKey};
use sync365::sync::sink::SnapshotSink;

use crate::helpers::net::{CuttableRelay, Outage};
use crate::helpers::{Page, TestApp, fresh_postgres, sandbox_overrides, test_postgres};
use crate::integrations::admin_of;
use crate::sync::{sandbox_count, store_connectwise, store_connectwise_in, wait_for_end};

/// The PostgreSQL server to cut, or a note that the test was skipped.
fn postgres_or_skip(test: &str) -> Option<String> {
    let url = test_postgres();
    if url.is_none() {
        eprintln!("{test}: skipped (set SYNC365_TEST_DATABASE_URL to a PostgreSQL server)");
    }
    url
}

/// A fresh database and a relay in front of its server.
async fn database_behind_relay(server: &str) -> (String, CuttableRelay) {
    let url = fresh_postgres(server).await;
    let target = url::Url::parse(&url)
        .unwrap()
        .socket_addrs(|| Some(5432))
        .unwrap()
        .into_iter()
        .find(|a| a.is_ipv4())
        .expect("the test database has an IPv4 address");
    let relay = CuttableRelay::start(target).await;
    (relay.url_through(&url), relay)
}

/// The app on the relayed database, pointed at the sandbox, its worker on with this lease.
async fn app_through(url: &str, sb: &RunningSandbox, lease_secs: u64) -> TestApp {
    let owned = sandbox_overrides(sb);
    let mut pairs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.extend([("database_url", url), ("worker_enabled", "true")]);
    TestApp::spawn_adjusted(&pairs, |s| s.worker_lease_secs = lease_secs).await
}

/// A sandbox whose retrieval takes several seconds: many agreements, each with its own
/// additions request, and a little latency on every answer.
async fn slow_sandbox() -> RunningSandbox {
    let sizes = DataSizes {
        companies: 150,
        contacts_per_company: 0,
        agreements: 1500,
        products: 10,
        tickets: 1,
    };
    let faults = Faults {
        latency_ms: 15,
        ..Faults::default()
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = SandboxConfig {
        sizes,
        faults,
        ..SandboxConfig::default()
    };
    sandbox::start(config, listener).await.unwrap()
}

async fn wait_until_running(app: &TestApp, run_id: i64) {
    for _ in 0..400 {
        let run = runs_row(app, run_id).await;
        if run.state == runs::RUNNING {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {run_id} was never claimed");
}

/// Waits until the retrieval reads agreement additions: records are being written by then,
/// and a batch of lines is written every thousand or so.
async fn wait_until_reading_additions(sb: &RunningSandbox) {
    for _ in 0..600 {
        if sb.requests().iter().any(|r| r.path.ends_with("/additions")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the retrieval never reached the additions");
}

async fn runs_row(app: &TestApp, run_id: i64) -> sync365::store::entity::sync_run::Model {
    sync365::store::entity::sync_run::Entity::find_by_id(run_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

/// The error page every visitor gets while the database is away: 503, the friendly message,
/// and none of the database's own words.
fn assert_unavailable_page(page: &Page, path: &str) {
    assert_eq!(page.status, 503, "{path}: {}", page.body);
    assert!(
        page.text("#error-message")
            .contains("cannot reach its database"),
        "{path}: {}",
        page.body
    );
    let body = page.body.to_ascii_lowercase();
    for leak in [
        "sqlx",
        "pool timed out",
        "os error",
        "query error",
        "postgres",
    ] {
        assert!(!body.contains(leak), "{path} shows {leak:?}: {}", page.body);
    }
}

/// Rows of a connection outside its live snapshot (partial or duplicate data), per table.
async fn rows_outside_live(app: &TestApp, conn: &psa_connection::Model) -> [u64; 4] {
    let db = &app.state.db;
    let live = psa_connection::Entity::find_by_id(conn.id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .live_run_id
        .expect("a live snapshot");
    [
        customer::Entity::find()
            .filter(customer::Column::ConnectionId.eq(conn.id))
            .filter(customer::Column::RunId.ne(live))
            .count(db)
            .await
            .unwrap(),
        agreement::Entity::find()
            .filter(agreement::Column::ConnectionId.eq(conn.id))
            .filter(agreement::Column::RunId.ne(live))
            .count(db)
            .await
            .unwrap(),
        agreement_line::Entity::find()
            .filter(agreement_line::Column::ConnectionId.eq(conn.id))
            .filter(agreement_line::Column::RunId.ne(live))
            .count(db)
            .await
            .unwrap(),
        product::Entity::find()
            .filter(product::Column::ConnectionId.eq(conn.id))
            .filter(product::Column::RunId.ne(live))
            .count(db)
            .await
            .unwrap(),
    ]
}

/// A run finished after the outage with everything the sandbox holds, and nothing else.
async fn assert_complete(app: &TestApp, sb: &RunningSandbox, conn: &psa_connection::Model) {
    let companies =
        sandbox_count(sb, "company/companies/count?conditions=deletedFlag%3Dfalse").await;
    let agreements = sandbox_count(sb, "finance/agreements/count").await;
    let live = crate::sync::live_customers(app, conn.id).await;
    assert_eq!(live.len() as u64, companies, "every customer is live");
    let live_agreements = agreement::Entity::find()
        .filter(agreement::Column::ConnectionId.eq(conn.id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(live_agreements, agreements, "every agreement is live");
    assert_eq!(
        rows_outside_live(app, conn).await,
        [0; 4],
        "no partial or duplicate rows"
    );
}

#[tokio::test]
async fn during_an_outage_pages_answer_503_and_runs_in_progress_or_queued_finish_after_it() {
    let Some(server) = postgres_or_skip("outage") else {
        return;
    };
    let (url, relay) = database_behind_relay(&server).await;
    let sb = slow_sandbox().await;
    let app = app_through(&url, &sb, 30).await;
    admin_of(&app, "Contoso IT", "admin@contoso.test").await;
    let running = store_connectwise(&app, "FullAccessPriv01").await;
    let queued = store_connectwise_in(&app, "Fabrikam", "FullAccessPriv01").await;
    let first = runs::queue_run(&app.state.db, running.tenant_id, running.id)
        .await
        .unwrap();
    wait_until_running(&app, first.id).await;
    // One worker: the second run waits in the queue through the outage.
    let second = runs::queue_run(&app.state.db, queued.tenant_id, queued.id)
        .await
        .unwrap();
    wait_until_reading_additions(&sb).await;

    relay.cut(Outage::HungUp);
    let cut_at = Instant::now();
    let (integrations, customers, health) = tokio::join!(
        app.get("/tools/integrations"),
        app.get("/customers"),
        app.get_raw("/healthz")
    );
    assert!(
        cut_at.elapsed() < Duration::from_secs(8),
        "pages answer soon"
    );
    assert_unavailable_page(&integrations, "/tools/integrations");
    assert_unavailable_page(&customers, "/customers");
    assert_eq!(health.status(), 503);
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(cut_at.elapsed())).await;
    let attempts = relay.hung_up();
    relay.restore();
    let restored_at = chrono::Utc::now();

    assert!(
        attempts < 100,
        "the app waits for the database instead of hammering it ({attempts} connections in 6 s)"
    );
    assert_eq!(app.get("/tools/integrations").await.status, 200);
    assert_eq!(app.get("/customers").await.status, 200);
    assert_eq!(app.get_raw("/healthz").await.status(), 200);
    let first = wait_for_end(&app, first.id).await;
    assert_eq!(first.state, runs::SUCCEEDED, "{:?}", first.error);
    assert_eq!(first.attempts, 1, "a short outage only pauses the run");
    assert!(
        first.finished_at.unwrap() > restored_at,
        "the run was still in progress when the database came back"
    );
    let second = wait_for_end(&app, second.id).await;
    assert_eq!(second.state, runs::SUCCEEDED, "{:?}", second.error);
    assert_complete(&app, &sb, &running).await;
    assert_complete(&app, &sb, &queued).await;
}

#[tokio::test]
async fn an_outage_longer_than_the_lease_puts_the_run_back_in_the_queue_and_it_is_retried() {
    let Some(server) = postgres_or_skip("outage") else {
        return;
    };
    let (url, relay) = database_behind_relay(&server).await;
    let sb = slow_sandbox().await;
    // A three-second lease: the run gives up its claim after two seconds without a heartbeat.
    let app = app_through(&url, &sb, 3).await;
    let conn = store_connectwise(&app, "FullAccessPriv01").await;
    let run = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    wait_until_reading_additions(&sb).await;

    relay.cut(Outage::HungUp);
    tokio::time::sleep(Duration::from_secs(4)).await;
    relay.restore();

    let done = wait_for_end(&app, run.id).await;
    assert_eq!(done.state, runs::SUCCEEDED, "{:?}", done.error);
    assert_eq!(
        done.attempts, 2,
        "the interrupted claim was given back and claimed again"
    );
    assert_complete(&app, &sb, &conn).await;
}

fn customer(id: &str, name: &str) -> Customer {
    Customer {
        external_id: id.into(),
        name: name.into(),
        identifier: None,
        status: None,
    }
}

#[tokio::test]
async fn a_page_retrieved_while_the_database_refuses_connections_is_stored_once_it_is_back() {
    let Some(server) = postgres_or_skip("outage") else {
        return;
    };
    let (url, relay) = database_behind_relay(&server).await;
    let app = TestApp::spawn_with(&[("database_url", &url)]).await;
    admin_of(&app, "Contoso IT", "admin@contoso.test").await;
    let conn = store_connectwise(&app, "k").await;
    runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    let run = runs::claim_next(&app.state.db, "w", chrono::Duration::seconds(60))
        .await
        .unwrap()
        .unwrap();
    let key = SnapshotKey {
        tenant_id: conn.tenant_id,
        connection_id: conn.id,
        snapshot: snapshots::snapshot_of(run.id, run.attempts),
    };
    let progress = Arc::new(Mutex::new(Default::default()));
    let mut sink = SnapshotSink {
        db: app.state.db.clone(),
        key,
        progress: progress.clone(),
        max_per_kind: sync365::sync::sink::MAX_RECORDS_PER_KIND,
    };

    relay.cut(Outage::Refused);
    let write = tokio::spawn(async move {
        sink.customers(vec![customer("1", "Alpha"), customer("2", "Beta")])
            .await
    });
    let asked_at = Instant::now();
    let page = app.get("/tools/integrations").await;
    assert!(
        asked_at.elapsed() < Duration::from_secs(8),
        "a page answers within seconds, not after a long hang"
    );
    assert_unavailable_page(&page, "/tools/integrations");
    assert!(!write.is_finished(), "the write waits for the database");
    relay.restore();

    tokio::time::timeout(Duration::from_secs(20), write)
        .await
        .expect("the write finishes once the database is back")
        .unwrap()
        .unwrap();
    let stored = customer::Entity::find()
        .filter(customer::Column::RunId.eq(key.snapshot))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 2);
    assert_eq!(progress.lock().unwrap().customers.done, 2);
    assert_eq!(app.get("/tools/integrations").await.status, 200);
}
