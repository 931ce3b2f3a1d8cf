//! Retrieval runs: the worker retrieves into a snapshot, a failed run keeps the last good one,
//! removed records are marked, and runs are claimed once across instances and after crashes.

use std::time::Duration;

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use secrecy::SecretString;
use sync365::psa::records::Customer;
use sync365::sandbox::{self, DataSizes, Faults, RunningSandbox, SandboxConfig};
use sync365::store::entity::{customer, psa_connection, sync_run};
use sync365::store::snapshots::{self, SnapshotKey};
use sync365::store::{runs, users};
use sync365::sync::progress::Progress;

use crate::helpers::TestApp;

pub async fn sandbox_with(companies: usize) -> RunningSandbox {
    let sizes = DataSizes {
        companies,
        contacts_per_company: 0,
        agreements: 20,
        products: 10,
        tickets: 1,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    sandbox::start(
        SandboxConfig {
            sizes,
            ..SandboxConfig::default()
        },
        listener,
    )
    .await
    .unwrap()
}

/// Stores a ConnectWise connection to the sandbox's full-access account, as a save would.
pub async fn store_connectwise(app: &TestApp, private_key: &str) -> psa_connection::Model {
    store_connectwise_in(app, "Contoso IT", private_key).await
}

/// The same, for the tenant named `tenant`.
pub async fn store_connectwise_in(
    app: &TestApp,
    tenant: &str,
    private_key: &str,
) -> psa_connection::Model {
    let db = &app.state.db;
    let tenant = users::find_or_insert_tenant(db, tenant).await.unwrap();
    let now = chrono::Utc::now();
    let conn = psa_connection::ActiveModel {
        tenant_id: Set(tenant.id),
        psa_type: Set("connectwise".into()),
        host: Set("na".into()),
        account: Set("sandbox".into()),
        public_key: Set(Some("FullAccessPub001".into())),
        sealed_secret: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let sealed = app
        .state
        .sealer
        .seal(tenant.id, conn.id, &SecretString::from(private_key))
        .unwrap();
    let mut active: psa_connection::ActiveModel = conn.into();
    active.sealed_secret = Set(sealed);
    active.update(db).await.unwrap()
}

/// Waits until the run leaves queued/running (the worker polls every second).
pub async fn wait_for_end(app: &TestApp, run_id: i64) -> sync_run::Model {
    for _ in 0..600 {
        let run = sync_run::Entity::find_by_id(run_id)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        if run.state == runs::SUCCEEDED || run.state == runs::FAILED {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {run_id} did not finish in time");
}

pub async fn live_customers(app: &TestApp, conn_id: i64) -> Vec<customer::Model> {
    let conn = psa_connection::Entity::find_by_id(conn_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    customer::Entity::find()
        .filter(customer::Column::ConnectionId.eq(conn_id))
        .filter(customer::Column::RunId.eq(conn.live_run_id.unwrap_or(-1)))
        .all(&app.state.db)
        .await
        .unwrap()
}

pub async fn sandbox_count(sb: &RunningSandbox, path: &str) -> u64 {
    let url = format!("{}/v4_6_release/apis/3.0/{path}", sb.base_url);
    let body: serde_json::Value = reqwest::Client::new()
        .get(url)
        .basic_auth("sandbox+FullAccessPub001", Some("FullAccessPriv01"))
        .header("clientId", sandbox::accounts::CW_CLIENT_ID)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["count"].as_u64().unwrap()
}

#[tokio::test]
async fn a_queued_run_retrieves_every_customer_into_the_live_snapshot() {
    let sb = sandbox_with(120).await;
    let app = TestApp::against(&sb, true).await;
    let conn = store_connectwise(&app, "FullAccessPriv01").await;
    let run = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    let done = wait_for_end(&app, run.id).await;
    assert_eq!(done.state, runs::SUCCEEDED, "error: {:?}", done.error);

    let expected = sandbox_count(
        &sb,
        "company/companies/count?conditions=deletedFlag%3Dfalse",
    )
    .await;
    let customers = live_customers(&app, conn.id).await;
    assert_eq!(customers.len() as u64, expected);
    assert!(
        customers.iter().any(|c| c.name.contains("<")),
        "names with markup are stored as data"
    );
    let progress = sync365::sync::progress::Progress::from_json(&done.progress);
    assert_eq!(progress.customers.done, expected);
    assert_eq!(progress.customers.total, Some(expected));
}

#[tokio::test]
async fn a_failed_run_keeps_the_last_good_snapshot() {
    let sb = sandbox_with(60).await;
    let app = TestApp::against(&sb, true).await;
    let conn = store_connectwise(&app, "FullAccessPriv01").await;
    let first = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    assert_eq!(wait_for_end(&app, first.id).await.state, runs::SUCCEEDED);
    let before = live_customers(&app, conn.id).await;

    sb.set_faults(Faults {
        error_burst: 1_000_000,
        error_status: Some(503),
        ..Faults::default()
    });
    let second = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    let failed = wait_for_end(&app, second.id).await;
    assert_eq!(failed.state, runs::FAILED);
    assert!(
        !failed.error.clone().unwrap_or_default().is_empty(),
        "a failed run says why"
    );

    let after = live_customers(&app, conn.id).await;
    assert_eq!(before, after, "the previous data is untouched");
    let stray = customer::Entity::find()
        .filter(customer::Column::RunId.eq(second.id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stray, 0, "the failed run leaves no partial rows");
}

#[tokio::test]
async fn a_run_with_refused_keys_fails_with_the_key_message() {
    let sb = sandbox_with(5).await;
    let app = TestApp::against(&sb, true).await;
    let conn = store_connectwise(&app, "not-the-key").await;
    let run = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    let done = wait_for_end(&app, run.id).await;
    assert_eq!(done.state, runs::FAILED);
    assert!(done.error.unwrap().contains("refused the keys"));
}

fn customer(id: &str, name: &str) -> Customer {
    Customer {
        external_id: id.into(),
        name: name.into(),
        identifier: None,
        status: None,
    }
}

/// Claims the connection's next run as `owner` and returns its snapshot key.
async fn claim(app: &TestApp, conn: &psa_connection::Model, owner: &str) -> (i64, SnapshotKey) {
    let db = &app.state.db;
    runs::queue_run(db, conn.tenant_id, conn.id).await.unwrap();
    let run = runs::claim_next(db, owner, chrono::Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    let snapshot = snapshots::snapshot_of(run.id, run.attempts);
    (
        run.id,
        SnapshotKey {
            tenant_id: conn.tenant_id,
            connection_id: conn.id,
            snapshot,
        },
    )
}

#[tokio::test]
async fn a_record_gone_from_the_psa_is_kept_and_marked_removed() {
    let app = TestApp::spawn().await;
    let conn = store_connectwise(&app, "k").await;
    let db = &app.state.db;
    let progress = Progress::default();
    let (first, key1) = claim(&app, &conn, "w").await;
    snapshots::insert_customers(db, key1, &[customer("1", "Alpha"), customer("2", "Beta")])
        .await
        .unwrap();
    assert!(
        snapshots::promote_and_finish(db, key1, first, "w", &progress)
            .await
            .unwrap()
    );
    let (second, key2) = claim(&app, &conn, "w").await;
    snapshots::insert_customers(db, key2, &[customer("1", "Alpha Renamed")])
        .await
        .unwrap();
    assert!(
        snapshots::promote_and_finish(db, key2, second, "w", &progress)
            .await
            .unwrap()
    );

    let mut live = live_customers(&app, conn.id).await;
    live.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    assert_eq!(live.len(), 2);
    assert_eq!(
        (live[0].name.as_str(), live[0].removed),
        ("Alpha Renamed", false)
    );
    assert_eq!((live[1].name.as_str(), live[1].removed), ("Beta", true));
    let old = customer::Entity::find()
        .filter(customer::Column::RunId.eq(key1.snapshot))
        .count(db)
        .await
        .unwrap();
    assert_eq!(old, 0, "the old snapshot is dropped");
}

#[tokio::test]
async fn an_instance_that_lost_its_claim_can_neither_promote_nor_delete_the_new_owners_rows() {
    let app = TestApp::spawn().await;
    let conn = store_connectwise(&app, "k").await;
    let db = &app.state.db;
    let progress = Progress::default();
    runs::queue_run(db, conn.tenant_id, conn.id).await.unwrap();
    let stale = runs::claim_next(db, "stale", chrono::Duration::milliseconds(-1))
        .await
        .unwrap()
        .unwrap();
    let fresh = runs::claim_next(db, "fresh", chrono::Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    let key = |run: &sync_run::Model| SnapshotKey {
        tenant_id: conn.tenant_id,
        connection_id: conn.id,
        snapshot: snapshots::snapshot_of(run.id, run.attempts),
    };
    snapshots::insert_customers(db, key(&fresh), &[customer("1", "Fresh")])
        .await
        .unwrap();
    snapshots::insert_customers(db, key(&stale), &[customer("1", "Stale")])
        .await
        .unwrap();

    assert!(
        !snapshots::promote_and_finish(db, key(&stale), stale.id, "stale", &progress)
            .await
            .unwrap()
    );
    snapshots::clear_run(db, key(&stale)).await.unwrap();
    assert!(
        snapshots::promote_and_finish(db, key(&fresh), fresh.id, "fresh", &progress)
            .await
            .unwrap()
    );
    let live = live_customers(&app, conn.id).await;
    assert_eq!(
        live.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        vec!["Fresh"]
    );
}

#[tokio::test]
async fn clearing_never_removes_the_live_snapshot() {
    let app = TestApp::spawn().await;
    let conn = store_connectwise(&app, "k").await;
    let db = &app.state.db;
    let (run, key) = claim(&app, &conn, "w").await;
    snapshots::insert_customers(db, key, &[customer("1", "Alpha")])
        .await
        .unwrap();
    assert!(
        snapshots::promote_and_finish(db, key, run, "w", &Progress::default())
            .await
            .unwrap()
    );
    snapshots::clear_run(db, key).await.unwrap();
    assert_eq!(live_customers(&app, conn.id).await.len(), 1);
}

#[tokio::test]
async fn only_one_instance_claims_a_run() {
    let app = TestApp::spawn().await;
    let conn = store_connectwise(&app, "k").await;
    runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    let lease = chrono::Duration::seconds(30);
    let (a, b) = tokio::join!(
        runs::claim_next(&app.state.db, "instance-a", lease),
        runs::claim_next(&app.state.db, "instance-b", lease)
    );
    let claimed = [a.unwrap(), b.unwrap()].into_iter().flatten().count();
    assert_eq!(claimed, 1);
}

#[tokio::test]
async fn a_crashed_instances_run_is_claimed_again_after_its_lease() {
    let app = TestApp::spawn().await;
    let conn = store_connectwise(&app, "k").await;
    let db = &app.state.db;
    runs::queue_run(db, conn.tenant_id, conn.id).await.unwrap();
    let crashed = runs::claim_next(db, "crashed", chrono::Duration::milliseconds(-1))
        .await
        .unwrap()
        .unwrap();
    let again = runs::claim_next(db, "survivor", chrono::Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, crashed.id);
    assert_eq!(again.attempts, 2);
    let progress = sync365::sync::progress::Progress::default();
    assert!(
        !runs::heartbeat(
            db,
            crashed.id,
            "crashed",
            chrono::Duration::seconds(30),
            &progress
        )
        .await
        .unwrap(),
        "the crashed owner lost it"
    );
    assert!(
        runs::finish(db, again.id, "survivor", &progress, None)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn queueing_twice_keeps_one_open_run() {
    let app = TestApp::spawn().await;
    let conn = store_connectwise(&app, "k").await;
    let a = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    let b = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    assert_eq!(a.id, b.id);
}

/// Runs a retrieval with `faults` after a clean one; it must either finish with the clean
/// run's counts or fail with a message, the clean snapshot intact.
async fn survives(faults: Faults, must_succeed: bool) {
    let sb = sandbox_with(150).await;
    let app = TestApp::against(&sb, true).await;
    let conn = store_connectwise(&app, "FullAccessPriv01").await;
    let clean = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    assert_eq!(wait_for_end(&app, clean.id).await.state, runs::SUCCEEDED);
    let before = live_customers(&app, conn.id).await;

    sb.set_faults(faults.clone());
    let faulty = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    let done = wait_for_end(&app, faulty.id).await;
    let after = live_customers(&app, conn.id).await;
    assert!(
        !must_succeed || done.state == runs::SUCCEEDED,
        "{faults:?}: {:?}",
        done.error
    );
    if done.state == runs::SUCCEEDED {
        let names = |v: &[customer::Model]| {
            v.iter()
                .map(|c| c.external_id.clone())
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(names(&after), names(&before), "{faults:?}: same records");
    } else {
        assert!(
            !done.error.clone().unwrap_or_default().is_empty(),
            "{faults:?}: a failure says why"
        );
        assert_eq!(after, before, "{faults:?}: the clean snapshot is intact");
    }
}

#[tokio::test]
async fn a_retrieval_under_latency_finishes_with_the_same_records() {
    survives(
        Faults {
            latency_ms: 150,
            ..Faults::default()
        },
        true,
    )
    .await;
}

#[tokio::test]
async fn a_retrieval_under_a_429_storm_finishes_or_fails_cleanly() {
    survives(
        Faults {
            throttle_every: Some(2),
            retry_after_secs: Some(1),
            ..Faults::default()
        },
        false,
    )
    .await;
}

#[tokio::test]
async fn a_retrieval_through_5xx_bursts_finishes_or_fails_cleanly() {
    survives(
        Faults {
            error_burst: 2,
            error_every: Some(5),
            error_status: Some(503),
            ..Faults::default()
        },
        false,
    )
    .await;
}

#[tokio::test]
async fn a_retrieval_with_truncated_bodies_finishes_or_fails_cleanly() {
    survives(
        Faults {
            truncate_every: Some(3),
            ..Faults::default()
        },
        false,
    )
    .await;
}

#[tokio::test]
async fn a_retrieval_with_connection_resets_finishes_or_fails_cleanly() {
    survives(
        Faults {
            reset_every: Some(3),
            ..Faults::default()
        },
        false,
    )
    .await;
}

#[tokio::test]
async fn a_retrieval_with_slow_bodies_finishes_with_the_same_records() {
    survives(
        Faults {
            slow_body_ms: 5,
            ..Faults::default()
        },
        true,
    )
    .await;
}

#[tokio::test]
async fn a_run_past_its_time_limit_stops_with_a_message_and_keeps_the_last_data() {
    let sb = sandbox_with(60).await;
    let mut settings: Vec<(String, String)> = crate::helpers::sandbox_overrides(&sb);
    settings.push(("worker_enabled".into(), "true".into()));
    settings.push(("worker_max_run_secs".into(), "2".into()));
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let app = TestApp::spawn_with(&pairs).await;
    let conn = store_connectwise(&app, "FullAccessPriv01").await;
    let first = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    assert_eq!(wait_for_end(&app, first.id).await.state, runs::SUCCEEDED);
    let before = live_customers(&app, conn.id).await;

    sb.set_faults(Faults {
        latency_ms: 1500,
        ..Faults::default()
    });
    let slow = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();
    let stopped = wait_for_end(&app, slow.id).await;
    assert_eq!(stopped.state, runs::FAILED);
    assert!(
        stopped
            .error
            .unwrap_or_default()
            .contains("still going after")
    );
    assert_eq!(
        live_customers(&app, conn.id).await,
        before,
        "the last data stays"
    );
}
