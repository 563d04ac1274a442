//! The ground truth: per node, what a correct report says about it. Derived from the simulated
//! node, never from the files written, so a query that misreads the files disagrees with it.
//!
//! Two meanings of "severity" are kept apart everywhere: the **compliance level** a patch is
//! reported at, which its baseline's rule gives (UNSPECIFIED on AWS's predefined baselines), and
//! the **vendor's** classification and severity of the patch (`security` is the vendor's Security
//! classification).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

// The lines of ground-truth.jsonl. Fields are declared in alphabetical order: the JSON keeps the
// key order it always had (sorted), so readers of the file see the same text.

/// What a correct report says about one node: one line of `ground-truth.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthLine {
    pub account_id: String,
    /// `amazon-ssm-agent` for a managed node, else none.
    pub agent_type: Option<String>,
    /// The SSM Agent version of a managed node.
    pub agent_version: Option<String>,
    /// Installed applications (name, version), when the node reports software inventory.
    pub applications: Vec<(String, String)>,
    /// State Manager associations and their compliance.
    pub associations: Vec<Association>,
    /// The computer name of a managed node.
    pub computer_name: Option<String>,
    /// What the newest Config snapshot says, when it lists the node.
    pub config: Option<ConfigTruth>,
    /// What each day's newest snapshot says, by day (`yyyy-mm-dd`), days not listing it left out.
    pub config_by_day: BTreeMap<String, DayTruth>,
    /// The custom compliance type, when the node has one.
    pub custom_compliance: Option<CustomCompliance>,
    /// Deregistered from Systems Manager (a hybrid node) at some point.
    pub deregistered: bool,
    /// The EC2 state now (EC2 only).
    pub ec2_state: Option<String>,
    /// A hybrid node silent for [`GONE_AFTER_DAYS`]: presumed deregistered.
    pub gone: bool,
    /// Systems Manager's InstanceStatus of a managed node.
    pub instance_status: Option<String>,
    /// Reports software inventory.
    pub inventory: bool,
    /// The IP address of a managed node.
    pub ip_address: Option<String>,
    /// The last capture of a managed node.
    pub last_seen: Option<String>,
    /// When the node was launched or registered.
    pub launched: String,
    /// Counted among the live nodes by the reports.
    pub live: bool,
    /// Known to Systems Manager.
    pub managed: bool,
    /// Missing (non-compliant) patches by compliance level of the latest scan.
    pub missing_by_level: BTreeMap<String, u64>,
    /// `i-…` or `mi-…`.
    pub node_id: String,
    /// `EC2` or `Hybrid`.
    pub node_type: String,
    /// The AWS::SSM::PatchCompliance items of the ConfigHistory range, oldest first.
    pub patch_history: Vec<PatchHistoryRow>,
    /// NOT_SCANNED, NON_COMPLIANT or COMPLIANT for a managed node.
    pub patch_status: Option<String>,
    /// The platform name, as instance information reports it.
    pub platform_name: String,
    /// Linux, Windows or MacOS.
    pub platform_type: String,
    pub platform_version: String,
    /// The Region.
    pub region: String,
    /// The latest patch scan or install, when there was one.
    pub scan: Option<ScanTruth>,
    /// Live, but its last capture is older than [`STALE_AFTER_DAYS`].
    pub stale: bool,
    /// Tags as inventory reports them (empty without inventory).
    pub tags: BTreeMap<String, String>,
}

/// A State Manager association of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Association {
    /// The SSM document.
    pub document: String,
    pub id: String,
    /// COMPLIANT or NON_COMPLIANT.
    pub status: String,
}

/// A node's custom compliance type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomCompliance {
    /// How many items it reports.
    pub items: usize,
    /// COMPLIANT when every item is.
    pub status: String,
    /// The compliance type (`Custom:…`).
    #[serde(rename = "type")]
    pub kind: String,
}

/// The newest Config snapshot's view of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigTruth {
    /// The EC2 item's capture time (EC2 only).
    pub captured: Option<String>,
    /// The instance type (EC2 only).
    pub instance_type: Option<String>,
    /// The managed-by-SSM rule's result, when recorded.
    pub managed_rule: Option<String>,
    /// The Name tag (EC2 only).
    pub name: Option<String>,
    /// COMPLIANT, NON_COMPLIANT or NOT_EVALUATED.
    pub patch_compliance: String,
    /// Why NOT_EVALUATED: `not_recorded` or `not_scanned`.
    pub patch_reason: Option<String>,
    /// The platform details (EC2 only).
    pub platform: Option<String>,
    /// The EC2 state (EC2 only).
    pub state: Option<String>,
}

/// One day's newest snapshot's view of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayTruth {
    /// COMPLIANT, NON_COMPLIANT or NOT_EVALUATED.
    pub patch_compliance: String,
    /// The EC2 state (EC2 only).
    pub state: Option<String>,
}

/// A node's latest patch scan or install.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanTruth {
    /// Patches in state AvailableSecurityUpdate.
    pub available_security_updates: u64,
    pub baseline_id: String,
    /// Its name.
    pub baseline_name: String,
    /// Compliant patches by compliance level.
    pub compliant_by_level: BTreeMap<String, u64>,
    /// Non-compliant patches at compliance level CRITICAL.
    pub critical_noncompliant: u64,
    /// How the operation ran (`Command`, `Association`, …).
    pub execution_type: String,
    /// The highest compliance level among the non-compliant patches.
    pub highest_noncompliant_level: String,
    /// Non-compliant patches by compliance level.
    pub noncompliant_by_level: BTreeMap<String, u64>,
    /// `Scan` or `Install`.
    pub operation: String,
    /// Non-compliant patches that are neither critical nor security.
    pub other_noncompliant: u64,
    /// The node's patch group.
    pub patch_group: String,
    /// Every patch the scan reported.
    pub patches: Vec<PatchRow>,
    /// The baseline is one of AWS's predefined baselines.
    pub predefined_baseline: bool,
    /// Non-compliant patches the vendor classifies as security updates.
    pub security_noncompliant: u64,
    /// How many patches are in each PatchState.
    pub states: BTreeMap<String, u64>,
    /// COMPLIANT or NON_COMPLIANT.
    pub status: String,
    /// When the operation ended.
    pub time: String,
    /// NotApplicable patches the summary counts but no item lists.
    pub unreported_not_applicable: i64,
}

/// One patch of a scan: (id, title, PatchState, compliance level, classification, vendor
/// severity, installed time, compliance status); classification and severity are empty for a
/// patch the baseline does not classify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchRow(
    pub String,
    pub String,
    pub String,
    pub String,
    pub String,
    pub String,
    pub String,
    pub String,
);

/// One AWS::SSM::PatchCompliance configuration item: (time, status, installed, non-compliant,
/// missing, failed, the non-compliant patch ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchHistoryRow(
    pub String,
    pub String,
    pub usize,
    pub usize,
    pub usize,
    pub usize,
    pub Vec<String>,
);

fn by_level(counts: &[u64; 6]) -> BTreeMap<String, u64> {
    SEVERITIES
        .iter()
        .zip(counts)
        .map(|(s, n)| ((*s).to_owned(), *n))
        .collect()
}

fn owned(s: &str) -> String {
    s.to_owned()
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
) -> TruthLine {
    let newest_snapshot = snapshots.first().copied().unwrap_or(i64::MIN);
    let patches = node.patch_list();
    let scan = node.scans.last();
    let counts = scan.map(|s| ScanCounts::of(s, patches));
    let scan_truth = scan.zip(counts.as_ref()).map(|(scan, counts)| ScanTruth {
        time: iso(scan.time),
        operation: owned(if scan.install { "Install" } else { "Scan" }),
        baseline_id: scan.baseline.id.clone(),
        baseline_name: scan.baseline.name.clone(),
        predefined_baseline: scan.baseline.predefined(),
        patch_group: owned(scan.patch_group),
        execution_type: owned(scan.execution_type),
        status: owned(scan.status()),
        highest_noncompliant_level: owned(counts.overall_severity()),
        states: PATCH_STATES
            .iter()
            .map(|s| (owned(s.as_str()), counts.state(*s)))
            .collect(),
        unreported_not_applicable: scan.unreported_not_applicable,
        critical_noncompliant: counts.critical,
        security_noncompliant: counts.security,
        other_noncompliant: counts.other,
        available_security_updates: counts.state(PatchState::AvailableSecurityUpdate),
        noncompliant_by_level: by_level(&counts.non_compliant),
        compliant_by_level: by_level(&counts.compliant),
        patches: scan
            .items
            .iter()
            .map(|&(index, state, installed)| {
                let patch = &patches[index];
                let classified = !state.unclassified();
                PatchRow(
                    patch.id.clone(),
                    patch.title.clone(),
                    owned(state.as_str()),
                    owned(scan.level(patch, state)),
                    owned(if classified { patch.classification } else { "" }),
                    owned(if classified {
                        patch.vendor_severity
                    } else {
                        ""
                    }),
                    installed.map(iso).unwrap_or_default(),
                    owned(state.status(&scan.baseline)),
                )
            })
            .collect(),
    });
    let managed = node.managed;
    let gone = node.hybrid
        && node.status != Status::Terminated
        && node.last_seen < now - GONE_AFTER_DAYS * DAY;
    let live = node.live() && !gone;
    let inventoried = node.inventory.is_some();
    let list = crate::catalog::applications(node.platform.platform_type);
    let view = config::view(node, newest_snapshot).map(|v| ConfigTruth {
        state: v.state.map(owned),
        name: if node.hybrid {
            None
        } else {
            node.tag("Name").map(owned)
        },
        instance_type: (!node.hybrid).then(|| owned(node.instance_type)),
        platform: (!node.hybrid).then(|| owned(node.platform.details)),
        managed_rule: v.managed_rule.map(owned),
        patch_compliance: owned(v.patch),
        patch_reason: v.patch_reason.map(owned),
        captured: v.captured.map(iso),
    });
    let m = |value: String| managed.then_some(value);
    TruthLine {
        account_id: owned(account),
        region: owned(region),
        node_id: node.id.clone(),
        node_type: owned(if node.hybrid { "Hybrid" } else { "EC2" }),
        managed,
        instance_status: m(owned(node.status.as_str())),
        live,
        gone,
        deregistered: node.deregistered.is_some(),
        last_seen: m(iso(node.last_seen)),
        stale: live && node.last_seen < now - STALE_AFTER_DAYS * DAY,
        computer_name: m(node.computer_name.clone()),
        ip_address: m(node.ip.clone()),
        platform_type: owned(node.platform.platform_type),
        platform_name: owned(node.platform_name()),
        platform_version: owned(node.platform_version()),
        agent_type: m(owned("amazon-ssm-agent")),
        agent_version: m(owned(node.agent_version)),
        ec2_state: (!node.hybrid).then(|| owned(config::ec2_state(node, i64::MAX))),
        launched: iso(node.launched),
        patch_status: managed.then(|| {
            owned(match scan {
                None => "NOT_SCANNED",
                Some(s) if s.non_compliant() => "NON_COMPLIANT",
                Some(_) => "COMPLIANT",
            })
        }),
        scan: scan_truth,
        missing_by_level: by_level(&counts.map(|c| c.non_compliant).unwrap_or_default()),
        tags: if inventoried {
            node.tags.clone().into_iter().collect()
        } else {
            BTreeMap::new()
        },
        inventory: inventoried,
        applications: node
            .apps
            .iter()
            .map(|(i, version)| (owned(list[*i].0), version.clone()))
            .collect(),
        associations: node
            .associations
            .iter()
            .map(|a| Association {
                id: a.id.clone(),
                document: owned(a.document),
                status: owned(if a.compliant {
                    "COMPLIANT"
                } else {
                    "NON_COMPLIANT"
                }),
            })
            .collect(),
        custom_compliance: node.custom.as_ref().map(|c| CustomCompliance {
            kind: owned(c.type_name),
            status: owned(if c.items.iter().all(|i| i.3) {
                "COMPLIANT"
            } else {
                "NON_COMPLIANT"
            }),
            items: c.items.len(),
        }),
        config: view,
        config_by_day: by_day(node, snapshots),
        patch_history: patch_history(node, history),
    }
}

/// The node's AWS::SSM::PatchCompliance configuration items in the ConfigHistory range (one per
/// scan, at the scan's time, which is the item's capture time): `[time, status, installed
/// (Installed and InstalledOther), non-compliant, missing, failed, [non-compliant patch ids]]`,
/// oldest first. What a CloudTrail Lake event data store of configuration items holds.
fn patch_history(node: &Node, (start, end): (i64, i64)) -> Vec<PatchHistoryRow> {
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
            PatchHistoryRow(
                iso(scan.time),
                owned(scan.status()),
                count(&[PatchState::Installed, PatchState::InstalledOther]),
                noncompliant.len(),
                count(&[PatchState::Missing]),
                count(&[PatchState::Failed]),
                noncompliant.into_iter().map(owned).collect(),
            )
        })
        .collect()
}

/// What each day's newest Config snapshot says of the node (its state and the patch rule's
/// result), by the day of the snapshot's delivery (`yyyy-mm-dd`, the `dt` partition); days whose
/// snapshot does not list the node are left out.
fn by_day(node: &Node, snapshots: &[i64]) -> BTreeMap<String, DayTruth> {
    let mut days: BTreeMap<String, Option<DayTruth>> = BTreeMap::new();
    for &t in snapshots {
        // Newest first: a day's newest snapshot comes before its older ones.
        days.entry(crate::time::date(t)).or_insert_with(|| {
            config::view(node, t).map(|v| DayTruth {
                state: v.state.map(owned),
                patch_compliance: owned(v.patch),
            })
        });
    }
    days.into_iter()
        .filter_map(|(day, view)| Some((day, view?)))
        .collect()
}
