//! Measurements, ignored by default. Run with
//! `cargo test --release --test api sandbox::perf -- --ignored --nocapture`.

use std::time::Instant;

use serde_json::Value;
use sync365::sandbox::{DataSizes, SandboxConfig};

use super::{CW_FULL, cw_basic, spawn};
use sync365::sandbox::{RunningSandbox, accounts};

/// One client for all requests, so the figures measure the sandbox, not client start-up.
async fn get(client: &reqwest::Client, sandbox: &RunningSandbox, path: &str) -> bytes::Bytes {
    let url = format!("{}/v4_6_release/apis/3.0/{path}", sandbox.base_url);
    let auth = cw_basic(accounts::CW_COMPANY_ID, CW_FULL.0, CW_FULL.1);
    let request = client
        .get(url)
        .header("clientId", accounts::CW_CLIENT_ID)
        .header("Authorization", auth);
    request.send().await.unwrap().bytes().await.unwrap()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or("VmRSS: 0 kB");
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn sizes(n: usize) -> DataSizes {
    DataSizes {
        companies: n,
        contacts_per_company: 2,
        agreements: n,
        products: 60,
        tickets: 100,
    }
}

#[tokio::test]
#[ignore = "measurement"]
async fn measure_paging_throughput_and_memory() {
    let before = rss_kib();
    let sandbox = spawn(SandboxConfig {
        sizes: sizes(10_000),
        ..SandboxConfig::default()
    })
    .await;
    println!(
        "RSS 10k: {} MiB (process grew {} MiB)",
        rss_kib() / 1024,
        (rss_kib() - before) / 1024
    );

    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut total = 0;
    for page in 1..=10 {
        let body = get(
            &client,
            &sandbox,
            &format!("company/companies?pageSize=1000&page={page}"),
        )
        .await;
        total += serde_json::from_slice::<Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len();
    }
    println!(
        "10k companies in pages of 1000: {total} rows in {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    get(
        &client,
        &sandbox,
        "company/companies?pageSize=1000&conditions=deletedFlag=false",
    )
    .await;
    println!(
        "one filtered page of 1000 over 10k (renders every row): {:?}",
        started.elapsed()
    );

    for (label, path) in [
        ("25-row", "company/companies?pageSize=25"),
        ("1000-row", "company/companies?pageSize=1000"),
    ] {
        let n = 200;
        let started = Instant::now();
        for _ in 0..n {
            get(&client, &sandbox, path).await;
        }
        println!(
            "sequential requests/s for a {label} page: {:.0}",
            n as f64 / started.elapsed().as_secs_f64()
        );
    }
    sandbox.stop().await.unwrap();

    let before = rss_kib();
    let big = spawn(SandboxConfig {
        sizes: sizes(100_000),
        ..SandboxConfig::default()
    })
    .await;
    println!(
        "RSS 100k: {} MiB (process grew {} MiB)",
        rss_kib() / 1024,
        rss_kib().saturating_sub(before) / 1024
    );
    big.stop().await.unwrap();
}
