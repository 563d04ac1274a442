//! The ground truth: per node, what a correct report says about it. Derived from the simulated
//! node, never from the files written, so a query that misreads the files disagrees with it.

use serde_json::{Value, json};

use crate::config;
use crate::node::{Node, PatchState};
use crate::sync::{self, SEVERITIES, ScanCounts};
use crate::time::{DAY, iso};

/// A node is stale when it is live but its last capture is older than this before the present.
pub const STALE_AFTER_DAYS: i64 = 7;

/// The ground-truth line of a node; `snapshots` are the times of its account and Region's Config
/// snapshots, newest first.
pub fn line(node: &Node, account: &str, region: &str, now: i64, snapshots: &[i64]) -> Value {
    let newest_snapshot = snapshots.first().copied().unwrap_or(i64::MIN);
    let patches = node.patch_list();
    let scan = node.scans.last();
    let by_severity = |counts: &[u64; 6]| -> Value {
        SEVERITIES
            .iter()
            .zip(counts)
            .map(|(s, n)| ((*s).to_string(), json!(n)))
            .collect()
    };
    let counts = scan.map(|s| ScanCounts::of(s, patches));
    let scan_json = scan.zip(counts.as_ref()).map(|(scan, counts)| {
        let patch_rows: Vec<Value> = scan
            .items
            .iter()
            .map(|&(index, state, installed)| {
                let patch = &patches[index];
                let classified = !state.unclassified();
                json!([
                    patch.id,
                    patch.title,
                    state.as_str(),
                    if classified { patch.severity } else { "" },
                    if classified { patch.classification } else { "" },
                    if classified { patch.patch_severity } else { "" },
                    installed.map(iso).unwrap_or_default(),
                ])
            })
            .collect();
        json!({
            "time": iso(scan.time),
            "operation": if scan.install { "Install" } else { "Scan" },
            "baseline_id": sync::baseline(node),
            "patch_group": node.patch_group,
            "status": scan.status(),
            "overall_severity": counts.overall_severity(),
            "counts": {
                "installed": counts.state(PatchState::Installed),
                "installed_other": counts.state(PatchState::InstalledOther),
                "installed_pending_reboot": counts.state(PatchState::InstalledPendingReboot),
                "installed_rejected": counts.state(PatchState::InstalledRejected),
                "missing": counts.state(PatchState::Missing),
                "failed": counts.state(PatchState::Failed),
                "not_applicable": counts.state(PatchState::NotApplicable),
            },
            "critical_noncompliant": counts.critical,
            "security_noncompliant": counts.security,
            "other_noncompliant": counts.other,
            "noncompliant_by_severity": by_severity(&counts.non_compliant),
            "compliant_by_severity": by_severity(&counts.compliant),
            "patches": patch_rows,
        })
    });
    let managed = node.managed;
    let live = node.live();
    let inventoried = node.inventory.is_some();
    let tags: serde_json::Map<String, Value> = if inventoried {
        node.tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    } else {
        Default::default()
    };
    let list = crate::catalog::applications(node.platform.platform_type);
    let applications: Vec<Value> = node
        .apps
        .iter()
        .map(|(i, version)| json!([list[*i].0, version]))
        .collect();
    let view = config::view(node, newest_snapshot).map(|v| {
        json!({
            "state": v.state,
            "name": if node.hybrid { None } else { node.tag("Name") },
            "instance_type": (!node.hybrid).then_some(node.instance_type),
            "platform": (!node.hybrid).then_some(node.platform.details),
            "managed_by_ssm": v.managed,
            "patch_compliance": v.patch,
            "captured": v.captured.map(crate::time::iso),
        })
    });
    let m = |value: Value| if managed { value } else { Value::Null };
    json!({
        "account_id": account,
        "region": region,
        "node_id": node.id,
        "node_type": if node.hybrid { "Hybrid" } else { "EC2" },
        "managed": managed,
        "instance_status": m(json!(node.status.as_str())),
        "live": live,
        "last_seen": m(json!(iso(node.last_seen))),
        "stale": live && node.last_seen < now - STALE_AFTER_DAYS * DAY,
        "computer_name": m(json!(node.computer_name)),
        "ip_address": m(json!(node.ip)),
        "platform_type": node.platform.platform_type,
        "platform_name": node.platform.name,
        "platform_version": node.platform.version,
        "agent_type": m(json!("amazon-ssm-agent")),
        "agent_version": m(json!(node.agent_version)),
        "ec2_state": (!node.hybrid).then(|| config::ec2_state(node, i64::MAX)),
        "launched": iso(node.launched),
        "patch_status": if !managed { Value::Null } else { json!(match scan {
            None => "NOT_SCANNED",
            Some(s) if s.non_compliant() => "NON_COMPLIANT",
            Some(_) => "COMPLIANT",
        }) },
        "scan": scan_json,
        "missing_by_severity": by_severity(&counts.map(|c| c.non_compliant).unwrap_or_default()),
        "tags": tags,
        "inventory": inventoried,
        "applications": applications,
        "association": node.association.as_ref().map(|a| if a.compliant { "COMPLIANT" } else { "NON_COMPLIANT" }),
        "config": view,
        "config_by_day": by_day(node, snapshots),
    })
}

/// What each day's newest Config snapshot says of the node (its state and the patch rule's
/// result), by the day of the snapshot's delivery (`yyyy-mm-dd`, the `dt` partition); days whose
/// snapshot does not list the node are left out.
fn by_day(node: &Node, snapshots: &[i64]) -> serde_json::Map<String, Value> {
    let mut days = serde_json::Map::new();
    for &t in snapshots {
        let day = crate::time::civil(t);
        let day = format!("{:04}-{:02}-{:02}", day.0, day.1, day.2);
        if days.contains_key(&day) {
            continue; // newest first: the day's newest snapshot came before
        }
        days.insert(
            day,
            config::view(node, t).map_or(
                Value::Null,
                |v| json!({"state": v.state, "patch_compliance": v.patch}),
            ),
        );
    }
    days.retain(|_, v| !v.is_null());
    days
}
