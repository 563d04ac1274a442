"""`make demo` end to end, on a small fleet: every step succeeds (the demo exits 0 only then) and
the report's numbers equal fleet-sim's ground truth. Timing is not checked here; `make bench`
prints it.

The demo binary and the function binaries come from the Cargo target folder (`make test` builds
them first)."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

from test_report import check_against_truth, check_csv, fleet_sim

STEPS = ["central resources", "ec2-os-tagger", "org-data-sync + fleet data", "crawler run (simulated)",
         "glue-column-remover", "config-partitioner", "quicksight-builder", "compliance report",
         "s3-cleanup (stack deletion)"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[pathlib.Path, subprocess.CompletedProcess]:
    bins = fleet_sim().parent
    binary = bins / "demo"
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: run `cargo build --workspace --bins` (make test does)")
    out = tmp_path_factory.mktemp("demo")
    run = subprocess.run([str(binary), "--bin-dir", str(bins), "--nodes", "150", "--accounts", "2",
                          "--regions", "us-east-1,eu-west-1", "--seed", "5", "--out", str(out)],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"})
    return out, run


def test_every_step_succeeds_and_is_reported(demo) -> None:
    out, run = demo
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    for step in STEPS:
        assert f"▶ {step}\n" in run.stdout, step
    table = run.stdout[run.stdout.index("step   "):]
    assert [line.split("  ")[0] for line in table.splitlines()[2:2 + len(STEPS)]] == STEPS
    # Every custom resource answered CloudFormation SUCCESS, once per account and Region where
    # StackSets deploy it.
    assert run.stdout.count("CloudFormation ← ") == 2 * 2 + 2 * 2 + 2
    assert "CloudFormation ← " in run.stdout and " FAILED " not in run.stdout


def test_report_equals_the_ground_truth(demo) -> None:
    out, run = demo
    assert run.returncode == 0, run.stderr[-4000:]
    # The report ran on the objects read back from the emulator's buckets, not on fleet-sim's
    # folder: the numbers still have to be the truth.
    summary = check_against_truth(out / "report-data", out)
    check_csv(out, summary)
    assert summary["totals"]["live_nodes"] > 100
    for name in ("report.html", "nodes.csv", "missing-patches.csv", "summary.json"):
        assert (out / name).stat().st_size > 0, name
