"""Checks of the QuickSight datasets' SQL (crates/quicksight-builder/sql/*.sql).

Each file must parse as Athena (Trino) SQL, return exactly the columns its header declares, and,
transpiled to DuckDB, return the right rows from small tables laid out as the Glue crawler lays
them out (lower-case string columns, partitions as columns). The rows are chosen so that each
defect of the public samples (../shared/reference/reference-implementations.md) changes the answer:
a stale Active row of a terminated node, an older capture's items and tags, Association items
beside Patch items, a node never scanned, a deleted instance in an older Config snapshot, a rule
deployed twice. The mutation tests rewrite a query into a known-wrong form and require the check
to notice.

    .venv/bin/python -m pytest tests/sql -q
"""

from __future__ import annotations

import json
import pathlib
import re

import duckdb
import localathena as la
import pytest
import sqlglot
from sqlglot import exp

ROOT = pathlib.Path(__file__).resolve().parents[2]
SQL_DIR = ROOT / "crates" / "quicksight-builder" / "sql"

A, B = "111111111111", "222222222222"
EU, US = "eu-west-1", "us-east-1"
T0, T1, T2 = "2026-11-20T06:00:00Z", "2026-11-21T06:00:00Z", "2026-11-21T18:00:00Z"


# --------------------------------------------------------------------------
# The SQL files
# --------------------------------------------------------------------------


def header(text: str) -> tuple[str, list[str]]:
    key = re.search(r"^-- dataset: (\S+)$", text, re.M)
    columns = re.findall(r"^-- column: (\S+) \S+$", text, re.M)
    assert key and columns
    return key.group(1), columns


def render(text: str) -> str:
    return la.render(text, la.DATASET_VALUES)


SQL_FILES = sorted(SQL_DIR.glob("*.sql"))
SQL = {header(text)[0]: text for text in (la.read_sql(path) for path in SQL_FILES)}
assert len(SQL) == len(SQL_FILES), "one file per dataset key"


def load(key: str) -> str:
    return SQL[key]


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_parses_as_trino_with_the_declared_columns(path: pathlib.Path) -> None:
    text = la.read_sql(path)
    _, declared = header(text)
    tree = sqlglot.parse_one(render(text), read="trino")
    assert isinstance(tree, exp.Select), "one SELECT statement"
    assert [s.alias_or_name for s in tree.selects] == declared
    assert not any(isinstance(s, exp.Star) for s in tree.selects), "no SELECT * in the output"


# --------------------------------------------------------------------------
# A small organization, as the crawler and the Config table present it
# --------------------------------------------------------------------------

INVENTORY_COLUMNS = {
    "aws_instanceinformation": ["agenttype", "agentversion", "computername", "instanceid", "ipaddress",
                                "platformname", "platformtype", "platformversion", "agentstatus",
                                "instancestatus"],
    "aws_patchsummary": ["patchgroup", "baselineid", "snapshotid", "ownerinformation", "operationtype",
                         "operationstarttime", "operationendtime", "installoverridelist", "rebootoption",
                         "executionid", "noncompliantseverity", "installedcount", "installedothercount",
                         "installedpendingrebootcount", "installedrejectedcount", "notapplicablecount",
                         "unreportednotapplicablecount", "missingcount", "failedcount",
                         "criticalnoncompliantcount", "securitynoncompliantcount", "othernoncompliantcount"],
    "aws_complianceitem": ["compliancetype", "executionid", "executiontype", "executiontime", "id", "title",
                           "status", "severity", "documentname", "documentversion", "classification",
                           "patchbaselineid", "patchseverity", "patchstate", "patchgroup", "installedtime"],
    "aws_compliancesummary": ["compliancetype", "patchgroup", "patchbaselineid", "status", "overallseverity",
                              "executionid", "executiontype", "executiontime"]
    + [f"{k}{s}count" for k in ("compliant", "noncompliant")
       for s in ("critical", "high", "medium", "low", "informational", "unspecified")],
    "aws_tag": ["key", "value"],
}
SYNC_FIELDS = ["resourceid", "capturetime", "schemaversion"]
PARTITIONS = ["accountid", "region", "resourcetype"]


def info(acct, region, node, status, captured, platform=("Linux", "Amazon Linux", "2023")):
    return {"accountid": acct, "region": region, "resourceid": node, "capturetime": captured,
            "instanceid": node, "computername": f"{node}.corp", "ipaddress": "10.0.0.1",
            "platformtype": platform[0], "platformname": platform[1], "platformversion": platform[2],
            "agentversion": "3.3.1", "instancestatus": status}


def summary(acct, region, node, captured, missing, critical, security):
    """A patch summary: `critical` non-compliant patches at the baseline's CRITICAL level
    (CriticalNonCompliantCount), `security` the vendor classifies as security."""
    return {"accountid": acct, "region": region, "resourceid": node, "capturetime": captured,
            "patchgroup": "prod", "baselineid": "pb-0123", "operationtype": "Scan",
            "operationendtime": captured, "installedcount": "40", "installedothercount": "1",
            "installedpendingrebootcount": "0", "installedrejectedcount": "0", "missingcount": str(missing),
            "failedcount": "0", "notapplicablecount": "300", "criticalnoncompliantcount": str(critical),
            "securitynoncompliantcount": str(security),
            "othernoncompliantcount": str(missing - len({*range(critical), *range(security)}))}


def compliance(acct, region, node, captured, ctype, status, critical=0, high=0, unspecified=0):
    """A compliance summary: counts by the compliance level the baseline assigns; the overall
    severity is the highest non-compliant level (UNSPECIFIED when none or all UNSPECIFIED)."""
    overall = "CRITICAL" if critical else "HIGH" if high else "UNSPECIFIED"
    return {"accountid": acct, "region": region, "resourceid": node, "capturetime": captured,
            "compliancetype": ctype, "status": status, "overallseverity": overall,
            "executiontime": captured, "noncompliantcriticalcount": str(critical),
            "noncomplianthighcount": str(high), "noncompliantmediumcount": "0", "noncompliantlowcount": "0",
            "noncompliantinformationalcount": "0", "noncompliantunspecifiedcount": str(unspecified)}


def item(acct, region, node, captured, patch, state, level="UNSPECIFIED", vendor="", classification="",
         ctype="Patch"):
    """A compliance item as AWS writes it: Severity is the compliance level the baseline assigns
    (UNSPECIFIED on predefined baselines), PatchSeverity and Classification the vendor's; a Windows
    NotApplicable item has an empty Status."""
    status = ("NON_COMPLIANT" if state in ("Missing", "Failed", "InstalledPendingReboot", "InstalledRejected")
              else "" if state == "NotApplicable" else "COMPLIANT")
    return {"accountid": acct, "region": region, "resourceid": node, "capturetime": captured,
            "compliancetype": ctype, "id": patch, "title": f"{patch} update", "status": status,
            "severity": level, "patchseverity": vendor, "patchstate": state,
            "classification": classification, "executiontime": captured,
            "installedtime": "" if state in ("Missing", "NotApplicable", "AvailableSecurityUpdate")
            else "2026-10-01T00:00:00Z",
            "patchbaselineid": "pb-0123", "patchgroup": "prod"}


def tag(acct, region, node, captured, key, value):
    return {"accountid": acct, "region": region, "resourceid": node, "capturetime": captured,
            "key": key, "value": value}


INVENTORY = {
    "aws_instanceinformation": [
        info(A, EU, "i-live", "Active", T2),
        # Terminated now; a stale object elsewhere still says Active. Filtering before taking the
        # latest row would count it as live.
        info(A, EU, "i-term", "Active", T0),
        info(A, EU, "i-term", "Terminated", T2),
        info(A, EU, "i-never", "Active", T1),
        info(A, EU, "i-lost", "ConnectionLost", T1),
        info(B, US, "mi-hybrid", "Active", T2, ("Windows", "Microsoft Windows Server 2022", "10.0.20348")),
        # The same id in another account and Region is another node.
        info(B, US, "i-live", "Active", T2),
    ],
    # A/EU i-live is on a predefined baseline: its two vendor-Critical/Important security patches
    # are missing at level UNSPECIFIED. B/US i-live's custom baseline ranks a vendor-Low patch HIGH.
    "aws_patchsummary": [
        summary(A, EU, "i-live", T0, 9, 5, 5),
        summary(A, EU, "i-live", T2, 2, 0, 2),
        summary(A, EU, "i-term", T2, 7, 7, 7),
        summary(A, EU, "i-lost", T1, 0, 0, 0),
        summary(B, US, "mi-hybrid", T2, 0, 0, 0),
        summary(B, US, "i-live", T2, 1, 0, 1),
    ],
    "aws_compliancesummary": [
        compliance(A, EU, "i-live", T2, "Patch", "NON_COMPLIANT", unspecified=2),
        # Another compliance type of the same node: must not decide its patch status.
        compliance(A, EU, "i-live", T2, "Association", "COMPLIANT"),
        compliance(A, EU, "i-live", T0, "Patch", "NON_COMPLIANT", critical=5, high=4),
        compliance(A, EU, "i-term", T2, "Patch", "NON_COMPLIANT", critical=7),
        compliance(A, EU, "i-lost", T1, "Patch", "COMPLIANT"),
        compliance(B, US, "mi-hybrid", T2, "Patch", "COMPLIANT"),
        compliance(B, US, "i-live", T2, "Patch", "NON_COMPLIANT", high=1),
    ],
    "aws_complianceitem": [
        item(A, EU, "i-live", T2, "openssl", "Missing", vendor="Critical", classification="Security"),
        item(A, EU, "i-live", T2, "kernel", "Missing", vendor="Important", classification="Security"),
        item(A, EU, "i-live", T2, "bash", "Installed", vendor="Medium", classification="Security"),
        item(A, EU, "i-live", T2, "9b7f-association", "", level="UNSPECIFIED", ctype="Association"),
        item(A, EU, "i-live", T0, "old-package", "Missing", "HIGH", "Important", "Security"),
        item(A, EU, "i-term", T2, "openssl", "Missing", "CRITICAL", "Critical", "Security"),
        item(A, EU, "i-lost", T1, "bash", "Installed", vendor="Medium", classification="Security"),
        item(B, US, "mi-hybrid", T2, "KB5031364", "Installed", "CRITICAL", "Critical", "SecurityUpdates"),
        item(B, US, "mi-hybrid", T2, "KB5034439", "NotApplicable"),
        item(B, US, "mi-hybrid", T2, "KB5034441", "AvailableSecurityUpdate", vendor="Important",
             classification="SecurityUpdates"),
        item(B, US, "i-live", T2, "curl", "Missing", "HIGH", "Low", "Security"),
    ],
    "aws_tag": [
        tag(A, EU, "i-live", T2, "Environment", "prod"),
        tag(A, EU, "i-live", T2, "Owner", "team-a"),
        tag(A, EU, "i-live", T0, "Owner", "team-old"),
        tag(A, EU, "i-term", T2, "Environment", "prod"),
        tag(B, US, "mi-hybrid", T2, "Environment", "dev"),
    ],
}


def ci(resource_type, resource_id, captured, configuration, status="OK", tags=None):
    return {"configurationitemcapturetime": captured, "configurationitemstatus": status,
            "resourcetype": resource_type, "resourceid": resource_id, "awsaccountid": A, "awsregion": EU,
            "configuration": json.dumps(configuration), "tags": tags or {}}


def ec2(node, state, captured, name=None):
    return ci("AWS::EC2::Instance", node, captured,
              {"instanceId": node, "instanceType": "t3.micro", "platformDetails": "Linux/UNIX",
               "state": {"code": 16, "name": state}}, tags={"Name": name} if name else {})


def rule(target_type, target_id, captured, *results):
    return ci("AWS::Config::ResourceCompliance", f"{target_type}/{target_id}", captured,
              {"complianceType": results[0][1], "targetResourceId": target_id,
               "targetResourceType": target_type,
               "configRuleList": [{"configRuleArn": f"arn:aws:config:{EU}:{A}:config-rule/{n}",
                                   "configRuleId": "config-rule-x", "configRuleName": n,
                                   "complianceType": c} for n, c in results]})


MANAGED = "ec2-instance-managed-by-systems-manager"
ORG_PATCH = "OrgConfigRule-ec2-managedinstance-patch-compliance-status-check-k3j2"
PATCH = "ec2-managedinstance-patch-compliance-status-check"
INV = "AWS::SSM::ManagedInstanceInventory"


def evening_items(captured_last):
    return [
        ec2("i-run", "running", "2026-11-21T05:00:00.000Z", name="web-1"),
        ec2("i-stop", "stopped", "2026-11-21T07:00:00.000Z"),
        ec2("i-unmanaged", "running", "2026-11-20T09:00:00.000Z"),
        ec2("i-term", "terminated", captured_last),
        ci("AWS::SSM::ManagedInstanceInventory", "mi-hyb", "2026-11-21T05:00:00.000Z", {}),
        rule("AWS::EC2::Instance", "i-run", "2026-11-21T05:00:00.000Z", (MANAGED, "COMPLIANT")),
        # The managed rule does not judge stopped instances (NOT_APPLICABLE, or no result at all).
        rule("AWS::EC2::Instance", "i-stop", "2026-11-21T05:00:00.000Z", (MANAGED, "NOT_APPLICABLE")),
        rule("AWS::EC2::Instance", "i-unmanaged", "2026-11-21T05:00:00.000Z", (MANAGED, "NON_COMPLIANT"),
             ("ec2-instance-no-public-ip", "COMPLIANT")),
        rule("AWS::SSM::PatchCompliance", f"{INV}/i-run", "2026-11-21T05:00:00.000Z", (ORG_PATCH, "NON_COMPLIANT")),
        # Deployed twice (an organization rule and an account rule): the worst result wins.
        rule("AWS::SSM::PatchCompliance", f"{INV}/i-stop", "2026-11-21T05:00:00.000Z",
             (ORG_PATCH, "COMPLIANT"), (PATCH, "NON_COMPLIANT")),
        rule("AWS::SSM::PatchCompliance", f"{INV}/mi-hyb", "2026-11-21T05:00:00.000Z", (PATCH, "COMPLIANT")),
    ]


CONFIG_SNAPSHOTS = [
    # An older day: i-gone has been deleted since.
    (A, EU, "2026-11-20", "snap-old", [ec2("i-gone", "running", "2026-11-19T10:00:00.000Z"),
                                       ec2("i-run", "running", "2026-11-19T10:00:00.000Z")]),
    # Two snapshots of the newest day: the morning one still lists i-deleted.
    (A, EU, "2026-11-21", "snap-morning", [ec2("i-deleted", "running", "2026-11-21T01:00:00.000Z")]
     + evening_items("2026-11-21T02:00:00.000Z")[:4]),
    (A, EU, "2026-11-21", "snap-evening", evening_items("2026-11-21T17:00:00.000Z")),
    # An account whose recorder does not record AWS::Config::ResourceCompliance: no rule results at all.
    (B, US, "2026-11-21", "snap-b", [ec2("i-norules", "running", "2026-11-21T04:00:00.000Z")]),
]

CONFIG_TYPE = ("STRUCT(configurationitemcapturetime VARCHAR, configurationitemstatus VARCHAR, "
               "resourcetype VARCHAR, resourceid VARCHAR, awsaccountid VARCHAR, awsregion VARCHAR, "
               "configuration VARCHAR, tags MAP(VARCHAR, VARCHAR))[]")


def database(inventory=INVENTORY, snapshots=CONFIG_SNAPSHOTS) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA inv")
    con.execute("CREATE SCHEMA cfg")
    for table, attributes in INVENTORY_COLUMNS.items():
        columns = attributes + SYNC_FIELDS + PARTITIONS
        con.execute(f"CREATE TABLE inv.{table} ({', '.join(c + ' VARCHAR' for c in columns)})")
        for row in inventory[table]:
            row = {"schemaversion": "1.0", "resourcetype": "ManagedInstanceInventory", **row}
            con.execute(f"INSERT INTO inv.{table} VALUES ({', '.join('?' for _ in columns)})",
                        [row.get(c, "") for c in columns])
    con.execute(f"CREATE TABLE cfg.aws_config_snapshot (fileversion VARCHAR, configsnapshotid VARCHAR, "
                f"configurationitems {CONFIG_TYPE}, \"$path\" VARCHAR, accountid VARCHAR, region VARCHAR, dt VARCHAR)")
    for n, (acct, region, day, snapshot_id, items) in enumerate(snapshots):
        con.execute(f"INSERT INTO cfg.aws_config_snapshot VALUES ('1.0', ?, CAST(CAST(? AS JSON) AS {CONFIG_TYPE}), "
                    "?, ?, ?, ?)", [snapshot_id, json.dumps(items), snapshot_path(acct, region, day, n, snapshot_id),
                                    acct, region, day])
    return con


def snapshot_path(acct: str, region: str, day: str, n: int, snapshot_id: str) -> str:
    """Athena's "$path" of a snapshot: later entries of the list were delivered later."""
    y, m, d = (int(p) for p in day.split("-"))
    stamp = f"{y:04}{m:02}{d:02}T{n:02}3000Z"
    return (f"s3://config-bucket/AWSLogs/{acct}/Config/{region}/{y}/{m}/{d}/ConfigSnapshot/"
            f"{acct}_Config_{region}_ConfigSnapshot_{stamp}_{snapshot_id}.json.gz")


def run(text: str, con: duckdb.DuckDBPyConnection | None = None) -> list[dict]:
    return la.fetch(con or database(), la.transpile(text, la.DATASET_VALUES))


def by_node(rows: list[dict]) -> dict[tuple[str, str, str], dict]:
    keyed = {(r["account_id"], r["region"], r["node_id"]): r for r in rows}
    assert len(keyed) == len(rows), "one row per node"
    return keyed


# --------------------------------------------------------------------------
# Each dataset against the truth
# --------------------------------------------------------------------------


def test_nodes_latest_state_per_live_node() -> None:
    rows = by_node(run(load("nodes")))
    assert set(rows) == {(A, EU, "i-live"), (A, EU, "i-never"), (A, EU, "i-lost"),
                         (B, US, "mi-hybrid"), (B, US, "i-live")}
    live = rows[(A, EU, "i-live")]
    # Two security patches missing on a predefined baseline: none at the CRITICAL level.
    assert (live["patch_status"], live["missing_count"], live["security_noncompliant_count"],
            live["critical_level_noncompliant_count"], live["noncompliant_level_critical"],
            live["noncompliant_level_unspecified"], live["noncompliant_level"]) == (
        "NON_COMPLIANT", 2, 2, 0, 0, 2, "UNSPECIFIED")
    assert str(live["last_seen"]) == "2026-11-21 18:00:00"
    assert rows[(A, EU, "i-never")]["patch_status"] == "NOT_SCANNED"
    assert rows[(A, EU, "i-never")]["missing_count"] is None
    assert rows[(A, EU, "i-lost")]["instance_status"] == "ConnectionLost"
    assert rows[(B, US, "mi-hybrid")]["node_type"] == "Hybrid"
    assert rows[(B, US, "mi-hybrid")]["platform_type"] == "Windows"
    assert rows[(B, US, "i-live")]["noncompliant_level_high"] == 1
    assert rows[(B, US, "i-live")]["noncompliant_level"] == "HIGH"


def test_patches_latest_scan_patch_items_only() -> None:
    rows = run(load("patches"))
    got = sorted((r["account_id"], r["node_id"], r["patch_id"], r["patch_state"]) for r in rows)
    assert got == [
        (A, "i-live", "bash", "Installed"), (A, "i-live", "kernel", "Missing"), (A, "i-live", "openssl", "Missing"),
        (A, "i-lost", "bash", "Installed"),
        (B, "i-live", "curl", "Missing"), (B, "mi-hybrid", "KB5031364", "Installed"),
        (B, "mi-hybrid", "KB5034439", "NotApplicable"), (B, "mi-hybrid", "KB5034441", "AvailableSecurityUpdate"),
    ]
    by_id = {r["patch_id"]: r for r in rows}
    assert [(by_id["openssl"][c]) for c in ("compliance_level", "vendor_severity", "classification", "status",
                                            "installed_time", "platform_name")] == [
        "UNSPECIFIED", "Critical", "Security", "NON_COMPLIANT", None, "Amazon Linux"]
    assert (by_id["curl"]["compliance_level"], by_id["curl"]["vendor_severity"]) == ("HIGH", "Low")
    na = by_id["KB5034439"]
    assert na["status"] == "" and na["classification"] is None and na["vendor_severity"] is None


def test_node_tags_one_row_per_live_node_and_current_tag() -> None:
    rows = run(load("node-tags"))
    got = sorted((r["account_id"], r["node_id"], r["tag_key"], r["tag_value"], r["patch_status"],
                  r["noncompliant_count"], r["noncompliant_level_critical"], r["security_noncompliant_count"])
                 for r in rows)
    assert got == [
        (A, "i-live", "Environment", "prod", "NON_COMPLIANT", 2, 0, 2),
        (A, "i-live", "Owner", "team-a", "NON_COMPLIANT", 2, 0, 2),
        (B, "mi-hybrid", "Environment", "dev", "COMPLIANT", 0, 0, 0),
    ]


def test_config_compliance_from_the_newest_snapshot() -> None:
    rows = by_node(run(load("config-compliance")))
    got = {k[2]: (r["node_type"], r["instance_state"], r["managed_by_ssm"], r["patch_compliance"],
                  r["patch_compliance_reason"]) for k, r in rows.items()}
    assert got == {
        "i-run": ("EC2", "running", "YES", "NON_COMPLIANT", None),
        "i-stop": ("EC2", "stopped", "NOT_APPLICABLE", "NON_COMPLIANT", None),
        "i-unmanaged": ("EC2", "running", "NO", "NOT_EVALUATED", "NO_RESULT"),
        "mi-hyb": ("Hybrid", None, "YES", "COMPLIANT", None),
        "i-norules": ("EC2", "running", "UNKNOWN", "NOT_EVALUATED", "NOT_RECORDED"),
    }
    assert rows[(A, EU, "i-run")]["name"] == "web-1"
    assert str(rows[(A, EU, "i-run")]["config_captured"]) == "2026-11-21 05:00:00"


def test_config_snapshots_of_a_day_are_ordered_by_delivery_not_capture_times() -> None:
    # Two snapshots of one day with the same newest capture time: the later delivery no longer lists
    # i-deleted, and nothing else changed. Capture times cannot tell them apart, and the earlier
    # snapshot's id sorts last, so only the delivery time in the object name picks the right one.
    items = evening_items("2026-11-21T17:00:00.000Z")
    snapshots = [(A, EU, "2026-11-21", "snap-z-earlier", [ec2("i-deleted", "running", "2026-11-21T01:00:00.000Z")]
                  + items),
                 (A, EU, "2026-11-21", "snap-a-later", items)]
    rows = by_node(run(load("config-compliance"), database(snapshots=snapshots)))
    assert (A, EU, "i-deleted") not in rows
    assert {(A, EU, "i-run"), (A, EU, "i-stop"), (A, EU, "i-unmanaged")} <= set(rows)


# --------------------------------------------------------------------------
# Malformed or forged AWS::Config::ResourceCompliance items (issue #23)
# --------------------------------------------------------------------------

C = "333333333333"
NC_PATCH = {"configRuleName": PATCH, "complianceType": "NON_COMPLIANT"}


def compliance_item(node: str, configuration: str) -> dict:
    """A patch rule item of `node` whose configuration is the JSON text (or any text) given, as the
    table holds it (the SerDe returns a string value as is, an object as its JSON text)."""
    return {"configurationitemcapturetime": "2026-11-21T05:00:00.000Z", "configurationitemstatus": "OK",
            "resourcetype": "AWS::Config::ResourceCompliance", "resourceid": f"AWS::SSM::PatchCompliance/{INV}/{node}",
            "awsaccountid": C, "awsregion": EU, "configuration": configuration, "tags": {}}


def with_rules(node: str, rules, **more) -> str:
    return json.dumps({"complianceType": "NON_COMPLIANT", "targetResourceId": f"{INV}/{node}",
                       "targetResourceType": "AWS::SSM::PatchCompliance", "configRuleList": rules, **more})


# Each item unreadable, and what a strict CAST(... AS array(map(varchar, varchar))) made of it in
# Athena (Trino's "Cast from JSON": an object or array cannot be cast to VARCHAR, a number or a
# boolean can; the array and map casts fail on anything but an array of objects).
MALFORMED = {
    "i-list-object": with_rules("i-list-object", NC_PATCH),                  # the cast fails the query
    "i-list-string": with_rules("i-list-string", PATCH),                     # fails
    "i-list-number": with_rules("i-list-number", 42),                        # fails
    "i-list-null": with_rules("i-list-null", None),                          # NULL: no result, no sign
    "i-list-missing": json.dumps({"targetResourceId": f"{INV}/i-list-missing"}),  # NULL likewise
    "i-rule-number": with_rules("i-rule-number", [1]),                       # fails
    "i-rule-null": with_rules("i-rule-null", [None, NC_PATCH]),              # reads the second rule
    "i-result-number": with_rules("i-result-number", [{**NC_PATCH, "complianceType": 0}]),   # reads "0"
    "i-result-boolean": with_rules("i-result-boolean", [{**NC_PATCH, "complianceType": True}]),  # "true"
    "i-result-null": with_rules("i-result-null", [{**NC_PATCH, "complianceType": None}]),   # no result
    "i-result-array": with_rules("i-result-array", [{**NC_PATCH, "complianceType": ["NON_COMPLIANT"]}]),  # fails
    "i-name-object": with_rules("i-name-object", [{**NC_PATCH, "configRuleName": {"name": PATCH}}]),    # fails
    "i-one-bad-rule": with_rules("i-one-bad-rule", [NC_PATCH, {"configRuleName": "x", "complianceType": 5}]),
    "i-target-object": json.dumps({"targetResourceId": {"id": f"{INV}/i-target-object"},
                                   "configRuleList": [NC_PATCH]}),           # no node (NULL target)
    "i-not-json": f"configRuleList=[{PATCH}:NON_COMPLIANT]",                 # json_extract: NULL
    "i-json-array": json.dumps([NC_PATCH]),                                  # NULL likewise
}
# Readable: a rule with an extra key holding an object (only the name and result are read), and an
# empty rule list (no rule evaluated the node).
READABLE = {
    "i-extra-object": with_rules("i-extra-object", [{**NC_PATCH, "annotation": {"why": ["3 missing"]}}]),
    "i-empty-list": with_rules("i-empty-list", []),
}


def malformed_snapshots() -> list:
    items = [ec2(n, "running", "2026-11-21T05:00:00.000Z") for n in [*MALFORMED, *READABLE]]
    items += [compliance_item(n, text) for n, text in [*MALFORMED.items(), *READABLE.items()]]
    return CONFIG_SNAPSHOTS + [(C, EU, "2026-11-21", "snap-c", items)]


def test_config_compliance_survives_malformed_items() -> None:
    rows = by_node(run(load("config-compliance"), database(snapshots=malformed_snapshots())))
    got = {k[2]: (r["patch_compliance"], r["patch_compliance_reason"], r["unreadable_items"])
           for k, r in rows.items() if k[0] == C}
    assert got == {**{n: ("NOT_EVALUATED", "NO_RESULT", len(MALFORMED)) for n in MALFORMED},
                   "i-extra-object": ("NON_COMPLIANT", None, len(MALFORMED)),
                   "i-empty-list": ("NOT_EVALUATED", "NO_RESULT", len(MALFORMED))}
    # The other accounts are read as without the malformed account, and have nothing unreadable.
    others = {k: r for k, r in rows.items() if k[0] != C}
    assert others == by_node(run(load("config-compliance")))
    assert {r["unreadable_items"] for r in others.values()} == {0}


def test_a_strict_cast_of_a_malformed_item_fails_the_whole_query() -> None:
    """The cast the queries had before issue #23, and the failure Athena reports for the whole
    organization ("Cannot cast to array(...)", INVALID_CAST_ARGUMENT)."""
    text = load("config-compliance")
    tolerant = "TRY_CAST(TRY(json_extract(configuration, '$.configRuleList')) AS array(json))"
    assert text.count(tolerant) == 1
    strict = text.replace(tolerant, "CAST(TRY(json_extract(configuration, '$.configRuleList')) AS array(json))")
    with pytest.raises(duckdb.ConversionException, match="Expected ARRAY"):
        run(strict, database(snapshots=malformed_snapshots()))


# --------------------------------------------------------------------------
# Known-wrong forms must fail the checks above
# --------------------------------------------------------------------------

MUTATIONS = [
    # Filter terminated nodes before taking the latest row: the stale Active row of i-term returns.
    ("nodes", "FROM \"${Database}\".aws_instanceinformation\n)\n",
     "FROM \"${Database}\".aws_instanceinformation WHERE instancestatus <> 'Terminated'\n)\n",
     test_nodes_latest_state_per_live_node),
    # No latest-row filter on the patch summary: i-live appears twice.
    ("nodes", "AND p.rn = 1", "", test_nodes_latest_state_per_live_node),
    # Every compliance type instead of Patch: Association items appear as patches.
    ("patches", "WHERE compliancetype = 'Patch'", "", test_patches_latest_scan_patch_items_only),
    # Items of every capture: the old package returns.
    ("patches", "WHERE c.rk = 1", "WHERE true", test_patches_latest_scan_patch_items_only),
    # Tags of every capture: the old owner returns.
    ("node-tags", "WHERE t.rk = 1", "WHERE true", test_node_tags_one_row_per_live_node_and_current_tag),
    # Every snapshot of the day instead of the newest: the instance deleted since the morning returns.
    ("config-compliance", "AND n.configsnapshotid = i.configsnapshotid AND n.rn = 1", "",
     test_config_compliance_from_the_newest_snapshot),
    # Ordering a day's snapshots by capture times alone: a snapshot that differs only by a deletion
    # loses to the one before it.
    ("config-compliance", "ORDER BY max(regexp_extract(object_key, '_ConfigSnapshot_([0-9]{8}T[0-9]{6}Z)_', 1)) DESC,\n"
     "                max(captured) DESC", "ORDER BY max(captured) DESC",
     test_config_snapshots_of_a_day_are_ordered_by_delivery_not_capture_times),
    # Without the NON_COMPLIANT-first branch the best result wins: i-stop (a rule deployed twice,
    # COMPLIANT and NON_COMPLIANT) reads COMPLIANT.
    ("config-compliance", "WHEN bool_or(compliance = 'NON_COMPLIANT') THEN 'NON_COMPLIANT'", "",
     test_config_compliance_from_the_newest_snapshot),
    # A stopped instance read as unmanaged because its result is not COMPLIANT.
    ("config-compliance", "        WHEN m.compliance = 'NOT_APPLICABLE' THEN 'NOT_APPLICABLE'\n", "",
     test_config_compliance_from_the_newest_snapshot),
    # No rule results at all read as "not evaluated" without saying why.
    ("config-compliance", "        WHEN r.accountid IS NULL THEN 'NOT_RECORDED'\n", "",
     test_config_compliance_from_the_newest_snapshot),
    # The vendor's severity read as the compliance level.
    ("patches", "NULLIF(c.severity, '') AS compliance_level", "upper(NULLIF(c.patchseverity, '')) AS compliance_level",
     test_patches_latest_scan_patch_items_only),
    # The CRITICAL count read from the vendor's security count.
    ("nodes", "TRY_CAST(p.criticalnoncompliantcount AS integer) AS critical_level_noncompliant_count",
     "TRY_CAST(p.securitynoncompliantcount AS integer) AS critical_level_noncompliant_count",
     test_nodes_latest_state_per_live_node),
    # The rules of unreadable items read anyway: a number read as a result, the good rule beside a bad one.
    ("config-compliance", "    WHERE l.readable\n", "    WHERE true\n",
     test_config_compliance_survives_malformed_items),
    # The readable items counted instead of the unreadable ones.
    ("config-compliance", "count_if(NOT readable) AS unreadable_items", "count_if(readable) AS unreadable_items",
     test_config_compliance_survives_malformed_items),
]


@pytest.mark.parametrize("key,old,new,check", MUTATIONS, ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None)
def test_a_wrong_query_fails_the_check(monkeypatch, key, old, new, check) -> None:
    real_load = load
    original = real_load(key)
    assert original.count(old) == 1, f"mutation anchor {old!r} not exactly once in {key}"
    monkeypatch.setitem(globals(), "load", lambda k: original.replace(old, new) if k == key else real_load(k))
    # The wrong query must run and give a wrong answer: an SQL error would be a broken mutation.
    with pytest.raises(AssertionError):
        check()


def test_count_if_of_nothing_true_is_zero_as_in_athena() -> None:
    # Trino's count_if counts TRUE inputs (0 when there are none); DuckDB's gives NULL when every
    # input is NULL, which would turn a node without security patches into NULL security_patches.
    rows = la.fetch(duckdb.connect(), la.transpile(
        "SELECT count_if(c IN ('Security', 'SecurityUpdates')) AS n FROM (VALUES CAST(NULL AS varchar)) AS t (c)", {}))
    assert rows == [{"n": 0}]
