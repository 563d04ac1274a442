//! What a resource data sync writes for a node: one NDJSON object per inventory type, keyed
//! `<Type>/accountid=<a>/region=<r>/resourcetype=ManagedInstanceInventory/<node>.json`, every value
//! a string, plus the sync fields `resourceId`, `captureTime` and `schemaVersion`.

use serde_json::{Map, Value};

use crate::catalog::{self, Patch};
use crate::node::{Node, PatchState, Scan};

use crate::time::{HOUR, iso};

/// The six compliance severities, highest first.
pub const SEVERITIES: [&str; 6] = [
    "CRITICAL",
    "HIGH",
    "MEDIUM",
    "LOW",
    "INFORMATIONAL",
    "UNSPECIFIED",
];

/// The inventory types the simulator writes.
pub const TYPES: [&str; 9] = [
    "AWS:InstanceInformation",
    "AWS:PatchSummary",
    "AWS:ComplianceItem",
    "AWS:ComplianceSummary",
    "AWS:Tag",
    "AWS:Application",
    "AWS:AWSComponent",
    "AWS:InstanceDetailedInformation",
    "AWS:Network",
];

/// The object key of a node's file of one type (without the sync's prefix).
pub fn key(type_name: &str, account: &str, region: &str, node: &str) -> String {
    format!(
        "{type_name}/accountid={account}/region={region}/resourcetype=ManagedInstanceInventory/{node}.json"
    )
}

/// The sync's write check, which crawlers must exclude.
pub fn write_check_key(account: &str) -> String {
    format!("AWS:InstanceInformation/accountid={account}/test.json")
}

/// What a scan amounts to: the counts of PatchSummary and ComplianceSummary.
#[derive(Debug, Default, Clone)]
pub struct ScanCounts {
    /// Count per PatchState, in `PATCH_STATES` order (NotApplicable: the items and the counted).
    pub by_state: [u64; 8],
    /// COMPLIANT items per compliance level.
    pub compliant: [u64; 6],
    /// NON_COMPLIANT items per compliance level.
    pub non_compliant: [u64; 6],
    /// Non-compliant items at compliance level CRITICAL (CriticalNonCompliantCount: "specified as
    /// Critical for compliance reporting in the patch baseline").
    pub critical: u64,
    /// Non-compliant items the vendor classifies as security (SecurityNonCompliantCount:
    /// "specified as Security in a patch advisory").
    pub security: u64,
    /// Non-compliant items neither critical nor security (OtherNonCompliantCount). An item can
    /// be both critical and security; the agent counts it in both.
    pub other: u64,
}

impl ScanCounts {
    /// Counts a scan.
    pub fn of(scan: &Scan, patches: &[Patch]) -> Self {
        let mut counts = ScanCounts::default();
        counts.by_state[PatchState::NotApplicable as usize] += scan.not_applicable;
        for &(index, state, _) in &scan.items {
            let patch = &patches[index];
            counts.by_state[state as usize] += 1;
            let level = scan.level(patch, state);
            let slot = SEVERITIES.iter().position(|s| *s == level).unwrap_or(5);
            match state.status(&scan.baseline) {
                "NON_COMPLIANT" => {
                    counts.non_compliant[slot] += 1;
                    let critical = level == "CRITICAL";
                    counts.critical += u64::from(critical);
                    counts.security += u64::from(patch.is_security());
                    counts.other += u64::from(!critical && !patch.is_security());
                }
                "COMPLIANT" => counts.compliant[slot] += 1,
                _ => {}
            }
        }
        counts
    }

    /// The highest compliance level with a non-compliant item, or UNSPECIFIED.
    pub fn overall_severity(&self) -> &'static str {
        SEVERITIES
            .iter()
            .zip(self.non_compliant)
            .find(|(_, n)| *n > 0)
            .map_or("UNSPECIFIED", |(s, _)| s)
    }

    /// Count of one state.
    pub fn state(&self, state: PatchState) -> u64 {
        self.by_state[state as usize]
    }
}

/// A row under construction: attributes that do not apply are omitted or written as "", per node.
struct Row<'a> {
    map: Map<String, Value>,
    node: &'a Node,
}

impl<'a> Row<'a> {
    fn new(node: &'a Node) -> Self {
        Row {
            map: Map::new(),
            node,
        }
    }

    fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        let value = value.into();
        if !(value.is_empty() && self.node.omit_empty) {
            self.map.insert(key.to_string(), Value::String(value));
        }
        self
    }

    fn line(mut self, captured: i64, schema: &str, out: &mut Vec<u8>) {
        self.map
            .insert("resourceId".into(), Value::String(self.node.id.clone()));
        self.map
            .insert("captureTime".into(), Value::String(iso(captured)));
        self.map
            .insert("schemaVersion".into(), Value::String(schema.into()));
        // Serialising a map of strings cannot fail.
        serde_json::to_writer(&mut *out, &self.map).unwrap_or_default();
        out.push(b'\n');
    }
}

/// The files of one node: (type, body). Unmanaged instances have none.
pub fn files(node: &Node, patches: &[Patch]) -> Vec<(&'static str, Vec<u8>)> {
    let mut files = Vec::new();
    if !node.managed {
        return files;
    }
    let p = node.platform;
    let mut body = Vec::new();
    Row::new(node)
        .set("AgentType", "amazon-ssm-agent")
        .set("AgentVersion", node.agent_version)
        .set("ComputerName", &node.computer_name)
        .set("InstanceId", &node.id)
        .set("IpAddress", &node.ip)
        .set("PlatformName", node.platform_name())
        .set("PlatformType", p.platform_type)
        .set("PlatformVersion", node.platform_version())
        .set(
            "ResourceType",
            if node.hybrid {
                "ManagedInstance"
            } else {
                "EC2Instance"
            },
        )
        // AgentStatus is in the inventory schema, but AWS's own queries and tables over synced
        // data have no such column (aws-samples cloud-operations-best-practices, patch-reporting;
        // SSM User Guide, the resource data sync walkthrough's table): it is not written, so a
        // query that reads it fails, locally as in Athena.
        .set("InstanceStatus", node.status.as_str())
        .line(node.last_seen, "1.0", &mut body);
    files.push(("AWS:InstanceInformation", body));

    // The compliance files are rewritten whenever any compliance type changes: one capture time.
    let scan = node.scans.last();
    let compliance_time = [
        scan.map(|s| s.time),
        node.associations.iter().map(|a| a.time).max(),
        node.custom.as_ref().map(|c| c.time),
    ]
    .into_iter()
    .flatten()
    .max();
    if let Some(scan) = scan {
        files.push(("AWS:PatchSummary", patch_summary(node, scan, patches)));
    }
    if let Some(captured) = compliance_time {
        let mut items = Vec::new();
        let mut summaries = Vec::new();
        if let Some(scan) = scan {
            patch_items(node, scan, patches, captured, &mut items);
            let counts = ScanCounts::of(scan, patches);
            summary_row(
                Row::new(node)
                    .set("ComplianceType", "Patch")
                    .set("PatchGroup", scan.patch_group)
                    .set("PatchBaselineId", &scan.baseline.id)
                    .set("Status", scan.status())
                    .set("OverallSeverity", counts.overall_severity())
                    .set("ExecutionId", &scan.snapshot_id[..])
                    .set("ExecutionType", scan.execution_type)
                    .set("ExecutionTime", iso(scan.time)),
                &counts.compliant,
                &counts.non_compliant,
            )
            .line(captured, "1.0", &mut summaries);
        }
        if !node.associations.is_empty() {
            let (mut ok, mut bad) = ([0u64; 6], [0u64; 6]);
            for a in &node.associations {
                let status = if a.compliant {
                    ok[5] += 1;
                    "COMPLIANT"
                } else {
                    bad[5] += 1;
                    "NON_COMPLIANT"
                };
                // An association's execution summary has a time only, its title is empty and its
                // severity UNSPECIFIED (AWS CLI Command Reference, list-compliance-items, example
                // 1: "ExecutionSummary": {"ExecutionTime": ...}). Whether the sync then omits
                // ExecutionId/ExecutionType or writes them empty is undocumented: Row::set writes
                // "" on some nodes and omits it on others, so both forms occur.
                Row::new(node)
                    .set("ComplianceType", "Association")
                    .set("ExecutionId", "")
                    .set("ExecutionType", "")
                    .set("ExecutionTime", iso(a.time))
                    .set("Id", &a.id)
                    .set("Title", "")
                    .set("Status", status)
                    .set("Severity", "UNSPECIFIED")
                    .set("DocumentName", a.document)
                    .set("DocumentVersion", "1")
                    .line(captured, "1.0", &mut items);
            }
            let newest = node.associations.iter().max_by_key(|a| a.time);
            summary_row(
                Row::new(node)
                    .set("ComplianceType", "Association")
                    .set(
                        "Status",
                        if bad[5] > 0 {
                            "NON_COMPLIANT"
                        } else {
                            "COMPLIANT"
                        },
                    )
                    .set("OverallSeverity", "UNSPECIFIED")
                    .set("ExecutionId", "")
                    .set("ExecutionType", "")
                    .set(
                        "ExecutionTime",
                        newest.map(|a| iso(a.time)).unwrap_or_default(),
                    ),
                &ok,
                &bad,
            )
            .line(captured, "1.0", &mut summaries);
        }
        if let Some(custom) = &node.custom {
            let (mut ok, mut bad) = ([0u64; 6], [0u64; 6]);
            for (id, title, severity, compliant) in &custom.items {
                let slot = SEVERITIES.iter().position(|s| s == severity).unwrap_or(5);
                if *compliant {
                    ok[slot] += 1
                } else {
                    bad[slot] += 1
                }
                Row::new(node)
                    .set("ComplianceType", custom.type_name)
                    .set("ExecutionId", "")
                    .set("ExecutionType", "")
                    .set("ExecutionTime", iso(custom.time))
                    .set("Id", id)
                    .set("Title", *title)
                    .set(
                        "Status",
                        if *compliant {
                            "COMPLIANT"
                        } else {
                            "NON_COMPLIANT"
                        },
                    )
                    .set("Severity", *severity)
                    .line(captured, "1.0", &mut items);
            }
            let worst = SEVERITIES
                .iter()
                .zip(bad)
                .find(|(_, n)| *n > 0)
                .map_or("UNSPECIFIED", |(s, _)| s);
            summary_row(
                Row::new(node)
                    .set("ComplianceType", custom.type_name)
                    .set(
                        "Status",
                        if bad.iter().any(|n| *n > 0) {
                            "NON_COMPLIANT"
                        } else {
                            "COMPLIANT"
                        },
                    )
                    .set("OverallSeverity", worst)
                    .set("ExecutionTime", iso(custom.time)),
                &ok,
                &bad,
            )
            .line(captured, "1.0", &mut summaries);
        }
        files.push(("AWS:ComplianceItem", items));
        files.push(("AWS:ComplianceSummary", summaries));
    }

    let Some(inventoried) = node.inventory else {
        return files;
    };
    if !node.tags.is_empty() {
        let mut body = Vec::new();
        for (key, value) in &node.tags {
            Row::new(node)
                .set("Key", key)
                .set("Value", value)
                .line(inventoried, "1.0", &mut body);
        }
        files.push(("AWS:Tag", body));
    }
    let list = catalog::applications(p.platform_type);
    let windows = p.platform_type == "Windows";
    let mut body = Vec::new();
    for (index, version) in &node.apps {
        let (name, publisher) = list[*index];
        Row::new(node)
            .set("Name", name)
            .set(
                "ApplicationType",
                if windows {
                    ""
                } else {
                    "System Environment/Base"
                },
            )
            .set("Publisher", publisher)
            .set("Version", version)
            .set("Release", if windows { "" } else { "1.amzn2023" })
            .set("Epoch", "")
            .set("InstalledTime", iso(node.launched + HOUR))
            .set("Architecture", "x86_64")
            .set("URL", "")
            .set("Summary", "")
            .set("PackageId", "")
            .line(inventoried, "1.1", &mut body);
    }
    files.push(("AWS:Application", body));
    let mut body = Vec::new();
    Row::new(node)
        .set("Name", "amazon-ssm-agent")
        .set("ApplicationType", "AWS Component")
        .set("Publisher", "Amazon Web Services")
        .set("Version", node.agent_version)
        .set("InstalledTime", iso(node.launched + 600))
        .set("Architecture", "x86_64")
        .set("URL", "https://github.com/aws/amazon-ssm-agent")
        .line(inventoried, "1.0", &mut body);
    files.push(("AWS:AWSComponent", body));
    let mut body = Vec::new();
    Row::new(node)
        .set("CPUModel", "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz")
        .set("CPUCores", "2")
        .set("CPUs", "4")
        .set("CPUSpeedMHz", "2500")
        .set("CPUSockets", "1")
        .set("CPUHyperThreadEnabled", "true")
        .set("OSServicePack", "")
        .set(
            "KernelVersion",
            if windows {
                ""
            } else {
                "6.1.115-126.197.amzn2023.x86_64"
            },
        )
        .line(inventoried, "1.0", &mut body);
    files.push(("AWS:InstanceDetailedInformation", body));
    let mut body = Vec::new();
    Row::new(node)
        .set("Name", if windows { "Ethernet" } else { "eth0" })
        .set("SubnetMask", "255.255.255.0")
        .set("Gateway", "10.0.0.1")
        .set("DHCPServer", "10.0.0.2")
        .set("DNSServer", "10.0.0.2")
        .set("MacAddress", "0a:1b:2c:3d:4e:5f")
        .set("IPV4", &node.ip)
        .set("IPV6", "")
        .line(inventoried, "1.0", &mut body);
    files.push(("AWS:Network", body));
    files
}

/// The node's AWS:PatchSummary, as the patch agent uploads it (seed 004): counts by state, the
/// compliance-level and classification counts, and the fields that are present only sometimes
/// (NonCompliantSeverity only on a non-compliant node; OwnerInformation, InstallOverrideList and
/// LastNoRebootInstallOperationTime missing from seed 004's example; AvailableSecurityUpdateCount
/// on Windows only).
fn patch_summary(node: &Node, scan: &Scan, patches: &[Patch]) -> Vec<u8> {
    let counts = ScanCounts::of(scan, patches);
    let windows = node.platform.family == crate::catalog::Family::Windows;
    let mut row = Row::new(node)
        .set("PatchGroup", scan.patch_group)
        .set("BaselineId", &scan.baseline.id)
        .set("SnapshotId", &scan.snapshot_id[..])
        .set(
            "OperationType",
            if scan.install { "Install" } else { "Scan" },
        )
        .set("OperationStartTime", iso(scan.time - 240))
        .set("OperationEndTime", iso(scan.time))
        .set(
            "RebootOption",
            match (scan.install, scan.no_reboot) {
                (true, false) => "RebootIfNeeded",
                _ => "NoReboot",
            },
        )
        .set("ExecutionId", &scan.execution_id[..]);
    // Present on the nodes of some accounts only (the optional attributes of the schema).
    if node.account.is_multiple_of(2) {
        row = row
            .set("OwnerInformation", "")
            .set("InstallOverrideList", "")
            .set(
                "LastNoRebootInstallOperationTime",
                scan.last_no_reboot_install.map(iso).unwrap_or_default(),
            );
    } else if let Some(t) = scan.last_no_reboot_install {
        row = row.set("LastNoRebootInstallOperationTime", iso(t));
    }
    if scan.non_compliant() {
        row = row.set("NonCompliantSeverity", counts.overall_severity());
    }
    let mut row = row
        .set(
            "InstalledCount",
            counts.state(PatchState::Installed).to_string(),
        )
        .set(
            "InstalledOtherCount",
            counts.state(PatchState::InstalledOther).to_string(),
        )
        .set(
            "InstalledPendingRebootCount",
            counts.state(PatchState::InstalledPendingReboot).to_string(),
        )
        .set(
            "InstalledRejectedCount",
            counts.state(PatchState::InstalledRejected).to_string(),
        )
        .set(
            "NotApplicableCount",
            counts.state(PatchState::NotApplicable).to_string(),
        )
        .set(
            "UnreportedNotApplicableCount",
            scan.unreported_not_applicable.to_string(),
        )
        .set(
            "MissingCount",
            counts.state(PatchState::Missing).to_string(),
        )
        .set("FailedCount", counts.state(PatchState::Failed).to_string())
        .set("CriticalNonCompliantCount", counts.critical.to_string())
        .set("SecurityNonCompliantCount", counts.security.to_string())
        .set("OtherNonCompliantCount", counts.other.to_string());
    if windows {
        row = row.set(
            "AvailableSecurityUpdateCount",
            counts
                .state(PatchState::AvailableSecurityUpdate)
                .to_string(),
        );
    }
    let mut body = Vec::new();
    row.line(scan.time, "1.0", &mut body);
    body
}

/// The Patch compliance items of a scan: `Severity` is the compliance level, `PatchSeverity` and
/// `Classification` the vendor's, empty for InstalledOther and NotApplicable; the items'
/// `ExecutionId` is the baseline snapshot's (the patch agent puts the snapshot id there).
fn patch_items(node: &Node, scan: &Scan, patches: &[Patch], captured: i64, out: &mut Vec<u8>) {
    for &(index, state, installed) in &scan.items {
        let patch = &patches[index];
        let classified = !state.unclassified();
        Row::new(node)
            .set("ComplianceType", "Patch")
            .set("ExecutionId", &scan.snapshot_id[..])
            .set("ExecutionType", scan.execution_type)
            .set("ExecutionTime", iso(scan.time))
            .set("Id", &patch.id)
            .set("Title", &patch.title)
            .set("Status", state.status(&scan.baseline))
            .set("Severity", scan.level(patch, state))
            .set("DocumentName", "AWS-RunPatchBaseline")
            .set("DocumentVersion", "1")
            .set(
                "Classification",
                if classified { patch.classification } else { "" },
            )
            .set("PatchBaselineId", &scan.baseline.id)
            .set(
                "PatchSeverity",
                if classified {
                    patch.vendor_severity
                } else {
                    ""
                },
            )
            .set("PatchState", state.as_str())
            .set("PatchGroup", scan.patch_group)
            .set("InstalledTime", installed.map(iso).unwrap_or_default())
            .line(captured, "1.0", out);
    }
}

/// A ComplianceSummary row's twelve `Compliant<Level>Count`/`NonCompliant<Level>Count` fields.
fn summary_row<'a>(mut row: Row<'a>, ok: &[u64; 6], bad: &[u64; 6]) -> Row<'a> {
    for (i, severity) in SEVERITIES.iter().enumerate() {
        let name = severity_name(severity);
        row = row
            .set(&format!("Compliant{name}Count"), ok[i].to_string())
            .set(&format!("NonCompliant{name}Count"), bad[i].to_string());
    }
    row
}

/// `Critical`, `High`, ... as in the ComplianceSummary count names.
pub fn severity_name(severity: &str) -> String {
    let mut name = severity.to_lowercase();
    name[..1].make_ascii_uppercase();
    name
}
