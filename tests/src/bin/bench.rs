//! `make bench`: realistic-size scenarios against the local emulator, printing the figures that
//! matter against AWS: API calls per operation (compared with the floor and with the reference
//! implementation), wall time, the function's init time and peak memory.
//!
//! Runs the release Lambda artifacts (`make build`) as Lambda runs them, through the local Runtime
//! API. Exits non-zero when a scenario fails or needs more calls than its floor.
//!
//! ```text
//! bench [--dist DIR] [--ec2 N] [--hybrid N]
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cfn_response::testing::ResponseServer;
use integration_tests::lambda::{LocalFunction, Outcome};
use integration_tests::{Emulator, NodeSpec, workspace_root};
use serde_json::json;

/// The OS mix of the EC2 fleet: (platform type, name, version, share in per mille).
const EC2_MIX: &[(&str, &str, &str, usize)] = &[
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
const HYBRID_MIX: &[(&str, &str, &str, usize)] = &[
    ("Linux", "Ubuntu", "22.04", 500),
    ("Linux", "Red Hat Enterprise Linux", "8.10", 300),
    (
        "Windows",
        "Microsoft Windows Server 2016 Standard",
        "10.0.14393",
        200,
    ),
];

struct Args {
    dist: PathBuf,
    ec2: usize,
    hybrid: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        dist: workspace_root().join("dist/lambda"),
        ec2: 10_000,
        hybrid: 1_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--dist" => args.dist = PathBuf::from(value),
            "--ec2" => args.ec2 = value.parse()?,
            "--hybrid" => args.hybrid = value.parse()?,
            other => {
                bail!("unknown option {other}; usage: bench [--dist DIR] [--ec2 N] [--hybrid N]")
            }
        }
    }
    Ok(args)
}

/// Splits `total` over a mix by per-mille shares; the last entry takes the remainder.
fn split(
    total: usize,
    mix: &[(&'static str, &'static str, &'static str, usize)],
) -> Vec<(usize, (&'static str, &'static str, &'static str))> {
    let mut left = total;
    mix.iter()
        .enumerate()
        .map(|(i, &(t, n, v, share))| {
            let count = if i + 1 == mix.len() {
                left
            } else {
                total * share / 1000
            };
            left -= count;
            (count, (t, n, v))
        })
        .collect()
}

fn row(operation: &str, measured: u64, floor: u64, reference: &str) -> String {
    let verdict = if measured <= floor {
        "at floor"
    } else {
        "ABOVE FLOOR"
    };
    format!("| {operation:<34} | {measured:>8} | {floor:>8} | {reference:<28} | {verdict:<11} |")
}

async fn tagger_scenario(args: &Args) -> anyhow::Result<bool> {
    let binary = args.dist.join("ec2-os-tagger/bootstrap");
    if !binary.exists() {
        bail!(
            "{} is missing: run `make build` first (`make bench` does)",
            binary.display()
        );
    }
    let region = "us-east-1";
    println!(
        "## ec2-os-tagger: {} EC2 instances + {} hybrid nodes",
        args.ec2, args.hybrid
    );
    let emulator = Emulator::start()?;

    let started = Instant::now();
    let ec2_groups = split(args.ec2, EC2_MIX);
    let hybrid_groups = split(args.hybrid, HYBRID_MIX);
    for (count, (t, n, v)) in &ec2_groups {
        emulator
            .seed_nodes(region, &vec![NodeSpec::ec2(t, n, v); *count])
            .await?;
    }
    for (count, (t, n, v)) in &hybrid_groups {
        emulator
            .seed_nodes(region, &vec![NodeSpec::hybrid(t, n, v); *count])
            .await?;
    }
    println!(
        "seeded the emulator in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    emulator.reset_calls(region).await?;

    let server = ResponseServer::start().await?;
    let function = LocalFunction::start(
        &binary,
        "ec2-os-tagger",
        &emulator.function_env(region),
        Duration::from_secs(30),
    )
    .await?;
    let request = json!({
        "RequestType": "Create",
        "ResponseURL": server.url("bench"),
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/bench/0",
        "RequestId": "bench-1",
        "ResourceType": "Custom::Ec2OsTagger",
        "LogicalResourceId": "OsTagger",
        "ResourceProperties": {}
    });
    let invoked = function.invoke(&request, Duration::from_secs(900)).await?;
    let answer = server
        .wait_for(1, Duration::from_secs(5))
        .await
        .first()
        .map(|r| r.json());
    let Some(answer) = answer.filter(|a| a["Status"] == "SUCCESS") else {
        bail!(
            "the Create did not succeed: {:?} / {:?}\n{}",
            invoked.outcome,
            server.received().first().map(|r| r.body.clone()),
            function.logs().join("\n")
        );
    };
    if !matches!(invoked.outcome, Outcome::Response(_)) {
        bail!("invocation failed: {:?}", invoked.outcome);
    }
    let calls: BTreeMap<String, u64> = emulator.calls(region).await?;

    let nodes = (args.ec2 + args.hybrid) as u64;
    let describe_floor = nodes.div_ceil(50);
    let create_tags_floor: u64 = ec2_groups
        .iter()
        .map(|(c, _)| (*c as u64).div_ceil(1000))
        .sum();
    let add_tags_floor = args.hybrid as u64;
    let get = |op: &str| calls.get(op).copied().unwrap_or(0);

    println!();
    println!(
        "| {:<34} | {:>8} | {:>8} | {:<28} | {:<11} |",
        "API calls per operation", "ours", "floor", "reference implementation", ""
    );
    println!(
        "|{:-<36}|{:->10}|{:->10}|{:-<30}|{:-<13}|",
        "", "", "", "", ""
    );
    let rows = [
        (
            "ssm:DescribeInstanceInformation",
            get("ssm:DescribeInstanceInformation"),
            describe_floor,
            format!("{describe_floor}"),
        ),
        (
            "ec2:CreateTags",
            get("ec2:CreateTags"),
            create_tags_floor,
            format!("{} (one per node)", nodes),
        ),
        (
            "ssm:AddTagsToResource",
            get("ssm:AddTagsToResource"),
            add_tags_floor,
            "0 (fails on hybrid nodes)".to_owned(),
        ),
    ];
    let mut at_floor = true;
    for (op, measured, floor, reference) in &rows {
        println!("{}", row(op, *measured, *floor, reference));
        at_floor &= measured <= floor;
    }
    let others: Vec<String> = calls
        .iter()
        .filter(|(op, _)| !rows.iter().any(|(r, ..)| r == op))
        .map(|(op, n)| format!("{op}={n}"))
        .collect();
    if !others.is_empty() {
        println!("other calls: {}", others.join(", "));
    }
    println!();
    println!("answer Data:        {}", answer["Data"]);
    println!(
        "wall time (Create): {:.2} s",
        invoked.duration.as_secs_f64()
    );
    println!(
        "init time:          {} ms",
        function.init_duration().as_millis()
    );
    let peak = function.peak_memory_kib().unwrap_or(0);
    println!(
        "peak memory:        {:.1} MiB (of a 128 MB function)",
        peak as f64 / 1024.0
    );

    // A second, warm run as the daily schedule makes it.
    emulator.reset_calls(region).await?;
    let scheduled = json!({"detail-type": "Scheduled Event", "source": "aws.events", "resources": ["arn:aws:events:us-east-1:123456789012:rule/daily"], "detail": {}});
    let warm = function
        .invoke(&scheduled, Duration::from_secs(900))
        .await?;
    let warm_calls = emulator.calls(region).await?;
    println!(
        "warm scheduled run: {:.2} s, {} API calls, peak memory {:.1} MiB",
        warm.duration.as_secs_f64(),
        warm_calls.values().sum::<u64>(),
        function.peak_memory_kib().unwrap_or(0) as f64 / 1024.0
    );
    println!();
    Ok(at_floor && peak < 100 * 1024)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::from(2);
        }
    };
    println!(
        "# Benchmarks (local emulator; API call counts are exact, times are this machine's)\n"
    );
    match tagger_scenario(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("a scenario needed more calls than its floor or too much memory");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("benchmark failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
