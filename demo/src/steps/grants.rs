//! What each function's role, as the stacks created it, grants: `demo/grants.py` reads the roles
//! back from IAM in every account and Region a function ran in, by crate, into
//! `granted-by-function.json`. The demo's test compares it with what each function called
//! (`calls-by-function.json`): least privilege, measured on the roles the templates made.

use std::collections::BTreeSet;

use anyhow::{Context as _, bail};
use local_aws::workspace_root;

use crate::context::Demo;

/// Writes `granted-by-function.json`; returns how many functions it covers.
pub async fn write(demo: &Demo) -> anyhow::Result<usize> {
    let places: BTreeSet<String> = demo
        .runner
        .stats()
        .keys()
        .filter_map(|k| k.rsplit_once('/').map(|(place, _)| place.to_owned()))
        .collect();
    let path = demo.args.out.join("granted-by-function.json");
    let output = tokio::process::Command::new(&demo.args.python)
        .arg(workspace_root().join("demo/grants.py"))
        .arg("--out")
        .arg(&path)
        .arg("--places")
        .args(&places)
        .env("AWS_ENDPOINT_URL", demo.emulator.endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .with_context(|| format!("running {}: run `make setup`", demo.args.python.display()))?;
    if !output.status.success() {
        bail!(
            "demo/grants.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    Ok(written.as_object().map_or(0, serde_json::Map::len))
}
