//! `local-aws`: the local AWS emulator with a Lambda runner, for `make emulator`: functions that
//! stacks create in it run as their real binaries.
//!
//! ```sh
//! local-aws --port 5000 --bin-dir target/debug
//! ```

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use local_aws::Emulator;
use local_aws::runner::Runner;

/// The local AWS emulator (moto with our extensions) and the Lambda runner it forwards
/// invocations to, until Ctrl-C.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The emulator's port (0: a free one).
    #[arg(long, default_value_t = 5000)]
    port: u16,
    /// Run `<bin-dir>/<function>` (or `<bin-dir>/<function>/bootstrap`) instead of the `bootstrap`
    /// in a function's package named `<function>.zip`, e.g. `target/debug`.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The Python that runs the emulator (default: the project's .venv).
    #[arg(long, env = "EMULATOR_PYTHON")]
    python: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let python = args.python.unwrap_or_else(local_aws::emulator::python);
    let emulator = Emulator::start_on(&python, args.port)?;
    let runner = Runner::start(&emulator.endpoint(), args.bin_dir.as_deref()).await?;
    runner.register().await?;
    println!(
        "AWS_ENDPOINT_URL={} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        emulator.endpoint()
    );
    eprintln!(
        "emulator on {}, Lambda runner on {}; Ctrl-C stops both",
        emulator.endpoint(),
        runner.url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    for (function, stats) in runner.stats() {
        eprintln!(
            "{function}: {} invocations, {} errors, {} cold starts, init {:?}, peak {} KiB",
            stats.invocations, stats.errors, stats.cold_starts, stats.init, stats.peak_memory_kib
        );
    }
    Ok(())
}
