//! The other schedules fire, as EventBridge fires them: glue-column-remover's column fix in the
//! central account and ec2-os-tagger's daily run in every member account and Region. Each rule's
//! Lambda target is invoked only if its permission lets EventBridge invoke it for that rule, and
//! must answer. (sync-monitor's and compliance-report's schedules have steps of their own.)

use anyhow::bail;

use crate::context::Demo;

pub async fn run(demo: &mut Demo) -> anyhow::Result<String> {
    let mut places = vec![(demo.central.clone(), demo.home.clone())];
    for account in &demo.members {
        for region in &demo.args.fleet.regions {
            places.push((account.clone(), region.clone()));
        }
    }
    let own_steps = [
        demo.resources["central"]["SyncMonitorScheduleRule"].as_str(),
        demo.resources["central"]["ComplianceReportScheduleRule"].as_str(),
    ];
    let mut fired = Vec::new();
    for (account, region) in places {
        for (rule, targets) in demo.emulator.scheduled_rules(&account, &region).await? {
            if own_steps.contains(&Some(rule.as_str()))
                || !targets.iter().any(|t| t.contains(":lambda:"))
            {
                continue;
            }
            for answer in demo
                .emulator
                .fire_schedule(&account, &region, &rule)
                .await?
            {
                if answer["outcome"] != "response" {
                    bail!("{account}/{region}: rule {rule}: {answer}");
                }
            }
            fired.push(format!("{account}/{region}/{rule}"));
        }
    }
    if fired.is_empty() {
        bail!(
            "no scheduled rule with a Lambda target besides sync-monitor's and compliance-report's"
        );
    }
    Ok(format!(
        "{} scheduled rules fired (the column fix, the OS tagger in every member account and \
         Region), each function invoked as EventBridge invokes it",
        fired.len()
    ))
}
