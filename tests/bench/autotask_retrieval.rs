//! Benchmark: Autotask retrieval against the PSA sandbox (run as its own process, so the
//! memory figures are the connector's): 10k companies, 15k contracts with their services and
//! units, 3k products, at 0 and 30 ms of injected latency. Wall time, requests made against
//! the fewest possible, and peak memory.
//!
//! `cargo bench --bench autotask_retrieval` (add `--profile dev` to skip a release build;
//! `-- --quick` for a small data set). `tests/bench/run.sh` runs it and collects the rows.

mod common;

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

/// Requests the connector may have in flight per entity: Autotask's thread limit.
const CONCURRENCY: usize = 3;

use common::{Outcome, proc_kib, reset_peak, short};

/// The data set the sandbox serves.
#[derive(Clone, Copy)]
struct Sizes {
    companies: usize,
    contracts: usize,
    products: usize,
}

impl Sizes {
    const STANDARD: Self = Self {
        companies: 10_000,
        contracts: 15_000,
        products: 3_000,
    };
    const QUICK: Self = Self {
        companies: 1_000,
        contracts: 1_500,
        products: 300,
    };

    fn label(&self) -> String {
        format!(
            "{} companies, {} contracts, {} products",
            short(self.companies),
            short(self.contracts),
            short(self.products)
        )
    }
}

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

async fn start_sandbox(sizes: Sizes, latency_ms: u64) -> anyhow::Result<Sandbox> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_sync365"))
        .args(["sandbox", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--companies", &sizes.companies.to_string()])
        .args(["--agreements", &sizes.contracts.to_string()])
        .args(["--products", &sizes.products.to_string()])
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
    server.entity_concurrency = CONCURRENCY;
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

async fn logged_requests(base: &str) -> anyhow::Result<u64> {
    let log: Vec<serde_json::Value> = reqwest::get(format!("{base}/_sandbox/requests"))
        .await?
        .json()
        .await?;
    Ok(log.iter().filter(|r| r["vendor"] == "autotask").count() as u64)
}

/// The fewest requests that could fetch the same rows: one per 500 rows of each entity, plus
/// the five counts. The catalog's 3000 products in the sandbox are counted apart from its
/// services, as they are read by separate queries.
fn minimum(t: &Tally, products: usize) -> u64 {
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
        + pages(expected(Phase::Products).saturating_sub(products as u64))
        + pages(products as u64)
        + 5
}

async fn run(sizes: Sizes, latency_ms: u64) -> anyhow::Result<()> {
    let sandbox = start_sandbox(sizes, latency_ms).await?;
    let autotask = connector(&sandbox.base)?;
    let mut tally = Tally::default();
    let rss_before = proc_kib("VmRSS:");
    reset_peak();
    let started = Instant::now();
    autotask.retrieve(&mut tally).await?;
    let wall = started.elapsed();
    let peak = proc_kib("VmHWM:");
    let requests = logged_requests(&sandbox.base).await?;
    let minimum = minimum(&tally, sizes.products);
    println!(
        "latency {latency_ms:>2} ms: {:>6.2} s wall, {requests} requests (minimum {minimum}), peak RSS +{} KiB over {} KiB; \
         {} customers, {} contracts, {} contract services ({} with current units), {} catalog items",
        wall.as_secs_f64(),
        peak.saturating_sub(rss_before),
        rss_before,
        tally.customers,
        tally.agreements,
        tally.lines,
        tally.lines_with_units,
        tally.products,
    );
    Outcome {
        what: format!(
            "Autotask retrieval, {}; {latency_ms} ms latency, {CONCURRENCY} in flight per entity",
            sizes.label()
        ),
        took: wall,
        requests,
        minimum,
        concurrency: CONCURRENCY as u64,
        latency_ms,
        peak_kib: peak,
    }
    .print_row();
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let sizes = if common::quick() {
        Sizes::QUICK
    } else {
        Sizes::STANDARD
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for latency in [0, 30] {
            run(sizes, latency).await?;
        }
        Ok(())
    })
}
