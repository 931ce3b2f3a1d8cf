//! The `sync365` command line: serve (default), demo, sandbox, user, migrate.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sync365", version, about = "Sync 365 portal: connect your PSA")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local PSA sandbox (ConnectWise and Autotask APIs over seeded data).
    Sandbox(sync365::sandbox::SandboxArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Sandbox(args)) => sync365::sandbox::run_cli(args).await,
        None => Ok(()),
    }
}
