//! `make demo`: the whole system running locally, ending in a compliance report.
//!
//! Starts the local AWS emulator, creates what the central template creates, simulates an
//! organization with `fleet-sim`, and runs every Lambda binary as Lambda runs it (through the local
//! Runtime API, with events shaped as AWS sends them) in the order of a real deployment:
//!
//! 1. central resources: the sync, Config and Athena-results buckets, the Glue database and the
//!    Config snapshot table;
//! 2. `ec2-os-tagger` (custom resource) in every member account and Region, on the nodes SSM knows;
//! 3. `org-data-sync` (custom resource) in every member account and Region, after which the
//!    simulator writes that sync's data and that account's Config deliveries;
//! 4. a crawl of the sync bucket (tables and partitions as the Glue crawler makes them, including
//!    the `resourcetype` column clash), then the crawler's success event to `glue-column-remover`;
//! 5. every Config delivery as its S3 event to `config-partitioner` (and one duplicate);
//! 6. `quicksight-builder` (custom resource);
//! 7. the report: the bucket's objects read back, the named queries and datasets run by the
//!    embedded engine (`demo/report.py`), `report.html` and CSVs;
//! 8. `s3-cleanup` on a simulated stack deletion.
//!
//! Each step prints what it did, the API calls it made, its wall time, and each function's init
//! time and peak memory. A failing step stops the run with its reason; the emulator and every
//! function process stop with the run (also on Ctrl-C).
//!
//! ```text
//! demo [--nodes N] [--accounts N] [--regions R1,R2] [--seed N] [--out DIR] [--bin-dir DIR]
//! ```

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_config::SdkConfig;
use aws_sdk_glue::types::{PartitionInput, SerDeInfo, StorageDescriptor, TableInput};
use futures::StreamExt as _;
use integration_tests::lambda::{Invoked, LocalFunction, Outcome, artifact, custom_resource};
use integration_tests::{
    CustomResourceRequests, Emulator, NodeSpec, create_config_table, string_column, workspace_root,
};
use serde_json::{Value, json};

/// The central reporting account: moto's default account, where the emulator's own credentials act.
const CENTRAL: &str = "123456789012";
const DATABASE: &str = "patch_compliance";
const SNAPSHOT_TABLE: &str = "aws_config_snapshot";
const CRAWLER: &str = "patch-compliance-sync";
const STACK: &str = "patch-compliance-demo";

struct Args {
    nodes: usize,
    accounts: usize,
    regions: Vec<String>,
    seed: u64,
    out: PathBuf,
    bins: PathBuf,
    fleet_sim: PathBuf,
    python: PathBuf,
}

const USAGE: &str = "usage: demo [--nodes N] [--accounts N] [--regions R1,R2] [--seed N] [--out DIR] \
[--bin-dir DIR] [--fleet-sim PATH] [--python PATH]";

fn parse_args() -> anyhow::Result<Args> {
    let root = workspace_root();
    let mut args = Args {
        nodes: 300,
        accounts: 3,
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        seed: 1,
        out: root.join("demo-output"),
        bins: root.join("dist/lambda"),
        fleet_sim: PathBuf::new(),
        python: root.join(".venv/bin/python"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value; {USAGE}"))?;
        let number = |v: &str| {
            v.parse::<usize>()
                .with_context(|| format!("{flag} {v:?}: expected a number"))
        };
        match flag.as_str() {
            "--nodes" => args.nodes = number(&value)?.max(1),
            "--accounts" => args.accounts = number(&value)?.clamp(1, 50),
            "--regions" => args.regions = value.split(',').map(|r| r.trim().to_owned()).collect(),
            "--seed" => args.seed = number(&value)? as u64,
            "--out" => args.out = PathBuf::from(value),
            "--bin-dir" => args.bins = PathBuf::from(value),
            "--fleet-sim" => args.fleet_sim = PathBuf::from(value),
            "--python" => args.python = PathBuf::from(value),
            other => bail!("unknown option {other}; {USAGE}"),
        }
    }
    if let Some(bad) = args
        .regions
        .iter()
        .find(|r| !aws_setup::names::is_region(r))
    {
        bail!("--regions: {bad:?} is not a Region name like eu-west-1");
    }
    if args.fleet_sim.as_os_str().is_empty() {
        args.fleet_sim = artifact(&args.bins, "fleet-sim")
            .or_else(|_| artifact(&sibling_target_dir(), "fleet-sim"))
            .context(
                "fleet-sim not found: build it (`cargo build -p fleet-sim`) or pass --fleet-sim",
            )?;
    }
    Ok(args)
}

/// The folder this binary runs from (target/<profile>): where `cargo build` put fleet-sim.
fn sibling_target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

/// What one step did, for the closing table.
struct Step {
    name: String,
    calls: BTreeMap<String, u64>,
    wall: Duration,
    /// (init ms, peak MiB) of each function process the step ran.
    functions: Vec<(u128, f64)>,
}

/// A progress bar on stderr for the long steps.
struct Progress {
    label: String,
    total: usize,
    done: usize,
    shown: Instant,
}

impl Progress {
    fn new(label: &str, total: usize) -> Self {
        let p = Progress {
            label: label.into(),
            total,
            done: 0,
            shown: Instant::now() - Duration::from_secs(1),
        };
        p.draw();
        p
    }
    fn tick(&mut self, n: usize) {
        self.done += n;
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
        let filled = (self.done * width).checked_div(self.total).unwrap_or(width);
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
    fn finish(self) {
        eprintln!();
    }
}

struct Demo {
    args: Args,
    emulator: Emulator,
    home: String,
    steps: Vec<Step>,
    truth: Vec<Value>,
    accounts: Vec<String>,
    sync_bucket: String,
    config_bucket: String,
    results_bucket: String,
}

impl Demo {
    async fn config(&self, region: &str) -> SdkConfig {
        self.emulator.sdk_config(region, 3).await
    }

    /// The environment of `function` running in `account`. Its access key id is
    /// `<account>-<function>`: the emulator acts in that account and records the function's calls
    /// under that key, so each function's calls can be compared with what its role grants.
    fn env(
        &self,
        function: &str,
        account: &str,
        region: &str,
        extra: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut env = self.emulator.function_env(region);
        for (k, v) in &mut env {
            if k == "AWS_ACCESS_KEY_ID" {
                *v = format!("{account}-{function}");
            }
        }
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        env
    }

    async fn reset_calls(&self) -> anyhow::Result<()> {
        for region in &self.args.regions {
            self.emulator.reset_calls(region).await?;
        }
        Ok(())
    }

    async fn calls(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let mut all = BTreeMap::new();
        for region in &self.args.regions {
            for (op, n) in self.emulator.calls(region).await? {
                *all.entry(op).or_insert(0) += n;
            }
        }
        Ok(all)
    }

    /// Runs `body` as one step: times it, counts its API calls, prints and records it.
    async fn step<F>(&mut self, name: &str, body: F) -> anyhow::Result<()>
    where
        F: AsyncFnOnce(&Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)>,
    {
        println!("\n▶ {name}");
        self.reset_calls().await?;
        let started = Instant::now();
        let (detail, functions) = body(self)
            .await
            .with_context(|| format!("step \"{name}\" failed"))?;
        let wall = started.elapsed();
        let calls = self.calls().await?;
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
        for (init, peak) in &functions {
            println!("  function: init {init} ms, peak memory {peak:.1} MiB");
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

    fn binary(&self, function: &str) -> anyhow::Result<PathBuf> {
        artifact(&self.args.bins, function)
    }

    /// Sends one custom-resource request to a fresh process of `function` in `account` and
    /// `region`, shows CloudFormation's answer under `label`, and returns the answer and the
    /// function's (init ms, peak MiB).
    async fn custom_resource(
        &self,
        function: &str,
        account: &str,
        region: &str,
        request: Value,
        label: &str,
    ) -> anyhow::Result<(Value, (u128, f64))> {
        let env = self.env(function, account, region, &[]);
        let (process, _, answer) =
            custom_resource(&self.binary(function)?, function, &env, request).await?;
        if std::io::stderr().is_terminal() {
            // Start on a clean line when a progress bar is being drawn.
            eprint!("\r");
        }
        show_answer(label, &answer);
        Ok((answer, measured(&process)))
    }
}

/// Prints what the custom resource answered CloudFormation (received by the local endpoint).
fn show_answer(label: &str, answer: &Value) {
    println!(
        "  CloudFormation ← {label}: {} {} {}",
        answer["Status"].as_str().unwrap_or("?"),
        answer["PhysicalResourceId"].as_str().unwrap_or("?"),
        answer.get("Data").map(Value::to_string).unwrap_or_default()
    );
}

fn measured(function: &LocalFunction) -> (u128, f64) {
    (
        function.init_duration().as_millis(),
        function.peak_memory_kib().unwrap_or(0) as f64 / 1024.0,
    )
}

fn fleet_sim(args: &Args, extra: &[String], env: &[(String, String)]) -> anyhow::Result<()> {
    let mut command = std::process::Command::new(&args.fleet_sim);
    command
        .arg("--out")
        .arg(args.out.join("fleet"))
        .args([
            "--nodes",
            &args.nodes.to_string(),
            "--accounts",
            &args.accounts.to_string(),
        ])
        .args([
            "--regions",
            &args.regions.join(","),
            "--seed",
            &args.seed.to_string(),
        ])
        .args(["--now", &fleet_now()])
        .args(extra)
        .envs(env.iter().map(|(k, v)| (k, v)));
    let output = command
        .output()
        .with_context(|| format!("running {}", args.fleet_sim.display()))?;
    if !output.status.success() {
        bail!(
            "fleet-sim failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The simulated present: the current minute, fixed for the whole run (every fleet-sim call of a
/// run must describe the same fleet).
fn fleet_now() -> String {
    static NOW: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NOW.get_or_init(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        fleet_sim::time::iso(secs / 60 * 60)
    })
    .clone()
}

async fn create_central(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    let config = demo.config(&demo.home).await;
    let s3 = aws_setup::s3_client(&config);
    for bucket in [&demo.sync_bucket, &demo.config_bucket, &demo.results_bucket] {
        let mut create = s3.create_bucket().bucket(bucket);
        if demo.home != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(demo.home.as_str().into())
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => {}
            Err(e) if format!("{:?}", e).contains("BucketAlreadyOwnedByYou") => {}
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("creating bucket {bucket}")));
            }
        }
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await?;
    }
    // Athena leaves unfinished multipart uploads behind in its results bucket now and then.
    s3.create_multipart_upload()
        .bucket(&demo.results_bucket)
        .key("query-results/unfinished.csv")
        .send()
        .await?;
    let glue = aws_sdk_glue::Client::new(&config);
    glue.create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name(DATABASE)
                .build()?,
        )
        .send()
        .await?;
    create_config_table(
        &glue,
        DATABASE,
        SNAPSHOT_TABLE,
        &format!("s3://{}/AWSLogs/", demo.config_bucket),
    )
    .await?;
    Ok((
        format!(
            "buckets {}, {}, {} (versioned); Glue database {DATABASE} with table {SNAPSHOT_TABLE}",
            demo.sync_bucket, demo.config_bucket, demo.results_bucket
        ),
        vec![],
    ))
}

/// The nodes Systems Manager knows in an account and Region, as the emulator registers them.
fn node_specs(truth: &[Value], account: &str, region: &str) -> Vec<NodeSpec> {
    truth
        .iter()
        .filter(|n| n["account_id"] == account && n["region"] == region && n["live"] == true)
        .map(|n| {
            let s = |k: &str| n[k].as_str().unwrap_or_default().to_owned();
            let mut spec = if n["node_type"] == "Hybrid" {
                NodeSpec::hybrid(
                    &s("platform_type"),
                    &s("platform_name"),
                    &s("platform_version"),
                )
            } else {
                NodeSpec::ec2(
                    &s("platform_type"),
                    &s("platform_name"),
                    &s("platform_version"),
                )
            };
            if n["instance_status"] == "ConnectionLost" {
                spec.ping_status = "ConnectionLost";
            }
            spec
        })
        .collect()
}

async fn run_tagger(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    let (mut functions, mut tagged, mut hybrid, mut skipped, mut nodes) =
        (Vec::new(), 0u64, 0u64, 0u64, 0usize);
    // Nodes whose PlatformName is empty ("NotAvailable" platforms, e.g. an agent that has not
    // reported yet) must be skipped and counted, not tagged with an empty OS.
    let unnamed = demo
        .truth
        .iter()
        .filter(|n| n["live"] == true && n["platform_name"].as_str().unwrap_or_default().is_empty())
        .count() as u64;
    for account in &demo.accounts {
        for region in &demo.args.regions {
            let specs = node_specs(&demo.truth, account, region);
            nodes += specs.len();
            for chunk in specs.chunks(500) {
                demo.emulator.seed_nodes_in(account, region, chunk).await?;
            }
            let request = CustomResourceRequests::new(
                "Custom::Ec2OsTagger",
                "OsTagger",
                region,
                account,
                STACK,
                "ec2-os-tagger",
            )
            .request("Create", "", None, json!({}), None);
            let (answer, function) = demo
                .custom_resource(
                    "ec2-os-tagger",
                    account,
                    region,
                    request,
                    &format!("{account}/{region}"),
                )
                .await?;
            let count = |k: &str| {
                answer["Data"][k]
                    .as_str()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            tagged += count("InstancesTagged");
            hybrid += count("ManagedInstancesTagged");
            skipped += count("Skipped");
            functions.push(function);
        }
    }
    if (tagged + hybrid + skipped) as usize != nodes || skipped != unnamed {
        bail!(
            "the taggers tagged {tagged} EC2 instances and {hybrid} hybrid nodes and skipped {skipped} of \
             {nodes} registered ({unnamed} have no platform name yet)"
        );
    }
    Ok((
        format!(
            "{} custom resources (one per account and Region): {tagged} EC2 instances and {hybrid} hybrid nodes tagged with their OS, {skipped} without a platform name skipped",
            functions.len()
        ),
        functions,
    ))
}

/// A Config client acting in `account` (the emulator maps the access key to the account).
async fn config_client(demo: &Demo, account: &str, region: &str) -> aws_sdk_config::Client {
    let mut config = demo.config(region).await.into_builder();
    config.set_credentials_provider(Some(
        aws_sdk_config::config::SharedCredentialsProvider::new(
            aws_sdk_config::config::Credentials::new(account, "secret", None, None, "demo"),
        ),
    ));
    aws_sdk_config::Client::new(&config.build())
}

/// One request of member-patching's recorder custom resource in `account` and `region`.
async fn config_recorder(
    demo: &Demo,
    account: &str,
    region: &str,
    kind: &str,
    physical: Option<&str>,
) -> anyhow::Result<(Value, (u128, f64))> {
    let properties = json!({"RecorderName": "patch-compliance-1a2b3c4d",
        "RoleArn": format!("arn:aws:iam::{account}:role/{STACK}-ConfigRecorderRole"),
        "BucketName": demo.config_bucket, "DeliveryFrequency": "TwentyFour_Hours"});
    let request = CustomResourceRequests::new(
        "Custom::ConfigRecorder",
        "ConfigRecorder",
        region,
        account,
        STACK,
        "config-recorder",
    )
    .request(kind, "", physical, properties, None);
    demo.custom_resource(
        "config-recorder",
        account,
        region,
        request,
        &format!(
            "{account}/{region} ConfigRecorder ({})",
            kind.to_lowercase()
        ),
    )
    .await
}

/// member-patching's recorder resource in every account and Region. The first account plays a
/// Control Tower account: it has a recorder already, which must be used and left untouched; the
/// others have none and get one.
async fn run_config_recorders(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    let (mut functions, mut created, mut existing) = (Vec::new(), 0, 0);
    for (i, account) in demo.accounts.iter().enumerate() {
        for region in &demo.args.regions {
            let config = config_client(demo, account, region).await;
            if i == 0 {
                config
                    .put_configuration_recorder()
                    .configuration_recorder(
                        aws_sdk_config::types::ConfigurationRecorder::builder()
                            .name("aws-controltower-BaselineConfigRecorder")
                            .role_arn(format!(
                                "arn:aws:iam::{account}:role/aws-controltower-ConfigRecorderRole"
                            ))
                            .recording_group(
                                aws_sdk_config::types::RecordingGroup::builder()
                                    .all_supported(true)
                                    .build(),
                            )
                            .build(),
                    )
                    .send()
                    .await?;
            }
            let (answer, function) = config_recorder(demo, account, region, "Create", None).await?;
            functions.push(function);
            match answer["Data"]["Created"].as_str() {
                Some("true") => created += 1,
                Some("false") => existing += 1,
                _ => bail!("config-recorder did not answer: {answer}"),
            }
        }
    }
    Ok((
        format!(
            "{created} recorders created where none existed; {existing} existing recorders used untouched"
        ),
        functions,
    ))
}

/// sync-monitor on the bucket the syncs just wrote: every account and Region is there, none stale.
async fn run_sync_monitor(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    let binary = demo.binary("sync-monitor")?;
    let env = demo.env(
        "sync-monitor",
        CENTRAL,
        &demo.home,
        // The demo's syncs write at the bucket's root (no BucketPrefix).
        &[("BUCKET_NAME", &demo.sync_bucket), ("SYNC_PREFIX", "/")],
    );
    let function =
        LocalFunction::start(&binary, "sync-monitor", &env, Duration::from_secs(30)).await?;
    let event = json!({"version": "0", "id": "3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": CENTRAL,
        "time": fleet_now(), "region": demo.home,
        "resources": [format!("arn:aws:events:{}:{CENTRAL}:rule/sync-monitor", demo.home)], "detail": {}});
    let invoked = function.invoke(&event, Duration::from_secs(120)).await?;
    let Outcome::Response(report) = &invoked.outcome else {
        bail!(
            "sync-monitor failed: {:?}\n{}",
            invoked.outcome,
            function.logs().join("\n")
        );
    };
    let sources = report["sources"].as_u64().unwrap_or(0) as usize;
    let expected = demo.accounts.len() * demo.args.regions.len();
    if sources != expected {
        bail!("sync-monitor found {sources} accounts and Regions, {expected} expected: {report}");
    }
    Ok((
        format!(
            "{sources} accounts and Regions syncing, {} stale, {} objects listed in {} type folders",
            report["stale"].as_array().map_or(0, Vec::len),
            report["objects"],
            report["type_folders"]
        ),
        vec![measured(&function)],
    ))
}

/// Sends one request of the organization sync's custom resource in `account` and `region` to a
/// fresh org-data-sync process, shows the answer, and returns the function's measurements.
async fn org_sync(
    demo: &Demo,
    account: &str,
    region: &str,
    kind: &str,
    label: &str,
) -> anyhow::Result<(u128, f64)> {
    let properties = json!({"SyncName": "patch-compliance", "BucketName": demo.sync_bucket,
        "BucketRegion": demo.home, "OrganizationSharing": "true"});
    let physical = (kind != "Create").then_some("patch-compliance");
    let request = CustomResourceRequests::new(
        "Custom::OrgDataSync",
        "OrgDataSync",
        region,
        account,
        STACK,
        "org-data-sync",
    )
    .request(kind, "", physical, properties, None);
    let (_, function) = demo
        .custom_resource(
            "org-data-sync",
            account,
            region,
            request,
            &format!("{account}/{region}{label}"),
        )
        .await?;
    Ok(function)
}

async fn run_org_syncs(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    // Fail before any call when the binary is missing.
    demo.binary("org-data-sync")?;
    let mut functions = Vec::new();
    let mut progress = Progress::new(
        "sync + simulated data",
        demo.accounts.len() * demo.args.regions.len(),
    );
    for account in &demo.accounts {
        for region in &demo.args.regions {
            functions.push(org_sync(demo, account, region, "Create", "").await?);
            // What the new sync (and this account's Config recorder) would now deliver.
            let env = demo.env("fleet-sim", CENTRAL, &demo.home, &[]);
            let slice = format!("{account}/{region}");
            fleet_sim(
                &demo.args,
                &[
                    "--sync-bucket".into(),
                    demo.sync_bucket.clone(),
                    "--config-bucket".into(),
                    demo.config_bucket.clone(),
                    "--only".into(),
                    slice,
                ],
                &env,
            )?;
            progress.tick(1);
        }
    }
    progress.finish();
    // CloudFormation retries a Create whose answer it did not get: the retry must converge on the
    // sync that exists (same destination), not fail and not create a second one.
    let (account, region) = (&demo.accounts[0], &demo.args.regions[0]);
    functions.push(org_sync(demo, account, region, "Create", " (retried Create)").await?);
    // Every sync exists, as SyncToDestination with organization sharing.
    let mut syncs = 0;
    for account in &demo.accounts {
        for region in &demo.args.regions {
            let mut config = demo.config(region).await.into_builder();
            config.set_credentials_provider(Some(
                aws_sdk_ssm::config::SharedCredentialsProvider::new(
                    aws_sdk_ssm::config::Credentials::new(account, "secret", None, None, "demo"),
                ),
            ));
            let ssm = aws_sdk_ssm::Client::new(&config.build());
            let listed = ssm.list_resource_data_sync().send().await?;
            syncs += listed
                .resource_data_sync_items()
                .iter()
                .filter(|s| s.sync_name() == Some("patch-compliance"))
                .count();
        }
    }
    let expected = demo.accounts.len() * demo.args.regions.len();
    if syncs != expected {
        bail!("{syncs} resource data syncs exist, {expected} expected");
    }
    let objects = count_objects(demo, &demo.sync_bucket).await?
        + count_objects(demo, &demo.config_bucket).await?;
    Ok((
        format!(
            "{syncs} organization resource data syncs created; the simulator then wrote {objects} objects"
        ),
        functions,
    ))
}

async fn list_keys(demo: &Demo, bucket: &str) -> anyhow::Result<Vec<String>> {
    let s3 = aws_setup::s3_client(&demo.config(&demo.home).await);
    let pages: Vec<_> = s3
        .list_objects_v2()
        .bucket(bucket)
        .into_paginator()
        .send()
        .try_collect()
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.contents())
        .filter_map(|o| o.key().map(str::to_owned))
        .collect())
}

async fn count_objects(demo: &Demo, bucket: &str) -> anyhow::Result<usize> {
    Ok(list_keys(demo, bucket).await?.len())
}

/// What a crawl of the sync bucket makes: one table per type folder (lower-cased attribute names,
/// all strings, the three partition keys) and one partition per account/Region/resource type.
async fn crawl(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    let config = demo.config(&demo.home).await;
    let s3 = aws_setup::s3_client(&config);
    let glue = aws_sdk_glue::Client::new(&config);
    let keys = list_keys(demo, &demo.sync_bucket).await?;
    let mut folders: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for key in &keys {
        let parts: Vec<&str> = key.split('/').collect();
        // <Type>/accountid=/region=/resourcetype=/<node>.json; test.json is excluded.
        if parts.len() == 5 && parts[4].ends_with(".json") {
            folders
                .entry(parts[0].to_owned())
                .or_default()
                .entry(parts[1..4].join("/"))
                .or_insert_with(|| key.clone());
        }
    }
    let (mut tables, mut partitions) = (0, 0);
    for (type_folder, prefixes) in &folders {
        let table = type_folder.to_lowercase().replace(':', "_");
        // The crawler infers columns from the objects: read one of each partition's.
        let mut columns: Vec<String> = Vec::new();
        for sample in prefixes.values().take(6) {
            let body = s3
                .get_object()
                .bucket(&demo.sync_bucket)
                .key(sample)
                .send()
                .await?
                .body
                .collect()
                .await?;
            for line in String::from_utf8_lossy(&body.into_bytes()).lines() {
                if let Ok(Value::Object(row)) = serde_json::from_str::<Value>(line) {
                    for k in row.keys() {
                        let name = k.to_lowercase();
                        if !columns.contains(&name) {
                            columns.push(name);
                        }
                    }
                }
            }
        }
        let location = format!("s3://{}/{type_folder}/", demo.sync_bucket);
        let descriptor = |location: String| -> anyhow::Result<StorageDescriptor> {
            let mut d = StorageDescriptor::builder()
                .location(location)
                .input_format("org.apache.hadoop.mapred.TextInputFormat")
                .serde_info(
                    SerDeInfo::builder()
                        .serialization_library("org.openx.data.jsonserde.JsonSerDe")
                        .build(),
                );
            for c in &columns {
                d = d.columns(string_column(c)?);
            }
            Ok(d.build())
        };
        glue.create_table()
            .database_name(DATABASE)
            .table_input(
                TableInput::builder()
                    .name(&table)
                    .storage_descriptor(descriptor(location.clone())?)
                    .partition_keys(string_column("accountid")?)
                    .partition_keys(string_column("region")?)
                    .partition_keys(string_column("resourcetype")?)
                    .build()?,
            )
            .send()
            .await?;
        tables += 1;
        let inputs: Vec<PartitionInput> = prefixes
            .keys()
            .map(|prefix| -> anyhow::Result<PartitionInput> {
                let values: Vec<String> = prefix
                    .split('/')
                    .map(|p| p.split_once('=').map_or(p, |(_, v)| v).to_owned())
                    .collect();
                Ok(PartitionInput::builder()
                    .set_values(Some(values))
                    .storage_descriptor(descriptor(format!("{location}{prefix}/"))?)
                    .build())
            })
            .collect::<anyhow::Result<_>>()?;
        for chunk in inputs.chunks(100) {
            glue.batch_create_partition()
                .database_name(DATABASE)
                .table_name(&table)
                .set_partition_input_list(Some(chunk.to_vec()))
                .send()
                .await?;
            partitions += chunk.len();
        }
    }
    let clash = glue
        .get_table()
        .database_name(DATABASE)
        .name("aws_instanceinformation")
        .send()
        .await?;
    let has_clash = clash
        .table()
        .and_then(|t| t.storage_descriptor())
        .is_some_and(|d| d.columns().iter().any(|c| c.name() == "resourcetype"));
    if !has_clash {
        bail!(
            "the simulated crawl should have added the resourcetype data column to aws_instanceinformation"
        );
    }
    Ok((
        format!(
            "{tables} tables, {partitions} partitions from {} objects (test.json excluded); aws_instanceinformation has the resourcetype column clash",
            keys.len()
        ),
        vec![],
    ))
}

async fn run_column_remover(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    let binary = demo.binary("glue-column-remover")?;
    let env = demo.env(
        "glue-column-remover",
        CENTRAL,
        &demo.home,
        &[("DATABASE_NAME", DATABASE), ("CRAWLER_NAME", CRAWLER)],
    );
    let function = LocalFunction::start(
        &binary,
        "glue-column-remover",
        &env,
        Duration::from_secs(30),
    )
    .await?;
    let event = json!({
        "version": "0", "id": "5b2e7c3a-6f0e-4d8b-9c1a-2b3c4d5e6f70",
        "detail-type": "Glue Crawler State Change", "source": "aws.glue", "account": CENTRAL,
        "time": fleet_now(), "region": demo.home, "resources": [],
        "detail": {"crawlerName": CRAWLER, "state": "Succeeded", "message": "Crawler Succeeded",
                   "tablesCreated": "9", "tablesUpdated": "0", "partitionsCreated": "0"}
    });
    let first = function.invoke(&event, Duration::from_secs(120)).await?;
    expect_ok(&first, &function)?;
    // EventBridge delivers at least once: a duplicate must change nothing and succeed.
    let again = function.invoke(&event, Duration::from_secs(120)).await?;
    expect_ok(&again, &function)?;
    let glue = aws_sdk_glue::Client::new(&demo.config(&demo.home).await);
    let table = glue
        .get_table()
        .database_name(DATABASE)
        .name("aws_instanceinformation")
        .send()
        .await?;
    if table
        .table()
        .and_then(|t| t.storage_descriptor())
        .is_some_and(|d| d.columns().iter().any(|c| c.name() == "resourcetype"))
    {
        bail!("aws_instanceinformation still has the resourcetype data column");
    }
    Ok((
        "crawler success event (and a duplicate): the resourcetype data column is gone from aws_instanceinformation; \
         resourcetype is the partition key only"
            .into(),
        vec![measured(&function)],
    ))
}

fn expect_ok(invoked: &Invoked, function: &LocalFunction) -> anyhow::Result<()> {
    match &invoked.outcome {
        Outcome::Response(_) => Ok(()),
        Outcome::Error(e) => bail!("the function failed: {e}\n{}", function.logs().join("\n")),
    }
}

/// An S3 event notification for one new object, as S3 sends it (key URL-encoded, spaces as +).
fn s3_event(bucket: &str, key: &str, region: &str) -> Value {
    let encoded: String = percent_encode(key);
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region, "eventTime": fleet_now(),
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "AWS:config"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"}, "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "config-partitioner",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A1B2C3"}, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded, "size": 1024, "sequencer": "0065A1B2C3D4E5F6"}}}]})
}

/// Bytes S3 escapes in event notification keys: all but unreserved characters and `/` (a space
/// becomes `+`, form style).
const S3_EVENT_KEY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn percent_encode(key: &str) -> String {
    // Spaces first, as `+`; a literal `+` is then escaped as %2B by the set.
    key.split(' ')
        .map(|part| percent_encoding::utf8_percent_encode(part, S3_EVENT_KEY).to_string())
        .collect::<Vec<_>>()
        .join("+")
}

async fn run_partitioner(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    let binary = demo.binary("config-partitioner")?;
    let env = demo.env(
        "config-partitioner",
        CENTRAL,
        &demo.home,
        &[
            ("DATABASE_NAME", DATABASE),
            ("SNAPSHOT_TABLE", SNAPSHOT_TABLE),
        ],
    );
    let function =
        LocalFunction::start(&binary, "config-partitioner", &env, Duration::from_secs(30)).await?;
    let keys = list_keys(demo, &demo.config_bucket).await?;
    let mut progress = Progress::new("Config deliveries → partitions", keys.len() + 1);
    for key in keys
        .iter()
        .chain(keys.iter().find(|k| k.contains("ConfigSnapshot")))
    {
        let invoked = function
            .invoke(
                &s3_event(&demo.config_bucket, key, &demo.home),
                Duration::from_secs(60),
            )
            .await?;
        expect_ok(&invoked, &function)?;
        progress.tick(1);
    }
    progress.finish();
    let glue = aws_sdk_glue::Client::new(&demo.config(&demo.home).await);
    let pages: Vec<_> = glue
        .get_partitions()
        .database_name(DATABASE)
        .table_name(SNAPSHOT_TABLE)
        .into_paginator()
        .send()
        .try_collect()
        .await?;
    let partitions = pages.iter().map(|p| p.partitions().len()).sum::<usize>();
    let snapshot_days: std::collections::BTreeSet<String> = keys
        .iter()
        .filter(|k| k.contains("/ConfigSnapshot/"))
        .filter_map(|k| {
            k.rsplit_once("/ConfigSnapshot/")
                .map(|(folder, _)| folder.to_owned())
        })
        .collect();
    if partitions != snapshot_days.len() {
        bail!(
            "{partitions} snapshot partitions, {} expected (one per account, Region and day)",
            snapshot_days.len()
        );
    }
    Ok((
        format!(
            "{} S3 events (one per delivery, plus a duplicate): {partitions} snapshot partitions (account, Region, day); \
             history and probe objects skipped",
            keys.len() + 1
        ),
        vec![measured(&function)],
    ))
}

async fn run_quicksight(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    let properties = json!({"WorkGroup": "patch-compliance", "Database": DATABASE,
        "PrincipalArns": [format!("arn:aws:quicksight:{}:{CENTRAL}:group/default/patch-compliance-auditors", demo.home)],
        "ConfigSnapshotTable": SNAPSHOT_TABLE});
    let requests = CustomResourceRequests::new(
        "Custom::QuickSight",
        "Datasets",
        &demo.home,
        CENTRAL,
        STACK,
        "quicksight-builder",
    );
    let request = requests.request("Create", "", None, properties.clone(), None);
    let (answer, function) = demo
        .custom_resource(
            "quicksight-builder",
            CENTRAL,
            &demo.home,
            request,
            "Datasets",
        )
        .await?;
    let mut functions = vec![function];
    // A stack update that adds a second principal: updated in place, same physical id.
    let physical = answer["PhysicalResourceId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut updated = properties.clone();
    if let Some(list) = updated["PrincipalArns"].as_array_mut() {
        list.push(json!(format!(
            "arn:aws:quicksight:{}:{CENTRAL}:user/default/platform-admin",
            demo.home
        )));
    }
    let request = requests.request("Update", "", Some(&physical), updated, Some(properties));
    let (answer, function) = demo
        .custom_resource(
            "quicksight-builder",
            CENTRAL,
            &demo.home,
            request,
            "Datasets (update)",
        )
        .await?;
    if answer["PhysicalResourceId"] != json!(physical) {
        bail!("the update replaced the data source: {answer}");
    }
    functions.push(function);
    let quicksight = aws_sdk_quicksight::Client::new(&demo.config(&demo.home).await);
    let datasets = quicksight
        .list_data_sets()
        .aws_account_id(CENTRAL)
        .send()
        .await?;
    let names: Vec<&str> = datasets
        .data_set_summaries()
        .iter()
        .filter_map(|d| d.name())
        .collect();
    if names.len() != 4 {
        bail!(
            "{} QuickSight datasets exist, 4 expected: {names:?}",
            names.len()
        );
    }
    Ok((
        format!(
            "created, then updated in place with a second principal: Athena data source {physical} \
             and datasets: {}",
            names.join(", ")
        ),
        functions,
    ))
}

/// Reads both buckets back into `<out>/report-data` (the report runs on what the system stored).
async fn download(demo: &Demo) -> anyhow::Result<PathBuf> {
    let dest = demo.args.out.join("report-data");
    let _ = std::fs::remove_dir_all(&dest);
    let s3 = aws_setup::s3_client(&demo.config(&demo.home).await);
    let mut jobs = Vec::new();
    for (bucket, folder) in [(&demo.sync_bucket, "sync"), (&demo.config_bucket, "config")] {
        for key in list_keys(demo, bucket).await? {
            jobs.push((bucket.clone(), key.clone(), dest.join(folder).join(&key)));
        }
    }
    let mut progress = Progress::new("reading the buckets back", jobs.len());
    let mut stream = futures::stream::iter(jobs)
        .map(|(bucket, key, path)| {
            let s3 = s3.clone();
            async move {
                let body = s3
                    .get_object()
                    .bucket(&bucket)
                    .key(&key)
                    .send()
                    .await?
                    .body
                    .collect()
                    .await?;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, body.into_bytes())?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(16);
    while let Some(result) = stream.next().await {
        result?;
        progress.tick(1);
    }
    progress.finish();
    for file in ["fleet.json", "ground-truth.jsonl"] {
        std::fs::copy(demo.args.out.join("fleet").join(file), dest.join(file))?;
    }
    Ok(dest)
}

async fn run_report(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    let data = download(demo).await?;
    let script = workspace_root().join("demo/report.py");
    let status = std::process::Command::new(&demo.args.python)
        .arg(&script)
        .arg("--fleet")
        .arg(&data)
        .arg("--out")
        .arg(&demo.args.out)
        .status()
        .with_context(|| format!("running {}: run `make setup`", demo.args.python.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", script.display());
    }
    Ok((
        format!(
            "named queries and datasets run by the embedded engine on the objects read back; wrote {}, nodes.csv, missing-patches.csv, summary.json",
            demo.args.out.join("report.html").display()
        ),
        vec![],
    ))
}

/// A stack deletion: CloudFormation deletes the custom resources (the QuickSight data source and
/// datasets, each member's organization sync), then the buckets' cleanup empties the buckets.
async fn run_cleanup(demo: &Demo) -> anyhow::Result<(String, Vec<(u128, f64)>)> {
    let mut functions = Vec::new();
    let quicksight = CustomResourceRequests::new(
        "Custom::QuickSight",
        "Datasets",
        &demo.home,
        CENTRAL,
        STACK,
        "quicksight-builder",
    );
    let data_source = format!(
        "arn:aws:quicksight:{}:{CENTRAL}:datasource/patch-compliance",
        demo.home
    );
    let request = quicksight.request("Delete", "", Some(&data_source), json!({}), None);
    let (_, function) = demo
        .custom_resource(
            "quicksight-builder",
            CENTRAL,
            &demo.home,
            request,
            "Datasets (delete)",
        )
        .await?;
    functions.push(function);
    for (i, account) in demo.accounts.iter().enumerate() {
        for region in &demo.args.regions {
            functions.push(org_sync(demo, account, region, "Delete", " (delete)").await?);
            let physical = if i == 0 {
                "existing:aws-controltower-BaselineConfigRecorder"
            } else {
                "created:patch-compliance-1a2b3c4d"
            };
            let (_, function) =
                config_recorder(demo, account, region, "Delete", Some(physical)).await?;
            functions.push(function);
            // Only the recorders the stacks created are gone; the existing one stays.
            let left = config_client(demo, account, region)
                .await
                .describe_configuration_recorders()
                .send()
                .await?
                .configuration_recorders()
                .len();
            if left != usize::from(i == 0) {
                bail!(
                    "{account}/{region}: {left} configuration recorders left after the stack deletion"
                );
            }
        }
    }
    let buckets = json!([demo.sync_bucket, demo.config_bucket, demo.results_bucket]);
    let requests = CustomResourceRequests::new(
        "Custom::S3Cleanup",
        "BucketCleanup",
        &demo.home,
        CENTRAL,
        STACK,
        "s3-cleanup",
    );
    let physical = format!("{STACK}-BucketCleanup");
    let request = requests.request(
        "Delete",
        "",
        Some(&physical),
        json!({"BucketNames": buckets, "EmptyOnDelete": "true"}),
        None,
    );
    let (answer, function) = demo
        .custom_resource("s3-cleanup", CENTRAL, &demo.home, request, "BucketCleanup")
        .await?;
    for bucket in [&demo.sync_bucket, &demo.config_bucket, &demo.results_bucket] {
        let s3 = aws_setup::s3_client(&demo.config(&demo.home).await);
        let left = s3.list_object_versions().bucket(bucket).send().await?;
        if !left.versions().is_empty() || !left.delete_markers().is_empty() {
            bail!("{bucket} is not empty after s3-cleanup");
        }
    }
    functions.push(function);
    Ok((
        format!(
            "data source, datasets and {} organization syncs deleted; {} object versions deleted and {} \
             unfinished uploads aborted: the three buckets are empty",
            demo.accounts.len() * demo.args.regions.len(),
            answer["Data"]["ObjectVersionsDeleted"]
                .as_str()
                .unwrap_or("?"),
            answer["Data"]["UploadsAborted"].as_str().unwrap_or("?")
        ),
        functions,
    ))
}

/// Every function's own API calls over the whole run (by its access key id), printed and written
/// to `calls-by-function.json`: the test compares them with what each role grants.
async fn write_calls_by_function(demo: &Demo) -> anyhow::Result<()> {
    let mut by_function: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (key, calls) in demo.emulator.calls_by_principal().await? {
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
    let path = demo.args.out.join("calls-by-function.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&by_function)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn print_summary(steps: &[Step], started: Instant) {
    println!(
        "\n{:<34} {:>9} {:>9} {:>9} {:>10}",
        "step", "API calls", "wall s", "init ms", "peak MiB"
    );
    println!("{}", "-".repeat(75));
    for s in steps {
        let init = s.functions.iter().map(|f| f.0).max();
        let peak = s
            .functions
            .iter()
            .map(|f| f.1)
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
}

async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    // Re-running is safe: every run starts from a fresh emulator and a fresh output folder.
    for stale in ["fleet", "report-data"] {
        let _ = std::fs::remove_dir_all(args.out.join(stale));
    }
    println!(
        "patch-compliance demo: {} nodes, {} accounts × {} Regions ({})",
        args.nodes,
        args.accounts,
        args.regions.len(),
        args.regions.join(", ")
    );
    println!(
        "functions from {}; output in {}",
        args.bins.display(),
        args.out.display()
    );
    for function in [
        "ec2-os-tagger",
        "org-data-sync",
        "glue-column-remover",
        "config-partitioner",
        "quicksight-builder",
        "s3-cleanup",
    ] {
        artifact(&args.bins, function)?;
    }
    let emulator = Emulator::start()?;
    println!("emulator at {}", emulator.endpoint());
    fleet_sim(&args, &["--truth-only".into()], &[])?;
    let truth: Vec<Value> = std::fs::read_to_string(args.out.join("fleet/ground-truth.jsonl"))?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(args.out.join("fleet/fleet.json"))?)?;
    let accounts: Vec<String> = serde_json::from_value(meta["accounts"].clone())?;
    let home = args.regions[0].clone();
    let mut demo = Demo {
        sync_bucket: format!("patch-compliance-sync-{CENTRAL}-{home}"),
        config_bucket: format!("patch-compliance-config-{CENTRAL}-{home}"),
        results_bucket: format!("patch-compliance-athena-{CENTRAL}-{home}"),
        args,
        emulator,
        home,
        steps: Vec::new(),
        truth,
        accounts,
    };
    demo.step("central resources", create_central).await?;
    demo.step("ec2-os-tagger", run_tagger).await?;
    demo.step("config-recorder", run_config_recorders).await?;
    demo.step("org-data-sync + fleet data", run_org_syncs)
        .await?;
    demo.step("sync-monitor", run_sync_monitor).await?;
    demo.step("crawler run (simulated)", crawl).await?;
    demo.step("glue-column-remover", run_column_remover).await?;
    demo.step("config-partitioner", run_partitioner).await?;
    demo.step("quicksight-builder", run_quicksight).await?;
    demo.step("compliance report", run_report).await?;
    demo.step("stack deletion", run_cleanup).await?;
    write_calls_by_function(&demo).await?;
    print_summary(&demo.steps, started);
    println!("\nreport: {}", demo.args.out.join("report.html").display());
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("demo: {e:#}");
            return ExitCode::from(2);
        }
    };
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
