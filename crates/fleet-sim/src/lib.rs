//! # fleet-sim
//!
//! Simulates an AWS Organization's fleet of managed nodes and writes exactly what AWS writes, so
//! the reports can be checked against a known truth and the demo has realistic data:
//!
//! - **Resource data sync objects** (`sync/`, or an S3 bucket): one NDJSON object per node and
//!   inventory type under `<Type>/accountid=<a>/region=<r>/resourcetype=ManagedInstanceInventory/`,
//!   for InstanceInformation, PatchSummary, ComplianceItem (Patch and Association items),
//!   ComplianceSummary, Tag, Application, AWSComponent, InstanceDetailedInformation and Network;
//!   every value a string; attributes that do not apply omitted on some nodes and `""` on others;
//!   the sync's `test.json` write check per account.
//! - **AWS Config deliveries** (`config/`, or a bucket): gzipped snapshots (two a day) and
//!   six-hourly history files with `AWS::EC2::Instance`, `AWS::SSM::ManagedInstanceInventory`,
//!   `AWS::SSM::PatchCompliance` and `AWS::Config::ResourceCompliance` items of both managed rules
//!   (as account rules, organization rules, or both), and `ConfigWritabilityCheckFile`.
//! - **The ground truth** (`ground-truth.jsonl`, one line per node) and `fleet.json` (the spec and
//!   the snapshot times).
//!
//! The fleet: EC2 instances and hybrid `mi-` nodes, Linux and Windows of several versions;
//! `Active`, `ConnectionLost`, `Stopped` and `Terminated` nodes (the sync keeps a terminated
//! node's objects); live nodes whose last capture is weeks old; nodes never scanned; every
//! PatchState and severity; tagged and untagged nodes; EC2 instances without the SSM Agent, known
//! only to Config; several scans per node, so Config history and older snapshots differ from now.
//!
//! Deterministic: the same seed and `--now` give the same bytes, whichever slice (`--only`) is
//! written, because every node draws from its own random stream.
//!
//! Several days: [`FleetSpec::on_day`] is the fleet on an earlier day (a day earlier `now`,
//! fewer nodes), each node the same node in the same state on every day it exists; the demo
//! writes each day's fleet before that day's report, and each day's ground truth is checked
//! against the report's trend and patch ages. The days model a growing fleet, not patching
//! progress.

pub mod baseline;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod node;
pub mod rng;
pub mod sync;
pub mod time;
pub mod truth;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

use anyhow::{Context as _, bail};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::json;

pub use node::FleetSpec;
use node::Node;

/// Where one kind of data goes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A local folder.
    Local(PathBuf),
    /// An S3 bucket and key prefix (empty or ending in `/`).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix.
        prefix: String,
    },
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Local(path) => write!(f, "{}", path.display()),
            Destination::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// A run of the simulator.
#[derive(Debug, Clone)]
pub struct Options {
    pub spec: FleetSpec,
    /// Folder of the ground truth and `fleet.json`.
    pub out: PathBuf,
    /// Where the resource data sync objects go.
    pub sync: Destination,
    /// Where the Config objects go (`None`: not written).
    pub config: Option<Destination>,
    /// Write the data of these (account, Region) pairs only (empty: all). The truth is always whole.
    pub only: Vec<(String, String)>,
    /// Concurrent S3 uploads.
    pub concurrency: usize,
    /// False: write only the ground truth and `fleet.json` (to plan a demo before any data).
    pub write_data: bool,
    /// The AWS configuration of the S3 uploads (`None`: the standard environment's).
    pub aws: Option<aws_setup::SdkConfig>,
}

/// What a run wrote.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Nodes simulated.
    pub nodes: usize,
    /// Managed nodes.
    pub managed: usize,
    /// Live managed nodes.
    pub live: usize,
    /// Objects written.
    pub objects: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Who writes an object in AWS: a resource data sync or AWS Config, for an account and Region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A resource data sync (keys `<prefix>/AWS:<type>/accountid=<id>/region=<region>/...`).
    ResourceDataSync,
    /// AWS Config (keys `[<prefix>/]AWSLogs/<id>/Config/<region>/...`).
    Config,
}

impl Delivery {
    /// The emulator's name of this delivery (`x-emulator-delivery`).
    pub fn name(self) -> &'static str {
        match self {
            Delivery::ResourceDataSync => "resource-data-sync",
            Delivery::Config => "config",
        }
    }

    /// The account an object of this delivery belongs to, and its Region when the key has one
    /// (the write checks, `test.json` and `ConfigWritabilityCheckFile`, have none), from its key
    /// as AWS lays it out; `None` for a key of another shape.
    pub fn source_of(self, key: &str) -> Option<(String, Option<String>)> {
        let parts: Vec<&str> = key.split('/').collect();
        match self {
            Delivery::ResourceDataSync => {
                let account = parts.iter().find_map(|p| p.strip_prefix("accountid="))?;
                let region = parts.iter().find_map(|p| p.strip_prefix("region="));
                Some((account.to_owned(), region.map(str::to_owned)))
            }
            Delivery::Config => {
                let at = parts.iter().position(|p| *p == "AWSLogs")?;
                let (account, config) = (parts.get(at + 1)?, parts.get(at + 2)?);
                // `<account>/Config/<region>/<yyyy>/...`; the write check is `<account>/Config/<file>`.
                let region = parts
                    .get(at + 3)
                    .filter(|_| parts.len() > at + 4)
                    .map(|r| (*r).to_owned());
                (*config == "Config").then(|| ((*account).to_owned(), region))
            }
        }
    }
}

/// An S3 put: bucket, key, body, and who writes it in AWS.
type Upload = (String, String, Vec<u8>, Delivery);

/// Puts an object as AWS's delivery makes it: the emulator authorizes it as the sync's or the
/// recorder's sender, not as the signer (see the emulator's `emu_deliveries.py`; AWS ignores the
/// headers, so against AWS this is a plain PutObject by the caller).
pub async fn put_delivered(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    delivery: Delivery,
) -> anyhow::Result<()> {
    let (account, region) = delivery.source_of(key).unwrap_or_default();
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .customize()
        .mutate_request(move |request| {
            let headers = request.headers_mut();
            headers.insert("x-emulator-delivery", delivery.name());
            headers.insert("x-emulator-source-account", account.clone());
            if let Some(region) = &region {
                headers.insert("x-emulator-source-region", region.clone());
            }
        })
        .send()
        .await
        .with_context(|| format!("putting s3://{bucket}/{key}"))?;
    Ok(())
}

/// Where objects are put: local writes happen on the generating thread; S3 puts go to uploaders.
struct Sink {
    destination: Destination,
    delivery: Delivery,
    uploads: Option<tokio::sync::mpsc::Sender<Upload>>,
}

impl Sink {
    fn put(&self, key: &str, body: Vec<u8>) -> anyhow::Result<()> {
        match (&self.destination, &self.uploads) {
            (Destination::Local(root), _) => {
                let path = root.join(key);
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                fs::write(&path, body).with_context(|| format!("writing {}", path.display()))
            }
            (Destination::S3 { bucket, prefix }, Some(tx)) => tx
                .blocking_send((
                    bucket.clone(),
                    format!("{prefix}{key}"),
                    body,
                    self.delivery,
                ))
                .map_err(|_| anyhow::anyhow!("the S3 uploads stopped (see the error above)")),
            (Destination::S3 { .. }, None) => bail!("no S3 client for {}", self.destination),
        }
    }
}

/// Account ids for a seed: 12 digits, distinct, stable.
pub fn account_ids(seed: u64, count: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut rng = rng::Rng::stream(seed, &[0xacc0]);
    let mut ids = Vec::new();
    while ids.len() < count {
        let id = format!("{:012}", 100_000_000_000 + rng.below(899_999_999_999));
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    ids
}

/// Runs the simulation and writes everything.
pub async fn run(options: Options) -> anyhow::Result<Summary> {
    let spec = &options.spec;
    if spec.accounts.is_empty() || spec.regions.is_empty() {
        bail!("at least one account and one Region are needed");
    }
    for (account, region) in &options.only {
        if !spec.accounts.contains(account) || !spec.regions.contains(region) {
            bail!(
                "--only {account}/{region}: not an account and Region of this fleet ({:?} × {:?})",
                spec.accounts,
                spec.regions
            );
        }
    }
    fs::create_dir_all(&options.out)
        .with_context(|| format!("creating {}", options.out.display()))?;

    let needs_s3 = matches!(options.sync, Destination::S3 { .. })
        || matches!(options.config, Some(Destination::S3 { .. }));
    let (tx, uploader) = if needs_s3 {
        let client = aws_setup::s3_client(&match &options.aws {
            Some(config) => config.clone(),
            None => aws_setup::load_config().await,
        });
        let (tx, rx) = tokio::sync::mpsc::channel::<Upload>(options.concurrency * 4);
        let concurrency = options.concurrency;
        let task = tokio::spawn(async move {
            futures::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|u| (u, rx)) })
                .map(|(bucket, key, body, delivery)| {
                    let client = client.clone();
                    async move { put_delivered(&client, &bucket, &key, body, delivery).await }
                })
                .buffer_unordered(concurrency)
                .try_for_each(|_| async { Ok(()) })
                .await
        });
        (Some(tx), Some(task))
    } else {
        (None, None)
    };
    let sync_sink = Sink {
        destination: options.sync.clone(),
        delivery: Delivery::ResourceDataSync,
        uploads: tx.clone(),
    };
    let config_sink = options.config.clone().map(|destination| Sink {
        destination,
        delivery: Delivery::Config,
        uploads: tx.clone(),
    });
    drop(tx);

    let options2 = options.clone();
    let generated =
        tokio::task::spawn_blocking(move || generate(&options2, &sync_sink, config_sink.as_ref()));
    let generated = generated.await.context("the generator panicked")?;
    // The sinks (and their senders) are dropped with the generator: the uploads drain and end.
    let uploaded = match uploader {
        Some(task) => task.await.context("the uploader panicked")?,
        None => Ok(()),
    };
    // An upload error first: it is the cause when the generator stopped because uploads stopped.
    uploaded?;
    generated
}

fn generate(
    options: &Options,
    sync_sink: &Sink,
    config_sink: Option<&Sink>,
) -> anyhow::Result<Summary> {
    let spec = &options.spec;
    let shards: Vec<(usize, usize)> = (0..spec.accounts.len())
        .flat_map(|a| (0..spec.regions.len()).map(move |r| (a, r)))
        .collect();
    let selected = |a: usize, r: usize| {
        options.write_data
            && (options.only.is_empty()
                || options
                    .only
                    .iter()
                    .any(|(acct, reg)| *acct == spec.accounts[a] && *reg == spec.regions[r]))
    };
    let next = AtomicUsize::new(0);
    let summary = Mutex::new(Summary::default());
    let truth_path = options.out.join("ground-truth.jsonl");
    let mut truth = BufWriter::new(
        fs::File::create(&truth_path)
            .with_context(|| format!("creating {}", truth_path.display()))?,
    );
    let (done_tx, done_rx) = mpsc::channel::<(usize, anyhow::Result<Vec<u8>>)>();
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(shards.len());
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let (next, shards, summary) = (&next, &shards, &summary);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(a, r)) = shards.get(index) else {
                        break;
                    };
                    let result = shard(spec, a, r, selected(a, r), sync_sink, config_sink, summary);
                    let failed = result.is_err();
                    if done_tx.send((index, result)).is_err() || failed {
                        // Stop the others: they would only write more of a run that failed.
                        next.store(usize::MAX / 2, Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        // Truth lines in shard order, whichever worker finishes first.
        let mut pending = BTreeMap::new();
        let mut expected = 0;
        for (index, result) in done_rx {
            pending.insert(index, result?);
            while let Some(lines) = pending.remove(&expected) {
                truth.write_all(&lines)?;
                expected += 1;
            }
        }
        if expected != shards.len() {
            bail!(
                "only {expected} of {} account-Region shards were generated",
                shards.len()
            );
        }
        Ok(())
    })?;
    truth.flush()?;
    let summary = summary.into_inner().unwrap_or_else(|e| e.into_inner());
    let snapshots: BTreeMap<&str, BTreeMap<&str, Vec<String>>> = spec
        .accounts
        .iter()
        .enumerate()
        .map(|(a, acct)| {
            (
                acct.as_str(),
                spec.regions
                    .iter()
                    .enumerate()
                    .map(|(r, region)| {
                        (
                            region.as_str(),
                            config::snapshot_times(spec.seed, spec.now, a, r, spec.config_days)
                                .into_iter()
                                .map(time::iso)
                                .collect(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let meta = json!({
        "generator": "fleet-sim",
        "seed": spec.seed,
        "now": time::iso(spec.now),
        "accounts": spec.accounts,
        "regions": spec.regions,
        "nodes": spec.nodes,
        "config_days": spec.config_days,
        "item_scale": spec.item_scale,
        "gone_after_days": truth::GONE_AFTER_DAYS,
        "stale_after_days": truth::STALE_AFTER_DAYS,
        "config_history": {
            "start": time::iso(config::history_window(spec.now, spec.config_days).0),
            "end": time::iso(config::history_window(spec.now, spec.config_days).1),
        },
        "snapshots": snapshots,
        "sync": options.sync.to_string(),
        "config": options.config.as_ref().map(ToString::to_string),
        "only": options.only.iter().map(|(a, r)| format!("{a}/{r}")).collect::<Vec<_>>(),
        "types": sync::TYPES,
    });
    let meta_path = options.out.join("fleet.json");
    fs::write(&meta_path, serde_json::to_vec_pretty(&meta)?)
        .with_context(|| format!("writing {}", meta_path.display()))?;
    Ok(summary)
}

fn shard(
    spec: &FleetSpec,
    a: usize,
    r: usize,
    write: bool,
    sync_sink: &Sink,
    config_sink: Option<&Sink>,
    summary: &Mutex<Summary>,
) -> anyhow::Result<Vec<u8>> {
    let (account, region) = (spec.accounts[a].as_str(), spec.regions[r].as_str());
    let nodes: Vec<Node> = (0..spec.shard_size(a, r))
        .map(|i| Node::generate(spec, a, r, i))
        .collect();
    let (mut objects, mut bytes) = (0usize, 0u64);
    let mut put = |sink: &Sink, key: &str, body: Vec<u8>| -> anyhow::Result<()> {
        objects += 1;
        bytes += body.len() as u64;
        sink.put(key, body)
    };
    if write {
        if r == 0 {
            // What the sync writes to check it may write: not inventory, excluded by the crawler.
            let check = format!(
                "{{\"resourceId\":\"test\",\"captureTime\":\"{}\"}}\n",
                time::iso(spec.now)
            );
            put(
                sync_sink,
                &sync::write_check_key(account),
                check.into_bytes(),
            )?;
        }
        for node in &nodes {
            for (type_name, body) in sync::files(node, node.patch_list()) {
                put(
                    sync_sink,
                    &sync::key(type_name, account, region, &node.id),
                    body,
                )?;
            }
        }
        if let Some(sink) = config_sink {
            config::deliveries(
                spec.seed,
                spec.now,
                spec.config_days,
                (a, account),
                (r, region),
                &nodes,
                &mut |key, body| put(sink, &key, body),
            )?;
        }
    }
    let snapshots = config::snapshot_times(spec.seed, spec.now, a, r, spec.config_days);
    let mut lines = Vec::new();
    for node in &nodes {
        serde_json::to_writer(
            &mut lines,
            &truth::line(
                node,
                account,
                region,
                spec.now,
                &snapshots,
                config::history_window(spec.now, spec.config_days),
            ),
        )?;
        lines.push(b'\n');
    }
    let mut s = summary.lock().unwrap_or_else(|e| e.into_inner());
    s.nodes += nodes.len();
    s.managed += nodes.iter().filter(|n| n.managed).count();
    s.live += nodes.iter().filter(|n| n.live()).count();
    s.objects += objects;
    s.bytes += bytes;
    Ok(lines)
}

/// Reads a `yyyy-mm-ddThh:mm:ssZ` time or fails with the expected form.
pub fn parse_time(text: &str) -> anyhow::Result<i64> {
    time::parse_iso(text)
        .with_context(|| format!("{text:?} is not a UTC time like 2026-11-22T12:00:00Z"))
}

/// A local folder destination under `out`.
pub fn local(out: &Path, name: &str) -> Destination {
    Destination::Local(out.join(name))
}
