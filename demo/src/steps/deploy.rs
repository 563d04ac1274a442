//! `make deploy` and `make undeploy` against the emulator: the same `deploy/deploy.py`, with a
//! configuration file for the demo's organization and AWS profiles that point at the emulator.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, bail};
use local_aws::workspace_root;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::context::{Demo, MANAGEMENT, is_dist};
use crate::steps::fleet::CONTROL_TOWER_RECORDER;

/// The functions the templates deploy: each has a package `<crate>.zip`.
/// The workspace's Lambda functions, by the Makefile's rule (`FUNCTIONS`): a crate with a
/// `src/main.rs` that depends on `lambda_runtime`. fleet-sim and the tools are not functions.
fn functions() -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(local_aws::workspace_root().join("crates"))? {
        let dir = entry?.path();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if dir.join("src/main.rs").is_file()
            && manifest.lines().any(|l| l.starts_with("lambda_runtime"))
            && let Some(name) = dir.file_name().and_then(|n| n.to_str())
        {
            found.push(name.to_owned());
        }
    }
    found.sort();
    anyhow::ensure!(!found.is_empty(), "no Lambda function crate under crates/");
    Ok(found)
}

/// What changes between the first deployment and the update.
struct Choices {
    keep_data_on_delete: bool,
    principals: Vec<String>,
    /// The organization syncs' name: the update renames them in every member account and Region.
    sync_name: &'static str,
    /// The QuickSight data source's id: the update gives it a new one (a replacement).
    data_source_id: &'static str,
}

fn principal(demo: &Demo, kind: &str, name: &str) -> String {
    format!(
        "arn:aws:quicksight:{}:{}:{kind}/default/{name}",
        demo.home, demo.central
    )
}

pub async fn run(demo: &mut Demo) -> anyhow::Result<String> {
    let choices = Choices {
        keep_data_on_delete: true,
        principals: vec![principal(demo, "group", "patch-compliance-auditors")],
        sync_name: "patch-compliance",
        data_source_id: "patch-compliance",
    };
    deploy(demo, "deploy", &choices).await?;
    let (syncs, recorders_created, recorders_kept, tagged) = check_members(demo).await?;
    Ok(format!(
        "central stack, QuickSight stack, 2 StackSets with {} instances: {syncs} organization \
         resource data syncs; {recorders_created} Config recorders created where none existed, \
         {recorders_kept} existing ones used untouched; {tagged} managed nodes tagged with their OS",
        demo.members.len() * demo.args.fleet.regions.len() * 2
    ))
}

/// The update: a second QuickSight principal (the data source and datasets updated in place), the
/// syncs renamed, and the data no longer kept on deletion.
fn updated(demo: &Demo) -> Choices {
    Choices {
        keep_data_on_delete: false,
        principals: vec![
            principal(demo, "group", "patch-compliance-auditors"),
            principal(demo, "user", "platform-admin"),
        ],
        sync_name: "patch-compliance-v2",
        data_source_id: "patch-compliance",
    }
}

/// The second update: a new QuickSight data source id (a replacement of the data source).
fn renamed(demo: &Demo) -> Choices {
    Choices {
        data_source_id: "patch-compliance-v2",
        ..updated(demo)
    }
}

pub async fn update(demo: &mut Demo) -> anyhow::Result<String> {
    // The datasets get a second principal and a new data source id (a replacement); the syncs a new
    // name; s3-cleanup receives an Update and deletes nothing.
    let before = count_objects(demo, &demo.central_output("SyncBucketName")?).await?;
    deploy(demo, "deploy", &updated(demo)).await?;
    let choices = renamed(demo);
    deploy(demo, "deploy", &choices).await?;
    let after = count_objects(demo, &demo.central_output("SyncBucketName")?).await?;
    if after != before {
        bail!("the update changed the sync bucket: {before} objects before, {after} after");
    }
    // SSM allows one organization-shared sync per account and Region: the rename replaced it.
    for account in &demo.members {
        for region in &demo.args.fleet.regions {
            let ssm = aws_sdk_ssm::Client::new(&demo.sdk(account, region).await);
            let names: Vec<String> = ssm
                .list_resource_data_sync()
                .send()
                .await?
                .resource_data_sync_items()
                .iter()
                .filter_map(|s| s.sync_name().map(str::to_owned))
                .collect();
            if names != [choices.sync_name] {
                bail!(
                    "{account}/{region}: syncs {names:?} after the rename to {}",
                    choices.sync_name
                );
            }
        }
    }
    // A new DataSourceId replaced the data source: the old one and its datasets are gone.
    let quicksight = aws_sdk_quicksight::Client::new(&demo.sdk(&demo.central, &demo.home).await);
    let sources: Vec<String> = quicksight
        .list_data_sources()
        .aws_account_id(&demo.central)
        .send()
        .await?
        .data_sources()
        .iter()
        .filter_map(|d| d.data_source_id().map(str::to_owned))
        .collect();
    let data_sets: Vec<String> = quicksight
        .list_data_sets()
        .aws_account_id(&demo.central)
        .send()
        .await?
        .data_set_summaries()
        .iter()
        .filter_map(|d| d.data_set_id().map(str::to_owned))
        .collect();
    if !choices.principals.is_empty()
        && (sources != [choices.data_source_id]
            || data_sets
                .iter()
                .any(|id| !id.starts_with(&format!("{}-", choices.data_source_id))))
    {
        bail!(
            "after the new DataSourceId {}: data sources {sources:?}, datasets {data_sets:?}",
            choices.data_source_id
        );
    }
    Ok(format!(
        "central stack updated (KeepDataOnDelete false), QuickSight datasets shared with a second \
         principal and their data source replaced by {} (the old one and its datasets deleted), \
         every member's organization sync renamed {} through the StackSet; the sync bucket still \
         holds its {after} objects",
        choices.data_source_id, choices.sync_name
    ))
}

pub async fn undeploy(demo: &mut Demo) -> anyhow::Result<String> {
    // What the roles the stacks created grant, read before the stacks delete them.
    let functions = crate::steps::grants::write(demo).await?;
    let buckets = [
        demo.central_output("SyncBucketName")?,
        demo.central_output("AthenaResultsBucketName")?,
        demo.central_output("ConfigBucketName")?,
    ];
    // The file as it was last deployed: undeploy removes what it describes.
    let choices = renamed(demo);
    deploy(demo, "undeploy", &choices).await?;
    let quicksight = aws_sdk_quicksight::Client::new(&demo.sdk(&demo.central, &demo.home).await);
    let left = quicksight
        .list_data_sets()
        .aws_account_id(&demo.central)
        .send()
        .await?;
    if !left.data_set_summaries().is_empty() {
        bail!(
            "{} QuickSight datasets left after undeploy",
            left.data_set_summaries().len()
        );
    }
    let s3 = aws_setup::s3_client(&demo.sdk(&demo.central, &demo.home).await);
    for bucket in &buckets {
        if s3.head_bucket().bucket(bucket).send().await.is_ok() {
            bail!("bucket {bucket} still exists after undeploy with keep_data_on_delete = false");
        }
    }
    // The recorder Control Tower made is still there; the ones the StackSet made are gone.
    let mut left = 0;
    for account in &demo.members {
        for region in &demo.args.fleet.regions {
            let config = aws_sdk_config::Client::new(&demo.sdk(account, region).await);
            let recorders = config.describe_configuration_recorders().send().await?;
            for r in recorders.configuration_recorders() {
                if r.name() != Some(CONTROL_TOWER_RECORDER) {
                    bail!(
                        "{account}/{region}: recorder {:?} left after undeploy",
                        r.name()
                    );
                }
                left += 1;
            }
        }
    }
    Ok(format!(
        "the grants of {functions} functions' roles recorded; StackSets, then the QuickSight stack \
         (its datasets and data source deleted) and the central stack deleted; s3-cleanup emptied the buckets and CloudFormation deleted them; the \
         {left} Control Tower recorders are untouched"
    ))
}

/// Runs deploy/deploy.py `action` with the demo's configuration and keeps the outputs.
async fn deploy(demo: &mut Demo, action: &str, choices: &Choices) -> anyhow::Result<()> {
    let config = write_files(demo, choices)?;
    let outputs = demo.args.out.join("deploy-outputs.json");
    let mut child = tokio::process::Command::new(&demo.args.python)
        .arg(workspace_root().join("deploy/deploy.py"))
        .arg(action)
        .arg("--config")
        .arg(&config)
        .args(["--yes", "--poll", "0.2", "--json"])
        .arg(&outputs)
        .env("AWS_CONFIG_FILE", demo.args.out.join("aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            demo.args.out.join("aws-credentials"),
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}: run `make setup`", demo.args.python.display()))?;
    let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    while let Some(line) = lines.next_line().await? {
        println!("  │ {line}");
    }
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        use tokio::io::AsyncReadExt as _;
        err.read_to_string(&mut stderr).await?;
    }
    let status = child.wait().await?;
    if !status.success() {
        bail!(
            "deploy/deploy.py {action} failed ({status}): {}",
            stderr.trim()
        );
    }
    if action == "deploy" {
        let written: Value = serde_json::from_str(&std::fs::read_to_string(&outputs)?)?;
        demo.outputs = written["outputs"].clone();
        demo.resources = written["resources"].clone();
    }
    Ok(())
}

/// The AWS profiles (the two roles the deployment signs in as, at the emulator) and the
/// deployment's configuration file; returns the latter's path.
fn write_files(demo: &Demo, choices: &Choices) -> anyhow::Result<PathBuf> {
    let out = &demo.args.out;
    let endpoint = demo.emulator.endpoint();
    let mut profiles = std::fs::File::create(out.join("aws-config"))?;
    for (name, account) in [
        ("demo-central", &demo.central),
        ("demo-management", &MANAGEMENT.to_owned()),
    ] {
        writeln!(
            profiles,
            "[profile {name}]\nregion = {}\nendpoint_url = {endpoint}\naws_access_key_id = {account}\n\
             aws_secret_access_key = local\n",
            demo.home
        )?;
    }
    std::fs::write(out.join("aws-credentials"), "")?;
    let dist = packages(demo)?;
    let quote = |items: &[String]| {
        items
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let path = out.join("deploy.toml");
    std::fs::write(
        &path,
        format!(
            r#"# The demo's deployment (written by the demo; deploy/example.toml documents every key).
organization_id = "{org}"

[artifacts]
bucket_prefix = "demo-artifacts"
version = "demo"
dist = {dist:?}

[central]
profile = "demo-central"
account_id = "{central}"
region = "{home}"
stack_name = "patch-compliance"
keep_data_on_delete = {keep}
alarm_email = "patch-alerts@example.com"

[central.parameters]
# Days, not weeks: the demo's reports run on three days, and patch ages cross these.
ReportSlaDays = "CRITICAL=1,Security=1,SecurityUpdates=1,CriticalUpdates=1,default=2"
# The first member runs Control Tower's recorder, whose role may not write here: AWS Config then
# delivers as its service principal, which the bucket accepts for the accounts named here.
ConfigServicePrincipalAccounts = "{control_tower_account}"
# The demo reads the report back as the reporting account's administrator: a named reader.
ReportReaderArns = "arn:aws:iam::{central}:root"

[config_analytics]
enabled = true

[quicksight]
enabled = {quicksight}
principal_arns = [{principals}]

[quicksight.parameters]
DataSourceId = "{data_source_id}"

[owners]
enabled = true
profile = "demo-management"

[members]
profile = "demo-management"
regions = [{regions}]
organizational_units = ["{ou}"]
failure_tolerance_percentage = 0
max_concurrent_percentage = 100
management_account_stacks = false

[members.data_sync.parameters]
SyncName = "{sync_name}"

[members.patching]
enabled = true
stack_set_name = "patch-compliance-patching"
"#,
            org = demo.org_id,
            central = demo.central,
            control_tower_account = demo.members[0],
            home = demo.home,
            keep = choices.keep_data_on_delete,
            quicksight = !choices.principals.is_empty(),
            principals = quote(&choices.principals),
            regions = quote(&demo.args.fleet.regions),
            ou = demo.ou,
            sync_name = choices.sync_name,
            data_source_id = choices.data_source_id,
        ),
    )?;
    Ok(path)
}

/// The folder of packages `make deploy` publishes: `make build`'s own when the demo runs release
/// artifacts; otherwise one stand-in package per function, because the runner runs the Cargo
/// target folder's binary of the same name in its place (zipping debug binaries of tens of
/// megabytes into the emulator's memory for every account and Region would only cost time).
fn packages(demo: &Demo) -> anyhow::Result<PathBuf> {
    if is_dist(&demo.args.bin_dir) {
        return Ok(demo.args.bin_dir.clone());
    }
    let dist = demo.args.out.join("dist");
    for function in functions()? {
        local_aws::lambda::artifact(&demo.args.bin_dir, &function)?;
        let folder = dist.join(&function);
        std::fs::create_dir_all(&folder)?;
        write_stand_in(&folder.join("bootstrap.zip"), &function)?;
    }
    Ok(dist)
}

fn write_stand_in(path: &Path, function: &str) -> anyhow::Result<()> {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
    zip.start_file(
        "bootstrap",
        zip::write::SimpleFileOptions::default().unix_permissions(0o755),
    )?;
    writeln!(
        zip,
        "#!/bin/sh\necho '{function}: a stand-in package; the local runner runs target/<profile>/{function}' >&2\nexit 1"
    )?;
    zip.finish()?;
    Ok(())
}

async fn count_objects(demo: &Demo, bucket: &str) -> anyhow::Result<usize> {
    Ok(crate::steps::data::list_keys(demo, bucket).await?.len())
}

/// What the member StackSets did in every member account and Region: syncs, recorders, tags.
async fn check_members(demo: &Demo) -> anyhow::Result<(usize, usize, usize, usize)> {
    let bucket = demo.central_output("SyncBucketName")?;
    let (mut syncs, mut created, mut kept, mut tagged) = (0, 0, 0, 0);
    for account in &demo.members {
        for region in &demo.args.fleet.regions {
            let config = demo.sdk(account, region).await;
            let ssm = aws_sdk_ssm::Client::new(&config);
            let listed = ssm.list_resource_data_sync().send().await?;
            syncs += listed
                .resource_data_sync_items()
                .iter()
                .filter(|s| s.s3_destination().map(|d| d.bucket_name()) == Some(bucket.as_str()))
                .count();
            let recorders = aws_sdk_config::Client::new(&config)
                .describe_configuration_recorders()
                .send()
                .await?;
            for r in recorders.configuration_recorders() {
                if r.name() == Some(CONTROL_TOWER_RECORDER) {
                    kept += 1;
                } else {
                    created += 1;
                }
            }
            let nodes = demo.emulator.managed_nodes(account, region).await?;
            tagged += nodes
                .iter()
                .filter(|n| n["Tags"].get("OSName").is_some())
                .count();
        }
    }
    let expected = demo.members.len() * demo.args.fleet.regions.len();
    if syncs != expected || created + kept != expected {
        bail!(
            "{syncs} syncs and {} recorders in {expected} member accounts and Regions",
            created + kept
        );
    }
    Ok((syncs, created, kept, tagged))
}
