//! Benchmark: a full ConnectWise retrieval from the sandbox (10k companies, 20k agreements with
//! additions, 3k products) at 0 and 30 ms injected latency: wall time, requests, peak memory.
//!
//! The sandbox runs as a separate process (`sync365 sandbox`), so the peak memory measured here
//! is the connector's alone.
//!
//! Run: `cargo bench --bench connectwise_retrieval` (add `--profile dev` on a busy machine).

use std::time::{Duration, Instant};

use sync365::domain::connectwise::{CompanyId, Site};
use sync365::psa::PsaError;
use sync365::psa::connectwise::{ConnectWise, Credentials, ServerSettings};
use sync365::psa::http::OutboundPolicy;
use sync365::psa::records::{Agreement, AgreementLine, Customer, Phase, Product, RecordSink};
use sync365::sandbox::accounts;

/// Counts records and drops them, so the peak memory is the connector's own.
#[derive(Default)]
struct Counting {
    customers: usize,
    agreements: usize,
    lines: usize,
    products: usize,
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

/// A `kB` figure from /proc/self/status (`VmHWM`, `VmRSS`).
fn proc_kb(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_default();
    let digits: String = line.chars().filter(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

/// Resets the peak-RSS mark (Linux: writing 5 to clear_refs), so each run measures its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The sandbox child process and its control endpoints.
struct Sandbox {
    base_url: String,
    child: std::process::Child,
    control: reqwest::Client,
}

impl Sandbox {
    async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sync365"))
            .args(["sandbox", "--bind", &format!("127.0.0.1:{port}")])
            .args([
                "--companies",
                "10000",
                "--agreements",
                "20000",
                "--products",
                "3000",
            ])
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

    async fn request_count(&self) -> anyhow::Result<usize> {
        let log: Vec<serde_json::Value> = self
            .control
            .get(self.url("requests"))
            .send()
            .await?
            .json()
            .await?;
        Ok(log.len())
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

async fn run_once(sb: &Sandbox, latency_ms: u64, concurrency: usize) -> anyhow::Result<()> {
    sb.prepare(latency_ms).await?;
    reset_peak();
    let before = proc_kb("VmRSS:");
    let started = Instant::now();
    let mut sink = Counting::default();
    connector(sb, concurrency)?.retrieve(&mut sink).await?;
    let took: Duration = started.elapsed();
    let peak = proc_kb("VmHWM:");
    println!(
        "latency {latency_ms:>2} ms, concurrency {concurrency}: {:>7.2} s, {:>6} requests, {} customers, {} agreements, {} additions, {} products, RSS before {} MiB, peak {} MiB",
        took.as_secs_f64(),
        sb.request_count().await?,
        sink.customers,
        sink.agreements,
        sink.lines,
        sink.products,
        before / 1024,
        peak / 1024,
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sb = Sandbox::start().await?;
    for (latency, concurrency) in [(0, 4), (30, 4), (30, 8)] {
        run_once(&sb, latency, concurrency).await?;
    }
    Ok(())
}
