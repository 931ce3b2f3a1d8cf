//! A local PSA sandbox serving the ConnectWise Manage and Autotask REST APIs over seeded data.

/// Command-line options of `sync365 sandbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub bind: String,
}

/// Runs the sandbox until Ctrl-C.
pub async fn run_cli(_args: SandboxArgs) -> anyhow::Result<()> {
    anyhow::bail!("the sandbox is not built yet")
}
