"""The AWS Config queries survive malformed AWS::Config::ResourceCompliance items (issue #23).

A fleet-sim organization whose one account and Region has, in its newest Config snapshot, items
that are not what AWS writes: a rule list that is an object or a string instead of an array, a rule
that is a number, a number or an object where a string belongs, a target that is an object,
configuration text that is not JSON (a forged or malformed delivery). A strict
``CAST(... AS array(...))`` of one of them fails Athena's whole query for the whole organization.

Every Config query must still run, return the ground truth for every other account and Region, lose
only the rule results of the malformed items (their nodes read UNKNOWN and NOT_EVALUATED /
NO_RESULT), and say which account and Region had unreadable items, and how many, in its
``unreadable_items`` column. Then the known-wrong forms: the strict cast must fail the query, and a
query that reads the malformed items anyway or miscounts them must fail the ground-truth check.

    FLEET_SIM=<target>/debug/fleet-sim .venv/bin/python -m pytest -q tests/sql/test_config_unreadable.py
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import pathlib
import re

import duckdb
import localathena as la
import pytest
import truth

SEED = 11
NODES = 400
ACCOUNTS = 3
REGIONS = ["eu-west-1", "us-east-1"]
CONFIG_QUERIES = ["named/config_patch_compliance", "named/ec2_not_managed", "named/config_compliance_history",
                  "dataset/config-compliance"]
QUERIES = {q.id: q for q in truth.queries() if q.id in CONFIG_QUERIES}
SNAPSHOT_TIME = re.compile(r"_ConfigSnapshot_(\d{8}T\d{6}Z)_")
PATCH_RULE = "ec2-managedinstance-patch-compliance-status-check"
MANAGED_RULE = "ec2-instance-managed-by-systems-manager"


def _first_rule(configuration: dict, **changes) -> None:
    configuration["configRuleList"][0].update(changes)


# What a malformed or forged delivery may hold instead of a ResourceCompliance item's configuration.
CORRUPTIONS = {
    "rule list is an object": lambda c: c.update(configRuleList=c["configRuleList"][0]),
    "rule list is a string": lambda c: c.update(configRuleList=PATCH_RULE),
    "rule list is missing": lambda c: c.pop("configRuleList"),
    "a rule is a number": lambda c: c.update(configRuleList=[1] + c["configRuleList"]),
    "a result is a number": lambda c: _first_rule(c, complianceType=0),
    "a rule name is an object":
        lambda c: _first_rule(c, configRuleName={"name": c["configRuleList"][0]["configRuleName"]}),
    "a result is an array": lambda c: _first_rule(c, complianceType=[c["configRuleList"][0]["complianceType"]]),
    "the target is an object": lambda c: c.update(targetResourceId={"id": c["targetResourceId"]}),
    # The whole configuration becomes text that is not JSON (the SerDe returns a string as is).
    "configuration is not JSON": None,
}
# Which corruption goes to which kind of item: managed rule items the rule flags NON_COMPLIANT (so
# that ec2_not_managed changes too) and patch rule items. "rule list is an object" makes a strict
# CAST fail in both engines; "a rule is a number" leaves a valid rule behind it, which a query that
# reads unreadable items anyway would count.
PLAN = [("rule list is an object", "managed"), ("a rule is a number", "managed")] + [
    (what, "patch") for what in CORRUPTIONS if what != "rule list is an object"]


@dataclasses.dataclass
class Corrupted:
    dir: pathlib.Path
    original: truth.Truth      # what fleet-sim says
    truth: truth.Truth         # what the queries must return after the corruption
    con: duckdb.DuckDBPyConnection
    account: str
    region: str
    day: str
    # (node id, rule: "managed" or "patch", what was done, the rule's result before)
    items: list[tuple[str, str, str, str]]


def newest_snapshot(config_dir: pathlib.Path, account: str, region: str) -> pathlib.Path:
    """The snapshot the queries read for an account and Region: the newest day's, delivered last."""
    def day_and_time(path: pathlib.Path):
        y, m, d = (int(p) for p in path.parts[-5:-2])
        return (y, m, d), SNAPSHOT_TIME.search(path.name).group(1)
    snapshots = (config_dir / "AWSLogs" / account / "Config" / region).glob("*/*/*/ConfigSnapshot/*.json.gz")
    return max(snapshots, key=day_and_time)


def corrupt(snapshot: pathlib.Path) -> list[tuple[str, str, str, str]] | None:
    """Rewrites one ResourceCompliance item of the snapshot per entry of PLAN (None, and nothing
    rewritten, when the snapshot has too few items of a kind)."""
    with gzip.open(snapshot, "rt") as handle:
        document = json.load(handle)
    candidates = sorted(
        (i for i in document["configurationItems"] if i["resourceType"] == "AWS::Config::ResourceCompliance"
         and i["configurationItemStatus"] in ("OK", "ResourceDiscovered") and i["configuration"]["configRuleList"]),
        key=lambda i: i["resourceId"])

    def result(item: dict, rule: str) -> str:
        return next((r["complianceType"] for r in item["configuration"]["configRuleList"]
                     if rule in r["configRuleName"]), "")

    pools = {"managed": [i for i in candidates if i["resourceId"].startswith("AWS::EC2::Instance/")
                         and result(i, MANAGED_RULE) == "NON_COMPLIANT"],
             "patch": [i for i in candidates if i["resourceId"].startswith("AWS::SSM::PatchCompliance/")
                       and result(i, PATCH_RULE)]}
    # One flagged instance more than PLAN corrupts: ec2_not_managed still lists the account and Region.
    if any(len(pool) < sum(kind == rule for _, kind in PLAN) + (rule == "managed") for rule, pool in pools.items()):
        return None
    done = []
    for what, rule in PLAN:
        item = pools[rule].pop(0)
        node = item["configuration"]["targetResourceId"].rsplit("/", 1)[-1]
        before = result(item, MANAGED_RULE if rule == "managed" else PATCH_RULE)
        change = CORRUPTIONS[what]
        if change is None:
            item["configuration"] = "configRuleList: " + json.dumps(item["configuration"]["configRuleList"])[:40]
        else:
            change(item["configuration"])
        done.append((node, rule, what, before))
    with gzip.open(snapshot, "wt") as handle:
        json.dump(document, handle)
    return done


def corrected_truth(t: truth.Truth, account: str, region: str, day: str,
                    items: list[tuple[str, str, str, str]]) -> truth.Truth:
    """The ground truth once the items cannot be read: their nodes have no result for their rule in
    that snapshot (the account and Region still records rule results: NO_RESULT, not NOT_RECORDED)."""
    nodes = copy.deepcopy(t.nodes)
    by_key = {(n["account_id"], n["region"], n["node_id"]): n for n in nodes}
    for node_id, rule, _, _ in items:
        n = by_key[(account, region, node_id)]
        if rule == "managed":
            n["config"]["managed_rule"] = None
        else:
            n["config"]["patch_compliance"] = "NOT_EVALUATED"
            n["config"]["patch_reason"] = "not_scanned"
            n["config_by_day"][day]["patch_compliance"] = "NOT_EVALUATED"
    return dataclasses.replace(t, nodes=nodes, unreadable={(account, region, day): len(items)})


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Corrupted:
    binary = truth.find_fleet_sim()
    if binary is None or not binary.exists():
        pytest.fail("fleet-sim not found: build it (cargo build --locked -p fleet-sim) and set FLEET_SIM to the binary")
    out = tmp_path_factory.mktemp("unreadable-fleet")
    truth.run_fleet_sim(binary, out, seed=SEED, nodes=NODES, accounts=ACCOUNTS, regions=REGIONS,
                        now=truth.now_to_the_minute(), item_scale=0.02)
    original = truth.load(out)
    # The first account and Region whose newest snapshot has enough items of each kind.
    for account in sorted(original.fleet["accounts"]):
        for region in REGIONS:
            items = corrupt(newest_snapshot(out / "config", account, region))
            if items:
                day = original.newest_config_days[(account, region)]
                return Corrupted(out, original, corrected_truth(original, account, region, day, items),
                                 la.connect(out), account, region, day, items)
    pytest.fail(f"no account and Region of the fleet has the ResourceCompliance items {PLAN} needs")


def run(fleet: Corrupted, query_id: str, text: str | None = None) -> list[dict]:
    query = QUERIES[query_id]
    values, parameters = truth.run_inputs(fleet.truth, query)
    return la.run(fleet.con, query.text if text is None else text, values, parameters)


def test_the_fleet_holds_every_corruption(fleet: Corrupted) -> None:
    assert [(what, rule) for _, rule, what, _ in fleet.items] == PLAN
    assert set(CORRUPTIONS) == {what for what, _ in PLAN}
    # The corruption changes what the queries must return, in every one of them.
    for query_id in CONFIG_QUERIES:
        before, after = truth.expected(fleet.original, query_id), truth.expected(fleet.truth, query_id)
        assert before.rows != after.rows, f"{query_id}: the corruption changes nothing"
    history_days = truth.history_range(fleet.truth)
    assert fleet.day in history_days, "the history query's range holds the corrupted snapshot"


@pytest.mark.parametrize("query_id", CONFIG_QUERIES)
def test_every_config_query_survives_malformed_items(fleet: Corrupted, query_id: str) -> None:
    """The query runs, the malformed items lose only their own rule results, and every other row
    (other accounts, other Regions, the same account's readable items) is the ground truth."""
    truth.check(fleet.truth, query_id, run(fleet, query_id))


@pytest.mark.parametrize("query_id", CONFIG_QUERIES)
def test_the_other_accounts_equal_fleet_sims_truth(fleet: Corrupted, query_id: str) -> None:
    rows = [r for r in run(fleet, query_id) if r["account_id"] != fleet.account]
    expected = truth.expected(fleet.original, query_id)
    others = dataclasses.replace(expected, rows=[r for r in expected.rows if r["account_id"] != fleet.account])
    assert others.rows
    truth.compare(query_id, rows, others)


@pytest.mark.parametrize("query_id", CONFIG_QUERIES)
def test_the_unreadable_account_is_named_with_its_count(fleet: Corrupted, query_id: str) -> None:
    rows = run(fleet, query_id)
    day = (lambda r: r["day"]) if query_id == "named/config_compliance_history" else (lambda r: fleet.day)
    named = {(day(r), r["account_id"], r["region"], r["unreadable_items"]) for r in rows if r["unreadable_items"]}
    assert named == {(fleet.day, fleet.account, fleet.region, len(PLAN))}
    assert all(r["unreadable_items"] == 0 for r in rows if r["account_id"] != fleet.account)


# --------------------------------------------------------------------------------------------
# Known-wrong forms must fail
# --------------------------------------------------------------------------------------------

TRY_CAST_LIST = "TRY_CAST(TRY(json_extract(configuration, '$.configRuleList')) AS array(json))"
STRICT_CAST_LIST = "CAST(TRY(json_extract(configuration, '$.configRuleList')) AS array(json))"


@pytest.mark.parametrize("query_id", CONFIG_QUERIES)
def test_a_strict_cast_fails_the_whole_query(fleet: Corrupted, query_id: str) -> None:
    """What Athena does with the strict CAST the queries had before issue #23: one item whose rule
    list is not an array fails the query for the whole organization ("Cannot cast to array(...)",
    INVALID_CAST_ARGUMENT; DuckDB: "Conversion Error: Expected ARRAY")."""
    text = QUERIES[query_id].text
    assert text.count(TRY_CAST_LIST) == 1
    with pytest.raises(duckdb.ConversionException, match="Expected ARRAY"):
        run(fleet, query_id, text.replace(TRY_CAST_LIST, STRICT_CAST_LIST))


READ_ANYWAY = ("    WHERE l.readable\n", "    WHERE true\n")
ONLY_THE_LIST = ("            json_format(target) LIKE '\"%'\n            AND cardinality(",
                 "            rules IS NOT NULL\n            OR cardinality(")
# Where each query takes its count from: recorded (per account and Region), the count riding on
# rule_status (ec2_not_managed reads nothing else of the rule lists), the history's own CTE.
COUNT_READABLE = {
    "named/config_patch_compliance": ("count_if(NOT readable) AS", "count_if(readable) AS"),
    "dataset/config-compliance": ("count_if(NOT readable) AS", "count_if(readable) AS"),
    "named/ec2_not_managed": ("count_if(NOT readable) OVER", "count_if(readable) OVER"),
    "named/config_compliance_history": ("    WHERE NOT readable\n", "    WHERE readable\n"),
}
WRONG = [
    # Every rule of every item whose list is an array, readable or not: the good rule after a rule
    # that is a number is read, a number is read as a result ("0"), and so on.
    *[("results-of-unreadable-items-read", q, *READ_ANYWAY) for q in CONFIG_QUERIES],
    # Only a list that is not an array unreadable: the rules inside go unchecked.
    *[("only-the-list-checked", q, *ONLY_THE_LIST) for q in CONFIG_QUERIES],
    # The readable items counted instead of the unreadable ones.
    *[("readable-items-counted", q, *COUNT_READABLE[q]) for q in CONFIG_QUERIES],
]


@pytest.mark.parametrize("name,query_id,anchor,replacement", WRONG, ids=[f"{w[0]}-{w[1]}" for w in WRONG])
def test_a_wrong_query_fails_the_check(fleet: Corrupted, name: str, query_id: str, anchor: str,
                                       replacement: str) -> None:
    text = QUERIES[query_id].text
    assert text.count(anchor) == 1, f"anchor not exactly once in {query_id}: {anchor!r}"
    # The wrong query runs (an SQL error would be a broken mutation) and gives a wrong answer.
    rows = run(fleet, query_id, text.replace(anchor, replacement))
    with pytest.raises(AssertionError):
        truth.check(fleet.truth, query_id, rows)
