"""What every query we ship must return, computed from fleet-sim's ground truth alone.

fleet-sim writes, beside the objects AWS would write, ``ground-truth.jsonl`` (one line per node: its
status, latest scan with every patch, tags, software and what the newest Config snapshot says
about it) and ``fleet.json``. The functions here turn those into the rows each query promises, never
reading the sync or Config objects, and compare them with what the query returned: the set of keys
(one row per key unless the query says otherwise), the columns that matter, and the order where the
query has an ORDER BY. Used by ``test_fleet_sql.py`` (``make sql-check``) and ``bench_sql.py``
(``make bench``).

Values are compared after normalisation: an attribute the ground truth has as null may be written
omitted (NULL) or as "" (fleet-sim writes both), so "" and NULL are the same text; timestamps are
compared as instants whatever their spelling (``...Z``, ``....000Z``, a DATETIME column).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import pathlib
import re
import subprocess
from collections import Counter
from typing import Any, Callable, Iterable

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAMED_DIR = ROOT / "cfn" / "queries"
DATASET_DIR = ROOT / "crates" / "quicksight-builder" / "sql"

# Wall times of the fleet checks, by step (shown by conftest.py after a pytest run).
TIMINGS: dict[str, float] = {}

SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED"]
PATCH_STATES = ["Installed", "InstalledOther", "InstalledPendingReboot", "InstalledRejected", "Missing",
                "Failed", "NotApplicable"]
NONCOMPLIANT_STATES = {"InstalledPendingReboot", "InstalledRejected", "Missing", "Failed"}
INSTANCE_STATUSES = ["Active", "ConnectionLost", "Stopped", "Terminated"]
COUNT_KEYS = {"installed": "Installed", "installed_other": "InstalledOther",
              "installed_pending_reboot": "InstalledPendingReboot", "installed_rejected": "InstalledRejected",
              "missing": "Missing", "failed": "Failed", "not_applicable": "NotApplicable"}


# --------------------------------------------------------------------------------------------
# The queries
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Query:
    id: str                 # "named/<file stem>" or "dataset/<dataset key>"
    path: pathlib.Path
    kind: str               # "named" or "dataset"

    @property
    def text(self) -> str:
        return self.path.read_text()


def queries() -> list[Query]:
    """Every Athena named query and every QuickSight dataset query in the repository."""
    found = [Query(f"named/{p.stem}", p, "named") for p in sorted(NAMED_DIR.glob("*.sql"))]
    for path in sorted(DATASET_DIR.glob("*.sql")):
        key = re.search(r"^-- dataset: (\S+)$", path.read_text(), re.M)
        assert key, f"{path}: no '-- dataset:' header"
        found.append(Query(f"dataset/{key.group(1)}", path, "dataset"))
    return found


# --------------------------------------------------------------------------------------------
# fleet-sim
# --------------------------------------------------------------------------------------------


def find_fleet_sim() -> pathlib.Path | None:
    """The fleet-sim binary: $FLEET_SIM, else debug/fleet-sim under $CARGO_TARGET_DIR or ./target."""
    if os.environ.get("FLEET_SIM"):
        return pathlib.Path(os.environ["FLEET_SIM"])
    for target in (os.environ.get("CARGO_TARGET_DIR"), ROOT / "target"):
        if target and (pathlib.Path(target) / "debug" / "fleet-sim").exists():
            return pathlib.Path(target) / "debug" / "fleet-sim"
    return None


def now_to_the_minute() -> str:
    """The real present in UTC, to the minute (the queries may compare with current_timestamp)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:00Z")


def run_fleet_sim(binary: pathlib.Path, out: pathlib.Path, *, seed: int, nodes: int, accounts: int,
                  regions: list[str], now: str) -> str:
    """Write a fleet into `out` (sync/, config/, ground-truth.jsonl, fleet.json); raise on failure.
    Returns what fleet-sim printed."""
    command = [str(binary), "--out", str(out), "--seed", str(seed), "--nodes", str(nodes),
               "--accounts", str(accounts), "--regions", ",".join(regions), "--now", now]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}: {done.stderr.strip()}")
    return done.stdout


# --------------------------------------------------------------------------------------------
# The ground truth
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Truth:
    dir: pathlib.Path
    nodes: list[dict]
    fleet: dict
    now: dt.datetime

    @property
    def live(self) -> list[dict]:
        """Managed nodes whose latest instance information is not Terminated."""
        return [n for n in self.nodes if n["live"]]

    @property
    def scanned(self) -> list[dict]:
        return [n for n in self.live if n["scan"] is not None]


def load(fleet_dir: pathlib.Path | str) -> Truth:
    fleet_dir = pathlib.Path(fleet_dir)
    nodes = [json.loads(line) for line in (fleet_dir / "ground-truth.jsonl").read_text().splitlines() if line]
    fleet = json.loads((fleet_dir / "fleet.json").read_text())
    return Truth(fleet_dir, nodes, fleet, ts(fleet["now"]))


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------


def text(value: Any) -> str | None:
    """Text as a report shows it: "" and NULL are the same (an omitted attribute or an empty one)."""
    return None if value is None or value == "" else str(value)


def ts(value: Any) -> dt.datetime | None:
    """An instant as a naive UTC datetime, from an ISO-8601 string or a DATETIME value."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def num(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def ident(value: Any) -> Any:
    return value


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Expected:
    """The rows a query must return. `columns` maps each compared column to its normaliser; `key`
    names the columns that identify a row (unique unless `multiset`); `order` is the query's
    ORDER BY as (column, descending) pairs, NULLs last as in Athena and DuckDB."""
    columns: dict[str, Callable[[Any], Any]]
    key: list[str]
    rows: list[dict]
    order: list[tuple] | None = None
    multiset: bool = False


def _show(rows: Iterable, limit: int = 5) -> str:
    rows = list(rows)
    more = f" ... and {len(rows) - limit} more" if len(rows) > limit else ""
    return "; ".join(repr(r) for r in rows[:limit]) + more


SEVERITY_RANK = {s: i for i, s in enumerate(["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED"])}


def _cmp(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def _order_cmp(order: list[tuple], x: dict, y: dict) -> int:
    # Each entry: (column, descending) or (column, descending, key) where key maps a value to
    # what the query sorts by (a rank, for example).
    for column, descending, *key in order:
        a, b = x[column], y[column]
        if key and a is not None and b is not None:
            a, b = key[0](a), key[0](b)
        if a == b:
            continue
        if a is None or b is None:  # NULLS LAST in either direction
            return 1 if a is None else -1
        return -_cmp(a, b) if descending else _cmp(a, b)
    return 0


def compare(name: str, actual: list[dict], expected: Expected) -> None:
    """Raise AssertionError, with a short account of the differences, unless `actual` is what
    `expected` describes."""
    if actual:
        missing_columns = set(expected.columns) - set(actual[0])
        assert not missing_columns, f"{name}: columns missing from the result: {sorted(missing_columns)}"
    got = [{c: norm(r[c]) for c, norm in expected.columns.items()} for r in actual]
    want = [{c: norm(r[c]) for c, norm in expected.columns.items()} for r in expected.rows]
    key_of = lambda r: tuple(r[c] for c in expected.key)  # noqa: E731

    if expected.multiset:
        as_tuple = lambda r: tuple(r[c] for c in expected.columns)  # noqa: E731
        g, w = Counter(map(as_tuple, got)), Counter(map(as_tuple, want))
        assert g == w, (f"{name}: {len(got)} rows, expected {len(want)}; unexpected: {_show((g - w).elements())}; "
                        f"missing: {_show((w - g).elements())} (columns {list(expected.columns)})")
    else:
        counts = Counter(map(key_of, got))
        duplicated = [k for k, n in counts.items() if n > 1]
        assert not duplicated, (f"{name}: {len(duplicated)} keys {expected.key} occur more than once, "
                                f"e.g. {_show(duplicated)}")
        by_key_got = {key_of(r): r for r in got}
        by_key_want = {key_of(r): r for r in want}
        assert len(by_key_want) == len(want), f"{name}: the expectation itself repeats keys"
        unexpected = sorted(set(by_key_got) - set(by_key_want), key=repr)
        missing = sorted(set(by_key_want) - set(by_key_got), key=repr)
        assert not unexpected and not missing, (
            f"{name}: {len(got)} rows, expected {len(want)}; {len(unexpected)} unexpected keys: "
            f"{_show(unexpected)}; {len(missing)} missing keys: {_show(missing)}")
        wrong = [(k, c, by_key_got[k][c], by_key_want[k][c]) for k in by_key_want
                 for c in expected.columns if by_key_got[k][c] != by_key_want[k][c]]
        assert not wrong, (f"{name}: {len(wrong)} wrong values (key, column, got, expected): "
                           f"{_show(sorted(wrong, key=repr))}")
    if expected.order:
        for i in range(1, len(got)):
            assert _order_cmp(expected.order, got[i - 1], got[i]) <= 0, (
                f"{name}: rows {i - 1} and {i} break ORDER BY {expected.order}: "
                f"{_show([got[i - 1], got[i]])}")


# --------------------------------------------------------------------------------------------
# Helpers over ground-truth nodes
# --------------------------------------------------------------------------------------------

NODE_KEY = ["account_id", "region", "node_id"]
NODE_COLUMNS = {"account_id": ident, "region": ident, "node_id": ident}


def node_key(n: dict) -> dict:
    return {"account_id": n["account_id"], "region": n["region"], "node_id": n["node_id"]}


PATCH_FIELDS = ["id", "title", "state", "severity", "classification", "patch_severity", "installed"]
SECURITY_CLASSIFICATIONS = {"Security", "SecurityUpdates", "CriticalUpdates"}


def patches(t: Truth, n: dict) -> list[dict]:
    """The patches of a node's latest scan as dicts. fleet-sim writes
    [id, title, state, severity, classification, patch_severity, installed_time], severity,
    classification and patch severity as the compliance item has them ("" for InstalledOther and
    NotApplicable)."""
    return [dict(zip(PATCH_FIELDS, p, strict=True)) for p in n["scan"]["patches"]]


def noncompliant_patches(t: Truth, n: dict) -> list[dict]:
    return [p for p in patches(t, n) if p["state"] in NONCOMPLIANT_STATES]


def patch_status(state: str) -> str:
    return "NON_COMPLIANT" if state in NONCOMPLIANT_STATES else "COMPLIANT"


def text_columns(*names: str) -> dict[str, Callable]:
    return {name: text for name in names}


def ts_columns(*names: str) -> dict[str, Callable]:
    return {name: ts for name in names}


def num_columns(*names: str) -> dict[str, Callable]:
    return {name: num for name in names}


# --------------------------------------------------------------------------------------------
# Athena named queries (cfn/queries/*.sql)
# --------------------------------------------------------------------------------------------


def expect_active_nodes(t: Truth) -> Expected:
    # Managed nodes whose latest InstanceStatus is Active, whatever their last capture.
    rows = [{**node_key(n), "node_type": n["node_type"], "computer_name": n["computer_name"],
             "ip_address": n["ip_address"], "platform_type": n["platform_type"],
             "platform_name": n["platform_name"], "platform_version": n["platform_version"],
             "agent_type": n["agent_type"], "agent_version": n["agent_version"], "last_seen": n["last_seen"]}
            for n in t.nodes if n["managed"] and n["instance_status"] == "Active"]
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("computer_name", "ip_address", "platform_type", "platform_name",
                                    "platform_version", "agent_type", "agent_version"),
                     "last_seen": ts}, NODE_KEY, rows,
                    order=[("account_id", False), ("region", False), ("node_id", False)])


def expect_compliance_summary(t: Truth) -> Expected:
    # Per account, Region and severity, over live nodes with a Patch compliance summary.
    groups: dict[tuple, dict] = {}
    for n in t.scanned:
        scan = n["scan"]
        for severity in SEVERITIES:
            nc, c = scan["noncompliant_by_severity"][severity], scan["compliant_by_severity"][severity]
            g = groups.setdefault((n["account_id"], n["region"], severity), {
                "account_id": n["account_id"], "region": n["region"], "severity": severity,
                "noncompliant_nodes": 0, "compliant_nodes": 0, "noncompliant_patches": 0, "compliant_patches": 0})
            g["noncompliant_nodes"] += nc > 0
            g["compliant_nodes"] += c > 0 and nc == 0
            g["noncompliant_patches"] += nc
            g["compliant_patches"] += c
    rows = [g for g in groups.values() if g["noncompliant_patches"] or g["compliant_patches"]]
    return Expected({"account_id": ident, "region": ident, "severity": ident,
                     **num_columns("noncompliant_nodes", "compliant_nodes", "noncompliant_patches",
                                   "compliant_patches")},
                    ["account_id", "region", "severity"], rows,
                    order=[("account_id", False), ("region", False), ("severity", False, SEVERITY_RANK.get)])


def expect_compliant_nodes(t: Truth) -> Expected:
    rows = [{**node_key(n), "computer_name": n["computer_name"], "platform_type": n["platform_type"],
             "platform_name": n["platform_name"], "platform_version": n["platform_version"],
             "instance_status": n["instance_status"], "patch_group": n["scan"]["patch_group"],
             "baseline_id": n["scan"]["baseline_id"], "last_scan": n["scan"]["time"]}
            for n in t.scanned if n["patch_status"] == "COMPLIANT"]
    return Expected({**NODE_COLUMNS,
                     **text_columns("computer_name", "platform_type", "platform_name", "platform_version",
                                    "instance_status", "patch_group", "baseline_id"),
                     "last_scan": ts}, NODE_KEY, rows,
                    order=[("account_id", False), ("region", False), ("node_id", False)])


def _config_rows(t: Truth, with_type: bool) -> list[dict]:
    """Config's view of the newest snapshot: EC2 instances not terminated (running or stopped,
    managed or not) and the hybrid nodes the patch compliance rule evaluated (a hybrid node has no
    EC2 item: its name, state, type, platform and capture time are NULL)."""
    rows = []
    for n in t.nodes:
        c = n["config"]
        if c is None:
            continue
        if n["node_type"] == "EC2" and c["state"] in ("terminated", "shutting-down"):
            continue
        if n["node_type"] == "Hybrid" and c["patch_compliance"] == "NOT_EVALUATED":
            continue
        row = {**node_key(n), "node_type": n["node_type"], "name": c["name"], "instance_state": c["state"],
               "platform": c["platform"], "managed_by_ssm": c["managed_by_ssm"],
               "patch_compliance": c["patch_compliance"], "config_captured": c["captured"]}
        if with_type:
            row["instance_type"] = c["instance_type"]
        rows.append(row)
    return rows


def expect_config_patch_compliance(t: Truth) -> Expected:
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("name", "instance_state", "platform", "managed_by_ssm", "patch_compliance"),
                     "config_captured": ts}, NODE_KEY, _config_rows(t, with_type=False),
                    order=[("patch_compliance", True), ("account_id", False), ("region", False), ("node_id", False)])


def expect_ec2_not_managed(t: Truth) -> Expected:
    rows = [{"account_id": r["account_id"], "region": r["region"], "instance_id": r["node_id"],
             "name": r["name"], "instance_state": r["instance_state"], "instance_type": r["instance_type"],
             "platform": r["platform"], "managed_rule_result": "NON_COMPLIANT",
             "config_captured": r["config_captured"]}
            for r in _config_rows(t, with_type=True) if r["node_type"] == "EC2" and r["managed_by_ssm"] == "NO"]
    return Expected({"account_id": ident, "region": ident, "instance_id": ident,
                     **text_columns("name", "instance_state", "instance_type", "platform", "managed_rule_result"),
                     "config_captured": ts}, ["account_id", "region", "instance_id"], rows,
                    order=[("account_id", False), ("region", False), ("instance_id", False)])


def expect_installed_applications(t: Truth) -> Expected:
    rows = [{**node_key(n), "computer_name": n["computer_name"], "platform_name": n["platform_name"],
             "platform_version": n["platform_version"], "application": name, "version": version}
            for n in t.live if n["inventory"] for name, version in n["applications"]]
    return Expected({**NODE_COLUMNS, **text_columns("computer_name", "platform_name", "platform_version",
                                                     "application", "version")},
                    NODE_KEY + ["application"], rows, multiset=True,
                    order=[("account_id", False), ("region", False), ("node_id", False), ("application", False)])


def expect_noncompliant_nodes(t: Truth) -> Expected:
    rows = []
    for n in t.scanned:
        bad = noncompliant_patches(t, n)
        if not bad:
            continue
        rows.append({**node_key(n), "computer_name": n["computer_name"], "platform_name": n["platform_name"],
                     "platform_version": n["platform_version"], "instance_status": n["instance_status"],
                     "noncompliant_patches": len(bad),
                     "critical_patches": sum(p["severity"] == "CRITICAL" for p in bad),
                     "high_patches": sum(p["severity"] == "HIGH" for p in bad),
                     "patches": ", ".join(sorted(p["id"] for p in bad)),
                     "patch_states": ", ".join(sorted({p["state"] for p in bad})),
                     "last_scan": n["scan"]["time"]})
    return Expected({**NODE_COLUMNS,
                     **text_columns("computer_name", "platform_name", "platform_version", "instance_status",
                                    "patches", "patch_states"),
                     **num_columns("noncompliant_patches", "critical_patches", "high_patches"),
                     "last_scan": ts}, NODE_KEY, rows,
                    order=[("critical_patches", True), ("noncompliant_patches", True), ("account_id", False),
                           ("region", False), ("node_id", False)])


def expect_patch_summary(t: Truth) -> Expected:
    rows = [{**node_key(n), "computer_name": n["computer_name"], "platform_name": n["platform_name"],
             "platform_version": n["platform_version"], "instance_status": n["instance_status"],
             "patch_group": n["scan"]["patch_group"], "baseline_id": n["scan"]["baseline_id"],
             "last_operation": n["scan"]["operation"], "last_operation_end": n["scan"]["time"],
             **{k: n["scan"]["counts"][k] for k in COUNT_KEYS}}
            for n in t.scanned]
    return Expected({**NODE_COLUMNS,
                     **text_columns("computer_name", "platform_name", "platform_version", "instance_status",
                                    "patch_group", "baseline_id", "last_operation"),
                     "last_operation_end": ts, **num_columns(*COUNT_KEYS)}, NODE_KEY, rows,
                    order=[("missing", True), ("failed", True), ("account_id", False), ("region", False),
                           ("node_id", False)])


def expect_ssm_agent_versions(t: Truth) -> Expected:
    groups: dict[tuple, dict] = {}
    for n in t.live:
        k = (n["account_id"], n["region"], text(n["platform_type"]), text(n["agent_version"]))
        g = groups.setdefault(k, {"account_id": k[0], "region": k[1], "platform_type": k[2],
                                  "agent_version": k[3], "nodes": 0, "last_seen": None})
        g["nodes"] += 1
        g["last_seen"] = max(filter(None, [g["last_seen"], ts(n["last_seen"])]), default=None)
    return Expected({"account_id": ident, "region": ident, **text_columns("platform_type", "agent_version"),
                     "nodes": num, "last_seen": ts},
                    ["account_id", "region", "platform_type", "agent_version"], list(groups.values()),
                    order=[("agent_version", False), ("account_id", False), ("region", False),
                           ("platform_type", False)])


# --------------------------------------------------------------------------------------------
# QuickSight datasets (crates/quicksight-builder/sql/*.sql): no ORDER BY
# --------------------------------------------------------------------------------------------


def expect_nodes(t: Truth) -> Expected:
    rows = []
    for n in t.live:
        scan = n["scan"] or {}
        counts = scan.get("counts") or {}
        nc = scan.get("noncompliant_by_severity") or {}
        rows.append({
            **node_key(n), "node_type": n["node_type"], "computer_name": n["computer_name"],
            "ip_address": n["ip_address"], "platform_type": n["platform_type"],
            "platform_name": n["platform_name"], "platform_version": n["platform_version"],
            "agent_version": n["agent_version"], "instance_status": n["instance_status"],
            "last_seen": n["last_seen"], "patch_status": n["patch_status"],
            "overall_severity": scan.get("overall_severity"), "patch_group": scan.get("patch_group"),
            "baseline_id": scan.get("baseline_id"), "last_operation": scan.get("operation"),
            "last_operation_end": scan.get("time"),
            **{f"{k}_count": counts.get(k) for k in COUNT_KEYS},
            "critical_noncompliant_count": scan.get("critical_noncompliant"),
            "security_noncompliant_count": scan.get("security_noncompliant"),
            "other_noncompliant_count": scan.get("other_noncompliant"),
            **{f"noncompliant_{s.lower()}": nc.get(s) for s in SEVERITIES}})
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("computer_name", "ip_address", "platform_type", "platform_name",
                                    "platform_version", "agent_version", "instance_status", "patch_status",
                                    "overall_severity", "patch_group", "baseline_id", "last_operation"),
                     **ts_columns("last_seen", "last_operation_end"),
                     **num_columns(*(f"{k}_count" for k in COUNT_KEYS), "critical_noncompliant_count",
                                   "security_noncompliant_count", "other_noncompliant_count",
                                   *(f"noncompliant_{s.lower()}" for s in SEVERITIES))},
                    NODE_KEY, rows)


def expect_patches(t: Truth) -> Expected:
    rows = []
    for n in t.scanned:
        scan = n["scan"]
        for p in patches(t, n):
            rows.append({**node_key(n), "node_type": n["node_type"], "computer_name": n["computer_name"],
                         "platform_type": n["platform_type"], "platform_name": n["platform_name"],
                         "platform_version": n["platform_version"], "instance_status": n["instance_status"],
                         "patch_id": p["id"], "title": p["title"], "classification": p["classification"],
                         "severity": p["severity"], "patch_severity": p["patch_severity"],
                         "patch_state": p["state"], "status": patch_status(p["state"]),
                         "installed_time": p["installed"], "scan_time": scan["time"],
                         "baseline_id": scan["baseline_id"], "patch_group": scan["patch_group"]})
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("computer_name", "platform_type", "platform_name", "platform_version",
                                    "instance_status", "patch_id", "title", "classification", "severity",
                                    "patch_severity", "patch_state", "status", "baseline_id", "patch_group"),
                     **ts_columns("installed_time", "scan_time")}, NODE_KEY + ["patch_id"], rows)


def expect_node_tags(t: Truth) -> Expected:
    rows = []
    for n in t.live:
        scan = n["scan"]
        nc = scan["noncompliant_by_severity"] if scan else None
        for key, value in n["tags"].items():
            rows.append({**node_key(n), "node_type": n["node_type"], "computer_name": n["computer_name"],
                         "platform_name": n["platform_name"], "instance_status": n["instance_status"],
                         "tag_key": key, "tag_value": value, "patch_status": n["patch_status"],
                         "overall_severity": scan["overall_severity"] if scan else None,
                         "noncompliant_critical": nc["CRITICAL"] if nc else None,
                         "noncompliant_high": nc["HIGH"] if nc else None,
                         "noncompliant_count": sum(nc.values()) if nc else 0})
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("computer_name", "platform_name", "instance_status", "tag_key", "tag_value",
                                    "patch_status", "overall_severity"),
                     **num_columns("noncompliant_critical", "noncompliant_high", "noncompliant_count")},
                    NODE_KEY + ["tag_key"], rows)


def expect_config_compliance(t: Truth) -> Expected:
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("name", "instance_state", "instance_type", "platform", "managed_by_ssm",
                                    "patch_compliance"),
                     "config_captured": ts}, NODE_KEY, _config_rows(t, with_type=True))


def history_range(t: Truth) -> list[str]:
    """The execution parameters of the history query: the newest snapshot day and the day before
    it (the fleet's snapshots span two or three days, so the oldest may fall outside)."""
    days = sorted({d for n in t.nodes for d in (n.get("config_by_day") or {})})
    newest = dt.date.fromisoformat(days[-1])
    return [(newest - dt.timedelta(days=1)).isoformat(), newest.isoformat()]


def expect_config_compliance_history(t: Truth) -> Expected:
    """Per day in the range, account and Region: the nodes of that day's newest snapshot, counted
    as the snapshot query counts them (EC2 instances not terminated, hybrid nodes the patch rule
    evaluated), by the patch rule's result."""
    first, last = history_range(t)
    counts: dict[tuple, Counter] = {}
    for n in t.nodes:
        for day, c in (n.get("config_by_day") or {}).items():
            if not first <= day <= last:
                continue
            if n["node_type"] == "EC2" and c["state"] in ("terminated", "shutting-down"):
                continue
            if n["node_type"] == "Hybrid" and c["patch_compliance"] == "NOT_EVALUATED":
                continue
            key = (day, n["account_id"], n["region"])
            counts.setdefault(key, Counter())[c["patch_compliance"]] += 1
    rows = [{"day": day, "account_id": a, "region": r, "nodes": sum(c.values()),
             "compliant_nodes": c["COMPLIANT"], "noncompliant_nodes": c["NON_COMPLIANT"],
             "not_evaluated_nodes": sum(c.values()) - c["COMPLIANT"] - c["NON_COMPLIANT"]}
            for (day, a, r), c in counts.items()]
    return Expected({"day": ident, "account_id": ident, "region": ident,
                     **num_columns("nodes", "compliant_nodes", "noncompliant_nodes", "not_evaluated_nodes")},
                    ["day", "account_id", "region"], rows,
                    order=[("day", False), ("account_id", False), ("region", False)])


# Execution parameters of the queries that declare some (``-- parameters:``), from the fleet.
PARAMETERS: dict[str, Callable[[Truth], list]] = {
    "named/config_compliance_history": history_range,
}


EXPECTATIONS: dict[str, Callable[[Truth], Expected]] = {
    "named/config_compliance_history": expect_config_compliance_history,
    "named/active_nodes": expect_active_nodes,
    "named/compliance_summary": expect_compliance_summary,
    "named/compliant_nodes": expect_compliant_nodes,
    "named/config_patch_compliance": expect_config_patch_compliance,
    "named/ec2_not_managed": expect_ec2_not_managed,
    "named/installed_applications": expect_installed_applications,
    "named/noncompliant_nodes": expect_noncompliant_nodes,
    "named/patch_summary": expect_patch_summary,
    "named/ssm_agent_versions": expect_ssm_agent_versions,
    "dataset/nodes": expect_nodes,
    "dataset/patches": expect_patches,
    "dataset/node-tags": expect_node_tags,
    "dataset/config-compliance": expect_config_compliance,
}


_EXPECTED_CACHE: dict[tuple[int, str], Expected] = {}


def expected(t: Truth, query_id: str) -> Expected:
    """The expectation of `query_id` on `t` (computed once per Truth)."""
    k = (id(t), query_id)
    if k not in _EXPECTED_CACHE:
        _EXPECTED_CACHE[k] = EXPECTATIONS[query_id](t)
    return _EXPECTED_CACHE[k]


def check(t: Truth, query_id: str, rows: list[dict]) -> None:
    """AssertionError unless `rows` are what query `query_id` must return on this fleet."""
    compare(query_id, rows, expected(t, query_id))


# --------------------------------------------------------------------------------------------
# The fixture must hold every case the checks rely on
# --------------------------------------------------------------------------------------------


def coverage_problems(t: Truth) -> list[str]:
    """What the fleet lacks for the checks to mean something (empty when it has everything)."""
    problems = []

    def need(condition: bool, what: str) -> None:
        if not condition:
            problems.append(what)

    managed = [n for n in t.nodes if n["managed"]]
    live_patches = [p for n in t.scanned for p in patches(t, n)]
    for state in PATCH_STATES:
        need(any(p["state"] == state for p in live_patches), f"a live node with a patch in state {state}")
    for severity in SEVERITIES:
        need(any(n["scan"]["noncompliant_by_severity"][severity] for n in t.scanned),
             f"a live node with a non-compliant {severity} patch")
        need(any(n["scan"]["compliant_by_severity"][severity] for n in t.scanned),
             f"a live node with a compliant {severity} patch")
    for status in INSTANCE_STATUSES:
        need(any(n["instance_status"] == status for n in managed), f"a managed node with InstanceStatus {status}")
    need(any(n["instance_status"] == "Terminated" and n["scan"] for n in managed),
         "a terminated node with patch data (its stale data must not count)")
    for kind in ("EC2", "Hybrid"):
        need(any(n["node_type"] == kind for n in t.live), f"a live {kind} node")
    for platform in ("Windows", "Linux"):
        need(any(n["platform_type"] == platform for n in t.live), f"a live {platform} node")
    need(any(n["patch_status"] == "NOT_SCANNED" for n in t.live), "a live node never scanned")
    for status in ("COMPLIANT", "NON_COMPLIANT"):
        need(any(n["patch_status"] == status for n in t.live), f"a live {status} node")
    need(any(n["scan"] and n["scan"]["operation"] == "Install" for n in t.live),
         "a node whose last operation is Install")
    need(any(not n["managed"] for n in t.nodes), "an EC2 instance without Systems Manager (unmanaged)")
    need(any(n["stale"] for n in t.nodes), "a stale node (last seen more than 7 days ago)")
    need(any(n["tags"] for n in t.live), "a tagged live node")
    need(any(not n["tags"] for n in t.live), "an untagged live node")
    need(any(n["inventory"] and n["applications"] for n in t.live), "a live node with software inventory")
    need(any(not n["inventory"] for n in t.live), "a live node without software inventory")
    configs = [n["config"] for n in t.nodes if n["config"]]
    for state in ("running", "stopped"):
        need(any(c["state"] == state for c in configs), f"an EC2 instance {state} in Config")
    need(any(c["managed_by_ssm"] == "NO" for c in configs), "an EC2 instance Config finds not managed")
    for result in ("COMPLIANT", "NON_COMPLIANT", "NOT_EVALUATED"):
        need(any(c["patch_compliance"] == result for c in configs), f"a Config patch compliance {result}")
    need(any(n["node_type"] == "Hybrid" and n["config"] and n["config"]["patch_compliance"] != "NOT_EVALUATED"
             for n in t.nodes), "a hybrid node evaluated by the Config patch rule")
    need(any(n["config"] and n["config"]["name"] for n in t.nodes), "an EC2 instance with a Name tag in Config")
    return problems


def consistency_problems(t: Truth) -> list[str]:
    """Contradictions inside the ground truth itself (generator bugs), at most a few of each."""
    problems: list[str] = []
    now = t.now

    def bad(what: str, n: dict) -> None:
        if sum(p.startswith(what) for p in problems) < 3:
            problems.append(f"{what}: {n['account_id']}/{n['region']}/{n['node_id']}")

    keys = Counter((n["account_id"], n["region"], n["node_id"]) for n in t.nodes)
    problems += [f"node listed twice: {k}" for k, c in keys.items() if c > 1][:3]
    for n in t.nodes:
        if n["live"] != (n["managed"] and n["instance_status"] != "Terminated"):
            bad("live is not managed and not Terminated", n)
        if n["managed"] != (n["instance_status"] is not None):
            bad("managed without an instance status (or the reverse)", n)
        if n["node_type"] != ("Hybrid" if n["node_id"].startswith("mi-") else "EC2"):
            bad("node_type does not match the id", n)
        stale = n["live"] and n["last_seen"] is not None and now - ts(n["last_seen"]) > dt.timedelta(days=7)
        if n["stale"] != stale:
            bad("stale is not 'live and last seen more than 7 days before now'", n)
        scan = n["scan"]
        if not n["managed"]:
            if n["patch_status"] is not None or scan is not None:
                bad("unmanaged node with patch data", n)
            continue
        if scan is None:
            if n["patch_status"] != "NOT_SCANNED":
                bad("no scan but patch_status is not NOT_SCANNED", n)
            if any(n["missing_by_severity"].values()):
                bad("no scan but missing patches", n)
            continue
        rows = patches(t, n)
        states = Counter(p["state"] for p in rows)
        if any(scan["counts"][k] != states[s] for k, s in COUNT_KEYS.items()):
            bad("scan counts differ from its patches' states", n)
        noncompliant = noncompliant_patches(t, n)
        status = "NON_COMPLIANT" if noncompliant else "COMPLIANT"
        if n["patch_status"] != status or scan["status"] != status:
            bad("patch_status does not follow from the patches", n)
        by_severity = Counter(p["severity"] for p in noncompliant)
        if any(scan["noncompliant_by_severity"][s] != by_severity[s] for s in SEVERITIES):
            bad("noncompliant_by_severity differs from the non-compliant patches", n)
        if n["missing_by_severity"] != scan["noncompliant_by_severity"]:
            bad("missing_by_severity differs from scan.noncompliant_by_severity", n)
        if scan["critical_noncompliant"] != scan["noncompliant_by_severity"]["CRITICAL"]:
            bad("critical_noncompliant differs from the CRITICAL non-compliant count", n)
        security = [p for p in noncompliant if p["classification"] in SECURITY_CLASSIFICATIONS]
        other = [p for p in noncompliant if p["classification"] not in SECURITY_CLASSIFICATIONS
                 and p["severity"] != "CRITICAL"]
        if scan["security_noncompliant"] != len(security) or scan["other_noncompliant"] != len(other):
            bad("security or other non-compliant count differs from the non-compliant patches", n)
        compliant_by_severity = Counter(p["severity"] or "UNSPECIFIED" for p in rows
                                        if p["state"] in ("Installed", "InstalledOther"))
        if any(scan["compliant_by_severity"][s] != compliant_by_severity[s] for s in SEVERITIES):
            bad("compliant_by_severity differs from the compliant patches", n)
        for p in rows:
            if p["state"] in ("InstalledOther", "NotApplicable") and (p["severity"] or p["classification"]):
                bad("InstalledOther/NotApplicable patch with a severity or classification", n)
            if bool(p["installed"]) != (p["state"] in ("Installed", "InstalledOther", "InstalledPendingReboot",
                                                       "InstalledRejected")):
                bad("installed time present exactly when the patch is on the node", n)
    return problems
