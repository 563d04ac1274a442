//! What every step shares: the emulator and its Lambda runner, the organization, the fleet, the
//! deployment's outputs, and the per-step figures (API calls, wall time, functions' init time and
//! peak memory).

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_config::SdkConfig;
use local_aws::Emulator;
use local_aws::runner::{FunctionStats, Runner};
use serde_json::Value;

use crate::Args;

/// The organization's management account: moto's default account.
pub const MANAGEMENT: &str = "123456789012";

/// What one step did, for the closing table.
pub struct Step {
    pub name: String,
    pub calls: BTreeMap<String, u64>,
    pub wall: Duration,
    /// (function, init ms, peak MiB) of each function that ran in the step.
    pub functions: Vec<(String, u128, f64)>,
}

/// The run.
pub struct Demo {
    pub args: Args,
    pub emulator: Emulator,
    pub runner: Runner,
    /// The Region of the central stack (the first of the fleet's Regions).
    pub home: String,
    /// The organization's id, its OU of member accounts, the reporting account and the members.
    pub org_id: String,
    pub ou: String,
    pub central: String,
    pub members: Vec<String>,
    /// fleet-sim's ground truth, one line per node.
    pub truth: Vec<fleet_sim::truth::TruthLine>,
    /// The simulated present, epoch seconds.
    pub now: i64,
    /// Each stack's outputs after the last deployment (`central`, `quicksight`).
    pub outputs: Value,
    /// Each stack's resources after the last deployment, logical id -> physical id.
    pub resources: Value,
    pub steps: Vec<Step>,
}

impl Demo {
    /// Starts the emulator and its Lambda runner.
    pub async fn start(args: Args) -> anyhow::Result<Self> {
        let emulator = Emulator::start_with(&args.python)?;
        // A folder of cargo-lambda packages is published as it is; a Cargo target folder's
        // binaries stand in for the packages (see steps::deploy::packages).
        let bin_dir = (!is_dist(&args.bin_dir)).then_some(args.bin_dir.as_path());
        let runner = Runner::start(&emulator.endpoint(), bin_dir).await?;
        runner.register().await?;
        println!(
            "patch-compliance demo: {} nodes, {} accounts × {} Regions ({}); emulator at {}",
            args.fleet.nodes,
            args.fleet.accounts,
            args.fleet.regions.len(),
            args.fleet.regions.join(", "),
            emulator.endpoint()
        );
        println!(
            "functions from {}; output in {}",
            args.bin_dir.display(),
            args.out.display()
        );
        let home = args.fleet.regions[0].clone();
        Ok(Self {
            args,
            emulator,
            runner,
            home,
            org_id: String::new(),
            ou: String::new(),
            central: String::new(),
            members: Vec::new(),
            truth: Vec::new(),
            now: 0,
            outputs: Value::Null,
            resources: Value::Null,
            steps: Vec::new(),
        })
    }

    /// SDK configuration acting in `account` and `region` (the emulator maps an access key id that
    /// is an account id to that account).
    pub async fn sdk(&self, account: &str, region: &str) -> SdkConfig {
        let mut config = self.emulator.sdk_config(region, 3).await.into_builder();
        config.set_credentials_provider(Some(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new(account, "local", None, None, "demo"),
        )));
        config.build()
    }

    /// Runs `demo/<script>` with `args`, acting at the emulator; returns what it printed.
    pub async fn python_script(&self, script: &str, args: &[String]) -> anyhow::Result<Vec<u8>> {
        let output = tokio::process::Command::new(&self.args.python)
            .arg(local_aws::workspace_root().join("demo").join(script))
            .args(args)
            .env("AWS_ENDPOINT_URL", self.emulator.endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .await
            .with_context(|| format!("running {}: run `make setup`", self.args.python.display()))?;
        if !output.status.success() {
            anyhow::bail!(
                "demo/{script} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output.stdout)
    }

    /// An output of the central stack.
    pub fn central_output(&self, key: &str) -> anyhow::Result<String> {
        self.outputs["central"][key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("the central stack has no output {key}"))
    }

    async fn calls(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let mut all = BTreeMap::new();
        for region in &self.args.fleet.regions {
            for (op, n) in self.emulator.calls(region).await? {
                *all.entry(op).or_insert(0) += n;
            }
        }
        Ok(all)
    }

    async fn reset_calls(&self) -> anyhow::Result<()> {
        for region in &self.args.fleet.regions {
            self.emulator.reset_calls(region).await?;
        }
        Ok(())
    }

    /// Runs `body` as one step: times it, counts its API calls and the functions it ran, prints
    /// and records it.
    pub async fn step<F>(&mut self, name: &str, body: F) -> anyhow::Result<()>
    where
        F: AsyncFnOnce(&mut Demo) -> anyhow::Result<String>,
    {
        println!("\n▶ {name}");
        self.reset_calls().await?;
        let before = self.runner.stats();
        let started = Instant::now();
        let detail = body(self)
            .await
            .with_context(|| format!("step \"{name}\" failed"))?;
        let wall = started.elapsed();
        let calls = self.calls().await?;
        let functions = ran(&before, &self.runner.stats());
        println!("  {detail}");
        let total: u64 = calls.values().sum();
        let listed: Vec<String> = calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
        println!(
            "  API calls: {total}{}",
            if listed.is_empty() {
                String::new()
            } else {
                format!(" ({})", listed.join(", "))
            }
        );
        for (function, init, peak) in &functions {
            println!("  function {function}: init {init} ms, peak memory {peak:.1} MiB");
        }
        println!("  took {:.2} s", wall.as_secs_f64());
        self.steps.push(Step {
            name: name.into(),
            calls,
            wall,
            functions,
        });
        Ok(())
    }

    /// Every function's own API calls over the whole run (by its access key id,
    /// `<account>-<crate>`), printed and written to `calls-by-function.json`: the tests compare
    /// them with what each role grants.
    pub async fn write_calls_by_function(&self) -> anyhow::Result<()> {
        let mut by_function: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (key, calls) in self.emulator.calls_by_principal().await? {
            let Some((_, function)) = key.split_once('-') else {
                continue;
            };
            let entry = by_function.entry(function.to_owned()).or_default();
            for (op, n) in calls {
                *entry.entry(op).or_insert(0) += n;
            }
        }
        println!("\nAPI calls by function (all accounts and Regions):");
        for (function, calls) in &by_function {
            let listed: Vec<String> = calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
            println!("  {function:<20} {}", listed.join(", "));
        }
        let path = self.args.out.join("calls-by-function.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&by_function)?)
            .with_context(|| format!("writing {}", path.display()))?;
        // Every authorization decision of the run: what the least-privilege tests prove each
        // statement needed with, and every refusal.
        let decisions = self.emulator.authz_decisions().await?;
        let refused = decisions.decisions.iter().filter(|d| !d.allowed).count();
        println!(
            "authorization: {} distinct decisions ({} calls), {refused} refused, {} not authorizable",
            decisions.decisions.len(),
            decisions.decisions.iter().map(|d| d.count).sum::<u64>(),
            decisions.errors.len()
        );
        let path = self.args.out.join("decisions.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&decisions)?)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    pub fn print_summary(&self, started: Instant) {
        println!(
            "\n{:<34} {:>9} {:>9} {:>9} {:>10}",
            "step", "API calls", "wall s", "init ms", "peak MiB"
        );
        println!("{}", "-".repeat(75));
        for s in &self.steps {
            let init = s.functions.iter().map(|f| f.1).max();
            let peak = s
                .functions
                .iter()
                .map(|f| f.2)
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
            println!(
                "{:<34} {:>9} {:>9.2} {:>9} {:>10}",
                s.name,
                s.calls.values().sum::<u64>(),
                s.wall.as_secs_f64(),
                init.map_or("-".into(), |v| v.to_string()),
                peak.map_or("-".into(), |v| format!("{v:.1}"))
            );
        }
        println!("{}", "-".repeat(75));
        println!("total {:.1} s", started.elapsed().as_secs_f64());
        println!("\nfunctions (all accounts and Regions):");
        for (function, s) in self.runner.stats() {
            println!(
                "  {:<80} {:>4} invocations, {} errors, {} cold starts, init {} ms, peak {:.1} MiB",
                label(&function, &s),
                s.invocations,
                s.errors,
                s.cold_starts,
                s.init.as_millis(),
                s.peak_memory_kib as f64 / 1024.0
            );
        }
    }
}

/// The functions that ran between two snapshots of the runner's figures.
fn ran(
    before: &BTreeMap<String, FunctionStats>,
    after: &BTreeMap<String, FunctionStats>,
) -> Vec<(String, u128, f64)> {
    after
        .iter()
        .filter(|(k, s)| before.get(*k).is_none_or(|b| b.invocations < s.invocations))
        .map(|(k, s)| {
            (
                label(k, s),
                s.init.as_millis(),
                s.peak_memory_kib as f64 / 1024.0,
            )
        })
        .collect()
}

/// A function as the demo prints it: the crate it runs, then where it runs as the stack named it
/// (`s3-cleanup (7767…/us-east-1/patch-compliance-CleanupFunction-…)`).
fn label(key: &str, stats: &FunctionStats) -> String {
    if stats.package.is_empty() {
        key.to_owned()
    } else {
        format!("{} ({key})", stats.package)
    }
}

/// Whether `dir` is `make build`'s output (`<function>/bootstrap.zip`) rather than a Cargo
/// target folder of bare binaries.
pub fn is_dist(dir: &std::path::Path) -> bool {
    dir.join("s3-cleanup").join("bootstrap.zip").is_file()
}

/// A progress bar on stderr for the long steps.
pub struct Progress {
    label: String,
    total: usize,
    done: usize,
    shown: Instant,
}

impl Progress {
    pub fn new(label: &str, total: usize) -> Self {
        let p = Progress {
            label: label.into(),
            total,
            done: 0,
            shown: Instant::now() - Duration::from_secs(1),
        };
        p.draw();
        p
    }

    pub fn set(&mut self, done: usize) {
        self.done = done;
        if self.shown.elapsed() > Duration::from_millis(100) || self.done >= self.total {
            self.draw();
            self.shown = Instant::now();
        }
    }

    fn draw(&self) {
        // Redrawing in place only makes sense on a terminal; a log gets the final line only.
        if !std::io::stderr().is_terminal() && self.done < self.total {
            return;
        }
        let width = 30;
        let filled = (self.done.min(self.total) * width)
            .checked_div(self.total)
            .unwrap_or(width);
        eprint!(
            "\r  {:<34} [{}{}] {}/{}",
            self.label,
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.done,
            self.total
        );
        let _ = std::io::stderr().flush();
    }

    pub fn finish(self) {
        eprintln!();
    }
}
