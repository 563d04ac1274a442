//! What each function's role, as the stacks created it, grants: `demo/grants.py` reads the roles
//! back from IAM in every account and Region a function ran in, by crate, into
//! `granted-by-function.json`, and every statement of the stacks' roles and resource policies into
//! `statements.json`. The demo's test compares them with what each function called
//! (`calls-by-function.json`) and with the emulator's authorization decisions (`decisions.json`):
//! least privilege, measured on the roles and policies the templates made.

use std::collections::BTreeSet;

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
    let statements = demo.args.out.join("statements.json");
    let mut args = vec![
        "--out".to_owned(),
        path.display().to_string(),
        "--statements".to_owned(),
        statements.display().to_string(),
        "--places".to_owned(),
    ];
    args.extend(places);
    demo.python_script("grants.py", &args).await?;
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    Ok(written.as_object().map_or(0, serde_json::Map::len))
}
