//! The organization: a management account (moto's default), a reporting account for the central
//! stack (in the root, as AWS recommends a dedicated account outside the workloads; subscribed to
//! QuickSight) and an organizational unit of member accounts, the ones the fleet runs in. Made by
//! `demo/organization.py` (boto3, which the deployment already uses).

use anyhow::Context as _;
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
    let printed = demo
        .python_script(
            "organization.py",
            &[
                "--members".to_owned(),
                demo.args.fleet.accounts.to_string(),
                "--region".to_owned(),
                demo.home.clone(),
            ],
        )
        .await?;
    let made: Made =
        serde_json::from_slice(&printed).context("demo/organization.py printed no organization")?;
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
