"""The demo runs the tests read, once per session: the demo binary and the function binaries come
from the Cargo target folder (`make test` builds them first).

* `demo`: `make demo` on a small simulated fleet (150 nodes, 2 member accounts, 2 Regions);
* `handmade`: the demo on the hand-made edge-case fleet of handmade_fleet.py (`--fleet-dir`),
  so compliance-report runs on it exactly as on a simulated one.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "sql"))
import handmade_fleet  # noqa: E402
from truth import find_fleet_sim  # noqa: E402

# The hand-made fleet's present.
NOW = "2026-11-21T12:00:00Z"


def fleet_sim() -> pathlib.Path:
    binary = find_fleet_sim()
    if binary is None or not binary.is_file():
        pytest.fail("fleet-sim is not built (set FLEET_SIM, or CARGO_TARGET_DIR when it is not ./target): "
                    "run `cargo build --locked --workspace --bins` (make test builds every binary first)")
    return binary


def run_demo(out: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    """The demo binary, as `make demo` runs it, writing to `out`."""
    bins = fleet_sim().parent
    binary = bins / "demo"
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: run `cargo build --locked --workspace --bins` (make test does)")
    return subprocess.run([str(binary), "--bin-dir", str(bins), "--regions", "us-east-1,eu-west-1",
                           "--out", str(out), *args],
                          capture_output=True, text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> tuple[pathlib.Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(out, "--nodes", "150", "--accounts", "2", "--seed", "5", "--item-scale", "0.05")


@pytest.fixture(scope="session")
def handmade(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path, subprocess.CompletedProcess]:
    """(the hand-made fleet, the demo's output folder, the run)."""
    fleet = tmp_path_factory.mktemp("handmade")
    handmade_fleet.write(fleet, now=NOW)
    out = tmp_path_factory.mktemp("handmade-demo")
    run = run_demo(out, "--fleet-dir", str(fleet), "--accounts", "1")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return fleet, out, run
