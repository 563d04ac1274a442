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
    /// managed_by_ssm: YES or NO.
    pub managed: &'static str,
    /// COMPLIANT, NON_COMPLIANT or NOT_EVALUATED.
    pub patch: &'static str,
    /// Capture time of the EC2 item (EC2 only).
    pub captured: Option<i64>,
}

/// A node as the snapshot taken at `t` lists it.
pub fn view(node: &Node, t: i64) -> Option<ConfigView> {
    if !node.exists_at(t) {
        return None;
    }
    let patch = match node.managed.then(|| node.scan_at(t)).flatten() {
        Some(scan) if scan.non_compliant() => "NON_COMPLIANT",
        Some(_) => "COMPLIANT",
        None => "NOT_EVALUATED",
    };
    Some(ConfigView {
        state: (!node.hybrid).then(|| ec2_state(node, t)),
        managed: if node.managed { "YES" } else { "NO" },
        patch,
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
        if !node.hybrid {
            out.push(self.instance(node, t));
            out.push(self.rule_result(
                node,
                "AWS::EC2::Instance",
                &node.id,
                MANAGED_RULE,
                if node.managed {
                    "COMPLIANT"
                } else {
                    "NON_COMPLIANT"
                },
                ec2_captured(node, t),
            ));
        }
        if !node.managed {
            return;
        }
        let status = node.status_at(t);
        let seen = node.last_seen.min(t - 60).max(node.launched);
        let p = node.platform;
        out.push(self.item(INVENTORY, &node.id, seen, "OK", json!({
            "AWS:InstanceInformation": {"Content": {node.id.clone(): {
                "AgentType": "amazon-ssm-agent", "AgentVersion": node.agent_version,
                "ComputerName": node.computer_name, "InstanceId": node.id, "IpAddress": node.ip,
                "PlatformName": p.name, "PlatformType": p.platform_type, "PlatformVersion": p.version,
                "ResourceType": if node.hybrid { "ManagedInstance" } else { "EC2Instance" },
                "InstanceStatus": status.as_str(),
            }}},
        }), json!({})));
        if let Some(scan) = node.scan_at(t) {
            out.push(self.patch_compliance(node, scan));
            let result = scan.status();
            out.push(self.rule_result(
                node,
                "AWS::SSM::PatchCompliance",
                &format!("{INVENTORY}/{}", node.id),
                PATCH_RULE,
                result,
                scan.time,
            ));
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
                    "Status": state.status(),
                    "Severity": if classified { patch.severity } else { "" },
                    "PatchSeverity": if classified { patch.patch_severity } else { "" },
                    "Classification": if classified { patch.classification } else { "" },
                    "PatchBaselineId": crate::sync::baseline(node), "PatchGroup": node.patch_group,
                    "InstalledTime": installed.map(iso).unwrap_or_default(),
                    "DocumentName": "AWS-RunPatchBaseline", "DocumentVersion": "1",
                }),
            );
        }
        self.item(
            "AWS::SSM::PatchCompliance",
            &format!("{INVENTORY}/{}", node.id),
            scan.time,
            "OK",
            json!({"AWS:ComplianceItem": {"Content": {"Patch": content}}}),
            json!({}),
        )
    }

    fn rule_result(
        &self,
        node: &Node,
        target_type: &str,
        target: &str,
        rule: &str,
        result: &str,
        captured: i64,
    ) -> Value {
        let mut rules: Vec<Value> = rule_names(node.account, rule).into_iter().map(|name| json!({
            "configRuleArn": format!("arn:aws:config:{}:{}:config-rule/config-rule-{}", self.region, self.account, &name.len()),
            "configRuleId": format!("config-rule-{}", name.len()),
            "configRuleName": name,
            "complianceType": result,
        })).collect();
        if target_type == "AWS::EC2::Instance" {
            // Other rules evaluate the same instance: their results must not be read as ours.
            rules.push(json!({"configRuleArn": format!("arn:aws:config:{}:{}:config-rule/config-rule-ip", self.region, self.account),
                "configRuleId": "config-rule-ip", "configRuleName": "ec2-instance-no-public-ip",
                "complianceType": if node.id.ends_with(['0', '1', '2', '3']) { "NON_COMPLIANT" } else { "COMPLIANT" }}));
        }
        self.item(
            "AWS::Config::ResourceCompliance",
            &format!("{target_type}/{target}"),
            captured,
            "OK",
            json!({
                "complianceType": result,
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
    let mut start = window_start - window_start.rem_euclid(6 * HOUR);
    while end_of(start) <= now {
        let end = end_of(start);
        let mut by_type: std::collections::BTreeMap<&str, Vec<Value>> = Default::default();
        for node in nodes {
            if (start..end).contains(&node.launched) && !node.hybrid {
                by_type
                    .entry("AWS::EC2::Instance")
                    .or_default()
                    .push(items.instance(node, node.launched));
            }
            if node.status != Status::Active && (start..end).contains(&node.changed) {
                if node.hybrid {
                    continue;
                }
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
                let result = scan.status();
                by_type
                    .entry("AWS::Config::ResourceCompliance")
                    .or_default()
                    .push(items.rule_result(
                        node,
                        "AWS::SSM::PatchCompliance",
                        &format!("{INVENTORY}/{}", node.id),
                        PATCH_RULE,
                        result,
                        scan.time,
                    ));
            }
        }
        for (resource_type, list) in by_type {
            let key = format!(
                "{base}/{}/ConfigHistory/{account}_Config_{region}_ConfigHistory_{resource_type}_{}_{}_1.json.gz",
                config_folder(end),
                compact(start),
                compact(end)
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
