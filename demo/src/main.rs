//! `make demo`: the whole system running locally, deployed the way `make deploy` deploys it.
//!
//! 1. **organization**: the emulator (with its Lambda runner), an organization with a reporting
//!    account and an organizational unit of member accounts;
//! 2. **fleet**: `fleet-sim` plans the fleet; Systems Manager in each member account and Region
//!    knows its nodes; the first member account already has a Config recorder (as a Control
//!    Tower account does);
//! 3. **deploy**: `make deploy` (deploy/deploy.py) with a configuration for this organization:
//!    the central and QuickSight stacks, the member StackSets in every member account and Region,
//!    every custom resource answered by its function's real binary;
//! 4. **data**: the first day's data arrives as the syncs and Config write it; every Config delivery's
//!    S3 notification reaches `config-partitioner`;
//! 5. **crawl**: the stack's crawler runs; its success event reaches `glue-column-remover`;
//! 6. **sync-monitor**: its schedule fires;
//! 7. **report**: the central stack's report schedule fires once a day for `--days` days, each
//!    day's fleet arriving before its run (fleet-sim's days: the fleet grows to its full size):
//!    `compliance-report` runs the named queries and datasets through the emulator's Athena and
//!    writes report.html, CSVs and summary.json to the reports bucket, with a trend and patch
//!    ages from its history; the last run's files are read back into `--out`;
//! 8. **update**: `make deploy` with a changed file (a second QuickSight principal, the data kept
//!    on deletion turned off): change sets, custom resources updated in place;
//! 9. **undeploy**: `make undeploy`, StackSets first; `s3-cleanup` empties the buckets.
//!
//! Each step prints what it did, the API calls it made, its wall time, and each function's init
//! time and peak memory. A failing step stops the run with its reason; the emulator and every
//! function process stop with the run (also on Ctrl-C).

mod context;
mod steps;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use context::Demo;
use fleet_sim::cli::FleetArgs;
use local_aws::workspace_root;

/// The whole system running locally, ending in a compliance report.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Args {
    /// The organization to simulate.
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// A fleet folder to use instead of simulating one: fleet.json (its `now`), sync/ and
    /// config/ laid out as fleet-sim writes them locally. Its data arrives as it is, whatever
    /// accounts it names; Systems Manager registers none of its nodes (the tagger has nothing to
    /// tag). The report tests use it for hand-made edge cases.
    #[arg(long)]
    pub fleet_dir: Option<PathBuf>,
    /// Days the report runs on, one run a day ending at the fleet's present: the fleet of each
    /// day (fleet-sim's days: it grows to its full size, each node the same every day it exists),
    /// so the report has a trend and patch ages. A `--fleet-dir` fleet has one day.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=30))]
    pub days: u16,
    /// Where the report and everything else the run writes go.
    #[arg(long, default_value_os_t = workspace_root().join("demo-output"))]
    pub out: PathBuf,
    /// The functions' binaries: a Cargo target folder (target/debug: the runner runs
    /// `<bin-dir>/<crate>` for each package) or `make build`'s dist/lambda, whose zips are
    /// published and run as they are.
    #[arg(long, default_value_os_t = workspace_root().join("target/debug"))]
    pub bin_dir: PathBuf,
    /// The project's Python (the emulator, deploy/deploy.py).
    #[arg(long, default_value_os_t = workspace_root().join(".venv/bin/python"))]
    pub python: PathBuf,
}

async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    // Re-running is safe: every run starts from a fresh emulator and a fresh output folder.
    for stale in ["fleet", "days", "dist"] {
        let _ = std::fs::remove_dir_all(args.out.join(stale));
    }
    let mut demo = Demo::start(args).await?;
    demo.step("organization", steps::organization::run).await?;
    demo.step("fleet", steps::fleet::run).await?;
    demo.step("deploy", steps::deploy::run).await?;
    demo.step("data arrives", steps::data::run).await?;
    demo.step("crawl", steps::crawl::run).await?;
    demo.step("schedules", steps::schedules::run).await?;
    demo.step("sync-monitor", steps::monitor::run).await?;
    demo.step("compliance report", steps::report::run).await?;
    demo.step("stack update", steps::deploy::update).await?;
    demo.step("undeploy", steps::deploy::undeploy).await?;
    demo.write_calls_by_function().await?;
    demo.print_summary(started);
    println!("\nreport: {}", demo.args.out.join("report.html").display());
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Ctrl-C drops the run: the emulator and function processes are killed with their handles.
    tokio::select! {
        result = run(args) => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("\ndemo failed: {e:#}");
                ExitCode::FAILURE
            }
        },
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ndemo interrupted: stopping the emulator and the functions");
            ExitCode::from(130)
        }
    }
}
