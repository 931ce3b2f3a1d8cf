//! Measurements, ignored by default. Run with
//! `cargo test --release --test api sandbox::perf -- --ignored --nocapture`.

use std::time::Instant;

use serde_json::Value;
use sync365::sandbox::{DataSizes, SandboxConfig};

use super::{CW_FULL, cw_get, spawn};

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

    let started = Instant::now();
    let mut total = 0;
    for page in 1..=10 {
        let rows: Value = cw_get(
            &sandbox,
            CW_FULL,
            &format!("company/companies?pageSize=1000&page={page}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        total += rows.as_array().unwrap().len();
    }
    println!(
        "10k companies in pages of 1000: {total} rows in {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let filtered: Value = cw_get(
        &sandbox,
        CW_FULL,
        "company/companies?pageSize=1000&conditions=deletedFlag=false",
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    println!(
        "one filtered page over 10k (conditions render every row): {} rows in {:?}",
        filtered.as_array().unwrap().len(),
        started.elapsed()
    );

    let client_count = 200;
    let started = Instant::now();
    for _ in 0..client_count {
        cw_get(&sandbox, CW_FULL, "company/companies?pageSize=25")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    println!(
        "sequential requests/s for a 25-row page: {:.0}",
        client_count as f64 / started.elapsed().as_secs_f64()
    );
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
        (rss_kib().saturating_sub(before)) / 1024
    );
    big.stop().await.unwrap();
}
