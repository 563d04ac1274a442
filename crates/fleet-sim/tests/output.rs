//! fleet-sim's output: deterministic, sliceable, and in agreement with its own ground truth.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use fleet_sim::{Destination, FleetSpec, Options, time};
use serde_json::Value;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fleet-sim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn spec(nodes: usize) -> FleetSpec {
    FleetSpec {
        seed: 42,
        now: time::parse_iso("2026-11-22T12:00:00Z").expect("time"),
        accounts: vec!["111111111111".into(), "222222222222".into()],
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        nodes,
        config_days: 2,
        item_scale: 0.05,
    }
}

async fn simulate(dir: &Path, nodes: usize, only: Vec<(String, String)>) {
    let options = Options {
        spec: spec(nodes),
        out: dir.to_path_buf(),
        sync: Destination::Local(dir.join("sync")),
        config: Some(Destination::Local(dir.join("config"))),
        only,
        concurrency: 4,
        write_data: true,
        aws: None,
    };
    fleet_sim::run(options).await.expect("simulation");
}

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn truth(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("ground-truth.jsonl"))
        .expect("truth")
        .lines()
        .map(|l| serde_json::from_str(l).expect("truth line"))
        .collect()
}

fn rows(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect()
}

#[tokio::test]
async fn same_seed_same_bytes_and_a_slice_is_the_same_slice() {
    let (a, b, c) = (temp("a"), temp("b"), temp("c"));
    simulate(&a, 400, vec![]).await;
    simulate(&b, 400, vec![]).await;
    simulate(&c, 400, vec![("222222222222".into(), "eu-west-1".into())]).await;
    // fleet.json names the output folders, which differ; everything else must not.
    let without_meta = |mut t: BTreeMap<String, Vec<u8>>| {
        t.remove("fleet.json").expect("fleet.json");
        t
    };
    let (ta, tb, tc) = (
        without_meta(tree(&a)),
        without_meta(tree(&b)),
        without_meta(tree(&c)),
    );
    assert_eq!(ta.len(), tb.len());
    assert!(ta == tb, "two runs with one seed differ");
    let slice: BTreeMap<_, _> = ta
        .iter()
        .filter(|(k, _)| {
            k.ends_with("ground-truth.jsonl")
                || (k.contains("accountid=222222222222/region=eu-west-1/")
                    || k.contains("AWSLogs/222222222222/Config/eu-west-1/"))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let written = tc;
    assert!(slice.len() > 100);
    assert!(
        written == slice,
        "--only wrote something else than the full run's slice"
    );
    for dir in [a, b, c] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test]
async fn files_agree_with_the_truth_and_every_case_occurs() {
    let dir = temp("truth");
    simulate(&dir, 1200, vec![]).await;
    let files = tree(&dir);
    let nodes = truth(&dir);
    assert_eq!(nodes.len(), 1200);
    let file = |kind: &str, n: &Value| {
        files.get(&format!(
            "sync/{kind}/accountid={}/region={}/resourcetype=ManagedInstanceInventory/{}.json",
            n["account_id"].as_str().expect("a"),
            n["region"].as_str().expect("r"),
            n["node_id"].as_str().expect("id")
        ))
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for n in &nodes {
        let info = file("AWS:InstanceInformation", n);
        assert_eq!(info.is_some(), n["managed"] == true, "{n}");
        let Some(info) = info else {
            seen.insert("unmanaged".into());
            // Config's rule flags an unmanaged instance only while it runs.
            let rule = &n["config"]["managed_rule"];
            match n["config"]["state"].as_str() {
                Some("running") => assert!(rule == "NON_COMPLIANT" || rule.is_null(), "{n}"),
                _ => assert_ne!(rule, "NON_COMPLIANT", "{n}"),
            }
            continue;
        };
        let info = &rows(info)[0];
        assert_eq!(info["InstanceStatus"], n["instance_status"]);
        assert_eq!(info["captureTime"], n["last_seen"]);
        assert!(
            info.get("AgentStatus").is_none(),
            "the sync writes no AgentStatus"
        );
        seen.insert(format!("platform:{}", n["platform_name"]));
        if n["deregistered"] == true {
            seen.insert(format!(
                "deregistered:{}:gone={}",
                n["instance_status"], n["gone"]
            ));
        }
        seen.insert(format!("status:{}", n["instance_status"]));
        seen.insert(format!("type:{}/{}", n["node_type"], n["platform_type"]));
        seen.insert(format!("stale:{}", n["stale"]));
        seen.insert(format!(
            "tagged:{}",
            n["tags"].as_object().is_some_and(|t| !t.is_empty())
        ));
        let summary = file("AWS:PatchSummary", n);
        assert_eq!(summary.is_some(), n["patch_status"] != "NOT_SCANNED", "{n}");
        seen.insert(format!("patch:{}", n["patch_status"]));
        if let Some(summary) = summary {
            let s = &rows(summary)[0];
            let scan = &n["scan"];
            assert_eq!(
                s["MissingCount"].as_str(),
                Some(scan["states"]["Missing"].to_string().as_str())
            );
            assert_ne!(s["SnapshotId"], s["ExecutionId"]);
            seen.insert(format!("execution:{}", scan["execution_type"]));
            seen.insert(format!("predefined:{}", scan["predefined_baseline"]));
            if s["UnreportedNotApplicableCount"] == "-1" {
                seen.insert("unreported:-1".into());
            }
            if s.get("NonCompliantSeverity").is_some() {
                assert_eq!(
                    scan["status"], "NON_COMPLIANT",
                    "only a non-compliant node has it"
                );
            }
            assert_eq!(
                s["CriticalNonCompliantCount"].as_str(),
                Some(scan["critical_noncompliant"].to_string().as_str())
            );
            let items = rows(file("AWS:ComplianceItem", n).expect("items"));
            let patches: Vec<&Value> = items
                .iter()
                .filter(|i| i["ComplianceType"] == "Patch")
                .collect();
            assert_eq!(
                patches.len(),
                scan["patches"].as_array().expect("patches").len()
            );
            let windows = n["platform_type"] == "Windows";
            for item in &patches {
                seen.insert(format!("state:{}", item["PatchState"]));
                seen.insert(format!("level:{}", item["Severity"]));
                if item["PatchState"] == "NotApplicable" {
                    assert!(windows, "not-applicable items are reported on Windows only");
                    assert_eq!(item["Status"].as_str().unwrap_or(""), "");
                }
                if matches!(
                    item["PatchState"].as_str(),
                    Some("InstalledOther" | "NotApplicable")
                ) {
                    assert_eq!(item["Severity"], "UNSPECIFIED");
                }
                if scan["predefined_baseline"] == true {
                    assert_eq!(
                        item["Severity"], "UNSPECIFIED",
                        "predefined baselines rank nothing"
                    );
                }
            }
            let associations: Vec<&Value> = items
                .iter()
                .filter(|i| i["ComplianceType"] == "Association")
                .collect();
            assert_eq!(
                associations.len(),
                n["associations"].as_array().map_or(0, Vec::len)
            );
            if associations.len() > 1 {
                seen.insert("associations:several".into());
            }
            if items.iter().any(|i| {
                i["ComplianceType"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Custom:"))
            }) {
                seen.insert("custom".into());
            }
            let compliance = rows(file("AWS:ComplianceSummary", n).expect("summary"));
            let patch = compliance
                .iter()
                .find(|c| c["ComplianceType"] == "Patch")
                .expect("Patch summary");
            assert_eq!(patch["Status"], scan["status"]);
        }
        let tags = file("AWS:Tag", n).map(|b| rows(b)).unwrap_or_default();
        let tags: BTreeMap<String, String> = tags
            .iter()
            .map(|t| {
                (
                    t["Key"].as_str().expect("k").into(),
                    t["Value"].as_str().expect("v").into(),
                )
            })
            .collect();
        let expected: BTreeMap<String, String> =
            serde_json::from_value(n["tags"].clone()).expect("tags");
        assert_eq!(tags, expected);
    }
    for case in [
        "unmanaged",
        "status:\"Active\"",
        "status:\"ConnectionLost\"",
        "status:\"Stopped\"",
        "status:\"Terminated\"",
        "type:\"EC2\"/\"Linux\"",
        "type:\"EC2\"/\"Windows\"",
        "type:\"Hybrid\"/\"Linux\"",
        "type:\"Hybrid\"/\"Windows\"",
        "stale:true",
        "tagged:true",
        "tagged:false",
        "patch:\"NOT_SCANNED\"",
        "patch:\"COMPLIANT\"",
        "patch:\"NON_COMPLIANT\"",
        "state:\"Installed\"",
        "state:\"InstalledOther\"",
        "state:\"InstalledPendingReboot\"",
        "state:\"InstalledRejected\"",
        "state:\"Missing\"",
        "state:\"Failed\"",
        "state:\"NotApplicable\"",
        "state:\"AvailableSecurityUpdate\"",
        "level:\"CRITICAL\"",
        "level:\"MEDIUM\"",
        "level:\"UNSPECIFIED\"",
        "execution:\"Command\"",
        "execution:\"PatchPolicy\"",
        "predefined:true",
        "predefined:false",
        "unreported:-1",
        "associations:several",
        "custom",
        "platform:\"SLES\"",
        "platform:\"Debian GNU/Linux\"",
        "platform:\"NotAvailable\"",
        "platform:\"\"",
        "deregistered:\"Active\":gone=true",
        "deregistered:\"Active\":gone=false",
        "deregistered:\"Terminated\":gone=false",
    ] {
        assert!(seen.contains(case), "no {case} in the fleet");
    }
    for account in ["111111111111", "222222222222"] {
        assert!(files.contains_key(&format!(
            "sync/AWS:InstanceInformation/accountid={account}/test.json"
        )));
        assert!(files.contains_key(&format!(
            "config/AWSLogs/{account}/Config/ConfigWritabilityCheckFile"
        )));
    }

    // The newest snapshot of each account and Region lists exactly the EC2 instances the truth
    // says Config sees, in the state it says.
    let meta: Value = serde_json::from_slice(&files["fleet.json"]).expect("fleet.json");
    for n in nodes.iter().filter(|n| n["node_type"] == "EC2").take(1) {
        let (a, r) = (
            n["account_id"].as_str().expect("a"),
            n["region"].as_str().expect("r"),
        );
        let newest = meta["snapshots"][a][r][0].as_str().expect("snapshot time");
        let stamp = newest.replace(['-', ':'], "");
        let (key, body) = files
            .iter()
            .find(|(k, _)| {
                k.contains(&format!("AWSLogs/{a}/Config/{r}/"))
                    && k.contains(&format!("ConfigSnapshot_{stamp}_"))
            })
            .expect("newest snapshot");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .expect("gzip");
        let doc: Value = serde_json::from_str(&text).expect("json");
        let in_snapshot: BTreeMap<String, String> = doc["configurationItems"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["resourceType"] == "AWS::EC2::Instance")
            .map(|i| {
                (
                    i["resourceId"].as_str().expect("id").into(),
                    i["configuration"]["state"]["name"]
                        .as_str()
                        .expect("state")
                        .into(),
                )
            })
            .collect();
        let expected: BTreeMap<String, String> = nodes
            .iter()
            .filter(|m| {
                m["account_id"] == a
                    && m["region"] == r
                    && m["node_type"] == "EC2"
                    && !m["config"].is_null()
            })
            .map(|m| {
                (
                    m["node_id"].as_str().expect("id").into(),
                    m["config"]["state"].as_str().expect("state").into(),
                )
            })
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(in_snapshot, expected, "{key}");
    }

    // The ConfigHistory's PatchCompliance items are the truth's patch_history, node by node, and
    // their content has a ComplianceSummary entry on some accounts and none on others.
    let mut history: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut summary_entry = BTreeSet::new();
    for (key, body) in files
        .iter()
        .filter(|(k, _)| k.contains("/ConfigHistory/") && k.contains("_AWS::SSM::PatchCompliance_"))
    {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .expect("gzip");
        let doc: Value = serde_json::from_str(&text).expect(key);
        for item in doc["configurationItems"].as_array().expect("items") {
            let node = item["resourceId"].as_str().expect("id");
            let node = node
                .strip_prefix("AWS::SSM::ManagedInstanceInventory/")
                .expect("a PatchCompliance item's id names the inventory");
            let patches = &item["configuration"]["AWS:ComplianceItem"]["Content"]["Patch"];
            summary_entry.insert(patches.get("ComplianceSummary").is_some());
            let noncompliant = patches
                .as_object()
                .expect("Patch is an object")
                .values()
                .any(|p| p.get("PatchState").is_some() && p["Status"] == "NON_COMPLIANT");
            let status = if noncompliant {
                "NON_COMPLIANT"
            } else {
                "COMPLIANT"
            };
            history
                .entry(format!(
                    "{}/{node}",
                    item["awsAccountId"].as_str().expect("a")
                ))
                .or_default()
                .push((
                    item["configurationItemCaptureTime"]
                        .as_str()
                        .expect("t")
                        .replace(".000Z", "Z"),
                    status.to_owned(),
                ));
        }
    }
    assert_eq!(summary_entry, BTreeSet::from([false, true]));
    let mut want: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for n in &nodes {
        for h in n["patch_history"].as_array().expect("patch_history") {
            want.entry(format!(
                "{}/{}",
                n["account_id"].as_str().expect("a"),
                n["node_id"].as_str().expect("id")
            ))
            .or_default()
            .push((
                h[0].as_str().expect("t").into(),
                h[1].as_str().expect("s").into(),
            ));
        }
    }
    for list in history.values_mut() {
        list.sort();
    }
    assert!(!want.is_empty());
    let differ: Vec<_> = want
        .keys()
        .chain(history.keys())
        .filter(|k| history.get(*k) != want.get(*k))
        .take(3)
        .map(|k| (k, history.get(k), want.get(k)))
        .collect();
    assert!(differ.is_empty(), "ConfigHistory vs truth: {differ:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn on_earlier_days_the_fleet_is_smaller_and_each_node_the_same() {
    let full = spec(40);
    let days: Vec<FleetSpec> = (0..3).map(|d| full.on_day(3, d)).collect();
    assert_eq!(days[2].now, full.now);
    assert_eq!(days[0].now, full.now - 2 * time::DAY);
    assert!(days[0].nodes < days[1].nodes && days[1].nodes < days[2].nodes);
    assert_eq!(days[2].nodes, 40);
    let mut lines = Vec::new();
    for (d, day) in days.iter().enumerate() {
        let dir = temp(&format!("day{d}"));
        let options = Options {
            spec: day.clone(),
            out: dir.clone(),
            sync: Destination::Local(dir.join("sync")),
            config: None,
            only: Vec::new(),
            concurrency: 4,
            write_data: false,
            aws: None,
        };
        fleet_sim::run(options).await.expect("simulation");
        lines.push(truth(&dir));
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Every node of an earlier day is on the later days, in the same state, its times shifted
    // with the day.
    let shifted = |v: &Value| -> i64 { v.as_str().and_then(time::parse_iso).unwrap_or(0) };
    for (earlier, later) in [(0, 1), (1, 2)] {
        let by_id: BTreeMap<&str, &Value> = lines[later]
            .iter()
            .map(|n| (n["node_id"].as_str().unwrap_or_default(), n))
            .collect();
        assert_eq!(lines[earlier].len(), days[earlier].nodes);
        for node in &lines[earlier] {
            let same = by_id[node["node_id"].as_str().unwrap_or_default()];
            for key in [
                "patch_status",
                "live",
                "managed",
                "missing_by_level",
                "stale",
            ] {
                assert_eq!(node[key], same[key], "{key} of {}", node["node_id"]);
            }
            if node["last_seen"].is_string() {
                assert_eq!(
                    shifted(&same["last_seen"]) - shifted(&node["last_seen"]),
                    time::DAY,
                    "{}",
                    node["node_id"]
                );
            }
        }
    }
}
