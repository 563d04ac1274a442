"""The Athena named queries: the template's text is the file's text, every query parses as Athena
(Trino) SQL and, transpiled to DuckDB over crawler-shaped tables, returns the truth: the newest row
per node is taken before any status filter, terminated nodes are left out, one row per node where
the query promises it. The CloudTrail Lake queries parse as Trino SQL."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re

import sys

import duckdb
import pytest
import sqlglot

from cfn import CFN, CRATES, QUERIES, ROOT, load, load_template_text, resources
from cfn import render as sources

sys.path.insert(0, str(ROOT / "emulator"))
import localathena as la  # noqa: E402

CENTRAL = load(CFN / "central-reporting.yaml")
NAMED = resources(CENTRAL, "AWS::Athena::NamedQuery")
FILES = sorted(QUERIES.glob("*.sql"))
VALUES = la.NAMED_QUERY_VALUES


def text_of(res: dict) -> tuple[str, dict]:
    sub = res["Properties"]["QueryString"]["Fn::Sub"]
    return (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])


def test_every_named_query_is_a_file_and_every_file_a_named_query() -> None:
    # The source template names each query's file (one include line), so the SQL has one source.
    source = load_template_text((CFN / "central-reporting.yaml").read_text())
    texts = {path.name: sources.expand(path) for path in FILES}
    used = []
    for name, res in NAMED.items():
        text, variables = text_of(res)
        included = text_of(source["Resources"][name])[0]
        match = re.fullmatch(r"-- include: queries/(\w+\.sql)\n", included)
        assert match, f"{name}: the source template's QueryString is not one include of a cfn/queries file"
        assert texts[match[1]] == text, f"{name}: rendered QueryString differs from {match[1]}"
        used.append(match[1])
        placeholders = set(re.findall(r"\$\{(\w+)\}", text))
        assert placeholders == set(variables), f"{name}: {placeholders} vs {set(variables)}"
        assert placeholders <= set(VALUES)
        assert res["Properties"]["WorkGroup"] == {"Ref": "AthenaWorkGroup"}
        assert res["Properties"]["Database"] == {"Ref": "GlueDatabase"}
        if "ConfigTable" in placeholders:
            assert res.get("Condition") == "EnableConfig"
    assert sorted(used) == sorted(texts), "each file used exactly once"
    assert len(NAMED) == 10


def config_item_chain(text: str) -> str:
    """The CTEs that turn the newest Config snapshot into instances and rule results (latest_day
    through rule_status), comments dropped and placeholders named as in the templates."""
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    match = re.search(r"^latest_day AS \(.*?^    GROUP BY 1, 2, 3, 4\n\)", text.replace("WITH latest_day", "latest_day"),
                      re.M | re.S)
    assert match, "no latest_day ... rule_status chain"
    return match.group(0)


def test_config_queries_share_one_snapshot_chain() -> None:
    # Named queries cannot call each other and the dataset SQL ships inside quicksight-builder, so
    # each includes the one part (newest snapshot, unnested once, worst result) when rendered.
    paths = (QUERIES / "config_patch_compliance.sql", QUERIES / "ec2_not_managed.sql",
             CRATES / "quicksight-builder" / "sql" / "config_compliance.sql")
    for path in paths:
        assert "parts/newest_config_snapshot.sql" in path.read_text(), f"{path.name} does not include the chain"
    chains = {path: config_item_chain(sources.expand(path)) for path in paths}
    assert len(set(chains.values())) == 1, "the Config query chains differ"
    assert "CROSS JOIN UNNEST(s.configurationitems)" in next(iter(chains.values()))


def render(text: str) -> str:
    return la.render(text, VALUES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_parses_as_trino(path: pathlib.Path) -> None:
    tree = sqlglot.parse_one(render(sources.expand(path)), read="trino")
    assert tree.selects and not any(isinstance(s, sqlglot.exp.Star) for s in tree.selects)
    text = sources.expand(path)
    assert re.search(r"^-- name: .+", text, re.M) and re.search(r"^-- description: .+", text, re.M)
    if "aws_instanceinformation" in text:
        assert "row_number() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC)" in text
        assert "aws_tag" not in text, "never multiply rows by tags"


@pytest.mark.parametrize("path", sorted((CFN / "cloudtrail-lake").glob("*.sql")), ids=lambda p: p.name)
def test_cloudtrail_lake_queries_parse_as_trino(path: pathlib.Path) -> None:
    text = path.read_text()
    assert "${EventDataStoreId}" in text
    for k, v in {"EventDataStoreId": "eds0123", "StartTime": "2026-01-01 00:00:00",
                 "EndTime": "2026-02-01 00:00:00", "AsOf": "2026-01-15 00:00:00"}.items():
        text = text.replace("${" + k + "}", v)
    assert "${" not in text
    sqlglot.parse_one(text, read="trino")
    assert "AWS::SSM::PatchCompliance" in text


# --------------------------------------------------------------------------------------------
# Truth in DuckDB
# --------------------------------------------------------------------------------------------

A, EU = "111111111111", "eu-west-1"
T0, T1 = "2026-11-20T06:00:00Z", "2026-11-21T06:00:00Z"
# Captures relative to the real present: the queries compare with current_timestamp.
_NOW = dt.datetime.now(dt.timezone.utc)
RECENT = (_NOW - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
LONG_AGO = (_NOW - dt.timedelta(days=45)).strftime("%Y-%m-%dT%H:%M:%SZ")
COLUMNS = {
    "aws_instanceinformation": ["computername", "ipaddress", "platformtype", "platformname",
                                "platformversion", "agenttype", "agentversion", "instancestatus"],
    "aws_compliancesummary": ["compliancetype", "status", "overallseverity", "patchgroup", "patchbaselineid",
                              "executiontime"] + [f"{k}{s}count" for k in ("compliant", "noncompliant")
                                                  for s in ("critical", "high", "medium", "low",
                                                            "informational", "unspecified")],
    "aws_complianceitem": ["compliancetype", "id", "status", "patchstate", "severity", "classification",
                           "patchseverity", "executiontime"],
    "aws_patchsummary": ["patchgroup", "baselineid", "operationtype", "operationendtime", "installedcount",
                         "installedothercount", "installedpendingrebootcount", "installedrejectedcount",
                         "missingcount", "failedcount", "notapplicablecount", "securitynoncompliantcount",
                         "criticalnoncompliantcount"],
    "aws_application": ["name", "version", "publisher", "architecture", "installedtime"],
}


def row(node, captured, **values):
    return {"accountid": A, "region": EU, "resourceid": node, "capturetime": captured, **values}


DATA = {
    "aws_instanceinformation": [
        row("i-live", T1, instancestatus="Active", agentversion="3.3.1", platformtype="Linux"),
        row("i-term", T0, instancestatus="Active", agentversion="3.2.0", platformtype="Linux"),
        row("i-term", T1, instancestatus="Terminated", agentversion="3.2.0", platformtype="Linux"),
        row("i-stop", T0, instancestatus="Active", agentversion="3.3.1", platformtype="Linux"),
        row("i-stop", T1, instancestatus="Stopped", agentversion="3.3.1", platformtype="Linux"),
        # A hybrid node heard from lately, and one silent for 45 days (deregistered, files kept).
        row("mi-here", RECENT, instancestatus="Active", agentversion="3.3.1", platformtype="Linux"),
        row("mi-gone", LONG_AGO, instancestatus="Active", agentversion="3.3.1", platformtype="Linux"),
        # An EC2 instance whose agent stopped reporting: registered, Config flags it.
        row("i-lost", T1, instancestatus="ConnectionLost", agentversion="3.3.1", platformtype="Linux"),
    ],
    "aws_compliancesummary": [
        row("i-live", T1, compliancetype="Patch", status="NON_COMPLIANT", noncompliantcriticalcount="2",
            compliantcriticalcount="5", executiontime=T1),
        row("i-live", T0, compliancetype="Patch", status="COMPLIANT", compliantcriticalcount="7", executiontime=T0),
        row("i-live", T1, compliancetype="Association", status="COMPLIANT", executiontime=T1),
        row("i-term", T1, compliancetype="Patch", status="COMPLIANT", compliantcriticalcount="1", executiontime=T1),
        row("i-stop", T1, compliancetype="Patch", status="COMPLIANT", compliantcriticalcount="3", executiontime=T1),
    ],
    "aws_complianceitem": [
        row("i-live", T1, compliancetype="Patch", id="openssl", status="NON_COMPLIANT", patchstate="Missing",
            severity="CRITICAL", classification="Security", patchseverity="Important"),
        row("i-live", T1, compliancetype="Patch", id="kernel", status="NON_COMPLIANT", patchstate="Failed",
            severity="CRITICAL", classification="Bugfix"),
        row("i-live", T1, compliancetype="Patch", id="bash", status="COMPLIANT", patchstate="Installed", severity="MEDIUM"),
        row("i-live", T0, compliancetype="Patch", id="old", status="NON_COMPLIANT", patchstate="Missing", severity="HIGH"),
        row("i-live", T1, compliancetype="Association", id="assoc", status="NON_COMPLIANT"),
        row("i-term", T1, compliancetype="Patch", id="curl", status="NON_COMPLIANT", patchstate="Missing", severity="HIGH"),
        # A gone hybrid node's last items: never counted.
        row("mi-gone", LONG_AGO, compliancetype="Patch", id="zlib", status="NON_COMPLIANT", patchstate="Missing",
            severity="UNSPECIFIED", classification="Security"),
        # Windows: a security update the default baseline does not approve (compliant, but missing).
        row("mi-here", RECENT, compliancetype="Patch", id="KB5031455", status="COMPLIANT",
            patchstate="AvailableSecurityUpdate", severity="UNSPECIFIED", classification="SecurityUpdates",
            patchseverity="Moderate"),
    ],
    "aws_patchsummary": [
        row("i-live", T0, missingcount="9", operationtype="Scan"),
        row("i-live", T1, missingcount="1", operationtype="Scan", securitynoncompliantcount="1",
            criticalnoncompliantcount="2"),
        row("i-term", T1, missingcount="4", operationtype="Scan"),
    ],
    "aws_application": [
        row("i-live", T1, name="bash", version="5.2"),
        row("i-live", T0, name="removed-app", version="1.0"),
        row("i-term", T1, name="bash", version="5.1"),
    ],
}


def database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA inv")
    con.execute("CREATE SCHEMA cfg")
    for table, attributes in COLUMNS.items():
        cols = attributes + ["resourceid", "capturetime", "accountid", "region", "resourcetype"]
        con.execute(f"CREATE TABLE inv.{table} ({', '.join(c + ' VARCHAR' for c in cols)})")
        for r in DATA[table]:
            con.execute(f"INSERT INTO inv.{table} VALUES ({', '.join('?' for _ in cols)})",
                        [r.get(c, "") if c != "resourcetype" else "ManagedInstanceInventory" for c in cols])
    item_type = ("STRUCT(configurationitemcapturetime VARCHAR, configurationitemstatus VARCHAR, resourcetype VARCHAR, "
                 "resourceid VARCHAR, configuration VARCHAR, tags MAP(VARCHAR, VARCHAR))[]")
    con.execute(f"CREATE TABLE cfg.aws_config_snapshot (fileversion VARCHAR, configsnapshotid VARCHAR, "
                f"configurationitems {item_type}, \"$path\" VARCHAR, accountid VARCHAR, region VARCHAR, dt VARCHAR)")

    def ec2(node, state):
        return {"configurationitemcapturetime": "2026-11-21T05:00:00.000Z", "configurationitemstatus": "OK",
                "resourcetype": "AWS::EC2::Instance", "resourceid": node, "tags": {},
                "configuration": json.dumps({"instanceId": node, "state": {"name": state}})}

    def rule(target_type, target, name, result):
        return {"configurationitemcapturetime": "2026-11-21T05:00:00.000Z", "configurationitemstatus": "OK",
                "resourcetype": "AWS::Config::ResourceCompliance", "resourceid": f"{target_type}/{target}", "tags": {},
                "configuration": json.dumps({"targetResourceId": target, "configRuleList": [
                    {"configRuleName": name, "complianceType": result}]})}

    managed, patch = "x-ec2-instance-managed-by-systems-manager", "x-ec2-managedinstance-patch-compliance-status-check"
    inv = "AWS::SSM::ManagedInstanceInventory"
    snapshots = [
        ("old", "2026-11-20", [ec2("i-gone", "running"), rule("AWS::EC2::Instance", "i-gone", managed, "NON_COMPLIANT")]),
        ("new", "2026-11-21", [
            ec2("i-run", "running"), ec2("i-stop", "stopped"), ec2("i-wild", "running"), ec2("i-dead", "terminated"),
            ec2("i-lost", "running"),
            rule("AWS::EC2::Instance", "i-run", managed, "COMPLIANT"),
            rule("AWS::EC2::Instance", "i-stop", managed, "NOT_APPLICABLE"),
            rule("AWS::EC2::Instance", "i-wild", managed, "NON_COMPLIANT"),
            rule("AWS::EC2::Instance", "i-lost", managed, "NON_COMPLIANT"),
            rule("AWS::EC2::Instance", "i-dead", managed, "NON_COMPLIANT"),
            rule("AWS::SSM::PatchCompliance", f"{inv}/i-run", patch, "COMPLIANT"),
            rule("AWS::SSM::PatchCompliance", f"{inv}/i-stop", patch, "NON_COMPLIANT"),
        ]),
    ]
    for snap, day, items in snapshots:
        y, m, d = (int(p) for p in day.split("-"))
        path = (f"s3://cfg/AWSLogs/{A}/Config/{EU}/{y}/{m}/{d}/ConfigSnapshot/"
                f"{A}_Config_{EU}_ConfigSnapshot_{y}{m:02}{d:02}T120000Z_{snap}.json.gz")
        con.execute(f"INSERT INTO cfg.aws_config_snapshot VALUES ('1.0', ?, CAST(CAST(? AS JSON) AS {item_type}), ?, ?, ?, ?)",
                    [snap, json.dumps(items), path, A, EU, day])
    return con


def run(name: str) -> list[dict]:
    return la.fetch(database(), la.transpile(sources.expand(QUERIES / f"{name}.sql"), VALUES))


def nodes(rows: list[dict], key: str = "node_id") -> list[str]:
    return sorted(r[key] for r in rows)


def test_compliant_nodes_use_the_latest_summary_and_skip_terminated() -> None:
    # i-live was COMPLIANT yesterday, NON_COMPLIANT now; i-term is compliant but terminated.
    assert nodes(run("compliant_nodes")) == ["i-stop"]


def test_noncompliant_nodes_one_row_with_the_latest_patches() -> None:
    rows = {r["node_id"]: r for r in run("noncompliant_nodes")}
    assert set(rows) == {"i-live", "mi-here"}, "mi-gone is presumed deregistered"
    live = rows["i-live"]
    assert live["patches"] == "kernel, openssl" and live["noncompliant_patches"] == 2
    # The two meanings of severity, apart: one vendor security patch, two CRITICAL by the baseline.
    assert (live["security_patches"], live["critical_level_patches"]) == (1, 2)
    # A compliant node still shows the security update its baseline does not approve.
    here = rows["mi-here"]
    assert (here["noncompliant_patches"], here["unapproved_security_updates"], here["security_patches"]) == (0, 1, 1)


def test_compliance_summary_counts_live_nodes_latest_summary() -> None:
    rows = {r["compliance_level"]: r for r in run("compliance_summary")}
    assert rows["CRITICAL"]["noncompliant_nodes"] == 1 and rows["CRITICAL"]["noncompliant_patches"] == 2
    assert rows["CRITICAL"]["compliant_nodes"] == 1 and rows["CRITICAL"]["compliant_patches"] == 8
    assert set(rows) == {"CRITICAL"}


def test_patch_summary_latest_per_live_node() -> None:
    rows = run("patch_summary")
    assert [(r["node_id"], r["missing"], r["security_noncompliant"], r["critical_level_noncompliant"])
            for r in rows] == [("i-live", 1, 1, 2)]


def test_active_nodes_take_the_latest_row_before_filtering() -> None:
    assert nodes(run("active_nodes")) == ["i-live", "mi-here"]


def test_installed_applications_of_the_latest_inventory() -> None:
    assert [(r["node_id"], r["application"]) for r in run("installed_applications")] == [("i-live", "bash")]


def test_agent_versions_count_each_live_node_once() -> None:
    assert [(r["agent_version"], r["nodes"]) for r in run("ssm_agent_versions")] == [("3.3.1", 4)]


def test_ec2_not_managed_from_the_newest_snapshot() -> None:
    got = {r["instance_id"]: (r["reason"], r["ssm_status"]) for r in run("ec2_not_managed")}
    # Running and flagged: one Systems Manager never saw, one whose agent stopped reporting. The
    # stopped instance is not flagged by the rule.
    assert got == {"i-wild": ("NEVER_REGISTERED", None), "i-lost": ("AGENT_NOT_REPORTING", "ConnectionLost")}


def test_config_patch_compliance_includes_stopped_instances() -> None:
    got = {r["node_id"]: (r["instance_state"], r["managed_by_ssm"], r["patch_compliance"],
                          r["patch_compliance_reason"])
           for r in run("config_patch_compliance")}
    assert got == {"i-run": ("running", "YES", "COMPLIANT", None),
                   "i-stop": ("stopped", "NOT_APPLICABLE", "NON_COMPLIANT", None),
                   "i-wild": ("running", "NO", "NOT_EVALUATED", "NO_RESULT"),
                   "i-lost": ("running", "NO", "NOT_EVALUATED", "NO_RESULT")}
