//! `sync-monitor`'s schedule fires (the emulator delivers the rule's Scheduled Event to its
//! target): every member account and Region has written recently, none is stale.

use anyhow::{Context as _, bail};

use crate::context::Demo;

pub async fn run(demo: &mut Demo) -> anyhow::Result<String> {
    let rule = demo.resources["central"]["SyncMonitorScheduleRule"]
        .as_str()
        .context("the central stack has no SyncMonitorScheduleRule")?
        .to_owned();
    let answers = demo
        .emulator
        .fire_schedule(&demo.central, &demo.home, &rule)
        .await?;
    let answer = answers
        .first()
        .context("the schedule's rule invoked nothing")?;
    if answer["outcome"] != "response" {
        bail!("sync-monitor failed: {answer}");
    }
    let expected = demo.members.len() * demo.args.fleet.regions.len();
    let found = answer["response"]["sources"].as_u64().unwrap_or_default() as usize;
    let stale = answer["response"]["stale"].as_array().map_or(0, Vec::len);
    if found != expected || stale != 0 {
        bail!("sync-monitor found {found} sources ({expected} expected), {stale} stale: {answer}");
    }
    Ok(format!(
        "rule {rule} fired: sync-monitor found {found} account-Region sources, none stale"
    ))
}
