//! Benchmark: a full ConnectWise retrieval from the sandbox (10k companies, 20k agreements with
//! additions, 3k products) at 0 and 30 ms injected latency: wall time against the least
//! possible, requests against the fewest possible, peak memory.
//!
//! The sandbox runs as a separate process (`sync365 sandbox`), so the peak memory measured here
//! is the connector's alone.
//!
//! Run: `cargo bench --bench connectwise_retrieval` (add `--profile dev` on a busy machine;
//! `-- --quick` for a small data set). `tests/bench/run.sh` runs it and collects the rows.

mod common;

use std::time::{Duration, Instant};

use sync365::domain::connectwise::{CompanyId, Site};
use sync365::psa::PsaError;
use sync365::psa::connectwise::{ConnectWise, Credentials, ServerSettings};
use sync365::psa::http::OutboundPolicy;
use sync365::psa::records::{Agreement, AgreementLine, Customer, Phase, Product, RecordSink};
use sync365::sandbox::accounts;

use common::{Outcome, proc_kib, reset_peak, short};

/// The data set the sandbox serves.
#[derive(Clone, Copy)]
struct Sizes {
    companies: usize,
    agreements: usize,
    products: usize,
}

impl Sizes {
    const STANDARD: Self = Self {
        companies: 10_000,
        agreements: 20_000,
        products: 3_000,
    };
    const QUICK: Self = Self {
        companies: 1_000,
        agreements: 1_000,
        products: 300,
    };

    fn label(&self) -> String {
        format!(
            "{} companies, {} agreements, {} products",
            short(self.companies),
            short(self.agreements),
            short(self.products)
        )
    }
}

/// Counts records and drops them, so the peak memory is the connector's own.
#[derive(Default)]
struct Counting {
    customers: usize,
    agreements: usize,
    /// Active agreements: each needs a request of its own for its additions.
    active: usize,
    lines: usize,
    products: usize,
}

impl Counting {
    /// The fewest requests that fetch the same rows: a count and one request per page of 1000
    /// for companies, agreements and catalog items, and one per active agreement for its
    /// additions (ConnectWise lists additions per agreement only).
    fn minimum(&self) -> u64 {
        let pages = |rows: usize| rows.div_ceil(1000).max(1) as u64;
        3 + pages(self.customers)
            + pages(self.agreements)
            + self.active as u64
            + pages(self.products)
    }
}

#[async_trait::async_trait]
impl RecordSink for Counting {
    async fn expect(&mut self, _: Phase, _: u64) -> Result<(), PsaError> {
        Ok(())
    }
    async fn customers(&mut self, page: Vec<Customer>) -> Result<(), PsaError> {
        self.customers += page.len();
        Ok(())
    }
    async fn agreements(&mut self, page: Vec<Agreement>) -> Result<(), PsaError> {
        self.agreements += page.len();
        self.active += page.iter().filter(|a| is_active(a)).count();
        Ok(())
    }
    async fn agreement_lines(&mut self, page: Vec<AgreementLine>) -> Result<(), PsaError> {
        self.lines += page.len();
        Ok(())
    }
    async fn products(&mut self, page: Vec<Product>) -> Result<(), PsaError> {
        self.products += page.len();
        Ok(())
    }
}

/// The connector reads additions of active agreements only; the sandbox always sends a status.
fn is_active(agreement: &Agreement) -> bool {
    let status = agreement.status.as_deref().unwrap_or_default();
    status.eq_ignore_ascii_case("active")
}

/// The sandbox child process and its control endpoints.
struct Sandbox {
    base_url: String,
    child: std::process::Child,
    control: reqwest::Client,
}

impl Sandbox {
    async fn start(sizes: Sizes) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sync365"))
            .args(["sandbox", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--companies", &sizes.companies.to_string()])
            .args(["--agreements", &sizes.agreements.to_string()])
            .args(["--products", &sizes.products.to_string()])
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let sandbox = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
            control: reqwest::Client::new(),
        };
        for _ in 0..600 {
            if sandbox
                .control
                .get(sandbox.url("faults"))
                .send()
                .await
                .is_ok()
            {
                return Ok(sandbox);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("the sandbox did not start")
    }

    fn url(&self, what: &str) -> String {
        format!("{}/_sandbox/{what}", self.base_url)
    }

    async fn prepare(&self, latency_ms: u64) -> anyhow::Result<()> {
        let faults = serde_json::json!({ "latency_ms": latency_ms });
        self.control
            .post(self.url("faults"))
            .json(&faults)
            .send()
            .await?
            .error_for_status()?;
        self.control
            .delete(self.url("requests"))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    async fn request_count(&self) -> anyhow::Result<u64> {
        let log: Vec<serde_json::Value> = self
            .control
            .get(self.url("requests"))
            .send()
            .await?
            .json()
            .await?;
        Ok(log.len() as u64)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connector(sb: &Sandbox, concurrency: usize) -> Result<ConnectWise, PsaError> {
    let settings = ServerSettings {
        client_id: accounts::CW_CLIENT_ID.into(),
        page_concurrency: concurrency,
        ..ServerSettings::default()
    }
    .with_region_urls(&format!("na={}", sb.base_url))?;
    let creds = Credentials {
        company_id: CompanyId::parse(accounts::CW_COMPANY_ID)
            .map_err(|e| PsaError::Store(e.to_string()))?,
        site: Site::Cloud("na".into()),
        public_key: "FullAccessPub001".to_string().into(),
        private_key: "FullAccessPriv01".to_string().into(),
    };
    let policy = OutboundPolicy {
        allow_private: true,
        ..OutboundPolicy::default()
    };
    ConnectWise::new(creds, &settings, &policy)
}

async fn run_once(
    sb: &Sandbox,
    sizes: Sizes,
    latency_ms: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    sb.prepare(latency_ms).await?;
    reset_peak();
    let before = proc_kib("VmRSS:");
    let started = Instant::now();
    let mut sink = Counting::default();
    connector(sb, concurrency)?.retrieve(&mut sink).await?;
    let took: Duration = started.elapsed();
    let peak = proc_kib("VmHWM:");
    let requests = sb.request_count().await?;
    println!(
        "latency {latency_ms:>2} ms, concurrency {concurrency}: {:>7.2} s, {requests:>6} requests (minimum {}), {} customers, {} agreements ({} active), {} additions, {} products, RSS before {} MiB, peak {} MiB",
        took.as_secs_f64(),
        sink.minimum(),
        sink.customers,
        sink.agreements,
        sink.active,
        sink.lines,
        sink.products,
        before / 1024,
        peak / 1024,
    );
    Outcome {
        what: format!(
            "ConnectWise retrieval, {}; {latency_ms} ms latency, {concurrency} in flight",
            sizes.label()
        ),
        took,
        requests,
        minimum: sink.minimum(),
        concurrency: concurrency as u64,
        latency_ms,
        peak_kib: peak,
    }
    .print_row();
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = common::quick();
    let sizes = if quick { Sizes::QUICK } else { Sizes::STANDARD };
    let runs: &[(u64, usize)] = if quick {
        &[(0, 4), (30, 4)]
    } else {
        &[(0, 4), (30, 4), (30, 8)]
    };
    let sb = Sandbox::start(sizes).await?;
    for &(latency, concurrency) in runs {
        run_once(&sb, sizes, latency, concurrency).await?;
    }
    Ok(())
}
