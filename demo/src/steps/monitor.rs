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
    let expected = match &demo.args.fleet_dir {
        Some(dir) => given_sources(&dir.join("sync"))?,
        None => demo.members.len() * demo.args.fleet.regions.len(),
    };
    let found = answer["response"]["sources"].as_u64().unwrap_or_default() as usize;
    let stale = answer["response"]["stale"].as_array().map_or(0, Vec::len);
    if found != expected || stale != 0 {
        bail!("sync-monitor found {found} sources ({expected} expected), {stale} stale: {answer}");
    }
    Ok(format!(
        "rule {rule} fired: sync-monitor found {found} account-Region sources, none stale"
    ))
}

/// The account and Region folders (`<type>/accountid=<a>/region=<r>/`) of a given fleet's sync
/// data: the sources sync-monitor must find.
fn given_sources(sync: &std::path::Path) -> anyhow::Result<usize> {
    let mut sources = std::collections::BTreeSet::new();
    for kind in std::fs::read_dir(sync)? {
        for account in std::fs::read_dir(kind?.path())? {
            let account = account?.path();
            if !account.is_dir() {
                continue;
            }
            for region in std::fs::read_dir(&account)? {
                let region = region?.path();
                if region.is_dir() {
                    sources.insert((
                        account.file_name().map(|a| a.to_owned()),
                        region.file_name().map(|r| r.to_owned()),
                    ));
                }
            }
        }
    }
    Ok(sources.len())
}
