"""Every Athena named query and QuickSight dataset query, run on a simulated organization and
compared with the simulator's ground truth.

A session fixture runs fleet-sim (fixed seed, --now the real present to the minute, 3,000 nodes in
4 accounts × 2 Regions, each reporting 2% of the compliance items a real node reports: every
kind of item, fewer of each) into a temporary folder and loads what it wrote with emulator/localathena.py,
laid out as the Glue crawler, glue-column-remover and config-partitioner lay it out. Each query's
rows are compared with the rows truth.py computes from ground-truth.jsonl alone (never from the
objects): the set of keys, one row per key, the columns that matter, the order of an ORDER BY.

The fixture must hold every case the checks depend on (every PatchState and compliance level,
predefined and custom baselines, vendor-Critical patches at level UNSPECIFIED, the four
InstanceStatus values, hybrid and EC2, deregistered hybrids, Windows, Linux and macOS,
never-scanned, unmanaged, stale, tagged and untagged nodes, every managed-rule result...): if fleet-sim stops producing one, test_fixture_covers_every_case fails.

Then each defect of the public samples (../shared/reference/reference-implementations.md) is
written into one of our queries, and the ground-truth check must fail on it.

    FLEET_SIM=<target>/debug/fleet-sim .venv/bin/python -m pytest -q tests/sql
"""

from __future__ import annotations

import dataclasses
import pathlib
import time

import duckdb
import localathena as la
import pytest
import truth

SEED = 7
NODES = 3000
ACCOUNTS = 4
ITEM_SCALE = 0.02
REGIONS = ["eu-west-1", "us-east-1"]
QUERIES = {q.id: q for q in truth.queries()}


@dataclasses.dataclass
class Fleet:
    dir: pathlib.Path
    truth: truth.Truth
    con: duckdb.DuckDBPyConnection


def fleet_sim() -> pathlib.Path:
    binary = truth.find_fleet_sim()
    if binary is None or not binary.exists():
        pytest.fail("fleet-sim not found: build it (cargo build --locked -p fleet-sim) and set FLEET_SIM to the binary "
                    "(or CARGO_TARGET_DIR to the target folder)")
    return binary


@pytest.fixture(scope="session")
def fleet(tmp_path_factory) -> Fleet:
    out = tmp_path_factory.mktemp("fleet")
    started = time.monotonic()
    truth.run_fleet_sim(fleet_sim(), out, seed=SEED, nodes=NODES, accounts=ACCOUNTS, regions=REGIONS,
                        now=truth.now_to_the_minute(), item_scale=ITEM_SCALE)
    truth.TIMINGS["fleet-sim"] = time.monotonic() - started
    started = time.monotonic()
    con = la.connect(out)
    truth.TIMINGS["load"] = time.monotonic() - started
    return Fleet(out, truth.load(out), con)


@pytest.fixture(scope="session")
def small_fleet(tmp_path_factory) -> Fleet:
    """One account and Region of 200 nodes: for the mutation whose cost grows with the square of a
    snapshot's size."""
    out = tmp_path_factory.mktemp("small-fleet")
    truth.run_fleet_sim(fleet_sim(), out, seed=SEED, nodes=200, accounts=1, regions=REGIONS[:1],
                        now=truth.now_to_the_minute(), item_scale=ITEM_SCALE)
    return Fleet(out, truth.load(out), la.connect(out))


def run(fleet: Fleet, query: truth.Query, text: str | None = None) -> list[dict]:
    values, parameters = truth.run_inputs(fleet.truth, query)
    return la.run(fleet.con, query.text if text is None else text, values, parameters)


def scalar(fleet: Fleet, sql: str):
    return fleet.con.execute(sql).fetchone()[0]


# --------------------------------------------------------------------------------------------
# The fixture
# --------------------------------------------------------------------------------------------


def test_every_query_has_an_expectation() -> None:
    assert set(QUERIES) == set(truth.EXPECTATIONS), (
        "each cfn/queries/*.sql, cfn/cloudtrail-lake/*.sql and crates/quicksight-builder/sql/*.sql needs an "
        "expectation in truth.py")
    assert sum(q.kind == "named" for q in QUERIES.values()) == 10
    assert sum(q.kind == "dataset" for q in QUERIES.values()) == 4
    assert sum(q.kind == "cloudtrail" for q in QUERIES.values()) == 3


def test_ground_truth_is_consistent(fleet: Fleet) -> None:
    # Contradictions here are fleet-sim bugs, not query bugs.
    assert truth.consistency_problems(fleet.truth) == []


def test_fixture_covers_every_case(fleet: Fleet) -> None:
    t = fleet.truth
    assert len(t.nodes) == NODES
    assert {n["account_id"] for n in t.nodes} == set(t.fleet["accounts"]) and len(t.fleet["accounts"]) == ACCOUNTS
    assert {n["region"] for n in t.nodes} == set(REGIONS)
    assert truth.coverage_problems(t) == [], "fleet-sim no longer produces what the checks need"


def test_fixture_data_has_the_traps(fleet: Fleet) -> None:
    """What the mutation tests and the loader rely on, checked on the loaded data."""
    # The sync's write check is in the folder, and not in the table.
    assert list((fleet.dir / "sync" / "AWS:InstanceInformation").glob("accountid=*/test.json"))
    assert scalar(fleet, "SELECT count(*) FROM inv.aws_instanceinformation WHERE resourceid NOT LIKE 'i-%' "
                         "AND resourceid NOT LIKE 'mi-%'") == 0
    managed = sum(n["managed"] for n in fleet.truth.nodes)
    assert scalar(fleet, "SELECT count(*) FROM inv.aws_instanceinformation") == managed
    # resourcetype is the partition value, as after glue-column-remover.
    assert scalar(fleet, "SELECT count(*) FROM inv.aws_instanceinformation "
                         "WHERE resourcetype IS DISTINCT FROM 'ManagedInstanceInventory'") == 0
    # Empty attributes are written both ways: omitted (NULL) and "".
    assert scalar(fleet, "SELECT count(*) FROM inv.aws_patchsummary WHERE patchgroup IS NULL") > 0
    assert scalar(fleet, "SELECT count(*) FROM inv.aws_patchsummary WHERE patchgroup = ''") > 0
    # Association items, non-compliant ones among them, beside the Patch items of live nodes.
    assert scalar(fleet, "SELECT count(*) FROM inv.aws_complianceitem WHERE compliancetype = 'Association' "
                         "AND status = 'NON_COMPLIANT'") > 0
    assert scalar(fleet, "SELECT count(*) FROM inv.aws_compliancesummary WHERE compliancetype = 'Association'") > 0
    # Several snapshots over several days; an older one lists an EC2 instance the newest does not.
    assert scalar(fleet, "SELECT count(DISTINCT dt) FROM cfg.aws_config_snapshot") > 1
    assert scalar(fleet, "SELECT count(*) FROM cfg.aws_config_snapshot") > ACCOUNTS * len(REGIONS)
    gone = [n["node_id"] for n in fleet.truth.nodes if n["node_type"] == "EC2" and n["config"] is None]
    assert fleet.con.execute("""
        SELECT count(DISTINCT ci.resourceid)
        FROM cfg.aws_config_snapshot AS s, unnest(s.configurationitems) AS u(ci)
        WHERE ci.resourcetype = 'AWS::EC2::Instance' AND list_contains(?, ci.resourceid)
    """, [gone]).fetchone()[0] > 0


# --------------------------------------------------------------------------------------------
# Each query against the ground truth
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query_id", sorted(QUERIES))
def test_query_returns_the_ground_truth(fleet: Fleet, query_id: str) -> None:
    started = time.monotonic()
    rows = run(fleet, QUERIES[query_id])
    truth.TIMINGS["queries"] = truth.TIMINGS.get("queries", 0.0) + time.monotonic() - started
    assert rows, f"{query_id} returned nothing on a fleet of {NODES} nodes"
    truth.check(fleet.truth, query_id, rows)


def test_streamed_comparison_catches_a_missing_or_changed_row(fleet: Fleet) -> None:
    # The bench compares the patches dataset (millions of rows at realistic volume) by digest.
    query = QUERIES["dataset/patches"]
    expected = truth.expected(fleet.truth, query.id)
    rows = run(fleet, query)
    truth.compare_stream(query.id, reversed(rows), expected)
    with pytest.raises(AssertionError):
        truth.compare_stream(query.id, rows[1:], expected)
    with pytest.raises(AssertionError):
        truth.compare_stream(query.id, rows[:-1] + [{**rows[-1], "compliance_level": "CRITICAL"
                                                     if rows[-1]["compliance_level"] != "CRITICAL" else "HIGH"}],
                             expected)


# --------------------------------------------------------------------------------------------
# Known-wrong forms must fail the ground-truth check
# --------------------------------------------------------------------------------------------

CONFIG_INSTANCES = """\
        json_extract_scalar(configuration, '$.state.name') AS instance_state,
        json_extract_scalar(configuration, '$.instanceType') AS instance_type,
        json_extract_scalar(configuration, '$.platformDetails') AS platform,
        element_at(tags, 'Name') AS name,
        captured
    FROM current_items
    WHERE resource_type = 'AWS::EC2::Instance'
"""
CONFIG_CURRENT_ITEMS = """\
    SELECT i.*
    FROM items AS i
    JOIN newest AS n
        ON n.accountid = i.accountid AND n.region = i.region
        AND n.configsnapshotid = i.configsnapshotid AND n.rn = 1
    WHERE i.item_status IN ('OK', 'ResourceDiscovered')
"""
CONFIG_INSTANCES_MAX = """\
        max(json_extract_scalar(configuration, '$.state.name')) AS instance_state,
        max(json_extract_scalar(configuration, '$.instanceType')) AS instance_type,
        max(json_extract_scalar(configuration, '$.platformDetails')) AS platform,
        max(element_at(tags, 'Name')) AS name,
        max(captured) AS captured
    FROM current_items
    WHERE resource_type = 'AWS::EC2::Instance'
    GROUP BY accountid, region, resource_id
"""
GONE = """\
    AND NOT COALESCE(i.resourceid LIKE 'mi-%'
        AND TRY(from_iso8601_timestamp(i.capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
"""
LATEST_DAY_JOIN = "    JOIN latest_day AS d ON d.accountid = s.accountid AND d.region = s.region AND d.dt = s.dt\n"


@dataclasses.dataclass
class Mutation:
    name: str
    query_id: str
    edits: list[tuple[str, str]]        # (anchor occurring exactly once, replacement)
    raises: type[Exception] = AssertionError
    why: str = ""
    small: bool = False                 # run on small_fleet


MUTATIONS = [
    Mutation(
        "max-over-unrelated-columns", "dataset/config-compliance",
        [(LATEST_DAY_JOIN, ""),
         ("AND n.configsnapshotid = i.configsnapshotid AND n.rn = 1", "AND n.configsnapshotid = i.configsnapshotid"),
         (CONFIG_INSTANCES, CONFIG_INSTANCES_MAX)],
        why="seed 000's ConfigMIC/ConfigPC: MAX of each column over every snapshot instead of the current "
            "state: terminated instances come back, an old NON_COMPLIANT result outweighs today's COMPLIANT"),
    Mutation(
        "snapshot-unnested-against-itself", "named/ec2_not_managed",
        [("    CROSS JOIN UNNEST(s.configurationitems) AS t (ci)\n",
          "    CROSS JOIN UNNEST(s.configurationitems) AS t (ci)\n"
          "    CROSS JOIN UNNEST(s.configurationitems) AS t2 (instance)\n")],
        why="seed 000's ConfigMIC unnests the same snapshot twice: rows squared", small=True),
    Mutation(
        "wrong-database", "named/active_nodes",
        [('FROM "${Database}".aws_instanceinformation', 'FROM "patch-sync-bucket-database".aws_instanceinformation')],
        raises=duckdb.CatalogException,
        why="the samples' saved queries name <bucket>-database, which does not exist"),
    Mutation(
        "rows-multiplied-by-tags", "dataset/nodes",
        [("FROM info AS i\n",
          "FROM info AS i\nJOIN \"${Database}\".aws_tag AS tg\n"
          "    ON tg.accountid = i.accountid AND tg.region = i.region AND tg.resourceid = i.resourceid\n")],
        why="the samples inner-join aws_tag: a row per tag, untagged nodes gone"),
    Mutation(
        "rows-multiplied-by-tags-named", "named/noncompliant_nodes",
        [("FROM items AS c\n",
          "FROM items AS c\nJOIN \"${Database}\".aws_tag AS tg\n"
          "    ON tg.accountid = c.accountid AND tg.region = c.region AND tg.resourceid = c.resourceid\n")],
        why="the same join in a named query: patch counts multiplied by the tag count, untagged nodes gone"),
    Mutation(
        "terminated-counted-as-live", "named/patch_summary",
        [("    AND COALESCE(i.instancestatus, '') <> 'Terminated'\n", "")],
        why="the sync never deletes a terminated node's objects"),
    Mutation(
        "terminated-counted-as-live-dataset", "dataset/patches",
        [("    AND COALESCE(i.instancestatus, '') <> 'Terminated'\n", "")],
        why="the same in the patches dataset"),
    Mutation(
        "association-items-as-patches", "named/noncompliant_nodes",
        [("    WHERE compliancetype = 'Patch'\n", "")],
        why="AWS:ComplianceItem holds every compliance type: a failed inventory association is not a patch"),
    Mutation(
        "association-summary-as-patch-status", "named/compliant_nodes",
        [("    WHERE compliancetype = 'Patch'\n", "")],
        why="the newest AWS:ComplianceSummary line may be the Association one"),
    Mutation(
        "order-by-reversed", "named/patch_summary",
        [("ORDER BY security_noncompliant DESC, missing DESC", "ORDER BY security_noncompliant ASC, missing DESC")],
        why="not a sample's defect: shows that the promised order is checked, not only the rows"),
    Mutation(
        "severities-alphabetically", "named/compliance_summary",
        [("ORDER BY account_id, region, CASE compliance_level\n",
          "ORDER BY account_id, region, compliance_level, CASE compliance_level\n")],
        why="an auditor reads CRITICAL first, not HIGH before CRITICAL and INFORMATIONAL before LOW"),
    Mutation(
        "older-snapshots-resurrect-deleted-instances", "named/config_patch_compliance",
        [(LATEST_DAY_JOIN, ""),
         (CONFIG_CURRENT_ITEMS,
          "    SELECT x.* FROM (\n"
          "        SELECT i.*, row_number() OVER (\n"
          "            PARTITION BY i.accountid, i.region, i.resource_type, i.resource_id\n"
          "            ORDER BY i.captured DESC, i.configsnapshotid DESC) AS latest\n"
          "        FROM items AS i\n"
          "    ) AS x\n"
          "    WHERE x.latest = 1 AND x.item_status IN ('OK', 'ResourceDiscovered')\n")],
        why="each resource's newest item over every snapshot: an instance deleted since an older snapshot "
            "is still there (snapshots are states, not an event log)"),
    # The beliefs about AWS's data this fleet was rebuilt to refute (issue #13).
    Mutation(
        "vendor-severity-read-as-compliance-level", "named/noncompliant_nodes",
        [("count_if(c.status = 'NON_COMPLIANT' AND c.severity = 'CRITICAL') AS critical_level_patches",
          "count_if(c.status = 'NON_COMPLIANT' AND upper(c.patchseverity) = 'CRITICAL') AS critical_level_patches")],
        why="a patch's compliance level is its baseline's (UNSPECIFIED on predefined baselines), not the "
            "vendor's severity: on a real fleet the critical count would be wrong both ways"),
    Mutation(
        "vendor-severity-read-as-compliance-level-dataset", "dataset/patches",
        [("NULLIF(c.severity, '') AS compliance_level", "upper(NULLIF(c.patchseverity, '')) AS compliance_level")],
        why="the same belief in the patches dataset"),
    Mutation(
        "stopped-instances-counted-as-unmanaged", "named/ec2_not_managed",
        [("WHERE m.compliance = 'NON_COMPLIANT'\n", "WHERE m.compliance <> 'COMPLIANT'\n")],
        why="the managed rule returns NOT_APPLICABLE (or nothing) for a stopped instance, not NON_COMPLIANT"),
    Mutation(
        "stopped-instances-counted-as-unmanaged-dataset", "dataset/config-compliance",
        [("        WHEN m.compliance = 'NOT_APPLICABLE' THEN 'NOT_APPLICABLE'\n", "")],
        why="a stopped instance is not an unmanaged one"),
    Mutation(
        "windows-not-applicable-items-as-noncompliant", "named/noncompliant_nodes",
        [("    AND (c.status = 'NON_COMPLIANT' OR c.patchstate = 'AvailableSecurityUpdate')\n",
          "    AND COALESCE(c.status, '') <> 'COMPLIANT'\n")],
        why="a Windows NotApplicable item has an empty status, neither COMPLIANT nor NON_COMPLIANT"),
    Mutation(
        "unapproved-security-updates-ignored", "named/noncompliant_nodes",
        [(" OR c.patchstate = 'AvailableSecurityUpdate')", ")")],
        why="a Windows security update the baseline has not approved is compliant but still missing"),
    Mutation(
        "noncompliant-days-from-changes-inside-the-range-only", "cloudtrail/noncompliant_days",
        [("        AND eventTime < '${EndTime}'\n",
          "        AND eventTime >= '${StartTime}' AND eventTime < '${EndTime}'\n")],
        why="the regression: a node non-compliant before the range that did not change inside it is not counted"),
    Mutation(
        "compliance-summary-entry-read-as-a-patch", "cloudtrail/patch_compliance_as_of",
        [("            p -> json_extract_scalar(p, '$.PatchState') IS NOT NULL\n", "            p -> true\n")],
        why="a PatchCompliance item's content may hold a ComplianceSummary entry beside the patches"),
    Mutation(
        "agent-status-assumed", "named/active_nodes",
        [("platformversion, agenttype, agentversion, instancestatus, capturetime,",
          "platformversion, agenttype, agentversion, instancestatus, agentstatus, capturetime,")],
        raises=duckdb.BinderException,
        why="AgentStatus is in the inventory schema but a sync never writes it: the crawler makes no such "
            "column and Athena fails the query (COLUMN_NOT_FOUND)"),
    Mutation(
        "deregistered-hybrids-counted-as-live", "dataset/nodes",
        [(GONE, "")],
        why="the sync keeps a deregistered hybrid node's files with its last status (Active or ConnectionLost)"),
    Mutation(
        "missing-results-read-as-not-evaluated", "dataset/config-compliance",
        [("        WHEN r.accountid IS NULL THEN 'NOT_RECORDED'\n", "")],
        why="an account whose recorder does not record rule results is not one where the rule found nothing"),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_a_wrong_query_fails_the_check(request, mutation: Mutation) -> None:
    fleet = request.getfixturevalue("small_fleet" if mutation.small else "fleet")
    query = QUERIES[mutation.query_id]
    text = query.text
    for anchor, replacement in mutation.edits:
        assert text.count(anchor) == 1, f"anchor not exactly once in {query.path.name}: {anchor!r}"
        text = text.replace(anchor, replacement)
    if mutation.raises is AssertionError:
        # The right query passes on this fleet, and the wrong one runs (an SQL error would be a broken
        # mutation, not a caught defect) and fails the check.
        truth.check(fleet.truth, mutation.query_id, run(fleet, query))
        assert truth.expected(fleet.truth, mutation.query_id).rows, "nothing to get wrong on this fleet"
        rows = run(fleet, query, text)
        with pytest.raises(AssertionError):
            truth.check(fleet.truth, mutation.query_id, rows)
    else:
        with pytest.raises(mutation.raises):
            run(fleet, query, text)
