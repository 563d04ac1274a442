"""A small fleet written by hand in fleet-sim's output layout, with the cases a report gets wrong:
HTML and spreadsheet-formula payloads in computer names and tags, a terminated node with patch
data, a stale Active node, a never-scanned hybrid node, a pending-reboot patch (non-compliant, not
missing), stopped and unmanaged EC2 instances, an older Config snapshot that still lists a deleted
instance, an Association compliance item beside the Patch items.

The data is shaped as AWS documents it, not as our queries would like it: account A's nodes use
AWS's predefined baselines, so every patch item's Severity (the compliance level) is UNSPECIFIED
whatever the vendor says (PatchSeverity); account B's custom baseline ranks security patches
CRITICAL and the rest MEDIUM. A Windows not-applicable patch is an item with an empty Status;
Linux ones are only counted. InstanceInformation has no AgentStatus (AWS's own sync tables lack it).
The managed rule gives a stopped instance NOT_APPLICABLE or no result at all (both occur).

    write(DIR, now="2026-11-21T12:00:00Z") -> the nodes' ground truth (also in DIR/ground-truth.jsonl)

fleet-sim writes the same layout at realistic size; this fixture keeps the report's edge cases in one
place that reads in a minute.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import pathlib
import uuid

A, B = "111111111111", "222222222222"
US, EU = "us-east-1", "eu-west-1"
NONCOMPLIANT_STATES = {"Missing", "Failed", "InstalledPendingReboot", "InstalledRejected"}
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED"]
SCRIPT = '<script>alert("pwned")</script>'
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example/","click")'

# Patch catalogue: id -> (title, vendor severity, classification). SecurityNonCompliantCount counts
# the non-compliant patches classified Security.
PATCHES = {
    "openssl-3.0.8-1.amzn2023": ("openssl security update", "Critical", "Security"),
    "kernel-6.1.55-75.123": ("kernel security update", "Important", "Security"),
    "curl-8.3.0-1": ("curl bug fix", "", "Bugfix"),
    "bash-5.2.15-1": ("bash", "Low", "Bugfix"),
    "KB5031364": (f"2023-10 Cumulative Update {SCRIPT}", "Critical", "SecurityUpdates"),
    "KB890830": ("Windows Malicious Software Removal Tool", "", "Tools"),
}
SECURITY = {"Security", "SecurityUpdates"}


def level(account: str, classification: str) -> str:
    """The compliance level the node's baseline assigns: UNSPECIFIED on the predefined baselines
    (account A), security CRITICAL and the rest MEDIUM on account B's custom one."""
    if account == A:
        return "UNSPECIFIED"
    return "CRITICAL" if classification in SECURITY else "MEDIUM"


def node(account, region, node_id, *, status="Active", seen_days=0.05, patches=None, name="",
         tags=None, config=None, managed=True, computer=None, platform="Amazon Linux"):
    return {"account_id": account, "region": region, "node_id": node_id, "status": status,
            "seen_days": seen_days, "patches": patches, "tags": tags or {}, "config": config,
            "managed": managed, "computer": computer or name or node_id, "platform": platform, "name": name}


def spec() -> list[dict]:
    def cfg(state: str, managed: str | None, patch: str | None) -> dict:
        # managed: the result of ec2-instance-managed-by-systems-manager (None: no result).
        return {"state": state, "managed_rule": managed, "patch_compliance": patch}

    return [
        node(A, US, "i-0a00000000000001", name="web-1", tags={"Name": "web-1", "Environment": "prod"},
             patches={"openssl-3.0.8-1.amzn2023": "Installed", "bash-5.2.15-1": "Installed"},
             config=cfg("running", "COMPLIANT", "COMPLIANT")),
        node(A, US, "i-0a00000000000002", computer=SCRIPT,
             tags={"Name": IMG, "Owner": FORMULA},
             patches={"openssl-3.0.8-1.amzn2023": "Missing", "kernel-6.1.55-75.123": "Missing",
                      "bash-5.2.15-1": "Installed", "curl-8.3.0-1": "NotApplicable"},
             config=cfg("running", "COMPLIANT", "NON_COMPLIANT")),
        node(A, US, "mi-0a00000000000003", name="onprem-db", seen_days=10, platform="Ubuntu"),
        node(A, US, "i-0a00000000000004", status="Terminated", name="old-batch",
             patches={"openssl-3.0.8-1.amzn2023": "Missing"}, config=cfg("terminated", "NON_COMPLIANT", None)),
        node(A, US, "i-0a00000000000005", managed=False, tags={"Name": FORMULA},
             config=cfg("running", "NON_COMPLIANT", None)),
        node(A, US, "i-0a00000000000006", managed=False, tags={"Name": f"stopped {SCRIPT}"},
             config=cfg("stopped", None, None)),
        node(A, EU, "i-0b00000000000001", status="ConnectionLost", seen_days=9, name="win-app",
             platform="Microsoft Windows Server 2022 Datacenter",
             patches={"KB5031364": "Failed", "KB890830": "NotApplicable"},
             config=cfg("running", "COMPLIANT", "NON_COMPLIANT")),
        node(A, EU, "i-0b00000000000002", status="Stopped", seen_days=3, name="batch",
             patches={"bash-5.2.15-1": "Installed"}, config=cfg("stopped", "NOT_APPLICABLE", "COMPLIANT")),
        node(B, US, "i-0c00000000000001", name="api", tags={"Environment": "dev"},
             patches={"curl-8.3.0-1": "Missing", "openssl-3.0.8-1.amzn2023": "InstalledPendingReboot",
                      "bash-5.2.15-1": "InstalledOther"},
             config=cfg("running", "COMPLIANT", "NON_COMPLIANT")),
        node(B, US, "mi-0c00000000000002", name="edge", patches={"bash-5.2.15-1": "Installed"}, platform="Ubuntu"),
        node(B, EU, "i-0d00000000000001", name="fresh", config=cfg("running", "COMPLIANT", None)),
        node(B, EU, "i-0d00000000000002", managed=False, config=cfg("running", "NON_COMPLIANT", None)),
    ]


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def write(root: pathlib.Path, now: str = "2026-11-21T12:00:00Z") -> list[dict]:
    root = pathlib.Path(root)
    t_now = dt.datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    truth, snapshots = [], {}
    for n in spec():
        seen = t_now - dt.timedelta(days=n["seen_days"])
        cap = iso(seen)
        base = {"captureTime": cap, "schemaVersion": "1.0", "resourceId": n["node_id"]}
        live = n["managed"] and n["status"] != "Terminated"  # as fleet-sim: known to Systems Manager
        nc = {s: 0 for s in SEVERITIES}
        comp = {s: 0 for s in SEVERITIES}
        patch_rows, security, other = [], 0, 0
        if n["managed"]:
            rtype = "ManagedInstance" if n["node_id"].startswith("mi-") else "EC2Instance"
            windows = "Windows" in n["platform"]
            sync(root, "AWS:InstanceInformation", n, [{
                "AgentType": "amazon-ssm-agent", "AgentVersion": "3.3.1142.0", "ComputerName": n["computer"],
                "InstanceId": n["node_id"], "IpAddress": "10.0.0.1",
                "PlatformName": n["platform"], "PlatformType": "Windows" if windows else "Linux",
                "PlatformVersion": "2023", "ResourceType": rtype, "InstanceStatus": n["status"], **base}])
            if n["tags"]:
                sync(root, "AWS:Tag", n, [{"Key": k, "Value": v, **base} for k, v in n["tags"].items()])
        if n["managed"] and n["patches"] is not None:
            exec_time = iso(seen - dt.timedelta(minutes=5))
            items = []
            counts = {"Installed": 0, "InstalledOther": 0, "InstalledPendingReboot": 0, "InstalledRejected": 0,
                      "Missing": 0, "Failed": 0, "NotApplicable": 0}
            for pid, state in n["patches"].items():
                title, vendor, cls = PATCHES[pid]
                counts[state] += 1
                noncompliant = state in NONCOMPLIANT_STATES
                if state in ("InstalledOther", "NotApplicable"):
                    # Not approved by the baseline: no level, and the item carries no vendor data.
                    vendor, cls, lvl = "", "", "UNSPECIFIED"
                else:
                    lvl = level(n["account_id"], cls)
                    (nc if noncompliant else comp)[lvl] += 1
                if noncompliant:
                    security += cls in SECURITY
                    other += cls not in SECURITY and lvl != "CRITICAL"
                if state == "NotApplicable" and not windows:
                    continue  # Linux: counted in NotApplicableCount, never listed as an item
                status = "NON_COMPLIANT" if noncompliant else "" if state == "NotApplicable" else "COMPLIANT"
                installed = "" if state in ("Missing", "Failed", "NotApplicable") else exec_time
                items.append({"ComplianceType": "Patch", "ExecutionId": "exec-1", "ExecutionType": "Command",
                              "ExecutionTime": exec_time, "Id": pid, "Title": title, "Status": status,
                              "Severity": lvl, "DocumentName": "AWS-RunPatchBaseline", "DocumentVersion": "1",
                              "Classification": cls, "PatchBaselineId": "pb-0123456789abcdef0",
                              "PatchSeverity": vendor, "PatchState": state, "PatchGroup": "default",
                              "InstalledTime": installed, **base})
                # As fleet-sim writes them: [id, title, state, compliance level, classification, vendor
                # severity, installed time, status].
                patch_rows.append([pid, title, state, lvl, cls, vendor, installed, status])
            items.append({"ComplianceType": "Association", "Id": str(uuid.uuid5(uuid.NAMESPACE_DNS, n["node_id"])),
                          "Title": "", "Status": "NON_COMPLIANT", "Severity": "UNSPECIFIED",
                          "DocumentName": "AWS-GatherSoftwareInventory", "ExecutionTime": exec_time, **base})
            sync(root, "AWS:ComplianceItem", n, items)
            status = "NON_COMPLIANT" if any(nc.values()) else "COMPLIANT"
            sync(root, "AWS:ComplianceSummary", n, [{
                "ComplianceType": "Patch", "PatchGroup": "default", "PatchBaselineId": "pb-0123456789abcdef0",
                "Status": status, "OverallSeverity": next((s for s in SEVERITIES if nc[s]), "UNSPECIFIED"),
                "ExecutionId": "exec-1", "ExecutionType": "Command", "ExecutionTime": exec_time,
                **{f"Compliant{s.title()}Count": str(comp[s]) for s in SEVERITIES},
                **{f"NonCompliant{s.title()}Count": str(nc[s]) for s in SEVERITIES}, **base},
                {"ComplianceType": "Association", "Status": "COMPLIANT", "ExecutionTime": exec_time, **base}])
            sync(root, "AWS:PatchSummary", n, [{
                "PatchGroup": "default", "BaselineId": "pb-0123456789abcdef0", "SnapshotId": "snap-1",
                "OwnerInformation": "", "OperationType": "Scan", "OperationStartTime": exec_time,
                "OperationEndTime": exec_time, "RebootOption": "NoReboot", "ExecutionId": "exec-1",
                "InstalledCount": str(counts["Installed"]),
                "InstalledOtherCount": str(counts["InstalledOther"]),
                "InstalledPendingRebootCount": str(counts["InstalledPendingReboot"]),
                "InstalledRejectedCount": str(counts["InstalledRejected"]),
                "NotApplicableCount": str(counts["NotApplicable"]), "UnreportedNotApplicableCount": "-1",
                "MissingCount": str(counts["Missing"]), "FailedCount": str(counts["Failed"]),
                "CriticalNonCompliantCount": str(nc["CRITICAL"]), "SecurityNonCompliantCount": str(security),
                "OtherNonCompliantCount": str(other), **base}])
            patch_status = status
        else:
            patch_status = "NOT_SCANNED" if n["managed"] else None
        if n["config"] is not None and not n["node_id"].startswith("mi-"):
            snapshots.setdefault((n["account_id"], n["region"]), []).extend(config_items(n, cap))
        truth.append({
            "account_id": n["account_id"], "region": n["region"], "node_id": n["node_id"],
            "node_type": "Hybrid" if n["node_id"].startswith("mi-") else "EC2", "managed": n["managed"],
            "instance_status": n["status"] if n["managed"] else None, "live": live,
            "last_seen": cap if n["managed"] else None, "stale": n["managed"] and live and n["seen_days"] > 7,
            "patch_status": patch_status, "gone": False,
            "missing_by_level": nc if n["managed"] else None,
            "scan": None if not (n["managed"] and n["patches"] is not None) else {
                "security_noncompliant": security, "patches": patch_rows},
            "tags": n["tags"], "config": n["config"],
        })
    snapshot_day = t_now - dt.timedelta(hours=2)
    for (account, region), items in snapshots.items():
        write_snapshot(root, account, region, snapshot_day, items)
    # An older snapshot still lists an instance deleted since: reports must not resurrect it.
    ghost = node(A, US, "i-0a000000000000ff", managed=False, tags={"Name": "deleted"},
                 config={"state": "running", "managed_rule": "NON_COMPLIANT", "patch_compliance": None})
    write_snapshot(root, A, US, snapshot_day - dt.timedelta(days=1), config_items(ghost, iso(t_now)))
    # The sync's write-check object, which readers must skip.
    check = root / "sync" / "AWS:InstanceInformation" / f"accountid={A}" / "test.json"
    check.parent.mkdir(parents=True, exist_ok=True)
    check.write_text("{}\n")
    (root / "ground-truth.jsonl").write_text("".join(json.dumps(t) + "\n" for t in truth))
    (root / "fleet.json").write_text(json.dumps({
        "seed": 0, "now": now, "accounts": [A, B], "regions": [US, EU], "nodes": len(truth),
        "generator": "tests/demo/handmade_fleet.py"}, indent=2) + "\n")
    return truth


def sync(root: pathlib.Path, type_name: str, n: dict, rows: list[dict]) -> None:
    path = (root / "sync" / type_name / f"accountid={n['account_id']}" / f"region={n['region']}"
            / "resourcetype=ManagedInstanceInventory" / f"{n['node_id']}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def config_items(n: dict, captured: str) -> list[dict]:
    c, nid = n["config"], n["node_id"]
    account, region = n["account_id"], n["region"]
    when = captured.replace("Z", ".000Z")
    item = {"configurationItemVersion": "1.3", "configurationItemCaptureTime": when, "configurationStateId": 1,
            "awsAccountId": account, "configurationItemStatus": "OK", "awsRegion": region,
            "availabilityZone": region + "a", "resourceCreationTime": when, "relatedEvents": [],
            "relationships": [], "supplementaryConfiguration": {}, "configurationStateMd5Hash": ""}
    out = [{**item, "resourceType": "AWS::EC2::Instance", "resourceId": nid, "resourceName": nid,
            "ARN": f"arn:aws:ec2:{region}:{account}:instance/{nid}", "tags": n["tags"],
            "configuration": {"instanceId": nid, "instanceType": "t3.micro", "state": {"code": 16, "name": c["state"]},
                              "platformDetails": "Linux/UNIX",
                              "tags": [{"key": k, "value": v} for k, v in n["tags"].items()]}}]
    rules = ([("ec2-instance-managed-by-systems-manager", "AWS::EC2::Instance", nid, c["managed_rule"])]
             if c["managed_rule"] else [])
    if c.get("patch_compliance"):
        rules.append(("ec2-managedinstance-patch-compliance-status-check", "AWS::SSM::PatchCompliance",
                      f"AWS::SSM::ManagedInstanceInventory/{nid}", c["patch_compliance"]))
    for rule, ttype, target, result in rules:
        out.append({**item, "resourceType": "AWS::Config::ResourceCompliance", "resourceId": f"{ttype}/{target}",
                    "resourceName": None,
                    "ARN": f"arn:aws:config:{region}:{account}:resource-compliance/{ttype}/{target}",
                    "tags": {}, "configuration": {
                        "complianceType": result, "targetResourceId": target, "targetResourceType": ttype,
                        "configRuleList": [{"configRuleArn": f"arn:aws:config:{region}:{account}:config-rule/{rule}",
                                            "configRuleId": "config-rule-1", "configRuleName": rule,
                                            "complianceType": result}]}})
    return out


def write_snapshot(root: pathlib.Path, account: str, region: str, when: dt.datetime, items: list[dict]) -> None:
    sid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account}/{region}/{when.isoformat()}"))
    folder = (root / "config" / "AWSLogs" / account / "Config" / region / str(when.year) / str(when.month)
              / str(when.day) / "ConfigSnapshot")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{account}_Config_{region}_ConfigSnapshot_{when.strftime('%Y%m%dT%H%M%SZ')}_{sid}.json.gz"
    (folder / name).write_bytes(gzip.compress(json.dumps(
        {"fileVersion": "1.0", "configSnapshotId": sid, "configurationItems": items}).encode()))
