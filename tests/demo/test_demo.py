"""`make demo` end to end, on a small fleet: the templates deployed into the emulator by `make
deploy`, every step succeeds (the demo exits 0 only then), the report's numbers equal fleet-sim's
ground truth, and each function called exactly what the role its stack created grants. Timing is
not checked here; `make bench` prints it.

The demo binary and the function binaries come from the Cargo target folder (`make test` builds
them first)."""

from __future__ import annotations

import json
import os
import re
import pathlib
import sys
import subprocess

import pytest

from test_report import check_against_truth, check_csv, fleet_sim

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "cfn"))
from cfn import RUNTIME_ACTIONS, function_crates, header_actions  # noqa: E402  (the template checks' parser)

STEPS = ["organization", "fleet", "deploy", "data arrives", "crawl", "sync-monitor", "compliance report",
         "stack update", "undeploy"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[pathlib.Path, subprocess.CompletedProcess]:
    bins = fleet_sim().parent
    binary = bins / "demo"
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: run `cargo build --workspace --bins` (make test does)")
    out = tmp_path_factory.mktemp("demo")
    run = subprocess.run([str(binary), "--bin-dir", str(bins), "--nodes", "150", "--accounts", "2",
                          "--regions", "us-east-1,eu-west-1", "--seed", "5", "--item-scale", "0.05",
                          "--out", str(out)],
                         capture_output=True, text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"})
    return out, run


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
