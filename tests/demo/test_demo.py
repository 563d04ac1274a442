"""`make demo` end to end, on a small fleet: the templates deployed into the emulator by `make
deploy`, every step succeeds (the demo exits 0 only then), the report's numbers equal fleet-sim's
ground truth, and each function called exactly what the role its stack created grants. Timing is
not checked here; `make bench` prints it.

The run is conftest.py's `demo`."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import pathlib
import sys
import subprocess

import pytest

from test_report import check_against_truth, check_csv, truth

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "sql"))
import truth as ground_truth  # noqa: E402  (the ground truth's reader, shared with the SQL checks)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "cfn"))
from cfn import RUNTIME_ACTIONS, function_crates, header_actions  # noqa: E402  (the template checks' parser)

STEPS = ["organization", "fleet", "deploy", "data arrives", "crawl", "schedules", "sync-monitor", "compliance report",
         "stack update", "undeploy"]


def test_every_step_succeeds_and_is_reported(demo) -> None:
    out, run = demo
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    for step in STEPS:
        assert f"▶ {step}\n" in run.stdout, step
    table = run.stdout[run.stdout.index("step   "):]
    assert [line.split("  ")[0] for line in table.splitlines()[2:2 + len(STEPS)]] == STEPS
    # Every function the templates deploy ran, as the stacks wired it, and none failed.
    functions = run.stdout[run.stdout.index("functions (all accounts and Regions):"):]
    assert " 0 errors" in functions and not re.search(r" [1-9]\d* errors", functions), functions
    # The deployment went through change sets, StackSets and, on re-deploy, updates.
    assert "StackSet patch-compliance-data-sync: create" in run.stdout
    assert "central stack patch-compliance (us-east-1): update" in run.stdout


def test_report_equals_the_ground_truth(demo) -> None:
    out, run = demo
    assert run.returncode == 0, run.stderr[-4000:]
    # compliance-report ran in the emulator: Athena's queries over the crawled tables and the
    # objects the syncs and Config delivered, not fleet-sim's folder. The numbers are the truth.
    summary = check_against_truth(out / "fleet", out)
    assert summary["sources"] and all(s.endswith(".sql") for s in summary["sources"])
    check_csv(out, summary)
    assert summary["totals"]["live_nodes"] > 100
    for name in ("report.html", "nodes.csv", "missing-patches.csv", "summary.json"):
        assert (out / name).stat().st_size > 0, name


def test_owners_come_from_the_organization(demo) -> None:
    # demo/organization.py names member account i "workload-<i>" in the OU "workloads" and tags it
    # Owner = OWNERS[i % 3]; compliance-report read that through the organization-reader role.
    out, run = demo
    assert run.returncode == 0, run.stderr[-4000:]
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "demo"))
    from organization import OWNERS
    summary = json.loads((out / "summary.json").read_text())
    owners = summary["owners"]
    assert owners["tag_key"] == "Owner" and owners["error"] is None
    assert {a["account_id"] for a in owners["accounts"]} == set(summary["accounts"])
    for a in owners["accounts"]:
        index = int(a["name"].removeprefix("workload-"))
        assert (a["ou_path"], a["owner"]) == ("Root/workloads", OWNERS[index % len(OWNERS)]), a
    by_owner = {o["owner"]: o for o in owners["by_owner"]}
    assert set(by_owner) == {a["owner"] for a in owners["accounts"]}
    for key in ("live_nodes", "compliant", "non_compliant", "missing_security"):
        assert sum(o[key] for o in owners["by_owner"]) == summary["totals"][key], key
    with (out / "owners.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(summary["by_account_region"])
    assert sum(int(r["Live nodes"]) for r in rows) == summary["totals"]["live_nodes"]
    assert {r["Owner"] or None for r in rows} == set(by_owner)


def day_folders(out: pathlib.Path) -> list[pathlib.Path]:
    """The fleet of each day the report ran on, oldest first: fleet-sim's folders of the earlier
    days (out/days/<date>/), then the present's (out/fleet)."""
    return sorted((out / "days").iterdir()) + [out / "fleet"]


def missing_pairs(folder: pathlib.Path) -> set[tuple[str, str, str, str]]:
    """(account, Region, node, patch) of every patch that makes a live managed node non-compliant."""
    loaded = ground_truth.load(folder)
    return {(n["account_id"], n["region"], n["node_id"], p["id"])
            for n in loaded.nodes if n["managed"] and n["live"] and n.get("scan")
            for p in ground_truth.noncompliant_patches(loaded, n)}


def test_the_trend_and_patch_ages_follow_the_days(demo) -> None:
    # The report ran once a day on the fleet of that day (fleet-sim's days: the fleet grows, each
    # node the same node every day it exists). Each run's numbers are that day's ground truth, a
    # patch's age counts from the first of the consecutive runs that found it missing, and the
    # SLA the demo deploys (short, so ages cross it) flags exactly the pairs older than it allows.
    out, run = demo
    assert run.returncode == 0, run.stderr[-4000:]
    folders = day_folders(out)
    assert len(folders) >= 3
    dates = [json.loads((f / "fleet.json").read_text())["now"][:10] for f in folders]
    summary = json.loads((out / "summary.json").read_text())
    trend = summary["trend"]["organization"]
    assert [p["date"] for p in trend] == dates
    for point, folder in zip(trend, folders, strict=True):
        want = truth(folder)["totals"]
        assert {k: point[k] for k in ("live_nodes", "compliant", "non_compliant")} == \
            {k: want[k] for k in ("live_nodes", "compliant", "non_compliant")}, point["date"]
    assert len({p["live_nodes"] for p in trend}) == len(trend), "the fleet grows: every point differs"
    missing = [missing_pairs(f) for f in folders]
    first_seen = {}
    for pair in missing[-1]:
        day = len(folders) - 1
        while day > 0 and pair in missing[day - 1]:
            day -= 1
        first_seen[pair] = dates[day]
    with (out / "missing-patches.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    got = {(r["Account ID"], r["Region"], r["Managed node ID"], r["Patch ID"]): r for r in rows}
    assert {pair: r["Missing since"] for pair, r in got.items()} == first_seen
    assert len(set(first_seen.values())) > 1, "pairs first seen on different days"
    thresholds = summary["sla"]["thresholds"]
    past = 0
    for r in rows:
        rules = [thresholds[k] for k in (r["Compliance level"], r["Classification"]) if k in thresholds]
        sla = min(rules) if rules else thresholds["default"]
        days = (dt.date.fromisoformat(dates[-1]) - dt.date.fromisoformat(r["Missing since"])).days
        assert (int(r["SLA days"]), int(r["Days missing"])) == (sla, days), r
        assert r["Past SLA"] == ("yes" if days > sla else "no"), r
        past += days > sla
    assert summary["sla"]["past_sla"] == past > 0


# The IAM actions an API operation needs, where they are not simply `service:Operation`.
NEEDS = {
    "s3:ListObjectsV2": {"s3:ListBucket"},
    "s3:ListObjectVersions": {"s3:ListBucketVersions"},
    "s3:ListMultipartUploads": {"s3:ListBucketMultipartUploads"},
    # Quiet DeleteObjects of versions and delete markers in a versioned bucket.
    "s3:DeleteObjects": {"s3:DeleteObject", "s3:DeleteObjectVersion"},
    # Creating a dataset on a data source passes the data source.
    "quicksight:CreateDataSet": {"quicksight:CreateDataSet", "quicksight:PassDataSource"},
    "quicksight:UpdateDataSet": {"quicksight:UpdateDataSet", "quicksight:PassDataSource"},
}

# Per function, where an operation needs less than NEEDS says.
NEEDS_OF = {
    # Deletes the run's staging copies by key, without VersionId: current objects only (the
    # results bucket's lifecycle expires the noncurrent versions).
    "compliance-report": {"s3:DeleteObjects": {"s3:DeleteObject"}},
}

# Granted, and not called in the demo's run: each with the reason it is granted anyway.
NOT_CALLED_OF = {
    "compliance-report": {
        # Called only when a query outlives the function's time.
        "athena:StopQueryExecution",
        # Athena runs the queries with the function's permissions ("Identity and access management
        # in Athena"): it reads the catalog and the data, writes the staging tables and the
        # results, and uses the data key. The function never calls these itself; the emulator's
        # Athena reads its own catalog and buckets.
        "glue:GetDatabase", "glue:GetTable", "glue:GetPartitions", "glue:CreateTable", "glue:DeleteTable",
        "s3:GetBucketLocation", "s3:AbortMultipartUpload", "kms:Decrypt", "kms:GenerateDataKey",
    },
}
NOT_CALLED_HERE = {
    # Polled only while QuickSight creates a data source asynchronously (CREATION_IN_PROGRESS);
    # the emulator creates it at once. The unit tests cover the polling.
    "quicksight:DescribeDataSource",
    # IAM-only permission (no API of its own) that QuickSight checks when a dataset the builder
    # owns is used by another resource; granted on the builder's own datasets only.
    "quicksight:PassDataSet",
    # IAM-only permission AWS Config checks when PutConfigurationRecorder names the recorder's
    # role; the emulator does not evaluate IAM.
    "iam:PassRole",
}


def test_each_function_called_exactly_what_its_role_grants(demo) -> None:
    # Least privilege, measured on the roles the templates created: each function signed with its
    # own access key, so the emulator's recorder knows what each one called over the whole run
    # (creates, updates, deletes, events), and the demo read each role's policies back from IAM.
    out, run = demo
    assert run.returncode == 0, run.stderr[-4000:]
    called = json.loads((out / "calls-by-function.json").read_text())
    granted_by_role = json.loads((out / "granted-by-function.json").read_text())
    assert set(called) >= set(function_crates()), "every function ran"
    for function in function_crates():
        needs = {**NEEDS, **NEEDS_OF.get(function, {})}
        needed = set().union(*(needs.get(op, {op}) for op in called[function]))
        granted = set(granted_by_role[function]) - set(RUNTIME_ACTIONS)
        # The role the template made grants what the crate's header lists (tests/cfn checks the
        # template against the header; this checks the deployed role).
        assert granted == header_actions(function), function
        assert needed <= granted, f"{function} called {sorted(needed - granted)}, which its role does not grant"
        unused = granted - needed - NOT_CALLED_HERE - NOT_CALLED_OF.get(function, set())
        assert not unused, f"{function}'s role grants {sorted(unused)}, which it never called"


# --------------------------------------------------------------------------------------------
# Least privilege, statement by statement: the emulator authorized every call of the run as IAM
# does (emulator/emu_authz.py) and recorded, for each decision, the statements without any one of
# which it would have been denied (`needed`). A statement that never stood alone between a call
# and a denial is one no call of the run needed.
# --------------------------------------------------------------------------------------------

# Allow statements the demo's run does not exercise, each with the reason it is kept and where it
# is proven instead. Keys: "<logical id of the role or policy>#<Sid>" (the template's names).
NOT_EXERCISED = {
    # Failure paths: the demo's invocations and deliveries all succeed.
    **{f"{role}#DeadLetterQueue": "Lambda sends an asynchronous event that failed every retry to the dead-letter "
                                  "queue with the function's role (emu_lambda's failure path, tests/emulator/"
                                  "test_lambda.py)"
       for role in ("ColumnRemoverRole", "ConfigPartitionerRole", "TaggerRole")},
    **{f"{queue}#EventBridgeDeliveryFailures": "EventBridge sends an event it could not deliver to the target's "
                                               "dead-letter queue"
       for queue in ("ColumnRemoverDeadLetterQueuePolicy", "TaggerDeadLetterQueuePolicy")},
    "AlarmTopicPolicy#FailedCrawls": "a failed crawl; tests/deploy/test_boundaries.py publishes one",
    "DataKey#EventBridgePublishesToTheEncryptedTopic": "a failed crawl; tests/deploy/test_boundaries.py "
                                                       "publishes one, and one to another topic the key refuses",
    "AlarmTopicPolicy#CloudWatchAlarmsOfThisAccount": "the emulator evaluates no CloudWatch alarm",
    "DataKey#CloudWatchAlarmsPublishToTheEncryptedTopic": "the emulator evaluates no CloudWatch alarm",
    "SyncBucketPolicy#SSMBucketDeliveryTagging": "AWS documents s3:PutObjectTagging for organization syncs "
                                                 "(\"Creating a resource data sync for Inventory\"); the emulated "
                                                 "sync writes the objects only, as fleet-sim lays them out",
}


def template_statements(out: pathlib.Path) -> dict[str, list[dict]]:
    """The stacks' Allow statements by template statement (one per role or policy of a template,
    however many stacks and StackSet instances made it)."""
    grouped: dict[str, list[dict]] = {}
    for s in json.loads((out / "statements.json").read_text()):
        if s["effect"] == "Allow":
            grouped.setdefault(s["template_statement"], []).append(s)
    return grouped


def short(template_statement: str) -> str:
    """`<stack>/<logical id>/<policy>#<Sid>` as `<logical id>#<Sid>`."""
    return f"{template_statement.split('/')[1]}#{template_statement.rsplit('#', 1)[1]}"


def test_every_call_of_the_functions_was_authorized_as_their_roles(demo) -> None:
    # No function was refused anything: each role grants, on the resources each call named, what
    # the function did (actions and resources, not action names only).
    out, run = demo
    assert run.returncode == 0, run.stderr[-4000:]
    decisions = json.loads((out / "decisions.json").read_text())
    assert not decisions["errors"], decisions["errors"][:5]
    functions = set(function_crates())
    refused = [d for d in decisions["decisions"]
               if not d["allowed"] and d["caller"].split("-", 1)[-1] in functions]
    assert not refused, "\n".join(f"{d['caller']}: {d['action']} on {d['resource']} {d['reason']}"
                                  for d in refused[:20])
    called = {d["caller"].split("-", 1)[-1] for d in decisions["decisions"]}
    assert functions <= called, f"no decision for {sorted(functions - called)}"


def test_every_allow_statement_the_stacks_create_was_needed(demo) -> None:
    # A template statement is proven needed when, for one of the stacks that made it, some call of
    # the run would have been denied without it.
    out, run = demo
    assert run.returncode == 0, run.stderr[-4000:]
    decisions = json.loads((out / "decisions.json").read_text())["decisions"]
    needed = {label for d in decisions if d["allowed"] for label in d["needed"]}
    statements = template_statements(out)
    proven = {t for t, instances in statements.items() if any(s["label"] in needed for s in instances)}
    explained = {t for t in statements if t not in proven and short(t) in NOT_EXERCISED}
    print(f"\n{len(statements)} Allow statements in the templates' roles and resource policies "
          f"({sum(map(len, statements.values()))} as deployed); {len(proven)} proven needed by a call of the "
          f"run, {len(explained)} not exercised here, each with its reason")
    missing = sorted(short(t) for t in statements if t not in proven and t not in explained)
    assert not missing, "never needed by any call of the run:\n" + "\n".join(missing)
    stale = sorted(set(NOT_EXERCISED) - {short(t) for t in statements if t not in proven})
    assert not stale, f"NOT_EXERCISED names statements the run now proves, or that no longer exist: {stale}"
