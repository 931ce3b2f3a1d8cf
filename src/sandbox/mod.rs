//! A local PSA sandbox serving the ConnectWise Manage and Autotask REST APIs over seeded data.
//!
//! One listener serves both vendors and every Autotask zone. Tests and the demo start it with
//! [`start`] on a listener they bound themselves; `sync365 sandbox` runs it through
//! [`run_cli`]. The `/_sandbox/` control endpoints (request log, faults, reset) need no
//! credentials: the sandbox is for local use only.

pub mod accounts;
pub mod autotask;
pub mod connectwise;
pub mod data;
pub mod faults;
pub mod log;
mod server;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};

pub use accounts::{Accounts, AtLevel, AtUser, CwMember, CwProfile};
pub use autotask::limits::AutotaskLimits;
pub use data::DataSizes;
pub use faults::Faults;
pub use log::{LoggedRequest, Vendor};
pub use tls::TlsMaterial;

use server::State;

/// Command-line options of `sync365 sandbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub bind: String,
    /// Seed of the generated data; the same seed gives the same data.
    #[arg(long, default_value_t = 365)]
    pub seed: u64,
    /// Companies (Autotask Companies too).
    #[arg(long, default_value_t = DataSizes::default().companies)]
    pub companies: usize,
    /// Contacts per company.
    #[arg(long, default_value_t = DataSizes::default().contacts_per_company)]
    pub contacts_per_company: usize,
    /// ConnectWise agreements, which are also the Autotask contracts.
    #[arg(long, alias = "contracts", default_value_t = DataSizes::default().agreements)]
    pub agreements: usize,
    /// Catalog items (Autotask Products; recurring ones are also Services).
    #[arg(long, default_value_t = DataSizes::default().products)]
    pub products: usize,
    /// Autotask tickets.
    #[arg(long, default_value_t = DataSizes::default().tickets)]
    pub tickets: usize,
    /// TOML or JSON file replacing the default accounts (same shape as `GET /_sandbox/accounts`).
    #[arg(long)]
    pub accounts: Option<PathBuf>,
    /// Serve https with a freshly generated certificate authority.
    #[arg(long, requires = "ca_out")]
    pub https: bool,
    /// Directory to write the CA certificate (`sandbox-ca.pem`) into.
    #[arg(long)]
    pub ca_out: Option<PathBuf>,
    /// Delay added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Answer 429 to every Nth request.
    #[arg(long)]
    pub throttle_every: Option<u64>,
    /// Seconds announced in Retry-After.
    #[arg(long)]
    pub retry_after_secs: Option<u64>,
    /// Fail this many consecutive requests (then recover).
    #[arg(long, default_value_t = 0)]
    pub error_burst: u64,
    /// Status of burst failures (500 or 503).
    #[arg(long)]
    pub error_status: Option<u16>,
    /// Repeat the burst every N requests.
    #[arg(long)]
    pub error_every: Option<u64>,
    /// Cut every Nth body in half.
    #[arg(long)]
    pub truncate_every: Option<u64>,
    /// Drop the connection of every Nth request.
    #[arg(long)]
    pub reset_every: Option<u64>,
    /// Stream bodies slowly, pausing this many milliseconds between chunks.
    #[arg(long, default_value_t = 0)]
    pub slow_body_ms: u64,
    /// Answer every Nth request with a redirect to `--redirect-to`.
    #[arg(long)]
    pub redirect_every: Option<u64>,
    /// Where redirects point (default `https://example.invalid/`).
    #[arg(long)]
    pub redirect_to: Option<String>,
    /// Status of redirects: 301, 302, 303, 307 or 308 (default 302).
    #[arg(long)]
    pub redirect_status: Option<u16>,
    /// Autotask requests allowed per hour before refusal.
    #[arg(long, default_value_t = AutotaskLimits::default().hourly_threshold)]
    pub autotask_hourly_threshold: u32,
    /// Autotask concurrent threads per integration code and entity.
    #[arg(long, default_value_t = AutotaskLimits::default().threads)]
    pub autotask_threads: u32,
}

/// How to start a sandbox. `Default` is the small data set with the default accounts.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub seed: u64,
    pub sizes: DataSizes,
    pub accounts: Accounts,
    pub faults: Faults,
    pub autotask_limits: AutotaskLimits,
    /// Serve https with this material instead of plain http.
    pub tls: Option<TlsMaterial>,
    /// Actix workers; two are plenty for tests.
    pub workers: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            seed: 365,
            sizes: DataSizes::default(),
            accounts: Accounts::default(),
            faults: Faults::default(),
            autotask_limits: AutotaskLimits::default(),
            tls: None,
            workers: 2,
        }
    }
}

/// A started sandbox. Dropping it leaves the server running until the runtime ends; call
/// [`RunningSandbox::stop`] to stop it.
pub struct RunningSandbox {
    /// `http://127.0.0.1:PORT` (or https), without a trailing slash.
    pub base_url: String,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts the sandbox on a listener the caller bound (port 0 in tests).
pub async fn start(
    config: SandboxConfig,
    listener: std::net::TcpListener,
) -> anyhow::Result<RunningSandbox> {
    let address = listener.local_addr()?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let state = Arc::new(State {
        data: data::Dataset::generate(config.seed, config.sizes),
        accounts: config.accounts,
        faults: faults::FaultControl::new(config.faults.clone()),
        startup_faults: config.faults,
        log: log::RequestLog::default(),
        autotask_limits: config.autotask_limits,
        limiter: autotask::limits::Limiter::default(),
    });
    let shared = web::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
            .configure(server::control_routes)
            .default_service(web::to(server::dispatch))
    })
    .workers(config.workers.max(1))
    .disable_signals()
    .shutdown_timeout(1);
    let server = match &config.tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls.server_config()?)?,
        None => server.listen(listener)?,
    }
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(RunningSandbox {
        base_url: format!("{scheme}://{address}"),
        state,
        handle,
        task,
    })
}

impl RunningSandbox {
    /// Every request answered since the last reset.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.log.entries()
    }

    pub fn clear_requests(&self) {
        self.state.log.clear();
    }

    /// Replaces the faults (and restarts the fault counter).
    pub fn set_faults(&self, faults: Faults) {
        self.state.faults.set(faults);
    }

    pub fn faults(&self) -> Faults {
        self.state.faults.get()
    }

    /// Clears the log and usage counters and restores the startup faults.
    pub fn reset(&self) {
        self.state.reset();
    }

    pub fn accounts(&self) -> &Accounts {
        &self.state.accounts
    }

    /// The portal settings that point it at this sandbox, as (variable, value).
    pub fn portal_settings(&self) -> Vec<(String, String)> {
        let base = &self.base_url;
        let accounts = &self.state.accounts;
        vec![
            (
                "SYNC365_CONNECTWISE_CLIENT_ID".into(),
                accounts.connectwise.client_id.clone(),
            ),
            (
                "SYNC365_CONNECTWISE_REGION_URLS".into(),
                format!("na={base},eu={base},aus={base}"),
            ),
            (
                "SYNC365_AUTOTASK_INTEGRATION_CODE".into(),
                accounts.autotask.integration_code.clone(),
            ),
            (
                "SYNC365_AUTOTASK_ZONE_LOOKUP_URL".into(),
                format!("{base}/atservicesrest/"),
            ),
            (
                "SYNC365_AUTOTASK_ZONE_URL_TEMPLATE".into(),
                format!("{base}/{{zone}}/atservicesrest/"),
            ),
            ("SYNC365_OUTBOUND_ALLOW_PRIVATE".into(), "true".into()),
        ]
    }

    /// Stops accepting requests and waits for the server to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.handle.stop(true).await;
        self.task.await??;
        Ok(())
    }
}

impl SandboxArgs {
    fn config(&self) -> anyhow::Result<SandboxConfig> {
        let accounts = match &self.accounts {
            Some(path) => Accounts::load(path)?,
            None => Accounts::default(),
        };
        let tls = if self.https {
            Some(TlsMaterial::generate()?)
        } else {
            None
        };
        Ok(SandboxConfig {
            seed: self.seed,
            sizes: self.sizes(),
            accounts,
            faults: self.faults(),
            autotask_limits: AutotaskLimits {
                threads: self.autotask_threads,
                hourly_threshold: self.autotask_hourly_threshold,
                ..AutotaskLimits::default()
            },
            tls,
            workers: 2,
        })
    }

    fn sizes(&self) -> DataSizes {
        DataSizes {
            companies: self.companies,
            contacts_per_company: self.contacts_per_company,
            agreements: self.agreements,
            products: self.products,
            tickets: self.tickets,
        }
    }

    fn faults(&self) -> Faults {
        Faults {
            latency_ms: self.latency_ms,
            throttle_every: self.throttle_every,
            retry_after_secs: self.retry_after_secs,
            error_burst: self.error_burst,
            error_status: self.error_status,
            error_every: self.error_every,
            truncate_every: self.truncate_every,
            reset_every: self.reset_every,
            slow_body_ms: self.slow_body_ms,
            redirect_every: self.redirect_every,
            redirect_to: self.redirect_to.clone(),
            redirect_status: self.redirect_status,
        }
    }
}

/// Runs the sandbox until Ctrl-C.
pub async fn run_cli(args: SandboxArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let ca_path = match (&config.tls, &args.ca_out) {
        (Some(tls), Some(dir)) => Some(tls.write_ca(dir)?),
        _ => None,
    };
    let listener = std::net::TcpListener::bind(&args.bind)?;
    let sandbox = start(config, listener).await?;
    print_banner(&sandbox, ca_path.as_deref());
    tokio::signal::ctrl_c().await?;
    println!("Stopping the sandbox.");
    sandbox.stop().await
}

fn print_banner(sandbox: &RunningSandbox, ca_path: Option<&std::path::Path>) {
    let base = &sandbox.base_url;
    let accounts = sandbox.accounts();
    println!("PSA sandbox listening on {base}\n");
    println!("Point the portal at it:");
    for (name, value) in sandbox.portal_settings() {
        println!("  {name}={value}");
    }
    if let Some(path) = ca_path {
        println!("  SYNC365_EXTRA_CA_FILE={}", path.display());
    }
    println!(
        "\nConnectWise (site URL {base}; clientId header {}):",
        accounts.connectwise.client_id
    );
    for company in &accounts.connectwise.companies {
        println!(
            "  company {} codebase {} cloud {}",
            company.company_id, company.codebase, company.is_cloud
        );
    }
    for m in &accounts.connectwise.members {
        println!(
            "  {:<14} public {}  private {}  ({})",
            m.company_id, m.public_key, m.private_key, m.label
        );
    }
    println!(
        "\nAutotask (ApiIntegrationCode {}):",
        accounts.autotask.integration_code
    );
    for u in &accounts.autotask.users {
        println!(
            "  {:<34} secret {:<16} zone {:<13} ({})",
            u.username, u.secret, u.zone, u.label
        );
    }
    println!(
        "\nControl (local use only, no credentials): GET {base}/_sandbox/requests, POST {base}/_sandbox/faults, POST {base}/_sandbox/reset"
    );
    println!("Press Ctrl-C to stop.");
}
