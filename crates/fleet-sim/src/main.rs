//! `fleet-sim`: see the crate documentation (`src/lib.rs`) and `fleet-sim --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use fleet_sim::{Destination, FleetSpec, Options, account_ids, local, parse_time, time};

const HELP: &str = "\
fleet-sim: simulate an organization's managed nodes and write what AWS writes

Usage: fleet-sim --out DIR [options]

  --out DIR              ground-truth.jsonl and fleet.json; also sync/ and config/ unless buckets are given
  --nodes N              nodes in the organization (default 300)
  --accounts N           member accounts (default 3), ids derived from the seed
  --account-ids A,B,...  explicit 12-digit account ids instead
  --regions R1,R2,...    Regions (default us-east-1,eu-west-1)
  --seed N               random seed (default 1)
  --now TIME             the simulated present, e.g. 2026-11-22T12:00:00Z (default: now, to the minute)
  --config-days N        days of AWS Config snapshots, two a day (default 2)
  --item-scale F         scale the compliance items each node reports (default 1: what real nodes
                         report, hundreds to thousands; 0.02 for quick tests)
  --no-config            write no AWS Config deliveries
  --sync-bucket B        put the resource data sync objects in s3://B instead of DIR/sync
  --sync-prefix P        key prefix in the sync bucket
  --config-bucket B      put the Config objects in s3://B instead of DIR/config
  --config-prefix P      key prefix in the Config bucket (e.g. o-abc123/ for an organization trail)
  --only ACCOUNT/REGION  write the data of this account and Region only (repeatable); the truth stays whole
  --concurrency N        concurrent S3 uploads (default 32)
  --truth-only           write only ground-truth.jsonl and fleet.json (plan a run before writing data)

S3 uses the usual AWS configuration (AWS_ENDPOINT_URL for the local emulator).
";

fn value(args: &mut impl Iterator<Item = String>, flag: &str) -> anyhow::Result<String> {
    args.next()
        .with_context(|| format!("{flag} needs a value (see --help)"))
}

fn number(text: &str, flag: &str) -> anyhow::Result<u64> {
    text.parse()
        .with_context(|| format!("{flag} {text:?}: expected a whole number"))
}

fn prefix(text: String) -> String {
    if text.is_empty() || text.ends_with('/') {
        text
    } else {
        format!("{text}/")
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Option<Options>> {
    let (mut out, mut nodes, mut accounts, mut account_list, mut seed, mut now, mut days) =
        (None, 300u64, 3u64, None, 1u64, None, 2u64);
    let mut regions = vec!["us-east-1".to_string(), "eu-west-1".to_string()];
    let (mut config, mut sync_bucket, mut sync_prefix, mut config_bucket, mut config_prefix) =
        (true, None, String::new(), None, String::new());
    let (mut only, mut concurrency, mut write_data) = (Vec::new(), 32u64, true);
    let mut item_scale = 1.0f64;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--out" => out = Some(PathBuf::from(value(&mut args, &flag)?)),
            "--nodes" => nodes = number(&value(&mut args, &flag)?, &flag)?,
            "--accounts" => accounts = number(&value(&mut args, &flag)?, &flag)?,
            "--account-ids" => {
                let list: Vec<String> = value(&mut args, &flag)?
                    .split(',')
                    .map(str::trim)
                    .map(String::from)
                    .collect();
                if let Some(bad) = list.iter().find(|a| !aws_setup::names::is_account_id(a)) {
                    bail!("--account-ids: {bad:?} is not a 12-digit account id");
                }
                account_list = Some(list);
            }
            "--regions" => {
                regions = value(&mut args, &flag)?
                    .split(',')
                    .map(str::trim)
                    .map(String::from)
                    .collect();
                if let Some(bad) = regions.iter().find(|r| !aws_setup::names::is_region(r)) {
                    bail!("--regions: {bad:?} is not a Region name like eu-west-1");
                }
            }
            "--seed" => seed = number(&value(&mut args, &flag)?, &flag)?,
            "--now" => now = Some(parse_time(&value(&mut args, &flag)?)?),
            "--config-days" => days = number(&value(&mut args, &flag)?, &flag)?.clamp(1, 31),
            "--no-config" => config = false,
            "--item-scale" => {
                let text = value(&mut args, &flag)?;
                item_scale = text
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f > 0.0 && *f <= 10.0)
                    .with_context(|| {
                        format!("--item-scale {text:?}: expected a number above 0, at most 10")
                    })?;
            }
            "--truth-only" => write_data = false,
            "--sync-bucket" => sync_bucket = Some(value(&mut args, &flag)?),
            "--sync-prefix" => sync_prefix = prefix(value(&mut args, &flag)?),
            "--config-bucket" => config_bucket = Some(value(&mut args, &flag)?),
            "--config-prefix" => config_prefix = prefix(value(&mut args, &flag)?),
            "--only" => {
                let pair = value(&mut args, &flag)?;
                let (a, r) = pair
                    .split_once('/')
                    .with_context(|| format!("--only {pair:?}: expected ACCOUNT/REGION"))?;
                only.push((a.to_string(), r.to_string()));
            }
            "--concurrency" => {
                concurrency = number(&value(&mut args, &flag)?, &flag)?.clamp(1, 256)
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    let out = out.context("--out DIR is required (see --help)")?;
    let accounts = account_list.unwrap_or_else(|| account_ids(seed, accounts as usize));
    if accounts.is_empty() || regions.is_empty() || nodes == 0 {
        bail!("--nodes, --accounts and --regions must not be zero or empty");
    }
    let now = now.unwrap_or_else(|| time::now() / 60 * 60);
    let sync = match sync_bucket {
        Some(bucket) => Destination::S3 {
            bucket,
            prefix: sync_prefix,
        },
        None => local(&out, "sync"),
    };
    let config_destination = config.then(|| match config_bucket {
        Some(bucket) => Destination::S3 {
            bucket,
            prefix: config_prefix,
        },
        None => local(&out, "config"),
    });
    Ok(Some(Options {
        spec: FleetSpec {
            seed,
            now,
            accounts,
            regions,
            nodes: nodes as usize,
            config_days: days as i64,
            item_scale,
        },
        out,
        sync,
        config: config_destination,
        only,
        concurrency: concurrency as usize,
        write_data,
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fleet-sim: {e:#}");
            return ExitCode::from(2);
        }
    };
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
