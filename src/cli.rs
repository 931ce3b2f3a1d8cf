//! The command line's subcommands, each a plain async function over validated settings.

use std::io::Read;

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

use crate::config::Settings;
use crate::store::users::{self, NewUser, Role};
use crate::{Application, password, store};

#[derive(Parser)]
#[command(
    name = "sync365",
    version,
    about = "Sync 365 portal: connect an MSP's PSA and retrieve its customers, agreements and products"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run migrations and serve the portal (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Run the local PSA sandbox (ConnectWise and Autotask APIs over seeded data).
    // Boxed: its many knobs would make every other command as large.
    Sandbox(Box<crate::sandbox::SandboxArgs>),
    /// A fresh demo: temporary database, the sandbox and the portal together.
    Demo(crate::demo::DemoArgs),
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input. Creates the tenant if needed.
    Create(CreateUser),
}

#[derive(Args)]
pub struct CreateUser {
    /// The organisation (tenant) the user belongs to; ignored with --support.
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long)]
    pub email: String,
    #[arg(long, value_enum, default_value = "member")]
    pub role: RoleArg,
    /// A support user of the portal's operator: belongs to no tenant.
    #[arg(long)]
    pub support: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Member,
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(load_settings()?).await,
        Command::Migrate => migrate(load_settings()?).await,
        Command::User(UserCommand::Create(args)) => create_user(load_settings()?, args).await,
        Command::Demo(args) => {
            crate::telemetry::init("info");
            crate::demo::run(args).await
        }
        Command::Sandbox(args) => {
            crate::telemetry::init("info");
            crate::sandbox::run_cli(*args).await
        }
    }
}

fn load_settings() -> anyhow::Result<Settings> {
    let settings = Settings::load()?;
    crate::telemetry::init(&settings.log);
    Ok(settings)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(settings.bind)
        .map_err(|e| anyhow::anyhow!("SYNC365_BIND: cannot listen on {}: {e}", settings.bind))?;
    let app = Application::build(settings, listener).await?;
    tracing::info!(
        "Sync 365 portal listening on http://{}",
        app.state.settings.bind.ip().to_string() + ":" + &app.port.to_string()
    );
    app.server.await?;
    Ok(())
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let db = store::connect(&settings.database_url).await?;
    store::migrate(&db).await?;
    println!("migrations applied");
    Ok(())
}

async fn create_user(settings: Settings, args: CreateUser) -> anyhow::Result<()> {
    let email = crate::domain::account::parse_email(&args.email)?;
    let password = read_password()?;
    password::check_new(&password).map_err(|m| anyhow::anyhow!("password: {m}"))?;
    let db = store::connect(&settings.database_url).await?;
    store::migrate(&db).await?;
    let tenant_id = match (&args.tenant, args.support) {
        (_, true) => None,
        (Some(name), false) => Some(
            users::find_or_insert_tenant(&db, &crate::domain::account::parse_organisation(name)?)
                .await?
                .id,
        ),
        (None, false) => {
            anyhow::bail!("--tenant NAME is required (or --support for a support user)")
        }
    };
    let role = match args.role {
        RoleArg::Admin => Role::Admin,
        RoleArg::Member => Role::Member,
    };
    let password_hash = password::hash(SecretString::from(password)).await?;
    let new = NewUser {
        tenant_id,
        email: &email,
        password_hash,
        role,
        is_support: args.support,
        must_change_password: false,
    };
    match users::insert_user(&db, new).await {
        Ok(u) => println!("created user {} (id {})", u.email, u.id),
        Err(e) if users::is_unique_violation(&e) => {
            anyhow::bail!("a user with email {email} already exists")
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    Ok(input.lines().next().unwrap_or_default().to_string())
}
