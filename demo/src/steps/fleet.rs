//! The fleet: `fleet-sim` plans the organization's nodes (the ground truth, no data yet), Systems
//! Manager in each member account and Region learns its live nodes, and the first member account
//! gets a Config recorder of its own, as a Control Tower account has, which the patching StackSet
//! must use and never touch.

use anyhow::Context as _;
use fleet_sim::truth::TruthLine;
use fleet_sim::{Options, local};
use local_aws::NodeSpec;

use crate::context::Demo;

/// The recorder Control Tower creates in an enrolled account ("Resources created by AWS Control
/// Tower", Control Tower user guide).
pub const CONTROL_TOWER_RECORDER: &str = "aws-controltower-BaselineConfigRecorder";

/// The days the report runs on (1 for a given fleet folder, which has one).
pub fn days(demo: &Demo) -> usize {
    if demo.args.fleet_dir.is_some() {
        1
    } else {
        usize::from(demo.args.days)
    }
}

/// fleet-sim's options for this organization on day `day` of [`days`] (the last is the
/// present); `write_data` false plans only. The present's ground truth goes to `<out>/fleet`, an
/// earlier day's to `<out>/days/<date>`.
pub fn options(demo: &Demo, day: usize, write_data: bool) -> Options {
    let mut fleet = demo.args.fleet.clone();
    fleet.account_ids = Some(demo.members.clone());
    fleet.now = Some(demo.now);
    let spec = fleet.spec().on_day(days(demo), day);
    let out = if day + 1 >= days(demo) {
        demo.args.out.join("fleet")
    } else {
        demo.args
            .out
            .join("days")
            .join(&fleet_sim::time::iso(spec.now)[..10])
    };
    Options {
        spec,
        sync: local(&out, "sync"),
        config: Some(local(&out, "config")),
        out,
        only: Vec::new(),
        concurrency: 32,
        write_data,
        aws: None,
    }
}

pub async fn run(demo: &mut Demo) -> anyhow::Result<String> {
    if let Some(dir) = demo.args.fleet_dir.clone() {
        demo.now = given_now(&dir)?;
        let account = control_tower_recorder(demo).await?;
        return Ok(format!(
            "the fleet of {} (as of {}): its data arrives as it is; account {account} has its own \
             Config recorder ({CONTROL_TOWER_RECORDER})",
            dir.display(),
            fleet_sim::time::iso(demo.now)
        ));
    }
    // The simulated present: the current minute, the same for every fleet-sim call of the run.
    demo.now = fleet_sim::time::now() / 60 * 60;
    let summary = fleet_sim::run(options(demo, days(demo) - 1, false)).await?;
    let truth = std::fs::read_to_string(demo.args.out.join("fleet/ground-truth.jsonl"))?;
    demo.truth = truth
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("reading fleet-sim's ground truth")?;
    let mut registered = 0;
    for account in demo.members.clone() {
        for region in demo.args.fleet.regions.clone() {
            let specs = node_specs(&demo.truth, &account, &region);
            registered += specs.len();
            for chunk in specs.chunks(500) {
                demo.emulator
                    .seed_nodes_in(&account, &region, chunk)
                    .await?;
            }
        }
    }
    let account = control_tower_recorder(demo).await?;
    Ok(format!(
        "{} nodes planned ({} managed, {} live); {registered} live nodes registered with Systems \
         Manager; account {account} has its own Config recorder ({CONTROL_TOWER_RECORDER})",
        summary.nodes, summary.managed, summary.live
    ))
}

/// The `now` of a given fleet folder's fleet.json, with what is wrong when it has none.
fn given_now(dir: &std::path::Path) -> anyhow::Result<i64> {
    anyhow::ensure!(
        dir.is_dir(),
        "--fleet-dir {} is not a folder (fleet-sim --out writes one)",
        dir.display()
    );
    let path = dir.join("fleet.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "--fleet-dir {} has no fleet.json (fleet-sim writes one)",
            dir.display()
        )
    })?;
    let meta: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let now = meta["now"].as_str().with_context(|| {
        format!(
            "{} has no \"now\" (the time the fleet describes)",
            path.display()
        )
    })?;
    for folder in ["sync", "config"] {
        anyhow::ensure!(
            dir.join(folder).is_dir(),
            "--fleet-dir {} has no {folder}/ folder",
            dir.display()
        );
    }
    fleet_sim::time::parse_iso(now)
        .with_context(|| format!("{}: \"now\" is not an ISO 8601 time: {now}", path.display()))
}

/// The first member account gets a Config recorder of its own, as a Control Tower account has.
async fn control_tower_recorder(demo: &Demo) -> anyhow::Result<String> {
    let account = demo.members[0].clone();
    for region in demo.args.fleet.regions.clone() {
        let config = aws_sdk_config::Client::new(&demo.sdk(&account, &region).await);
        config
            .put_configuration_recorder()
            .configuration_recorder(
                aws_sdk_config::types::ConfigurationRecorder::builder()
                    .name(CONTROL_TOWER_RECORDER)
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
    Ok(account)
}

/// The nodes Systems Manager knows in an account and Region, as the emulator registers them.
fn node_specs(truth: &[TruthLine], account: &str, region: &str) -> Vec<NodeSpec> {
    truth
        .iter()
        .filter(|n| n.account_id == account && n.region == region && n.live)
        .map(|n| {
            let platform = (&n.platform_type, &n.platform_name, &n.platform_version);
            let mut spec = if n.node_type == "Hybrid" {
                NodeSpec::hybrid(platform.0, platform.1, platform.2)
            } else {
                NodeSpec::ec2(platform.0, platform.1, platform.2)
            };
            if n.instance_status.as_deref() == Some("ConnectionLost") {
                spec.ping_status = "ConnectionLost";
            }
            spec
        })
        .collect()
}
