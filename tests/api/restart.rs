//! Killing the app (SIGKILL) in the middle of a retrieval, then starting it again: the run is
//! taken over and finished, and the data is consistent.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sync365::sandbox::{self, DataSizes, Faults, RunningSandbox, SandboxConfig};
use sync365::store::entity::{customer, psa_connection, sync_run};
use sync365::store::runs;

use crate::helpers::{TestApp, sandbox_overrides};

/// A `sync365 serve` process on the test's database and data directory.
struct Portal(Child);

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_portal(app: &TestApp, sb: &RunningSandbox) -> Portal {
    let settings = &app.state.settings;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sync365"));
    cmd.arg("serve")
        .env("SYNC365_DATABASE_URL", &settings.database_url)
        .env("SYNC365_DATA_DIR", &settings.data_dir)
        .env("SYNC365_BIND", "127.0.0.1:0")
        .env("SYNC365_WORKER_LEASE_SECS", "3")
        .env("SYNC365_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in sandbox_overrides(sb) {
        cmd.env(format!("SYNC365_{}", key.to_uppercase()), value);
    }
    Portal(cmd.spawn().expect("the sync365 binary starts"))
}

async fn run_state(app: &TestApp, run_id: i64) -> sync_run::Model {
    sync_run::Entity::find_by_id(run_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

async fn wait_until(app: &TestApp, run_id: i64, states: &[&str]) -> sync_run::Model {
    for _ in 0..1200 {
        let run = run_state(app, run_id).await;
        if states.contains(&run.state.as_str()) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {run_id} never reached {states:?}");
}

#[tokio::test]
async fn a_run_killed_with_the_app_is_taken_over_and_finished_after_a_restart() {
    let sizes = DataSizes {
        companies: 3000,
        contacts_per_company: 0,
        agreements: 200,
        products: 20,
        tickets: 1,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sb = sandbox::start(
        SandboxConfig {
            sizes,
            ..SandboxConfig::default()
        },
        listener,
    )
    .await
    .unwrap();
    // This process only prepares the database; the portal processes retrieve.
    let app = TestApp::against(&sb, false).await;
    let conn = crate::sync::store_connectwise(&app, "FullAccessPriv01").await;
    sb.set_faults(Faults {
        latency_ms: 400,
        ..Faults::default()
    });
    let run = runs::queue_run(&app.state.db, conn.tenant_id, conn.id)
        .await
        .unwrap();

    let first = start_portal(&app, &sb);
    let claimed = wait_until(&app, run.id, &[runs::RUNNING]).await;
    assert_eq!(claimed.attempts, 1);
    tokio::time::sleep(Duration::from_millis(800)).await;
    drop(first); // SIGKILL: no chance to clean up.
    assert_eq!(
        run_state(&app, run.id).await.state,
        runs::RUNNING,
        "the kill left it running"
    );

    sb.set_faults(Faults::default());
    let _second = start_portal(&app, &sb);
    let done = wait_until(&app, run.id, &[runs::SUCCEEDED, runs::FAILED]).await;
    assert_eq!(done.state, runs::SUCCEEDED, "{:?}", done.error);
    assert_eq!(done.attempts, 2, "taken over once");

    let conn = psa_connection::Entity::find_by_id(conn.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let rows = customer::Entity::find()
        .filter(customer::Column::ConnectionId.eq(conn.id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        rows.iter().all(|c| Some(c.run_id) == conn.live_run_id),
        "only the live snapshot remains"
    );
    let progress = sync365::sync::progress::Progress::from_json(&done.progress);
    assert_eq!(rows.len() as u64, progress.customers.total.unwrap());
}
