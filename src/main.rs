//! The `sync365` command line: serve (default), sandbox, user, migrate.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = sync365::cli::Cli::parse();
    if let Err(e) = sync365::cli::run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
