//! `make bench`: realistic-size scenarios against the local emulator, printing the figures that
//! matter against AWS: API calls per operation (compared with the floor and with the reference
//! implementation), wall time, the function's init time and peak memory.
//!
//! Runs the release Lambda artifacts (`make build`) as Lambda runs them, through the local Runtime
//! API. Exits non-zero when a scenario fails or needs more calls than its floor.
//!
//! ```text
//! bench [--dist DIR] [--ec2 N] [--hybrid N]   (bench --help)
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use cfn_response::Status;
use cfn_response::testing::{ReceivedRequest, ResponseServer};
use integration_tests::custom_resource;
use integration_tests::lambda::{Invoked, LocalFunction, Outcome, artifact};
use integration_tests::{
    BulkBucket, CustomResourceRequests, Emulator, NodeSpec, create_config_table, payload,
    workspace_root,
};
use serde_json::{Value, json};

/// An OS variant: platform type, name, version, and its share of the fleet in per mille.
type Variant = (&'static str, &'static str, &'static str, usize);

/// The OS mix of the EC2 fleet.
const EC2_MIX: &[Variant] = &[
    ("Linux", "Amazon Linux", "2023", 300),
    ("Linux", "Amazon Linux", "2", 200),
    ("Linux", "Ubuntu", "22.04", 150),
    ("Linux", "Ubuntu", "24.04", 120),
    ("Linux", "Red Hat Enterprise Linux", "9.4", 90),
    (
        "Windows",
        "Microsoft Windows Server 2022 Datacenter",
        "10.0.20348",
        80,
    ),
    (
        "Windows",
        "Microsoft Windows Server 2019 Datacenter",
        "10.0.17763",
        60,
    ),
];

/// The OS mix of the hybrid fleet.
const HYBRID_MIX: &[Variant] = &[
    ("Linux", "Ubuntu", "22.04", 500),
    ("Linux", "Red Hat Enterprise Linux", "8.10", 300),
    (
        "Windows",
        "Microsoft Windows Server 2016 Standard",
        "10.0.14393",
        200,
    ),
];

/// `make bench`'s command line.
#[derive(Debug, clap::Parser)]
#[command(
    about = "Realistic-size scenarios against the local emulator: API calls per operation, wall time, init time and peak memory of the release Lambda artifacts"
)]
struct Args {
    /// `make build`'s artifacts (`<function>/bootstrap`).
    #[arg(long, default_value_os_t = workspace_root().join("dist/lambda"))]
    dist: PathBuf,
    /// EC2 instances in the tagger scenario.
    #[arg(long, default_value_t = 10_000)]
    ec2: usize,
    /// Hybrid nodes in the tagger scenario.
    #[arg(long, default_value_t = 1_000)]
    hybrid: usize,
}

/// Splits `total` over a mix by per-mille shares; the last variant takes the remainder.
fn split(total: usize, mix: &[Variant]) -> Vec<(usize, Variant)> {
    let mut left = total;
    mix.iter()
        .enumerate()
        .map(|(i, &variant)| {
            let count = if i + 1 == mix.len() {
                left
            } else {
                total * variant.3 / 1000
            };
            left -= count;
            (count, variant)
        })
        .collect()
}

/// One line of a calls table: operation, our count, the floor, what the reference needs.
struct Row {
    operation: &'static str,
    measured: u64,
    floor: u64,
    reference: String,
}

/// Prints the calls table; true when every operation is at or below its floor.
fn print_calls(rows: &[Row], calls: &BTreeMap<String, u64>) -> bool {
    println!(
        "| {:<40} | {:>8} | {:>8} | {:<30} | {:<11} |",
        "API calls per operation", "ours", "floor", "reference implementation", ""
    );
    println!(
        "|{:-<42}|{:->10}|{:->10}|{:-<32}|{:-<13}|",
        "", "", "", "", ""
    );
    let mut at_floor = true;
    for r in rows {
        let verdict = if r.measured <= r.floor {
            "at floor"
        } else {
            "ABOVE FLOOR"
        };
        at_floor &= r.measured <= r.floor;
        println!(
            "| {:<40} | {:>8} | {:>8} | {:<30} | {:<11} |",
            r.operation, r.measured, r.floor, r.reference, verdict
        );
    }
    let others: Vec<String> = calls
        .iter()
        .filter(|(op, _)| !rows.iter().any(|r| r.operation == op.as_str()))
        .map(|(op, n)| format!("{op}={n}"))
        .collect();
    if !others.is_empty() {
        println!("other calls: {}", others.join(", "));
    }
    at_floor
}

/// Prints wall time, init time and peak memory; true when memory stays well inside 128 MB.
fn print_function(label: &str, invoked: &Invoked, function: &LocalFunction) -> bool {
    let peak = function.peak_memory_kib().unwrap_or(0);
    println!(
        "wall time ({label}): {:.2} s",
        invoked.duration.as_secs_f64()
    );
    println!(
        "init time:          {} ms",
        function.init_duration().as_millis()
    );
    println!(
        "peak memory:        {:.1} MiB (of a 128 MB function)",
        peak as f64 / 1024.0
    );
    peak < 100 * 1024
}

fn get(calls: &BTreeMap<String, u64>, operation: &str) -> u64 {
    calls.get(operation).copied().unwrap_or(0)
}

async fn tagger_scenario(args: &Args) -> anyhow::Result<bool> {
    let binary = artifact(&args.dist, "ec2-os-tagger")?;
    let region = "us-east-1";
    println!(
        "## ec2-os-tagger: {} EC2 instances + {} hybrid nodes\n",
        args.ec2, args.hybrid
    );
    let emulator = Emulator::start()?;

    let started = Instant::now();
    let ec2_groups = split(args.ec2, EC2_MIX);
    for (count, (t, n, v, _)) in &ec2_groups {
        emulator
            .seed_nodes(region, &vec![NodeSpec::ec2(t, n, v); *count])
            .await?;
    }
    for (count, (t, n, v, _)) in split(args.hybrid, HYBRID_MIX) {
        emulator
            .seed_nodes(region, &vec![NodeSpec::hybrid(t, n, v); count])
            .await?;
    }
    println!(
        "seeded the emulator in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    emulator.reset_calls(region).await?;

    let request = CustomResourceRequests::new(
        "Custom::Ec2OsTagger",
        "OsTagger",
        region,
        "123456789012",
        "bench",
        "ec2-os-tagger",
    )
    .request("Create", "", None, json!({}), None);
    let (function, invoked, answer) = custom_resource(
        &binary,
        "ec2-os-tagger",
        &emulator.function_env(region),
        request,
    )
    .await?;
    let calls = emulator.calls(region).await?;

    let nodes = (args.ec2 + args.hybrid) as u64;
    let rows = [
        Row {
            operation: "ssm:DescribeInstanceInformation",
            measured: get(&calls, "ssm:DescribeInstanceInformation"),
            floor: nodes.div_ceil(50),
            reference: nodes.div_ceil(50).to_string(),
        },
        Row {
            operation: "ec2:CreateTags",
            measured: get(&calls, "ec2:CreateTags"),
            floor: ec2_groups
                .iter()
                .map(|(c, _)| (*c as u64).div_ceil(1000))
                .sum(),
            reference: format!("{nodes} (one per node)"),
        },
        Row {
            operation: "ssm:AddTagsToResource",
            measured: get(&calls, "ssm:AddTagsToResource"),
            floor: args.hybrid as u64,
            reference: "0 (fails on every hybrid node)".to_owned(),
        },
    ];
    println!();
    let at_floor = print_calls(&rows, &calls);
    println!();
    println!("answer Data:        {}", json!(answer.data));
    let memory_ok = print_function("Create", &invoked, &function);

    // A second, warm run as the daily schedule makes it.
    emulator.reset_calls(region).await?;
    let scheduled = integration_tests::fixtures::scheduled(region);
    let warm = function
        .invoke(&scheduled, Duration::from_secs(900))
        .await?;
    let warm_calls = emulator.calls(region).await?;
    println!(
        "warm scheduled run: {:.2} s, {} API calls, peak memory {:.1} MiB\n",
        warm.duration.as_secs_f64(),
        warm_calls.values().sum::<u64>(),
        function.peak_memory_kib().unwrap_or(0) as f64 / 1024.0
    );
    Ok(at_floor && memory_ok)
}

/// One event as S3 would send it: 3 accounts × 2 Regions × 30 days, a snapshot and four history
/// files a day each under an organization prefix (keys URL-encoded), topped up with duplicates.
fn config_event(records: usize) -> (Value, usize) {
    let mut keys = Vec::new();
    for account in ["111111111111", "222222222222", "333333333333"] {
        for region in ["us-east-1", "eu-west-1"] {
            for day in 1..=30 {
                let folder =
                    format!("o-a1b2c3d4e5/AWSLogs/{account}/Config/{region}/2026/11/{day}");
                keys.push(format!(
                    "{folder}/ConfigSnapshot/{account}_Config_{region}_ConfigSnapshot_202611{day:02}T000000Z_{day}.json.gz"
                ));
                for part in 0..4 {
                    keys.push(format!(
                        "{folder}/ConfigHistory/{account}_Config_{region}_ConfigHistory_AWS%3A%3ASSM%3A%3APatchCompliance_{part}.json.gz"
                    ));
                }
            }
        }
    }
    let distinct = keys.len();
    for i in 0..records.saturating_sub(distinct) {
        keys.push(keys[i * 7 % distinct].clone());
    }
    let records: Vec<Value> = keys
        .iter()
        .map(|k| integration_tests::fixtures::s3_record("ObjectCreated:Put", "org-config", k))
        .collect();
    (
        integration_tests::fixtures::s3_notification(records),
        distinct,
    )
}

async fn partitioner_scenario(args: &Args) -> anyhow::Result<bool> {
    let binary = artifact(&args.dist, "config-partitioner")?;
    let region = "eu-west-1";
    let emulator = Emulator::start()?;
    let glue = aws_sdk_glue::Client::new(&emulator.sdk_config(region, 3).await);
    glue.create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name("config")
                .build()?,
        )
        .send()
        .await?;
    create_config_table(&glue, "config", "config_snapshots", "s3://org-config/").await?;
    create_config_table(&glue, "config", "config_history", "s3://org-config/").await?;

    let (event, distinct) = config_event(1000);
    // One snapshot partition and one history partition per account, Region and day.
    let per_table: u64 = 3 * 2 * 30;
    println!(
        "## config-partitioner: one event of {} records ({distinct} distinct objects, {} partitions over two tables)\n",
        event["Records"].as_array().map_or(0, Vec::len),
        2 * per_table
    );
    let mut env = emulator.function_env(region);
    env.extend([
        ("DATABASE_NAME".to_owned(), "config".to_owned()),
        ("SNAPSHOT_TABLE".to_owned(), "config_snapshots".to_owned()),
        ("HISTORY_TABLE".to_owned(), "config_history".to_owned()),
    ]);
    emulator.reset_calls(region).await?;
    let function =
        LocalFunction::start(&binary, "config-partitioner", &env, Duration::from_secs(30)).await?;
    let invoked = function.invoke(&event, Duration::from_secs(300)).await?;
    let Outcome::Response(report) = &invoked.outcome else {
        bail!(
            "invocation failed: {:?}\n{}",
            invoked.outcome,
            function.logs().join("\n")
        );
    };
    let calls = emulator.calls(region).await?;
    let rows = [
        Row {
            operation: "glue:GetTable",
            measured: get(&calls, "glue:GetTable"),
            floor: 2,
            reference: "0".to_owned(),
        },
        Row {
            operation: "glue:BatchCreatePartition",
            measured: get(&calls, "glue:BatchCreatePartition"),
            floor: 2 * per_table.div_ceil(100),
            reference: "0".to_owned(),
        },
        Row {
            operation: "athena:StartQueryExecution",
            measured: get(&calls, "athena:StartQueryExecution"),
            floor: 0,
            reference: "1 (Records[0] only) + polling".to_owned(),
        },
    ];
    let at_floor = print_calls(&rows, &calls);
    println!(
        "(the reference reads only the first record, ignores history, and busy-polls Athena)\n"
    );
    println!("report:             {report}");
    let memory_ok = print_function("one event", &invoked, &function);
    let snapshots = glue
        .get_partitions()
        .database_name("config")
        .table_name("config_snapshots")
        .send()
        .await?;
    if snapshots.partitions().len() as u64 != per_table {
        bail!(
            "expected {per_table} snapshot partitions, found {}",
            snapshots.partitions().len()
        );
    }
    println!();
    Ok(at_floor && memory_ok)
}

async fn cleanup_scenario(args: &Args) -> anyhow::Result<bool> {
    let binary = artifact(&args.dist, "s3-cleanup")?;
    let region = "us-east-1";
    let bucket = "central-sync-bucket-111122223333";
    let emulator = Emulator::start()?;
    // 40,000 keys × 2 versions, a delete marker on half of them, and a few abandoned uploads.
    let started = Instant::now();
    let seeded = emulator
        .s3_bulk(&BulkBucket {
            region: region.into(),
            bucket: bucket.into(),
            versioning: Some("Enabled".into()),
            objects: 40_000,
            versions_per_object: 2,
            delete_markers: 20_000,
            multipart_uploads: 10,
            key_prefix: "AWS:InstanceInformation/accountid=111122223333/".into(),
        })
        .await?;
    let versions =
        seeded["versions"].as_u64().unwrap_or(0) + seeded["delete_markers"].as_u64().unwrap_or(0);
    let uploads = seeded["uploads"].as_u64().unwrap_or(0);
    println!(
        "## s3-cleanup: a versioned bucket with {versions} object versions and delete markers, {uploads} multipart uploads\n"
    );
    println!(
        "seeded the emulator in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    emulator.reset_calls(region).await?;

    let request = CustomResourceRequests::new(
        "Custom::S3Cleanup",
        "BucketCleanup",
        region,
        "123456789012",
        "central",
        "s3-cleanup",
    )
    .request(
        "Delete",
        "",
        Some("central-BucketCleanup"),
        json!({"BucketNames": [bucket], "EmptyOnDelete": "true"}),
        None,
    );
    let (function, invoked, answer) = custom_resource(
        &binary,
        "s3-cleanup",
        &emulator.function_env(region),
        request,
    )
    .await?;
    let calls = emulator.calls(region).await?;
    let pages = versions.div_ceil(1000);
    let rows = [
        Row {
            operation: "s3:ListObjectVersions",
            measured: get(&calls, "s3:ListObjectVersions"),
            floor: pages + 1,
            reference: format!("{}", pages + 1),
        },
        Row {
            operation: "s3:DeleteObjects",
            measured: get(&calls, "s3:DeleteObjects"),
            floor: pages,
            reference: "(misses markers, uploads)".to_owned(),
        },
        Row {
            operation: "s3:ListMultipartUploads",
            measured: get(&calls, "s3:ListMultipartUploads"),
            floor: 1,
            reference: "0".to_owned(),
        },
        Row {
            operation: "s3:AbortMultipartUpload",
            measured: get(&calls, "s3:AbortMultipartUpload"),
            floor: uploads,
            reference: "0".to_owned(),
        },
    ];
    let at_floor = print_calls(&rows, &calls);
    println!(
        "(the reference has no time budget: a bucket this size outlives its 5-minute timeout, and the stack hangs)\n"
    );
    println!("answer Data:        {}", json!(answer.data));
    let memory_ok = print_function("Delete", &invoked, &function);
    println!();
    Ok(at_floor && memory_ok)
}

async fn quicksight_scenario(args: &Args) -> anyhow::Result<bool> {
    let binary = artifact(&args.dist, "quicksight-builder")?;
    let region = "eu-west-1";
    println!("## quicksight-builder: data source + 4 datasets for 5 principals; Update; Delete\n");
    let emulator = Emulator::start()?;
    // QuickSight users live in the identity Region (us-east-1 here), not the stack's.
    let principals: Vec<String> = (1..=5)
        .map(|i| format!("arn:aws:quicksight:us-east-1:123456789012:user/default/author{i}"))
        .collect();
    let properties = json!({"WorkGroup": "patch-compliance", "Database": "patch_compliance",
        "PrincipalArns": principals, "ConfigSnapshotTable": "aws_config_snapshot"});
    let requests = CustomResourceRequests::new(
        "Custom::QuickSightBuilder",
        "Datasets",
        region,
        "123456789012",
        "quicksight",
        "quicksight-builder",
    );
    let (function, created, answer) = custom_resource(
        &binary,
        "quicksight-builder",
        &emulator.function_env(region),
        requests.request("Create", "", None, properties.clone(), None),
    )
    .await?;
    let create_calls = emulator.calls(region).await?;
    emulator.reset_calls(region).await?;

    // Update: one principal fewer, Config off; then Delete. Same warm function.
    let server = ResponseServer::start().await?;
    let physical_id = answer.physical_resource_id.as_str();
    let smaller = json!({"WorkGroup": "patch-compliance", "Database": "patch_compliance",
        "PrincipalArns": principals[1..]});
    let request = requests.request(
        "Update",
        &server.url("update"),
        Some(physical_id),
        smaller.clone(),
        Some(properties),
    );
    let updated = function
        .invoke(&payload(&request), Duration::from_secs(60))
        .await?;
    let update_calls = emulator.calls(region).await?;
    emulator.reset_calls(region).await?;
    let request = requests.request(
        "Delete",
        &server.url("delete"),
        Some(physical_id),
        smaller,
        None,
    );
    let deleted = function
        .invoke(&payload(&request), Duration::from_secs(60))
        .await?;
    let delete_calls = emulator.calls(region).await?;
    let answers = server.wait_for(2, Duration::from_secs(5)).await;
    let read: Vec<_> = answers.iter().map(ReceivedRequest::try_answer).collect();
    if read.len() != 2
        || read
            .iter()
            .any(|a| !matches!(a, Ok(a) if a.status == Status::Success))
    {
        bail!(
            "quicksight-builder Update/Delete did not succeed: {:?}\n{}",
            answers.iter().map(|a| &a.body).collect::<Vec<_>>(),
            function.logs().join("\n")
        );
    }

    let row =
        |calls: &BTreeMap<String, u64>, operation: &'static str, floor: u64, reference: &str| Row {
            operation,
            measured: get(calls, operation),
            floor,
            reference: reference.to_owned(),
        };
    println!("Create (4 datasets):");
    let mut at_floor = print_calls(
        &[
            row(
                &create_calls,
                "quicksight:CreateDataSource",
                1,
                "1 + 16 unawaited Athena DDL",
            ),
            row(&create_calls, "quicksight:CreateDataSet", 4, "2"),
        ],
        &create_calls,
    );
    println!("\nUpdate (principal removed, Config dataset no longer wanted):");
    at_floor &= print_calls(
        &[
            row(
                &update_calls,
                "quicksight:UpdateDataSource",
                1,
                "(Update not handled)",
            ),
            row(
                &update_calls,
                "quicksight:UpdateDataSourcePermissions",
                1,
                "",
            ),
            row(&update_calls, "quicksight:UpdateDataSet", 3, ""),
            row(&update_calls, "quicksight:UpdateDataSetPermissions", 3, ""),
            row(&update_calls, "quicksight:DeleteDataSet", 1, ""),
        ],
        &update_calls,
    );
    println!("\nDelete:");
    at_floor &= print_calls(
        &[
            row(
                &delete_calls,
                "quicksight:DeleteDataSet",
                4,
                "(fails when gone)",
            ),
            row(&delete_calls, "quicksight:DeleteDataSource", 1, ""),
        ],
        &delete_calls,
    );
    println!();
    let mut memory_ok = print_function("Create", &created, &function);
    for (label, invoked) in [("Update", &updated), ("Delete", &deleted)] {
        println!(
            "wall time ({label}): {:.2} s",
            invoked.duration.as_secs_f64()
        );
        memory_ok &= matches!(invoked.outcome, Outcome::Response(_));
    }
    println!();
    Ok(at_floor && memory_ok)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    println!(
        "# Benchmarks (local emulator; API call counts are exact, times are this machine's)\n"
    );
    let mut ok = true;
    for (name, result) in [
        ("ec2-os-tagger", tagger_scenario(&args).await),
        ("config-partitioner", partitioner_scenario(&args).await),
        ("s3-cleanup", cleanup_scenario(&args).await),
        ("quicksight-builder", quicksight_scenario(&args).await),
    ] {
        match result {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("{name}: more calls than the floor, or too much memory");
                ok = false;
            }
            Err(e) => {
                eprintln!("{name}: benchmark failed: {e:#}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
