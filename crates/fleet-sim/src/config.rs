//! What AWS Config delivers for an account and Region: snapshots (every recorded resource as it is
//! at delivery time) and history files (the items that changed in a six-hour window), gzipped JSON
//! under `AWSLogs/<account>/Config/<region>/<y>/<m>/<d>/`.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use crate::node::{Node, Status};
use crate::rng::Rng;
use crate::time::{self, HOUR, compact, config_folder, iso, iso_millis};

/// The managed rule that tells which EC2 instances Systems Manager manages.
pub const MANAGED_RULE: &str = "ec2-instance-managed-by-systems-manager";
/// The managed rule that reports each managed node's patch compliance.
pub const PATCH_RULE: &str = "ec2-managedinstance-patch-compliance-status-check";
const INVENTORY: &str = "AWS::SSM::ManagedInstanceInventory";

/// How an account deployed the two rules: as its own rule, as an organization rule
/// (`OrgConfigRule-<name>-<suffix>`), or both (a rule deployed twice reports twice).
fn rule_names(account: usize, rule: &str) -> Vec<String> {
    let org = format!(
        "OrgConfigRule-{rule}-{}",
        ["k3j2ab", "p9x1qq", "z7m4rt"][account % 3]
    );
    match (rule == MANAGED_RULE, account % 3) {
        (true, 0) | (false, 1) => vec![rule.to_string()],
        (true, _) | (false, 2) => vec![org],
        (false, _) => vec![org, rule.to_string()],
    }
}

/// The time of an account and Region's snapshots, newest first: two a day over `days` days.
pub fn snapshot_times(seed: u64, now: i64, account: usize, region: usize, days: i64) -> Vec<i64> {
    let jitter = Rng::stream(seed, &[account as u64, region as u64, 0x5a5a]).between(0, 1200);
    (0..2 * days)
        .map(|k| now - 1800 - jitter - k * 12 * HOUR)
        .collect()
}

/// What the newest snapshot says of a node (the ground truth's `config`), if it lists it.
pub struct ConfigView {
    /// EC2 state name (EC2 only).
    pub state: Option<&'static str>,
    /// The managed-by-SSM rule's result for an EC2 instance: COMPLIANT, NON_COMPLIANT,
    /// NOT_APPLICABLE, or `None` (no result: a stopped instance in some accounts, a hybrid node,
    /// or rule results not recorded).
    pub managed_rule: Option<&'static str>,
    /// COMPLIANT, NON_COMPLIANT or NOT_EVALUATED (the patch rule's result).
    pub patch: &'static str,
    /// Why there is no patch rule result: `not_recorded` when the account's recorder does not
    /// record AWS::Config::ResourceCompliance, `not_scanned` when the node was never scanned.
    pub patch_reason: Option<&'static str>,
    /// Capture time of the EC2 item (EC2 only).
    pub captured: Option<i64>,
}

/// Whether the recorder of an account and Region records the rules' results
/// (AWS::Config::ResourceCompliance): "For accurate reporting on the compliance status, you must
/// record the AWS::Config::ResourceCompliance resource type" (API Reference,
/// GetResourceConfigHistory). Some recorders of a real organization do not.
pub fn records_rule_results(account: usize, region: usize) -> bool {
    (account + region) % 5 != 4
}

/// The managed-by-SSM rule's result for an EC2 instance at `t`. "The rule is NON_COMPLIANT if an
/// EC2 instance is running and the SSM Agent is stopped, or if an EC2 instance is running and the
/// SSM Agent is terminated ... The rule will not return NON_COMPLIANT if an EC2 instance is
/// stopped" (AWS Config Developer Guide, ec2-instance-managed-by-systems-manager). What it
/// returns for a stopped instance is not documented: NOT_APPLICABLE in some accounts, no result
/// at all in others.
pub fn managed_rule(node: &Node, t: i64) -> Option<&'static str> {
    if node.hybrid {
        return None;
    }
    match ec2_state(node, t) {
        "running" if node.managed && node.status_at(t) == Status::Active => Some("COMPLIANT"),
        "running" => Some("NON_COMPLIANT"),
        "stopped" if node.account.is_multiple_of(2) => Some("NOT_APPLICABLE"),
        _ => None,
    }
}

/// A node as the snapshot taken at `t` lists it.
pub fn view(node: &Node, t: i64) -> Option<ConfigView> {
    if !node.exists_at(t) {
        return None;
    }
    let recorded = records_rule_results(node.account, node.region);
    let scan = node.managed.then(|| node.scan_at(t)).flatten();
    let (patch, patch_reason) = match scan {
        _ if !recorded => ("NOT_EVALUATED", Some("not_recorded")),
        Some(scan) if scan.non_compliant() => ("NON_COMPLIANT", None),
        Some(_) => ("COMPLIANT", None),
        None => ("NOT_EVALUATED", Some("not_scanned")),
    };
    Some(ConfigView {
        state: (!node.hybrid).then(|| ec2_state(node, t)),
        managed_rule: managed_rule(node, t).filter(|_| recorded),
        patch,
        patch_reason,
        captured: (!node.hybrid).then(|| ec2_captured(node, t)),
    })
}

/// The EC2 state name of an instance at time `t`.
pub fn ec2_state(node: &Node, t: i64) -> &'static str {
    match node.status_at(t) {
        Status::Stopped => "stopped",
        Status::Terminated => "terminated",
        _ => "running",
    }
}

fn ec2_captured(node: &Node, t: i64) -> i64 {
    if node.status == Status::Stopped && node.changed <= t {
        node.changed
    } else {
        node.launched
    }
}

struct Items<'a> {
    account: &'a str,
    region: &'a str,
    window_start: i64,
}

impl Items<'_> {
    fn item(
        &self,
        resource_type: &str,
        id: &str,
        captured: i64,
        status: &str,
        configuration: Value,
        tags: Value,
    ) -> Value {
        let arn = match resource_type {
            "AWS::EC2::Instance" => {
                format!("arn:aws:ec2:{}:{}:instance/{id}", self.region, self.account)
            }
            _ => format!(
                "arn:aws:ssm:{}:{}:{}",
                self.region,
                self.account,
                id.replace("::", "-")
            ),
        };
        json!({
            "configurationItemVersion": "1.3",
            "configurationItemCaptureTime": iso_millis(captured),
            "configurationStateId": captured * 1000,
            "awsAccountId": self.account,
            "configurationItemStatus": status,
            "resourceType": resource_type,
            "resourceId": id,
            "resourceName": null,
            "ARN": arn,
            "awsRegion": self.region,
            "availabilityZone": if resource_type == "AWS::EC2::Instance" { format!("{}a", self.region) } else { "Not Applicable".into() },
            "configurationStateMd5Hash": "",
            "configuration": configuration,
            "supplementaryConfiguration": {},
            "tags": tags,
            "relatedEvents": [],
            "relationships": [],
        })
    }

    fn discovered(&self, node: &Node, captured: i64) -> &'static str {
        if captured == node.launched && node.launched >= self.window_start {
            "ResourceDiscovered"
        } else {
            "OK"
        }
    }

    /// The items a snapshot at `t` holds for a node (none if it does not exist then).
    fn of(&self, node: &Node, t: i64, out: &mut Vec<Value>) {
        if !node.exists_at(t) {
            return;
        }
        let recorded = records_rule_results(node.account, node.region);
        if !node.hybrid {
            out.push(self.instance(node, t));
            if recorded {
                out.push(self.rule_result(
                    node,
                    "AWS::EC2::Instance",
                    &node.id,
                    MANAGED_RULE,
                    managed_rule(node, t),
                    ec2_captured(node, t),
                ));
            }
        }
        if !node.managed {
            return;
        }
        let status = node.status_at(t);
        let seen = node.last_seen.min(t - 60).max(node.launched);
        let p = node.platform;
        let mut inventory = self.item(
            INVENTORY,
            &node.id,
            seen,
            "OK",
            json!({
                "AWS:InstanceInformation": {"Content": {node.id.clone(): {
                    "AgentType": "amazon-ssm-agent", "AgentVersion": node.agent_version,
                    "ComputerName": node.computer_name, "InstanceId": node.id, "IpAddress": node.ip,
                    "PlatformName": node.platform_name(), "PlatformType": p.platform_type,
                    "PlatformVersion": node.platform_version(),
                    "ResourceType": if node.hybrid { "ManagedInstance" } else { "EC2Instance" },
                    "InstanceStatus": status.as_str(),
                }}},
            }),
            json!({}),
        );
        // The status is in the supplementary configuration too (aws-config-resource-schema,
        // AWS::SSM::ManagedInstanceInventory: supplementaryConfiguration.instanceStatus).
        inventory["supplementaryConfiguration"] = json!({"instanceStatus": status.as_str()});
        out.push(inventory);
        if let Some(scan) = node.scan_at(t) {
            out.push(self.patch_compliance(node, scan));
            if recorded {
                out.push(self.rule_result(
                    node,
                    "AWS::SSM::PatchCompliance",
                    &format!("{INVENTORY}/{}", node.id),
                    PATCH_RULE,
                    Some(scan.status()),
                    scan.time,
                ));
            }
        }
    }

    fn instance(&self, node: &Node, t: i64) -> Value {
        let state = ec2_state(node, t);
        let code = match state {
            "stopped" => 80,
            "terminated" => 48,
            _ => 16,
        };
        let tags: serde_json::Map<String, Value> = node
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let tag_list: Vec<Value> = node
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let captured = ec2_captured(node, t);
        self.item(
            "AWS::EC2::Instance",
            &node.id,
            captured,
            self.discovered(node, captured),
            json!({
                "instanceId": node.id,
                "imageId": "ami-0abcdef1234567890",
                "instanceType": node.instance_type,
                "launchTime": iso_millis(node.launched),
                "platformDetails": node.platform.details,
                "privateIpAddress": node.ip,
                "state": {"code": code, "name": state},
                "tags": tag_list,
            }),
            Value::Object(tags),
        )
    }

    fn patch_compliance(&self, node: &Node, scan: &crate::node::Scan) -> Value {
        let patches = node.patch_list();
        let mut content = serde_json::Map::new();
        for &(index, state, installed) in &scan.items {
            let patch = &patches[index];
            let classified = !state.unclassified();
            content.insert(
                patch.id.clone(),
                json!({
                    "Id": patch.id, "Title": patch.title, "PatchState": state.as_str(),
                    "Status": state.status(&scan.baseline),
                    "Severity": scan.level(patch, state),
                    "PatchSeverity": if classified { patch.vendor_severity } else { "" },
                    "Classification": if classified { patch.classification } else { "" },
                    "PatchBaselineId": scan.baseline.id, "PatchGroup": scan.patch_group,
                    "InstalledTime": installed.map(iso).unwrap_or_default(),
                    "DocumentName": "AWS-RunPatchBaseline", "DocumentVersion": "1",
                }),
            );
        }
        // Beside the patches, a "ComplianceSummary" entry with the counts by level (AWS Security
        // Hub User Guide, AwsSsmPatchCompliance: "Patch": {"ComplianceSummary": {...}}; seen in
        // delivered items by aws-samples/siem-on-amazon-opensearch-service). AWS Config does not
        // document the item's content, so half the accounts have the entry and half do not:
        // queries must take only the entries that have a PatchState.
        if node.account % 2 == 1 {
            let counts = crate::sync::ScanCounts::of(scan, patches);
            let mut summary = serde_json::Map::new();
            for (key, value) in [
                ("ComplianceType", "Patch"),
                ("Status", scan.status()),
                ("OverallSeverity", counts.overall_severity()),
                ("PatchBaselineId", &scan.baseline.id),
                ("PatchGroup", scan.patch_group),
                ("ExecutionType", scan.execution_type),
            ] {
                summary.insert(key.into(), json!(value));
            }
            for (i, level) in crate::sync::SEVERITIES.iter().enumerate() {
                let name = crate::sync::severity_name(level);
                summary.insert(format!("Compliant{name}Count"), json!(counts.compliant[i]));
                summary.insert(
                    format!("NonCompliant{name}Count"),
                    json!(counts.non_compliant[i]),
                );
            }
            content.insert("ComplianceSummary".into(), Value::Object(summary));
        }
        self.item(
            "AWS::SSM::PatchCompliance",
            &format!("{INVENTORY}/{}", node.id),
            scan.time,
            "OK",
            json!({"AWS:ComplianceItem": {"SchemaVersion": "1.0", "Content": {"Patch": content}}}),
            json!({}),
        )
    }

    fn rule_result(
        &self,
        node: &Node,
        target_type: &str,
        target: &str,
        rule: &str,
        result: Option<&str>,
        captured: i64,
    ) -> Value {
        let mut rules: Vec<Value> = match result {
            Some(result) => rule_names(node.account, rule).into_iter().map(|name| json!({
                "configRuleArn": format!("arn:aws:config:{}:{}:config-rule/config-rule-{}", self.region, self.account, &name.len()),
                "configRuleId": format!("config-rule-{}", name.len()),
                "configRuleName": name,
                "complianceType": result,
            })).collect(),
            None => Vec::new(),
        };
        if target_type == "AWS::EC2::Instance" {
            // Other rules evaluate the same instance: their results must not be read as ours.
            rules.push(json!({"configRuleArn": format!("arn:aws:config:{}:{}:config-rule/config-rule-ip", self.region, self.account),
                "configRuleId": "config-rule-ip", "configRuleName": "ec2-instance-no-public-ip",
                "complianceType": if node.id.ends_with(['0', '1', '2', '3']) { "NON_COMPLIANT" } else { "COMPLIANT" }}));
        }
        // The resource's own result is the worst of its rules' ("A resource is noncompliant if it
        // does not comply with one or more of these rules", API Reference, Compliance; for the
        // configuration item this is not documented, so it is an inference).
        let worst = [
            "NON_COMPLIANT",
            "INSUFFICIENT_DATA",
            "COMPLIANT",
            "NOT_APPLICABLE",
        ]
        .into_iter()
        .find(|c| rules.iter().any(|r| r["complianceType"] == *c))
        .unwrap_or("NOT_APPLICABLE");
        self.item(
            "AWS::Config::ResourceCompliance",
            &format!("{target_type}/{target}"),
            captured,
            "OK",
            json!({
                "complianceType": worst,
                "targetResourceId": target,
                "targetResourceType": target_type,
                "configRuleList": rules,
            }),
            json!({}),
        )
    }
}

/// A gzipped Config document, written item by item: a snapshot of a large account holds
/// hundreds of megabytes of JSON, which never needs to be in memory at once.
struct Document {
    gz: GzEncoder<Vec<u8>>,
    first: bool,
    scratch: Vec<u8>,
}

impl Document {
    fn new(snapshot_id: Option<&str>) -> Self {
        // Fast compression: AWS's own ratio does not matter, the simulator's speed does.
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        let head = match snapshot_id {
            Some(id) => format!(
                "{{\"fileVersion\":\"1.0\",\"configSnapshotId\":\"{id}\",\"configurationItems\":["
            ),
            None => "{\"fileVersion\":\"1.0\",\"configurationItems\":[".to_owned(),
        };
        // Writing to a Vec cannot fail.
        gz.write_all(head.as_bytes()).unwrap_or_default();
        Document {
            gz,
            first: true,
            scratch: Vec::new(),
        }
    }

    fn push(&mut self, item: &Value) {
        // serde writes token by token: serialise to memory, then compress in one call.
        self.scratch.clear();
        if !std::mem::take(&mut self.first) {
            self.scratch.push(b',');
        }
        serde_json::to_writer(&mut self.scratch, item).unwrap_or_default();
        self.gz.write_all(&self.scratch).unwrap_or_default();
    }

    fn finish(mut self) -> Vec<u8> {
        self.gz.write_all(b"]}").unwrap_or_default();
        self.gz.finish().unwrap_or_default()
    }
}

/// Puts every Config object of one account and Region, one at a time.
pub fn deliveries(
    seed: u64,
    now: i64,
    days: i64,
    account: (usize, &str),
    region: (usize, &str),
    nodes: &[Node],
    put: &mut dyn FnMut(String, Vec<u8>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (a, account) = account;
    let (r, region) = region;
    let window_start = now - days * time::DAY;
    let items = Items {
        account,
        region,
        window_start,
    };
    let base = format!("AWSLogs/{account}/Config/{region}");
    let mut rng = Rng::stream(seed, &[a as u64, r as u64, 0xc0ff]);
    for t in snapshot_times(seed, now, a, r, days) {
        let id = rng.uuid();
        let mut doc = Document::new(Some(&id));
        let mut list = Vec::new();
        for node in nodes {
            items.of(node, t, &mut list);
            for item in list.drain(..) {
                doc.push(&item);
            }
        }
        let key = format!(
            "{base}/{}/ConfigSnapshot/{account}_Config_{region}_ConfigSnapshot_{}_{id}.json.gz",
            config_folder(t),
            compact(t)
        );
        put(key, doc.finish())?;
    }
    // History: per six-hour window and resource type, the items that changed in it.
    let (mut start, _) = history_window(now, days);
    while end_of(start) <= now {
        let end = end_of(start);
        let mut by_type: std::collections::BTreeMap<&str, Vec<Value>> = Default::default();
        for node in nodes {
            if (start..end).contains(&node.launched) && !node.hybrid {
                let item = items.instance(node, node.launched);
                // Now and then an item too large for an SNS notification: AWS Config writes the
                // whole notification under OversizedChangeNotification/ ("Example Oversized
                // Configuration Item Change Notification"), which no table reads.
                if node.id.ends_with("7a") {
                    let key = format!(
                        "{base}/{}/OversizedChangeNotification/AWS::EC2::Instance/{id}/{account}_Config_{region}_ChangeNotification_AWS::EC2::Instance_{id}_{}_{}.json.gz",
                        config_folder(node.launched),
                        compact(node.launched),
                        node.launched * 1000,
                        id = node.id,
                    );
                    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
                    let body = json!({
                        "configurationItemDiff": {"changedProperties": {}, "changeType": "CREATE"},
                        "configurationItem": item,
                        "notificationCreationTime": iso_millis(node.launched + 60),
                        "messageType": "ConfigurationItemChangeNotification",
                        "recordVersion": "1.3",
                    });
                    serde_json::to_writer(&mut gz, &body).unwrap_or_default();
                    put(key, gz.finish().unwrap_or_default())?;
                }
                by_type.entry("AWS::EC2::Instance").or_default().push(item);
            }
            // An EC2 instance's state change (hybrid nodes have no EC2 item; their scans below
            // still count).
            if node.status != Status::Active && (start..end).contains(&node.changed) && !node.hybrid
            {
                let item = if node.status == Status::Terminated {
                    items.item(
                        "AWS::EC2::Instance",
                        &node.id,
                        node.changed,
                        "ResourceDeleted",
                        json!({}),
                        json!({}),
                    )
                } else {
                    items.instance(node, node.changed)
                };
                by_type.entry("AWS::EC2::Instance").or_default().push(item);
            }
            for scan in node.scans.iter().filter(|s| (start..end).contains(&s.time)) {
                by_type
                    .entry("AWS::SSM::PatchCompliance")
                    .or_default()
                    .push(items.patch_compliance(node, scan));
                if records_rule_results(a, r) {
                    by_type
                        .entry("AWS::Config::ResourceCompliance")
                        .or_default()
                        .push(items.rule_result(
                            node,
                            "AWS::SSM::PatchCompliance",
                            &format!("{INVENTORY}/{}", node.id),
                            PATCH_RULE,
                            Some(scan.status()),
                            scan.time,
                        ));
                }
            }
        }
        for (resource_type, list) in by_type {
            // The times in a history object's name: AWS's examples show the items' own capture
            // times (equal when one item: "..._ConfigHistory_AWS::CloudTrail::Trail_
            // 20160927T195818Z_20160927T195818Z_1.json.gz", "Example Configuration History
            // Delivery Notification"), not the six-hour window's bounds.
            let times: Vec<i64> = list
                .iter()
                .filter_map(|item| item["configurationItemCaptureTime"].as_str())
                .filter_map(crate::time::parse_iso)
                .collect();
            let (first, last) = (
                times.iter().copied().min().unwrap_or(start),
                times.iter().copied().max().unwrap_or(end),
            );
            let key = format!(
                "{base}/{}/ConfigHistory/{account}_Config_{region}_ConfigHistory_{resource_type}_{}_{}_1.json.gz",
                config_folder(end),
                compact(first),
                compact(last)
            );
            let mut doc = Document::new(None);
            for item in &list {
                doc.push(item);
            }
            put(key, doc.finish())?;
        }
        start = end;
    }
    if r == 0 {
        put(
            format!("AWSLogs/{account}/Config/ConfigWritabilityCheckFile"),
            Vec::new(),
        )?;
    }
    Ok(())
}

/// The end of the six-hour history window that starts at `start`.
fn end_of(start: i64) -> i64 {
    start + 6 * HOUR
}

/// The time range the ConfigHistory deliveries cover: six-hour windows from the one holding
/// `now - days` to the last one that has ended by `now` (what a CloudTrail Lake event data store
/// created at the range's start holds).
pub fn history_window(now: i64, days: i64) -> (i64, i64) {
    let window_start = now - days * time::DAY;
    let start = window_start - window_start.rem_euclid(6 * HOUR);
    let mut end = start;
    while end_of(end) <= now {
        end = end_of(end);
    }
    (start, end)
}
