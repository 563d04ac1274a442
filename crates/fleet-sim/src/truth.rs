//! The ground truth: per node, what a correct report says about it. Derived from the simulated
//! node, never from the files written, so a query that misreads the files disagrees with it.
//!
//! Two meanings of "severity" are kept apart everywhere: the **compliance level** a patch is
//! reported at, which its baseline's rule gives (UNSPECIFIED on AWS's predefined baselines), and
//! the **vendor's** classification and severity of the patch (`security` is the vendor's Security
//! classification).

use serde_json::{Value, json};

use crate::config;
use crate::node::{Node, PATCH_STATES, PatchState, Status};
use crate::sync::{SEVERITIES, ScanCounts};
use crate::time::{DAY, iso};

/// A node is stale when it is live but its last capture is older than this before the present.
pub const STALE_AFTER_DAYS: i64 = 7;
/// A hybrid node not heard from for this long is presumed deregistered: the sync keeps its files
/// and nothing else says it is gone, so the reports leave it out of the live nodes (and list it
/// as gone). EC2 instances are not: their fate is known from EC2 and AWS Config.
pub const GONE_AFTER_DAYS: i64 = 30;

fn by_level(counts: &[u64; 6]) -> Value {
    SEVERITIES
        .iter()
        .zip(counts)
        .map(|(s, n)| ((*s).to_string(), json!(n)))
        .collect()
}

/// The ground-truth line of a node; `snapshots` are the times of its account and Region's Config
/// snapshots, newest first; `history` the range the ConfigHistory deliveries cover.
pub fn line(
    node: &Node,
    account: &str,
    region: &str,
    now: i64,
    snapshots: &[i64],
    history: (i64, i64),
) -> Value {
    let newest_snapshot = snapshots.first().copied().unwrap_or(i64::MIN);
    let patches = node.patch_list();
    let scan = node.scans.last();
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
                    scan.level(patch, state),
                    if classified { patch.classification } else { "" },
                    if classified {
                        patch.vendor_severity
                    } else {
                        ""
                    },
                    installed.map(iso).unwrap_or_default(),
                    state.status(&scan.baseline),
                ])
            })
            .collect();
        let state_counts: serde_json::Map<String, Value> = PATCH_STATES
            .iter()
            .map(|s| (s.as_str().to_owned(), json!(counts.state(*s))))
            .collect();
        json!({
            "time": iso(scan.time),
            "operation": if scan.install { "Install" } else { "Scan" },
            "baseline_id": scan.baseline.id,
            "baseline_name": scan.baseline.name,
            "predefined_baseline": scan.baseline.predefined(),
            "patch_group": scan.patch_group,
            "execution_type": scan.execution_type,
            "status": scan.status(),
            "highest_noncompliant_level": counts.overall_severity(),
            "states": state_counts,
            "unreported_not_applicable": scan.unreported_not_applicable,
            "critical_noncompliant": counts.critical,
            "security_noncompliant": counts.security,
            "other_noncompliant": counts.other,
            "available_security_updates": counts.state(PatchState::AvailableSecurityUpdate),
            "noncompliant_by_level": by_level(&counts.non_compliant),
            "compliant_by_level": by_level(&counts.compliant),
            "patches": patch_rows,
        })
    });
    let managed = node.managed;
    let gone = node.hybrid
        && node.status != Status::Terminated
        && node.last_seen < now - GONE_AFTER_DAYS * DAY;
    let live = node.live() && !gone;
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
            "managed_rule": v.managed_rule,
            "patch_compliance": v.patch,
            "patch_reason": v.patch_reason,
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
        "gone": gone,
        "deregistered": node.deregistered.is_some(),
        "last_seen": m(json!(iso(node.last_seen))),
        "stale": live && node.last_seen < now - STALE_AFTER_DAYS * DAY,
        "computer_name": m(json!(node.computer_name)),
        "ip_address": m(json!(node.ip)),
        "platform_type": node.platform.platform_type,
        "platform_name": node.platform_name(),
        "platform_version": node.platform_version(),
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
        "missing_by_level": by_level(&counts.map(|c| c.non_compliant).unwrap_or_default()),
        "tags": tags,
        "inventory": inventoried,
        "applications": applications,
        "associations": node.associations.iter().map(|a| json!({
            "id": a.id, "document": a.document,
            "status": if a.compliant { "COMPLIANT" } else { "NON_COMPLIANT" },
        })).collect::<Vec<_>>(),
        "custom_compliance": node.custom.as_ref().map(|c| json!({
            "type": c.type_name,
            "status": if c.items.iter().all(|i| i.3) { "COMPLIANT" } else { "NON_COMPLIANT" },
            "items": c.items.len(),
        })),
        "config": view,
        "config_by_day": by_day(node, snapshots),
        "patch_history": patch_history(node, history),
    })
}

/// The node's AWS::SSM::PatchCompliance configuration items in the ConfigHistory range (one per
/// scan, at the scan's time, which is the item's capture time): `[time, status, installed
/// (Installed and InstalledOther), non-compliant, missing, failed, [non-compliant patch ids]]`,
/// oldest first. What a CloudTrail Lake event data store of configuration items holds.
fn patch_history(node: &Node, (start, end): (i64, i64)) -> Vec<Value> {
    if !node.managed {
        return Vec::new();
    }
    let patches = node.patch_list();
    node.scans
        .iter()
        .filter(|s| (start..end).contains(&s.time))
        .map(|scan| {
            let count = |states: &[PatchState]| {
                scan.items
                    .iter()
                    .filter(|(_, state, _)| states.contains(state))
                    .count()
            };
            let mut noncompliant: Vec<&str> = scan
                .items
                .iter()
                .filter(|(_, state, _)| state.status(&scan.baseline) == "NON_COMPLIANT")
                .map(|(i, _, _)| patches[*i].id.as_str())
                .collect();
            noncompliant.sort_unstable();
            json!([
                iso(scan.time),
                scan.status(),
                count(&[PatchState::Installed, PatchState::InstalledOther]),
                noncompliant.len(),
                count(&[PatchState::Missing]),
                count(&[PatchState::Failed]),
                noncompliant,
            ])
        })
        .collect()
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
