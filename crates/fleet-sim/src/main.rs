//! `fleet-sim`: see the crate documentation (`src/lib.rs`) and `fleet-sim --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use fleet_sim::cli::FleetArgs;
use fleet_sim::{Destination, Options, local};

/// Simulate an organization's managed nodes and write what AWS writes.
///
/// S3 uses the usual AWS configuration (AWS_ENDPOINT_URL for the local emulator).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// ground-truth.jsonl and fleet.json; also sync/ and config/ unless buckets are given.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Write no AWS Config deliveries.
    #[arg(long)]
    no_config: bool,
    /// Put the resource data sync objects in s3://BUCKET instead of OUT/sync.
    #[arg(long)]
    sync_bucket: Option<String>,
    /// Key prefix in the sync bucket.
    #[arg(long, default_value = "", value_parser = prefix)]
    sync_prefix: String,
    /// Put the Config objects in s3://BUCKET instead of OUT/config.
    #[arg(long)]
    config_bucket: Option<String>,
    /// Key prefix in the Config bucket (e.g. o-abc123/ for an organization trail).
    #[arg(long, default_value = "", value_parser = prefix)]
    config_prefix: String,
    /// Write the data of this ACCOUNT/REGION only (repeatable); the truth stays whole.
    #[arg(long, value_parser = pair)]
    only: Vec<(String, String)>,
    /// Concurrent S3 uploads.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=256))]
    concurrency: u64,
    /// Write only ground-truth.jsonl and fleet.json (plan a run before writing data).
    #[arg(long)]
    truth_only: bool,
}

fn prefix(text: &str) -> Result<String, String> {
    Ok(if text.is_empty() || text.ends_with('/') {
        text.to_owned()
    } else {
        format!("{text}/")
    })
}

fn pair(text: &str) -> Result<(String, String), String> {
    text.split_once('/')
        .map(|(a, r)| (a.to_owned(), r.to_owned()))
        .ok_or_else(|| format!("{text:?}: expected ACCOUNT/REGION"))
}

impl Args {
    fn options(self) -> Options {
        let sync = match self.sync_bucket {
            Some(bucket) => Destination::S3 {
                bucket,
                prefix: self.sync_prefix,
            },
            None => local(&self.out, "sync"),
        };
        let config = (!self.no_config).then(|| match self.config_bucket {
            Some(bucket) => Destination::S3 {
                bucket,
                prefix: self.config_prefix,
            },
            None => local(&self.out, "config"),
        });
        Options {
            spec: self.fleet.spec(),
            out: self.out,
            sync,
            config,
            only: self.only,
            concurrency: self.concurrency as usize,
            write_data: !self.truth_only,
            aws: None,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Args::parse().options();
    let started = Instant::now();
    let (sync, config, out) = (
        options.sync.to_string(),
        options.config.clone(),
        options.out.clone(),
    );
    match fleet_sim::run(options).await {
        Ok(s) => {
            println!(
                "fleet-sim: {} nodes ({} managed, {} live): {} objects, {:.1} MiB in {:.1} s -> {sync}{}; truth in {}",
                s.nodes,
                s.managed,
                s.live,
                s.objects,
                s.bytes as f64 / 1_048_576.0,
                started.elapsed().as_secs_f64(),
                config.map(|c| format!(", {c}")).unwrap_or_default(),
                out.join("ground-truth.jsonl").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fleet-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}
