//! Benchmark: Autotask retrieval against the PSA sandbox (run as its own process, so the
//! memory figures are the connector's): 10k companies, 15k contracts with their services and
//! units, 3k products, at 0 and 30 ms of injected latency. Wall time, requests made against
//! the fewest possible, and peak memory.
//!
//! `cargo bench --bench autotask_retrieval` (add `--profile dev` to skip a release build).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use sync365::domain::autotask::Zone;
use sync365::psa::autotask::{Autotask, Credentials, ServerSettings};
use sync365::psa::http::OutboundPolicy;
use sync365::psa::records::Phase;
use sync365::psa::{Agreement, AgreementLine, Customer, Product, PsaError, RecordSink};

const CODE: &str = "SYNC365SANDBOXCODE";
const USER: &str = "sbxfullapi00001@SANDBOX.EXAMPLE";
const SECRET: &str = "Full*Secret#001";

/// Counts what arrives and keeps nothing, like a sink that writes each page and lets it go.
#[derive(Default)]
struct Tally {
    expected: Vec<(Phase, u64)>,
    customers: u64,
    agreements: u64,
    lines: u64,
    lines_with_units: u64,
    products: u64,
}

#[async_trait::async_trait]
impl RecordSink for Tally {
    async fn expect(&mut self, phase: Phase, total: u64) -> Result<(), PsaError> {
        self.expected.push((phase, total));
        Ok(())
    }
    async fn customers(&mut self, page: Vec<Customer>) -> Result<(), PsaError> {
        self.customers += page.len() as u64;
        Ok(())
    }
    async fn agreements(&mut self, page: Vec<Agreement>) -> Result<(), PsaError> {
        self.agreements += page.len() as u64;
        Ok(())
    }
    async fn agreement_lines(&mut self, page: Vec<AgreementLine>) -> Result<(), PsaError> {
        self.lines += page.len() as u64;
        self.lines_with_units += page
            .iter()
            .filter(|l| l.status.as_deref() == Some("Current"))
            .count() as u64;
        Ok(())
    }
    async fn products(&mut self, page: Vec<Product>) -> Result<(), PsaError> {
        self.products += page.len() as u64;
        Ok(())
    }
}

/// The sandbox binary, killed when dropped.
struct Sandbox {
    child: Child,
    base: String,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_sandbox(latency_ms: u64) -> anyhow::Result<Sandbox> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_sync365"))
        .args(["sandbox", "--bind", &format!("127.0.0.1:{port}")])
        .args([
            "--companies",
            "10000",
            "--agreements",
            "15000",
            "--products",
            "3000",
        ])
        .args(["--contacts-per-company", "0", "--tickets", "10"])
        .args(["--latency-ms", &latency_ms.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let sandbox = Sandbox {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let probe = format!("{}/atservicesrest/VersionInformation", sandbox.base);
    for _ in 0..600 {
        if reqwest::get(&probe)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(sandbox);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the sandbox did not start")
}

fn connector(base: &str) -> anyhow::Result<Autotask> {
    let mut server = ServerSettings::new(
        SecretString::from(CODE),
        &format!("{base}/atservicesrest/"),
        &format!("{base}/{{zone}}/atservicesrest/"),
    )?;
    server.entity_concurrency = 3;
    let creds = Credentials {
        zone: Zone::parse("webservices2")?,
        username: USER.into(),
        secret: SecretString::from(SECRET),
    };
    let policy = OutboundPolicy {
        allow_private: true,
        ..OutboundPolicy::default()
    };
    Ok(Autotask::new(creds, &server, &policy)?)
}

/// Resident memory figures from /proc, in KiB: (current, peak since the last reset).
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default();
        line.split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Forgets the peak so far (Linux: writing 5 to clear_refs resets VmHWM to the current RSS).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn logged_requests(base: &str) -> anyhow::Result<u64> {
    let log: Vec<serde_json::Value> = reqwest::get(format!("{base}/_sandbox/requests"))
        .await?
        .json()
        .await?;
    Ok(log.iter().filter(|r| r["vendor"] == "autotask").count() as u64)
}

/// The fewest requests that could fetch the same rows: one per 500 rows of each entity, plus
/// the five counts.
fn minimum(t: &Tally) -> u64 {
    let expected = |phase| {
        t.expected
            .iter()
            .find(|(p, _)| *p == phase)
            .map_or(0, |(_, n)| *n)
    };
    let pages = |rows: u64| rows.div_ceil(500).max(1);
    pages(t.customers)
        + pages(expected(Phase::Agreements))
        + pages(expected(Phase::AgreementLines))
        + pages(t.lines_with_units)
        + pages(expected(Phase::Products).saturating_sub(3000))
        + pages(3000)
        + 5
}

async fn run(latency_ms: u64) -> anyhow::Result<()> {
    let sandbox = start_sandbox(latency_ms).await?;
    let autotask = connector(&sandbox.base)?;
    let mut tally = Tally::default();
    let (rss_before, _) = memory_kib();
    reset_peak();
    let started = Instant::now();
    autotask.retrieve(&mut tally).await?;
    let wall = started.elapsed();
    let (_, peak) = memory_kib();
    let requests = logged_requests(&sandbox.base).await?;
    println!(
        "latency {latency_ms:>2} ms: {:>6.2} s wall, {requests} requests (minimum {}), peak RSS +{} KiB over {} KiB; \
         {} customers, {} contracts, {} contract services ({} with current units), {} catalog items",
        wall.as_secs_f64(),
        minimum(&tally),
        peak.saturating_sub(rss_before),
        rss_before,
        tally.customers,
        tally.agreements,
        tally.lines,
        tally.lines_with_units,
        tally.products,
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for latency in [0, 30] {
            run(latency).await?;
        }
        Ok(())
    })
}
