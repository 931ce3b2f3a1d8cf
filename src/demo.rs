//! `sync365 demo`: a fresh demo database in a temporary directory, the PSA sandbox and the
//! portal together, with a demo sign-in and the sandbox values to type into the forms.

use std::net::TcpListener;

use figment::Figment;
use figment::providers::Serialized;
use secrecy::SecretString;

use crate::config::{RawSettings, Settings};
use crate::sandbox::{self, SandboxConfig};
use crate::store::users::{self, NewUser, Role};
use crate::{Application, password};

/// Options of `sync365 demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where the portal listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Where the sandbox listens.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub sandbox_bind: String,
}

const DEMO_EMAIL: &str = "demo@contoso.example";
const DEMO_PASSWORD: &str = "demo-password-365";

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("sync365-demo-").tempdir()?;
    let sandbox = sandbox::start(SandboxConfig::default(), bind(&args.sandbox_bind)?).await?;
    let settings = demo_settings(&sandbox, dir.path(), &args.bind)?;
    create_demo_user(&settings).await?;
    let app = Application::build(settings, bind(&args.bind)?).await?;
    print_banner(&app, &sandbox);
    tokio::select! {
        result = app.server => result?,
        _ = tokio::signal::ctrl_c() => println!("\nstopping the demo"),
    }
    sandbox.stop().await?;
    Ok(())
}

fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {addr}: {e} (choose another with --bind / --sandbox-bind)"
        )
    })
}

fn demo_settings(
    sb: &sandbox::RunningSandbox,
    dir: &std::path::Path,
    bind: &str,
) -> anyhow::Result<Settings> {
    let mut figment = Figment::from(Serialized::defaults(RawSettings::default()))
        .merge((
            "database_url",
            format!("sqlite://{}/demo.db?mode=rwc", dir.display()),
        ))
        .merge(("data_dir", dir.display().to_string()))
        .merge(("bind", bind.to_string()));
    for (key, value) in sb.portal_settings() {
        let key = key.trim_start_matches("SYNC365_").to_lowercase();
        figment = match value.as_str() {
            "true" | "false" => figment.merge((key, value == "true")),
            _ => figment.merge((key, value)),
        };
    }
    Ok(Settings::from_figment(figment)?)
}

/// Made before the portal starts, so the demo skips the first-run setup.
async fn create_demo_user(settings: &Settings) -> anyhow::Result<()> {
    let db = &crate::store::connect(&settings.database_url).await?;
    crate::store::migrate(db).await?;
    let tenant = users::find_or_insert_tenant(db, "Contoso IT (demo)").await?;
    let hash = password::hash(SecretString::from(DEMO_PASSWORD)).await?;
    let new = NewUser {
        tenant_id: Some(tenant.id),
        email: DEMO_EMAIL,
        password_hash: hash,
        role: Role::Admin,
        is_support: false,
        must_change_password: false,
    };
    users::insert_user(db, new).await?;
    Ok(())
}

fn print_banner(app: &Application, sb: &sandbox::RunningSandbox) {
    let portal = format!("http://{}:{}", app.state.settings.bind.ip(), app.port);
    println!("Sync 365 demo\n");
    println!("  Portal:   {portal}/login");
    println!("  Sign in:  {DEMO_EMAIL} / {DEMO_PASSWORD}\n");
    println!(
        "Then Tools > Integration Settings > + and type these SANDBOX values (not real credentials):\n"
    );
    println!("  ConnectWise  Company ID: sandbox   ConnectWise URL: North America");
    println!("               Public key: FullAccessPub001   Private key: FullAccessPriv01");
    println!("  Autotask     Zone: webservices2 (or leave empty)");
    println!(
        "               Username: sbxfullapi00001@SANDBOX.EXAMPLE   Secret: Full*Secret#001\n"
    );
    println!(
        "  PSA sandbox: {} (its other accounts, one per failure: {}/_sandbox/accounts)",
        sb.base_url, sb.base_url
    );
    println!(
        "\nThe demo database lives in a temporary directory and is deleted on exit. Ctrl-C stops both."
    );
}
