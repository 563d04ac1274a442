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
    /// Count per PatchState, in `PatchState` declaration order.
    pub by_state: [u64; 7],
    /// Compliant items (Installed, InstalledOther) per severity (empty severity = UNSPECIFIED).
    pub compliant: [u64; 6],
    /// Non-compliant items per severity.
    pub non_compliant: [u64; 6],
    /// Non-compliant items of CRITICAL severity.
    pub critical: u64,
    /// Non-compliant items of a security classification.
    pub security: u64,
    /// Non-compliant items neither critical nor security.
    pub other: u64,
}

impl ScanCounts {
    /// Counts a scan.
    pub fn of(scan: &Scan, patches: &[Patch]) -> Self {
        let mut counts = ScanCounts::default();
        for &(index, state, _) in &scan.items {
            let patch = &patches[index];
            counts.by_state[state as usize] += 1;
            let severity = if state.unclassified() {
                "UNSPECIFIED"
            } else {
                patch.severity
            };
            let slot = SEVERITIES.iter().position(|s| *s == severity).unwrap_or(5);
            if state.non_compliant() {
                counts.non_compliant[slot] += 1;
                let critical = patch.severity == "CRITICAL";
                counts.critical += u64::from(critical);
                counts.security += u64::from(patch.is_security());
                counts.other += u64::from(!critical && !patch.is_security());
            } else if state != PatchState::NotApplicable {
                counts.compliant[slot] += 1;
            }
        }
        counts
    }

    /// The highest severity with a non-compliant item, or UNSPECIFIED.
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
        .set("PlatformName", p.name)
        .set("PlatformType", p.platform_type)
        .set("PlatformVersion", p.version)
        .set(
            "ResourceType",
            if node.hybrid {
                "ManagedInstance"
            } else {
                "EC2Instance"
            },
        )
        .set("AgentStatus", node.status.as_str())
        .set("InstanceStatus", node.status.as_str())
        .line(node.last_seen, "1.0", &mut body);
    files.push(("AWS:InstanceInformation", body));

    // The compliance files are rewritten whenever any compliance type changes: one capture time.
    let scan = node.scans.last();
    let compliance_time = scan
        .map(|s| s.time)
        .max(node.association.as_ref().map(|a| a.time));
    if let Some(scan) = scan {
        let counts = ScanCounts::of(scan, patches);
        let mut body = Vec::new();
        Row::new(node)
            .set("PatchGroup", node.patch_group)
            .set("BaselineId", baseline(node))
            .set("SnapshotId", &scan.execution_id[..])
            .set("OwnerInformation", "")
            .set(
                "OperationType",
                if scan.install { "Install" } else { "Scan" },
            )
            .set("OperationStartTime", iso(scan.time - 240))
            .set("OperationEndTime", iso(scan.time))
            .set("InstallOverrideList", "")
            .set(
                "RebootOption",
                if scan.install {
                    "RebootIfNeeded"
                } else {
                    "NoReboot"
                },
            )
            .set("LastNoRebootInstallOperationTime", "")
            .set("ExecutionId", &scan.execution_id[..])
            .set(
                "NonCompliantSeverity",
                if scan.non_compliant() {
                    counts.overall_severity()
                } else {
                    ""
                },
            )
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
            .set("UnreportedNotApplicableCount", "0")
            .set(
                "MissingCount",
                counts.state(PatchState::Missing).to_string(),
            )
            .set("FailedCount", counts.state(PatchState::Failed).to_string())
            .set("CriticalNonCompliantCount", counts.critical.to_string())
            .set("SecurityNonCompliantCount", counts.security.to_string())
            .set("OtherNonCompliantCount", counts.other.to_string())
            .line(scan.time, "1.0", &mut body);
        files.push(("AWS:PatchSummary", body));
    }
    if let Some(captured) = compliance_time {
        let mut items = Vec::new();
        let mut summaries = Vec::new();
        if let Some(scan) = scan {
            for &(index, state, installed) in &scan.items {
                let patch = &patches[index];
                let classified = !state.unclassified();
                Row::new(node)
                    .set("ComplianceType", "Patch")
                    .set("ExecutionId", &scan.execution_id[..])
                    .set("ExecutionType", "Command")
                    .set("ExecutionTime", iso(scan.time))
                    .set("Id", &patch.id)
                    .set("Title", &patch.title)
                    .set("Status", state.status())
                    .set("Severity", if classified { patch.severity } else { "" })
                    .set("DocumentName", "AWS-RunPatchBaseline")
                    .set("DocumentVersion", "1")
                    .set(
                        "Classification",
                        if classified { patch.classification } else { "" },
                    )
                    .set("PatchBaselineId", baseline(node))
                    .set(
                        "PatchSeverity",
                        if classified { patch.patch_severity } else { "" },
                    )
                    .set("PatchState", state.as_str())
                    .set("PatchGroup", node.patch_group)
                    .set("InstalledTime", installed.map(iso).unwrap_or_default())
                    .line(captured, "1.0", &mut items);
            }
            let counts = ScanCounts::of(scan, patches);
            let mut row = Row::new(node)
                .set("ComplianceType", "Patch")
                .set("PatchGroup", node.patch_group)
                .set("PatchBaselineId", baseline(node))
                .set("Status", scan.status())
                .set("OverallSeverity", counts.overall_severity())
                .set("ExecutionId", &scan.execution_id[..])
                .set("ExecutionType", "Command")
                .set("ExecutionTime", iso(scan.time));
            for (i, severity) in SEVERITIES.iter().enumerate() {
                let name = severity_name(severity);
                row = row
                    .set(
                        &format!("Compliant{name}Count"),
                        counts.compliant[i].to_string(),
                    )
                    .set(
                        &format!("NonCompliant{name}Count"),
                        counts.non_compliant[i].to_string(),
                    );
            }
            row.line(captured, "1.0", &mut summaries);
        }
        if let Some(association) = &node.association {
            let status = if association.compliant {
                "COMPLIANT"
            } else {
                "NON_COMPLIANT"
            };
            Row::new(node)
                .set("ComplianceType", "Association")
                .set("ExecutionId", &association.id[..8])
                .set("ExecutionType", "Command")
                .set("ExecutionTime", iso(association.time))
                .set("Id", &association.id)
                .set("Title", "")
                .set("Status", status)
                .set("Severity", "UNSPECIFIED")
                .set("DocumentName", "AWS-GatherSoftwareInventory")
                .set("DocumentVersion", "1")
                .line(captured, "1.0", &mut items);
            let mut row = Row::new(node)
                .set("ComplianceType", "Association")
                .set("Status", status)
                .set("OverallSeverity", "UNSPECIFIED")
                .set("ExecutionId", &association.id[..8])
                .set("ExecutionType", "Command")
                .set("ExecutionTime", iso(association.time));
            for severity in SEVERITIES {
                let name = severity_name(severity);
                let (ok, bad) = match (severity, association.compliant) {
                    ("UNSPECIFIED", true) => ("1", "0"),
                    ("UNSPECIFIED", false) => ("0", "1"),
                    _ => ("0", "0"),
                };
                row = row
                    .set(&format!("Compliant{name}Count"), ok)
                    .set(&format!("NonCompliant{name}Count"), bad);
            }
            row.line(captured, "1.0", &mut summaries);
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

/// `Critical`, `High`, ... as in the ComplianceSummary count names.
fn severity_name(severity: &str) -> String {
    let mut name = severity.to_lowercase();
    name[..1].make_ascii_uppercase();
    name
}

/// The patch baseline of the node's operating system (AWS's default baselines have fixed ids).
pub fn baseline(node: &Node) -> &'static str {
    match node.platform.family {
        catalog::Family::Al2023 => "pb-0b9bd6a3e7c9f2a11",
        catalog::Family::Amzn2 => "pb-0d1b5ff6c6b5c2a27",
        catalog::Family::Rhel => "pb-06d4a8c2f5b61e9d3",
        catalog::Family::Ubuntu => "pb-0a8e3f1c2b4d5e6f7",
        catalog::Family::Windows => "pb-0e1a2b3c4d5e6f708",
    }
}
