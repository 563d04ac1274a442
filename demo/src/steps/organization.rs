//! The organization: a management account (moto's default), a reporting account for the central
//! stack (in the root, as AWS recommends a dedicated account outside the workloads; subscribed to
//! QuickSight) and an organizational unit of member accounts, the ones the fleet runs in. Made by
//! `demo/organization.py` (boto3, which the deployment already uses).

use anyhow::{Context as _, bail};
use local_aws::workspace_root;
use serde::Deserialize;

use crate::context::{Demo, MANAGEMENT};

#[derive(Deserialize)]
struct Made {
    org_id: String,
    ou: String,
    central: String,
    members: Vec<String>,
}

pub async fn run(demo: &mut Demo) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(&demo.args.python)
        .arg(workspace_root().join("demo/organization.py"))
        .arg("--members")
        .arg(demo.args.fleet.accounts.to_string())
        .arg("--region")
        .arg(&demo.home)
        .env("AWS_ENDPOINT_URL", demo.emulator.endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .with_context(|| format!("running {}: run `make setup`", demo.args.python.display()))?;
    if !output.status.success() {
        bail!(
            "demo/organization.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let made: Made = serde_json::from_slice(&output.stdout)
        .context("demo/organization.py printed no organization")?;
    demo.org_id = made.org_id;
    demo.ou = made.ou;
    demo.central = made.central;
    demo.members = made.members;
    Ok(format!(
        "organization {} (management account {MANAGEMENT}); reporting account {} in the root, \
         subscribed to QuickSight; organizational unit {} with member accounts {}",
        demo.org_id,
        demo.central,
        demo.ou,
        demo.members.join(", ")
    ))
}
