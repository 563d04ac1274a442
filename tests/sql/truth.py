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
import functools
import json
import os
import pathlib
import re
import subprocess
import sys
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAMED_DIR = ROOT / "cfn" / "queries"
CLOUDTRAIL_DIR = ROOT / "cfn" / "cloudtrail-lake"
DATASET_DIR = ROOT / "crates" / "quicksight-builder" / "sql"

# Wall times of the fleet checks, by step (shown by conftest.py after a pytest run).
TIMINGS: dict[str, float] = {}

SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED"]
PATCH_STATES = ["Installed", "InstalledOther", "InstalledPendingReboot", "InstalledRejected", "Missing",
                "Failed", "NotApplicable", "AvailableSecurityUpdate"]
INSTANCE_STATUSES = ["Active", "ConnectionLost", "Stopped", "Terminated"]
COUNT_KEYS = {"installed": "Installed", "installed_other": "InstalledOther",
              "installed_pending_reboot": "InstalledPendingReboot", "installed_rejected": "InstalledRejected",
              "missing": "Missing", "failed": "Failed", "not_applicable": "NotApplicable"}
# The vendor's security classifications (what SecurityNonCompliantCount counts); Windows'
# CriticalUpdates are critical non-security fixes.
SECURITY_CLASSIFICATIONS = {"Security", "SecurityUpdates"}


# --------------------------------------------------------------------------------------------
# The queries
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Query:
    id: str                 # "named/<file stem>" or "dataset/<dataset key>"
    path: pathlib.Path
    kind: str               # "named", "dataset" or "cloudtrail"

    @property
    def text(self) -> str:
        """The query as shipped: its parts included (cfn/render.py)."""
        import localathena as la  # emulator/localathena.py, on the path of every caller

        return la.read_sql(self.path)


def queries() -> list[Query]:
    """Every Athena named query, QuickSight dataset query and CloudTrail Lake query in the
    repository."""
    found = [Query(f"named/{p.stem}", p, "named") for p in sorted(NAMED_DIR.glob("*.sql"))]
    found += [Query(f"cloudtrail/{p.stem}", p, "cloudtrail") for p in sorted(CLOUDTRAIL_DIR.glob("*.sql"))]
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
                  regions: list[str], now: str, item_scale: float = 1.0) -> str:
    """Write a fleet into `out` (sync/, config/, ground-truth.jsonl, fleet.json); raise on failure.
    `item_scale` scales the compliance items per node (1: the hundreds to thousands real nodes
    report). Returns what fleet-sim printed."""
    command = [str(binary), "--out", str(out), "--seed", str(seed), "--nodes", str(nodes),
               "--accounts", str(accounts), "--regions", ",".join(regions), "--now", now,
               "--item-scale", str(item_scale)]
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
    # AWS::Config::ResourceCompliance items that cannot be read, by (account, Region, day) of the
    # snapshot the queries read for that day (the day's newest). fleet-sim writes none; a check
    # that corrupts some (test_config_unreadable.py) says how many, and which nodes lost results.
    unreadable: dict[tuple[str, str, str], int] = dataclasses.field(default_factory=dict)

    @functools.cached_property
    def newest_config_days(self) -> dict[tuple[str, str], str]:
        """Per account and Region, the day of its newest Config snapshot (the one the snapshot
        queries read)."""
        days: dict[tuple[str, str], str] = {}
        for n in self.nodes:
            key = (n["account_id"], n["region"])
            for day in n.get("config_by_day") or {}:
                days[key] = max(days.get(key, day), day)
        return days

    def unreadable_items(self, account: str, region: str) -> int:
        """Unreadable items of the account's and Region's newest snapshot."""
        if not self.unreadable:
            return 0
        return self.unreadable.get((account, region, self.newest_config_days.get((account, region))), 0)

    @property
    def live(self) -> list[dict]:
        """Managed nodes whose latest instance information is not Terminated."""
        return [n for n in self.nodes if n["live"]]

    @property
    def scanned(self) -> list[dict]:
        return [n for n in self.live if n["scan"] is not None]


def load(fleet_dir: pathlib.Path | str) -> Truth:
    """The ground truth of a fleet folder. A realistic node lists hundreds to thousands of
    patches; their rows are kept as tuples of interned strings (the same ids, titles and states
    recur on every node), a third of the memory of the parsed JSON."""
    fleet_dir = pathlib.Path(fleet_dir)
    nodes = []
    with (fleet_dir / "ground-truth.jsonl").open() as lines:
        for line in lines:
            if not line.strip():
                continue
            node = json.loads(line)
            if node.get("scan"):
                node["scan"]["patches"] = [tuple(sys.intern(v) for v in p) for p in node["scan"]["patches"]]
            nodes.append(node)
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
    rows: list[dict] | "Rows"
    order: list[tuple] | None = None
    multiset: bool = False


class Rows:
    """Expected rows made on demand, for a query whose answer is too large to hold (the patches
    dataset lists every patch of every node: millions of rows on a realistic fleet). Iterable
    any number of times; compared by `compare_stream`."""

    def __init__(self, make: Callable[[], Iterable[dict]]):
        self.make = make

    def __iter__(self):
        return iter(self.make())

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None


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


def _digest(rows: Iterable[dict], expected: Expected) -> tuple[int, int]:
    """(row count, order-independent digest) of normalised rows: the sum of the rows' hashes,
    so equal multisets of rows give equal digests whatever their order, and a duplicated,
    missing or changed row changes it."""
    count, total = 0, 0
    columns = list(expected.columns.items())
    for r in rows:
        count += 1
        total = (total + hash(tuple(norm(r[c]) for c, norm in columns))) & 0xFFFFFFFFFFFFFFFF
    return count, total


def compare_stream(name: str, actual: Iterable[dict], expected: Expected) -> None:
    """`compare` for answers too large to hold: both sides are streamed and compared by row
    count and digest (an unordered query: the large datasets have no ORDER BY). A difference
    is reported without detail: rerun `make sql-check` (a small fleet, full comparison)."""
    assert not expected.order, f"{name}: an ordered query is compared by compare()"
    got, want = _digest(actual, expected), _digest(expected.rows, expected)
    assert got == want, (f"{name}: {got[0]} rows, expected {want[0]}; digests differ: rows are missing, "
                         "duplicated or wrong (make sql-check shows which on a small fleet)")


def compare(name: str, actual: list[dict], expected: Expected) -> None:
    """Raise AssertionError, with a short account of the differences, unless `actual` is what
    `expected` describes."""
    if actual:
        missing_columns = set(expected.columns) - set(actual[0])
        assert not missing_columns, f"{name}: columns missing from the result: {sorted(missing_columns)}"
    got = [{c: norm(r[c]) for c, norm in expected.columns.items()} for r in actual]
    want = [{c: norm(r[c]) for c, norm in expected.columns.items()} for r in expected.rows]  # Rows: made here
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


PATCH_FIELDS = ["id", "title", "state", "level", "classification", "vendor_severity", "installed", "status"]


def patches(t: Truth, n: dict) -> list[dict]:
    """The patches of a node's latest scan as dicts. fleet-sim writes [id, title, state, compliance
    level, classification, vendor severity, installed time, status]: the level as the baseline
    gives it, the classification and vendor severity as the compliance item has them ("" for
    InstalledOther and NotApplicable), the status "" for a not-applicable Windows patch."""
    return [dict(zip(PATCH_FIELDS, p, strict=True)) for p in n["scan"]["patches"]]


def noncompliant_patches(t: Truth, n: dict) -> list[dict]:
    return [p for p in patches(t, n) if p["status"] == "NON_COMPLIANT"]


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
            for n in t.nodes if n["managed"] and n["instance_status"] == "Active" and not n["gone"]]
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("computer_name", "ip_address", "platform_type", "platform_name",
                                    "platform_version", "agent_type", "agent_version"),
                     "last_seen": ts}, NODE_KEY, rows,
                    order=[("account_id", False), ("region", False), ("node_id", False)])


def expect_compliance_summary(t: Truth) -> Expected:
    # Per account, Region and compliance level (the baseline's), over live nodes with a Patch
    # compliance summary.
    groups: dict[tuple, dict] = {}
    for n in t.scanned:
        scan = n["scan"]
        for level in SEVERITIES:
            nc, c = scan["noncompliant_by_level"][level], scan["compliant_by_level"][level]
            g = groups.setdefault((n["account_id"], n["region"], level), {
                "account_id": n["account_id"], "region": n["region"], "compliance_level": level,
                "noncompliant_nodes": 0, "compliant_nodes": 0, "noncompliant_patches": 0, "compliant_patches": 0})
            g["noncompliant_nodes"] += nc > 0
            g["compliant_nodes"] += c > 0 and nc == 0
            g["noncompliant_patches"] += nc
            g["compliant_patches"] += c
    rows = [g for g in groups.values() if g["noncompliant_patches"] or g["compliant_patches"]]
    return Expected({"account_id": ident, "region": ident, "compliance_level": ident,
                     **num_columns("noncompliant_nodes", "compliant_nodes", "noncompliant_patches",
                                   "compliant_patches")},
                    ["account_id", "region", "compliance_level"], rows,
                    order=[("account_id", False), ("region", False), ("compliance_level", False, SEVERITY_RANK.get)])


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


MANAGED_BY_SSM = {"COMPLIANT": "YES", "NON_COMPLIANT": "NO", "NOT_APPLICABLE": "NOT_APPLICABLE", None: "UNKNOWN"}
PATCH_REASONS = {"not_recorded": "NOT_RECORDED", "not_scanned": "NO_RESULT", None: None}


def _config_rows(t: Truth, with_type: bool) -> list[dict]:
    """Config's view of the newest snapshot: EC2 instances not terminated (running or stopped,
    managed or not) and every hybrid node it records (a hybrid node has no EC2 item: its name,
    state, type, platform and capture time are NULL). managed_by_ssm is the managed rule's result
    (NOT_APPLICABLE or no result for a stopped instance, both occur); a missing patch result says
    why: the recorder does not record rule results, or the node has none. unreadable_items is the
    account's and Region's count of ResourceCompliance items that cannot be read (0 on a fleet-sim
    fleet)."""
    rows = []
    for n in t.nodes:
        c = n["config"]
        if c is None:
            continue
        if n["node_type"] == "EC2" and c["state"] in ("terminated", "shutting-down"):
            continue
        row = {**node_key(n), "node_type": n["node_type"], "name": c["name"], "instance_state": c["state"],
               "platform": c["platform"],
               "managed_by_ssm": "YES" if n["node_type"] == "Hybrid" else MANAGED_BY_SSM[c["managed_rule"]],
               "patch_compliance": c["patch_compliance"], "patch_compliance_reason": PATCH_REASONS[c["patch_reason"]],
               "config_captured": c["captured"],
               "unreadable_items": t.unreadable_items(n["account_id"], n["region"])}
        if with_type:
            row["instance_type"] = c["instance_type"]
        rows.append(row)
    return rows


def expect_config_patch_compliance(t: Truth) -> Expected:
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("name", "instance_state", "platform", "managed_by_ssm", "patch_compliance",
                                    "patch_compliance_reason"),
                     "config_captured": ts, "unreadable_items": num}, NODE_KEY, _config_rows(t, with_type=False),
                    order=[("patch_compliance", True), ("account_id", False), ("region", False), ("node_id", False)])


def expect_ec2_not_managed(t: Truth) -> Expected:
    """Running instances the managed rule flags: never registered (no sync data) or registered with
    an agent that stopped reporting (their last instance information status)."""
    rows = [{"account_id": n["account_id"], "region": n["region"], "instance_id": n["node_id"],
             "name": n["config"]["name"], "instance_state": n["config"]["state"],
             "instance_type": n["config"]["instance_type"], "platform": n["config"]["platform"],
             "managed_rule_result": "NON_COMPLIANT",
             "reason": "AGENT_NOT_REPORTING" if n["managed"] else "NEVER_REGISTERED",
             "ssm_status": n["instance_status"], "config_captured": n["config"]["captured"],
             "unreadable_items": t.unreadable_items(n["account_id"], n["region"])}
            for n in t.nodes
            if n["node_type"] == "EC2" and n["config"] and n["config"]["managed_rule"] == "NON_COMPLIANT"
            and n["config"]["state"] not in ("terminated", "shutting-down")]
    return Expected({"account_id": ident, "region": ident, "instance_id": ident,
                     **text_columns("name", "instance_state", "instance_type", "platform", "managed_rule_result",
                                    "reason", "ssm_status"),
                     "config_captured": ts, "unreadable_items": num}, ["account_id", "region", "instance_id"], rows,
                    order=[("reason", False), ("account_id", False), ("region", False), ("instance_id", False)])


def expect_installed_applications(t: Truth) -> Expected:
    rows = [{**node_key(n), "computer_name": n["computer_name"], "platform_name": n["platform_name"],
             "platform_version": n["platform_version"], "application": name, "version": version}
            for n in t.live if n["inventory"] for name, version in n["applications"]]
    return Expected({**NODE_COLUMNS, **text_columns("computer_name", "platform_name", "platform_version",
                                                     "application", "version")},
                    NODE_KEY + ["application"], rows, multiset=True,
                    order=[("account_id", False), ("region", False), ("node_id", False), ("application", False)])


def expect_noncompliant_nodes(t: Truth) -> Expected:
    """Nodes with non-compliant patches or security updates the baseline does not approve; the
    vendor's security patches and the baseline's compliance levels counted apart."""
    rows = []
    for n in t.scanned:
        listed = [p for p in patches(t, n) if p["status"] == "NON_COMPLIANT" or p["state"] == "AvailableSecurityUpdate"]
        if not listed:
            continue
        bad = [p for p in listed if p["status"] == "NON_COMPLIANT"]
        rows.append({**node_key(n), "computer_name": n["computer_name"], "platform_name": n["platform_name"],
                     "platform_version": n["platform_version"], "instance_status": n["instance_status"],
                     "noncompliant_patches": len(bad),
                     "security_patches": sum(p["classification"] in SECURITY_CLASSIFICATIONS for p in listed),
                     "vendor_critical_patches": sum(p["vendor_severity"] == "Critical" for p in listed),
                     "critical_level_patches": sum(p["level"] == "CRITICAL" for p in bad),
                     "high_level_patches": sum(p["level"] == "HIGH" for p in bad),
                     "unapproved_security_updates": sum(p["state"] == "AvailableSecurityUpdate" for p in listed),
                     "patches": ", ".join(sorted(p["id"] for p in listed)),
                     "patch_states": ", ".join(sorted({p["state"] for p in listed})),
                     "last_scan": n["scan"]["time"]})
    return Expected({**NODE_COLUMNS,
                     **text_columns("computer_name", "platform_name", "platform_version", "instance_status",
                                    "patches", "patch_states"),
                     **num_columns("noncompliant_patches", "security_patches", "vendor_critical_patches",
                                   "critical_level_patches", "high_level_patches", "unapproved_security_updates"),
                     "last_scan": ts}, NODE_KEY, rows,
                    order=[("security_patches", True), ("critical_level_patches", True), ("noncompliant_patches", True),
                           ("account_id", False), ("region", False), ("node_id", False)])


def expect_patch_summary(t: Truth) -> Expected:
    # Counts by patch state as the patch summary has them (NotApplicable includes the Linux
    # patches not listed as items); the vendor's security count and the baseline's CRITICAL count.
    rows = [{**node_key(n), "computer_name": n["computer_name"], "platform_name": n["platform_name"],
             "platform_version": n["platform_version"], "instance_status": n["instance_status"],
             "patch_group": n["scan"]["patch_group"], "baseline_id": n["scan"]["baseline_id"],
             "last_operation": n["scan"]["operation"], "last_operation_end": n["scan"]["time"],
             **{k: n["scan"]["states"][s] for k, s in COUNT_KEYS.items()},
             "security_noncompliant": n["scan"]["security_noncompliant"],
             "critical_level_noncompliant": n["scan"]["critical_noncompliant"]}
            for n in t.scanned]
    return Expected({**NODE_COLUMNS,
                     **text_columns("computer_name", "platform_name", "platform_version", "instance_status",
                                    "patch_group", "baseline_id", "last_operation"),
                     "last_operation_end": ts,
                     **num_columns(*COUNT_KEYS, "security_noncompliant", "critical_level_noncompliant")},
                    NODE_KEY, rows,
                    order=[("security_noncompliant", True), ("missing", True), ("failed", True),
                           ("account_id", False), ("region", False), ("node_id", False)])


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
        states = scan.get("states") or {}
        nc = scan.get("noncompliant_by_level") or {}
        rows.append({
            **node_key(n), "node_type": n["node_type"], "computer_name": n["computer_name"],
            "ip_address": n["ip_address"], "platform_type": n["platform_type"],
            "platform_name": n["platform_name"], "platform_version": n["platform_version"],
            "agent_version": n["agent_version"], "instance_status": n["instance_status"],
            "last_seen": n["last_seen"], "patch_status": n["patch_status"],
            "noncompliant_level": scan.get("highest_noncompliant_level"), "patch_group": scan.get("patch_group"),
            "baseline_id": scan.get("baseline_id"), "last_operation": scan.get("operation"),
            "last_operation_end": scan.get("time"),
            **{f"{k}_count": states.get(s) for k, s in COUNT_KEYS.items()},
            "critical_level_noncompliant_count": scan.get("critical_noncompliant"),
            "security_noncompliant_count": scan.get("security_noncompliant"),
            "other_noncompliant_count": scan.get("other_noncompliant"),
            **{f"noncompliant_level_{s.lower()}": nc.get(s) for s in SEVERITIES}})
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("computer_name", "ip_address", "platform_type", "platform_name",
                                    "platform_version", "agent_version", "instance_status", "patch_status",
                                    "noncompliant_level", "patch_group", "baseline_id", "last_operation"),
                     **ts_columns("last_seen", "last_operation_end"),
                     **num_columns(*(f"{k}_count" for k in COUNT_KEYS), "critical_level_noncompliant_count",
                                   "security_noncompliant_count", "other_noncompliant_count",
                                   *(f"noncompliant_level_{s.lower()}" for s in SEVERITIES))},
                    NODE_KEY, rows)


def expect_patches(t: Truth) -> Expected:
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("computer_name", "platform_type", "platform_name", "platform_version",
                                    "instance_status", "patch_id", "title", "classification", "compliance_level",
                                    "vendor_severity", "patch_state", "status", "baseline_id", "patch_group"),
                     **ts_columns("installed_time", "scan_time")}, NODE_KEY + ["patch_id"],
                    Rows(lambda: _patch_rows(t)))


def _patch_rows(t: Truth) -> Iterable[dict]:
    for n in t.scanned:
        scan = n["scan"]
        for p in patches(t, n):
            yield ({**node_key(n), "node_type": n["node_type"], "computer_name": n["computer_name"],
                         "platform_type": n["platform_type"], "platform_name": n["platform_name"],
                         "platform_version": n["platform_version"], "instance_status": n["instance_status"],
                         "patch_id": p["id"], "title": p["title"], "classification": p["classification"],
                         "compliance_level": p["level"], "vendor_severity": p["vendor_severity"],
                         "patch_state": p["state"], "status": p["status"],
                         "installed_time": p["installed"], "scan_time": scan["time"],
                         "baseline_id": scan["baseline_id"], "patch_group": scan["patch_group"]})


def expect_node_tags(t: Truth) -> Expected:
    rows = []
    for n in t.live:
        scan = n["scan"]
        nc = scan["noncompliant_by_level"] if scan else None
        for key, value in n["tags"].items():
            rows.append({**node_key(n), "node_type": n["node_type"], "computer_name": n["computer_name"],
                         "platform_name": n["platform_name"], "instance_status": n["instance_status"],
                         "tag_key": key, "tag_value": value, "patch_status": n["patch_status"],
                         "noncompliant_level": scan["highest_noncompliant_level"] if scan else None,
                         "noncompliant_level_critical": nc["CRITICAL"] if nc else None,
                         "noncompliant_level_high": nc["HIGH"] if nc else None,
                         "noncompliant_count": sum(nc.values()) if nc else 0,
                         "security_noncompliant_count": scan["security_noncompliant"] if scan else None})
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("computer_name", "platform_name", "instance_status", "tag_key", "tag_value",
                                    "patch_status", "noncompliant_level"),
                     **num_columns("noncompliant_level_critical", "noncompliant_level_high", "noncompliant_count",
                                   "security_noncompliant_count")},
                    NODE_KEY + ["tag_key"], rows)


def expect_config_compliance(t: Truth) -> Expected:
    return Expected({**NODE_COLUMNS, "node_type": ident,
                     **text_columns("name", "instance_state", "instance_type", "platform", "managed_by_ssm",
                                    "patch_compliance", "patch_compliance_reason"),
                     "config_captured": ts, "unreadable_items": num}, NODE_KEY, _config_rows(t, with_type=True))


def history_range(t: Truth) -> list[str]:
    """The execution parameters of the history query: the newest snapshot day and the day before
    it (the fleet's snapshots span two or three days, so the oldest may fall outside)."""
    days = sorted({d for n in t.nodes for d in (n.get("config_by_day") or {})})
    newest = dt.date.fromisoformat(days[-1])
    return [(newest - dt.timedelta(days=1)).isoformat(), newest.isoformat()]


def expect_config_compliance_history(t: Truth) -> Expected:
    """Per day in the range, account and Region: the nodes of that day's newest snapshot, counted
    as the snapshot query counts them (EC2 instances not terminated, every hybrid node Config
    records), by the patch rule's result."""
    first, last = history_range(t)
    counts: dict[tuple, Counter] = {}
    for n in t.nodes:
        for day, c in (n.get("config_by_day") or {}).items():
            if not first <= day <= last:
                continue
            if n["node_type"] == "EC2" and c["state"] in ("terminated", "shutting-down"):
                continue
            key = (day, n["account_id"], n["region"])
            counts.setdefault(key, Counter())[c["patch_compliance"]] += 1
    rows = [{"day": day, "account_id": a, "region": r, "nodes": sum(c.values()),
             "compliant_nodes": c["COMPLIANT"], "noncompliant_nodes": c["NON_COMPLIANT"],
             "not_evaluated_nodes": sum(c.values()) - c["COMPLIANT"] - c["NON_COMPLIANT"],
             "unreadable_items": t.unreadable.get((a, r, day), 0)}
            for (day, a, r), c in counts.items()]
    return Expected({"day": ident, "account_id": ident, "region": ident,
                     **num_columns("nodes", "compliant_nodes", "noncompliant_nodes", "not_evaluated_nodes",
                                   "unreadable_items")},
                    ["day", "account_id", "region"], rows,
                    order=[("day", False), ("account_id", False), ("region", False)])


# Execution parameters of the queries that declare some (``-- parameters:``), from the fleet.
PARAMETERS: dict[str, Callable[[Truth], list]] = {
    "named/config_compliance_history": history_range,
}


# --------------------------------------------------------------------------------------------
# CloudTrail Lake queries (cfn/cloudtrail-lake/*.sql) over the configuration items of the
# fleet's ConfigHistory: what an event data store created when the history starts holds
# --------------------------------------------------------------------------------------------


def _lake_time(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def lake_range(t: Truth) -> tuple[dt.datetime, dt.datetime]:
    """The range the history queries are asked about: the last day the event data store holds, so
    nodes whose last change came before it are in the range's opening state."""
    end = ts(t.fleet["config_history"]["end"])
    return end - dt.timedelta(days=1), end


def lake_placeholders(t: Truth) -> dict[str, str]:
    start, end = lake_range(t)
    return {"StartTime": _lake_time(start), "EndTime": _lake_time(end),
            "AsOf": _lake_time(start + dt.timedelta(hours=7))}


# Placeholder values (``${StartTime}`` ...) of the queries that take some, from the fleet.
PLACEHOLDERS: dict[str, Callable[[Truth], dict[str, str]]] = {
    "cloudtrail/noncompliant_days": lake_placeholders,
    "cloudtrail/patch_compliance_as_of": lake_placeholders,
    "cloudtrail/patch_compliance_history": lake_placeholders,
}

HISTORY_FIELDS = ["time", "status", "installed", "noncompliant", "missing", "failed", "noncompliant_ids"]


def patch_history(n: dict) -> list[dict]:
    """A node's AWS::SSM::PatchCompliance configuration items, oldest first."""
    return [dict(zip(HISTORY_FIELDS, h, strict=True), time=ts(h[0])) for h in n.get("patch_history") or []]


def expect_lake_history(t: Truth) -> Expected:
    start, end = lake_range(t)
    rows = [{**node_key(n), "changed_at": h["time"], "item_status": "OK", "installed": h["installed"],
             "noncompliant": h["noncompliant"], "missing": h["missing"], "failed": h["failed"],
             "noncompliant_patches": ", ".join(h["noncompliant_ids"])}
            for n in t.nodes for h in patch_history(n) if start <= h["time"] < end]
    return Expected({**NODE_COLUMNS, "changed_at": ts, "item_status": ident,
                     **num_columns("installed", "noncompliant", "missing", "failed"), "noncompliant_patches": text},
                    NODE_KEY + ["changed_at"], rows,
                    order=[("account_id", False), ("region", False), ("node_id", False), ("changed_at", False)])


def expect_lake_as_of(t: Truth) -> Expected:
    as_of = ts(lake_placeholders(t)["AsOf"])
    rows = []
    for n in t.nodes:
        before = [h for h in patch_history(n) if h["time"] <= as_of]
        if before:
            h = before[-1]
            rows.append({**node_key(n), "recorded_at": h["time"], "patch_compliance": h["status"],
                         "noncompliant": h["noncompliant"], "noncompliant_patches": ", ".join(h["noncompliant_ids"])})
    return Expected({**NODE_COLUMNS, "recorded_at": ts, "patch_compliance": ident, "noncompliant": num,
                     "noncompliant_patches": text}, NODE_KEY, rows,
                    order=[("patch_compliance", True), ("account_id", False), ("region", False), ("node_id", False)])


def days(value: Any) -> Decimal | None:
    """Days to one decimal, rounded half away from zero as Trino's round() does."""
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def expect_lake_noncompliant_days(t: Truth) -> Expected:
    """Per node, the non-compliant time inside the range: each recorded state lasts until the
    next one (or the range's end), and a node non-compliant when the range opens counts from its
    start even when it did not change inside it."""
    start, end = lake_range(t)
    rows = []
    for n in t.nodes:
        history = [h for h in patch_history(n) if h["time"] < end]
        spans = []
        for i, h in enumerate(history):
            until = history[i + 1]["time"] if i + 1 < len(history) else end
            if h["status"] == "NON_COMPLIANT" and until > start:
                spans.append((h["time"], max(h["time"], start), until))
        if spans:
            seconds = sum(int((until - since).total_seconds()) for _, since, until in spans)
            rows.append({**node_key(n), "first_noncompliant": min(s[0] for s in spans),
                         "last_noncompliant": max(s[0] for s in spans),
                         "days_noncompliant": (Decimal(seconds) / Decimal(86400)).quantize(
                             Decimal("0.1"), rounding=ROUND_HALF_UP)})
    return Expected({**NODE_COLUMNS, **ts_columns("first_noncompliant", "last_noncompliant"),
                     "days_noncompliant": days}, NODE_KEY, rows,
                    order=[("days_noncompliant", True), ("account_id", False), ("region", False),
                           ("node_id", False)])


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
    "cloudtrail/patch_compliance_history": expect_lake_history,
    "cloudtrail/patch_compliance_as_of": expect_lake_as_of,
    "cloudtrail/noncompliant_days": expect_lake_noncompliant_days,
}


def run_inputs(t: Truth, query: Query) -> tuple[dict[str, str], list | None]:
    """What a query runs with on this fleet: the values of its ``${...}`` placeholders and its
    execution parameters (None when it declares none)."""
    import localathena as la  # emulator/localathena.py, on the path of every caller

    values = {"named": la.NAMED_QUERY_VALUES, "dataset": la.DATASET_VALUES,
              "cloudtrail": la.CLOUDTRAIL_VALUES}[query.kind]
    if query.id in PLACEHOLDERS:
        values = {**values, **PLACEHOLDERS[query.id](t)}
    return values, PARAMETERS[query.id](t) if query.id in PARAMETERS else None


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
    need(any(p["status"] == "" for p in live_patches), "a not-applicable Windows item (empty status)")
    for level in SEVERITIES:
        need(any(n["scan"]["noncompliant_by_level"][level] for n in t.scanned),
             f"a live node with a non-compliant patch at compliance level {level}")
        need(any(n["scan"]["compliant_by_level"][level] for n in t.scanned),
             f"a live node with a compliant patch at compliance level {level}")
    # The belief this fleet exists to refute: the level is the baseline's, not the vendor's.
    need(any(p["level"] == "UNSPECIFIED" and p["vendor_severity"] == "Critical" and p["status"] == "NON_COMPLIANT"
             for p in live_patches), "a vendor-Critical patch missing at level UNSPECIFIED (predefined baseline)")
    need(any(p["level"] == "CRITICAL" and p["vendor_severity"] == "Low" and p["status"] == "NON_COMPLIANT"
             for p in live_patches), "a vendor-Low patch missing at level CRITICAL (custom baseline)")
    need(any(n["scan"]["predefined_baseline"] and n["scan"]["security_noncompliant"] for n in t.scanned),
         "a node on a predefined baseline missing security patches")
    need(any(n["scan"]["execution_type"] == "PatchPolicy" for n in t.scanned), "a node scanned by a patch policy")
    need(any(n["scan"]["patch_group"] for n in t.scanned), "a node in a patch group")
    for status in INSTANCE_STATUSES:
        need(any(n["instance_status"] == status for n in managed), f"a managed node with InstanceStatus {status}")
    need(any(n["instance_status"] == "Terminated" and n["scan"] for n in managed),
         "a terminated node with patch data (its stale data must not count)")
    need(any(n["gone"] for n in t.nodes), "a hybrid node silent for 30 days (presumed deregistered)")
    need(any(n["deregistered"] and not n["gone"] and n["live"] for n in t.nodes),
         "a hybrid node deregistered less than 30 days ago (still counted)")
    for kind in ("EC2", "Hybrid"):
        need(any(n["node_type"] == kind for n in t.live), f"a live {kind} node")
    for platform in ("Windows", "Linux", "MacOS"):
        need(any(n["platform_type"] == platform for n in t.live), f"a live {platform} node")
    need(any(not n["platform_name"] for n in t.live), "a live node whose platform name is empty")
    need(any(n["patch_status"] == "NOT_SCANNED" for n in t.live), "a live node never scanned")
    for status in ("COMPLIANT", "NON_COMPLIANT"):
        need(any(n["patch_status"] == status for n in t.live), f"a live {status} node")
    need(any(n["scan"] and n["scan"]["operation"] == "Install" for n in t.live),
         "a node whose last operation is Install")
    need(any(n["associations"] for n in t.live), "a node with association compliance")
    need(any(n["custom_compliance"] for n in t.live), "a node with custom compliance")
    need(any(not n["managed"] for n in t.nodes), "an EC2 instance without Systems Manager (unmanaged)")
    need(any(n["stale"] for n in t.nodes), "a stale node (last seen more than 7 days ago)")
    need(any(n["tags"] for n in t.live), "a tagged live node")
    need(any(not n["tags"] for n in t.live), "an untagged live node")
    need(any(n["inventory"] and n["applications"] for n in t.live), "a live node with software inventory")
    need(any(not n["inventory"] for n in t.live), "a live node without software inventory")
    configs = [n["config"] for n in t.nodes if n["config"]]
    for state in ("running", "stopped"):
        need(any(c["state"] == state for c in configs), f"an EC2 instance {state} in Config")
    for result in ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", None):
        need(any(c["managed_rule"] == result for c in configs if c["state"] in ("running", "stopped")),
             f"an EC2 instance whose managed rule result is {result or 'absent'}")
    need(any(n["config"] and n["config"]["managed_rule"] == "NON_COMPLIANT" and n["managed"] for n in t.nodes),
         "a registered instance the managed rule flags (agent not reporting)")
    for result in ("COMPLIANT", "NON_COMPLIANT", "NOT_EVALUATED"):
        need(any(c["patch_compliance"] == result for c in configs), f"a Config patch compliance {result}")
    for reason in ("not_recorded", "not_scanned"):
        need(any(c["patch_reason"] == reason for c in configs), f"a Config patch result missing: {reason}")
    need(any(n["node_type"] == "Hybrid" and n["config"] and n["config"]["patch_compliance"] != "NOT_EVALUATED"
             for n in t.nodes), "a hybrid node evaluated by the Config patch rule")
    need(any(n["config"] and n["config"]["name"] for n in t.nodes), "an EC2 instance with a Name tag in Config")
    start, end = lake_range(t)
    need(any((h := [x for x in patch_history(n) if x["time"] < end]) and h[-1]["time"] < start
             and h[-1]["status"] == "NON_COMPLIANT" for n in t.nodes),
         "a node non-compliant before the CloudTrail Lake range that did not change inside it")
    need(any(sum(start <= x["time"] < end for x in patch_history(n)) >= 1
             and any(x["time"] < start for x in patch_history(n)) for n in t.nodes),
         "a node with configuration items before and inside the CloudTrail Lake range")
    return problems


def consistency_problems(t: Truth) -> list[str]:
    """Contradictions inside the ground truth itself (generator bugs), at most a few of each."""
    problems: list[str] = []
    now = t.now

    def bad(what: str, n: dict) -> None:
        if sum(p.startswith(what) for p in problems) < 3:
            problems.append(f"{what}: {n['account_id']}/{n['region']}/{n['node_id']}")

    gone_after = dt.timedelta(days=t.fleet["gone_after_days"])
    keys = Counter((n["account_id"], n["region"], n["node_id"]) for n in t.nodes)
    problems += [f"node listed twice: {k}" for k, c in keys.items() if c > 1][:3]
    for n in t.nodes:
        gone = (n["node_type"] == "Hybrid" and n["managed"] and n["instance_status"] != "Terminated"
                and now - ts(n["last_seen"]) > gone_after)
        if n["gone"] != gone:
            bad("gone is not 'hybrid, not Terminated, silent longer than gone_after_days'", n)
        if n["live"] != (n["managed"] and n["instance_status"] != "Terminated" and not gone):
            bad("live is not managed, not Terminated and not gone", n)
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
            if any(n["missing_by_level"].values()):
                bad("no scan but missing patches", n)
            continue
        rows = patches(t, n)
        states = Counter(p["state"] for p in rows)
        listed_na = states["NotApplicable"]
        if any(scan["states"][s] != states[s] for s in PATCH_STATES if s != "NotApplicable") \
                or scan["states"]["NotApplicable"] < listed_na:
            bad("scan state counts differ from its patches' states", n)
        if listed_na and n["platform_type"] != "Windows":
            bad("not-applicable patches listed as items on a node that is not Windows", n)
        noncompliant = noncompliant_patches(t, n)
        status = "NON_COMPLIANT" if noncompliant else "COMPLIANT"
        if n["patch_status"] != status or scan["status"] != status:
            bad("patch_status does not follow from the patches", n)
        by_level = Counter(p["level"] for p in noncompliant)
        if any(scan["noncompliant_by_level"][s] != by_level[s] for s in SEVERITIES):
            bad("noncompliant_by_level differs from the non-compliant patches", n)
        if n["missing_by_level"] != scan["noncompliant_by_level"]:
            bad("missing_by_level differs from scan.noncompliant_by_level", n)
        highest = next((s for s in SEVERITIES if by_level[s]), "UNSPECIFIED")
        if scan["highest_noncompliant_level"] != highest:
            bad("highest_noncompliant_level differs from the non-compliant patches", n)
        if scan["critical_noncompliant"] != scan["noncompliant_by_level"]["CRITICAL"]:
            bad("critical_noncompliant differs from the CRITICAL non-compliant count", n)
        security = [p for p in noncompliant if p["classification"] in SECURITY_CLASSIFICATIONS]
        other = [p for p in noncompliant if p["classification"] not in SECURITY_CLASSIFICATIONS
                 and p["level"] != "CRITICAL"]
        if scan["security_noncompliant"] != len(security) or scan["other_noncompliant"] != len(other):
            bad("security or other non-compliant count differs from the non-compliant patches", n)
        compliant_by_level = Counter(p["level"] for p in rows if p["status"] == "COMPLIANT")
        if any(scan["compliant_by_level"][s] != compliant_by_level[s] for s in SEVERITIES):
            bad("compliant_by_level differs from the compliant patches", n)
        if scan["predefined_baseline"] and any(p["level"] != "UNSPECIFIED" for p in rows):
            bad("a predefined baseline reports a level other than UNSPECIFIED", n)
        for p in rows:
            if p["level"] not in SEVERITIES:
                bad("a patch level that is not a compliance level", n)
            if p["state"] in ("InstalledOther", "NotApplicable") and (p["classification"] or p["vendor_severity"]):
                bad("InstalledOther/NotApplicable patch with a classification or vendor severity", n)
            if (p["status"] == "") != (p["state"] == "NotApplicable"):
                bad("empty status exactly for not-applicable items", n)
            if bool(p["installed"]) != (p["state"] in ("Installed", "InstalledOther", "InstalledPendingReboot",
                                                       "InstalledRejected")):
                bad("installed time present exactly when the patch is on the node", n)
    return problems
