//! Fault knobs, the control endpoints and the request log.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sync365::sandbox::{Faults, SandboxConfig, TlsMaterial, Vendor};

use super::{CW_FULL, cw_get, spawn, spawn_default};

async fn statuses(sandbox: &sync365::sandbox::RunningSandbox, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            cw_get(sandbox, CW_FULL, "system/info")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    out
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_every_nth_request() {
    let sandbox = spawn_default().await;
    sandbox.set_faults(Faults {
        throttle_every: Some(3),
        retry_after_secs: Some(2),
        ..Faults::default()
    });
    assert_eq!(statuses(&sandbox, 3).await, [200, 200, 429]);
    // One after another: only the third request of a window is throttled.
    let mut last = None;
    for _ in 0..3 {
        last = Some(
            cw_get(&sandbox, CW_FULL, "system/info")
                .send()
                .await
                .unwrap(),
        );
    }
    let last = last.unwrap();
    assert_eq!(last.headers()["retry-after"], "2");
    assert_eq!(
        last.json::<serde_json::Value>().await.unwrap()["error"],
        "ConnectWiseAPI"
    );
}

#[tokio::test]
async fn a_server_error_burst_fails_n_requests_then_recovers() {
    let sandbox = spawn_default().await;
    sandbox.set_faults(Faults {
        error_burst: 2,
        error_status: Some(503),
        ..Faults::default()
    });
    assert_eq!(statuses(&sandbox, 4).await, [503, 503, 200, 200]);
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let sandbox = spawn(SandboxConfig {
        faults: Faults {
            latency_ms: 200,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let started = Instant::now();
    statuses(&sandbox, 1).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_truncated_body_is_not_valid_json() {
    let sandbox = spawn_default().await;
    sandbox.set_faults(Faults {
        truncate_every: Some(1),
        ..Faults::default()
    });
    let response = cw_get(&sandbox, CW_FULL, "company/companies")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
}

#[tokio::test]
async fn a_connection_reset_fails_the_request() {
    let sandbox = spawn_default().await;
    sandbox.set_faults(Faults {
        reset_every: Some(2),
        ..Faults::default()
    });
    let first = cw_get(&sandbox, CW_FULL, "company/companies")
        .send()
        .await
        .unwrap()
        .text()
        .await;
    assert!(first.is_ok());
    let second = match cw_get(&sandbox, CW_FULL, "company/companies").send().await {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(error) => Err(error),
    };
    assert!(second.is_err());
}

#[tokio::test]
async fn a_slow_body_arrives_complete_but_late() {
    let sandbox = spawn_default().await;
    sandbox.set_faults(Faults {
        slow_body_ms: 20,
        ..Faults::default()
    });
    let started = Instant::now();
    let rows: serde_json::Value = cw_get(&sandbox, CW_FULL, "company/companies")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 25);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn the_control_endpoints_set_faults_read_the_log_and_reset() {
    let sandbox = spawn_default().await;
    let client = reqwest::Client::new();
    let set = client
        .post(format!("{}/_sandbox/faults", sandbox.base_url))
        .json(&json!({"error_burst": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(statuses(&sandbox, 2).await, [500, 200]);
    let log: Vec<serde_json::Value> = client
        .get(format!("{}/_sandbox/requests", sandbox.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["fault"], "server_error");
    assert_eq!(log[1]["vendor"], "connectwise");
    let reset = client
        .post(format!("{}/_sandbox/reset", sandbox.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert!(sandbox.requests().is_empty());
    assert_eq!(sandbox.faults(), Faults::default());
}

#[tokio::test]
async fn the_request_log_keeps_page_sizes_and_no_credentials() {
    let sandbox = spawn_default().await;
    cw_get(&sandbox, CW_FULL, "company/companies?pageSize=7")
        .send()
        .await
        .unwrap();
    let entry = sandbox.requests().pop().unwrap();
    assert_eq!(
        (entry.vendor, entry.page_size, entry.status),
        (Vendor::Connectwise, Some(7), 200)
    );
    let text = serde_json::to_string(&sandbox.requests()).unwrap();
    assert!(!text.contains(CW_FULL.1) && !text.contains("Basic"));
}

#[tokio::test]
async fn https_serves_with_a_generated_ca() {
    let tls = TlsMaterial::generate().unwrap();
    let ca = reqwest::Certificate::from_pem(tls.ca_pem.as_bytes()).unwrap();
    let sandbox = spawn(SandboxConfig {
        tls: Some(tls),
        ..SandboxConfig::default()
    })
    .await;
    assert!(sandbox.base_url.starts_with("https://"));
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let url = format!(
        "{}/login/companyinfo/sandbox",
        sandbox.base_url.replace("127.0.0.1", "localhost")
    );
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    sandbox.stop().await.unwrap();
}
