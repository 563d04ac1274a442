#!/usr/bin/env python3
"""The patch compliance report that ends `make demo`: what an auditor asks for, computed by the SQL
this repository ships, run on a fleet-sim folder by the local Athena stand-in (localathena.py).

    python demo/report.py --fleet DIR --out OUTDIR [--stale-days 7]

Inputs: the Athena named queries (cfn/queries/*.sql) and the QuickSight dataset queries
(crates/quicksight-builder/sql/*.sql), unchanged. The report only counts and sorts their rows; it
adds no business SQL of its own. Which query feeds which number:

    nodes (dataset)               live managed nodes, compliance status, security and CRITICAL-level
                                  counts, stale nodes, nodes.csv
    patches (dataset)             missing-patches.csv, the most-missing patches
    node-tags (dataset)           compliance by tag
    config-compliance (dataset)   AWS Config's view (stopped and unmanaged instances included)
    compliance_summary (named)    nodes missing CRITICAL-level patches per account and Region
    ec2_not_managed (named)       unmanaged EC2 instances
    compliant_nodes, noncompliant_nodes (named)
                                  reconciliation: every count above is checked against a second query

Outputs, in OUTDIR:
    report.html          one self-contained file: no script, no network, inline SVG charts; every
                         chart is <svg data-chart="..."> whose bars carry data-group, data-series
                         and data-value; a Content-Security-Policy forbids scripts and remote loads
    summary.json         every number the report shows (per account and Region, totals, top patches)
    nodes.csv            one row per live managed node (like Patch Manager's "export to S3" report)
    missing-patches.csv  one row per node and non-compliant patch

A node is "live" when Systems Manager still knows it (not terminated, and not a hybrid node silent
for 30 days), "stale" when it is live and was last seen more than --stale-days before the fleet's
present (fleet.json "now"). A patch is "missing" when it makes its node non-compliant: Missing,
Failed, InstalledPendingReboot or InstalledRejected, and on Windows AvailableSecurityUpdate when the
baseline counts unapproved security updates as non-compliant.

Two meanings of "critical" are kept apart. Security is the vendor's: the patch summary's
SecurityNonCompliantCount, patches the vendor classifies as security; it is the headline, because
it means the same on every baseline. Critical level is the compliance level the node's patch
baseline assigns (NonCompliantCriticalCount): AWS's predefined baselines assign UNSPECIFIED to
every patch ("About predefined and custom patch baselines", SSM User Guide), so on them it is 0
whatever is missing, and the report says how many non-compliant nodes report only UNSPECIFIED.

Exit status: 0 on success, 2 when DIR is not a fleet-sim output folder (with the reason).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import html
import json
import math
import pathlib
import sys
from collections import Counter, defaultdict
from typing import Iterable

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
NAMED_QUERIES = ROOT / "cfn" / "queries"
DATASET_QUERIES = ROOT / "crates" / "quicksight-builder" / "sql"

sys.path.insert(0, str(ROOT / "emulator"))
import localathena  # noqa: E402

SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED"]
STATUSES = ["COMPLIANT", "NON_COMPLIANT", "NOT_SCANNED", "UNKNOWN"]
TOP_PATCHES = 15
TABLE_ROWS = 500  # longest HTML table; the CSV files hold every row

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
COLOURS = {
    "compliant": "#009E73", "non_compliant": "#D55E00", "not_scanned": "#9AA5B1", "unknown": "#CC79A7",
    "critical_level": "#D55E00", "security": "#0072B2", "unmanaged": "#E69F00", "stale": "#CC79A7",
    "CRITICAL": "#D55E00", "HIGH": "#E69F00", "MEDIUM": "#56B4E9", "LOW": "#0072B2",
    "INFORMATIONAL": "#CC79A7", "UNSPECIFIED": "#9AA5B1",
}
STATUS_SERIES = {"COMPLIANT": "compliant", "NON_COMPLIANT": "non_compliant", "NOT_SCANNED": "not_scanned",
                 "UNKNOWN": "unknown"}
LABELS = {"compliant": "Compliant", "non_compliant": "Non-compliant", "not_scanned": "Not scanned",
          "unknown": "Status unknown", "critical_level": "Missing CRITICAL-level patches",
          "security": "Missing security patches", "unmanaged": "Unmanaged EC2 instances", "stale": "Stale nodes"}

# summary.json and the terminal table: (key, terminal header).
COUNTS = [
    ("live_nodes", "Live"), ("compliant", "Compliant"), ("non_compliant", "Non-compl."),
    ("not_scanned", "Not scanned"), ("unknown", "Unknown"), ("missing_security", "Security"),
    ("missing_critical_level", "Critical lvl"), ("unmanaged_ec2", "Unmanaged EC2"), ("stale", "Stale"),
]


# AWS Config's view per account and Region, in table order.
CONFIG_COLUMNS = ["evaluated", "stopped", "managed_yes", "managed_no", "managed_not_applicable", "managed_unknown",
                  "patch_compliant", "patch_non_compliant", "patch_no_result", "patch_not_recorded"]


class NotAFleet(Exception):
    """The folder is not what fleet-sim writes."""


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def read_fleet(fleet_dir: pathlib.Path) -> dict:
    """fleet.json, after checking that the folder is a fleet-sim output."""
    if not fleet_dir.is_dir():
        raise NotAFleet(f"{fleet_dir} is not a folder")
    meta_path = fleet_dir / "fleet.json"
    if not meta_path.is_file():
        raise NotAFleet(f"{fleet_dir} has no fleet.json")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotAFleet(f"{meta_path} is not JSON: {error}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("now"), str):
        raise NotAFleet(f"{meta_path} has no \"now\" (the fleet's present)")
    try:
        parse_time(meta["now"])
    except ValueError:
        raise NotAFleet(f"{meta_path}: \"now\" is not an ISO-8601 time: {meta['now']!r}") from None
    if not (fleet_dir / "sync").is_dir():
        raise NotAFleet(f"{fleet_dir} has no sync/ folder (resource data sync objects)")
    return meta


def parse_time(text: str) -> dt.datetime:
    """An ISO-8601 time as naive UTC (the datasets' DATETIME columns are naive UTC)."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def as_time(value) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        return parse_time(str(value))
    except ValueError:
        return None


def iso(value) -> str:
    value = as_time(value)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def short(value) -> str:
    """A time for the HTML tables: minutes, UTC."""
    value = as_time(value)
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


class Queries:
    """Runs the shipped queries by file name on one localathena connection."""

    def __init__(self, fleet_dir: pathlib.Path):
        self.con = localathena.connect(fleet_dir)
        self.used: list[str] = []

    def named(self, name: str) -> list[dict]:
        path = NAMED_QUERIES / f"{name}.sql"
        self.used.append(path.relative_to(ROOT).as_posix())
        return localathena.run(self.con, localathena.read_sql(path), localathena.NAMED_QUERY_VALUES)

    def dataset(self, name: str) -> list[dict]:
        path = DATASET_QUERIES / f"{name}.sql"
        self.used.append(path.relative_to(ROOT).as_posix())
        return localathena.run(self.con, localathena.read_sql(path), localathena.DATASET_VALUES)


# --------------------------------------------------------------------------------------------
# The numbers
# --------------------------------------------------------------------------------------------


def severity_rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def positive(value) -> bool:
    return (value or 0) > 0


def build(fleet_dir: pathlib.Path, stale_days: float, generated: dt.datetime | None = None) -> dict:
    """Every number and list the report shows, as one JSON-ready dict."""
    meta = read_fleet(fleet_dir)
    now = parse_time(meta["now"])
    generated = generated or dt.datetime.now(dt.timezone.utc)
    q = Queries(fleet_dir)
    nodes = q.dataset("nodes")
    patches = q.dataset("patches")
    tags = q.dataset("node_tags")
    config = q.dataset("config_compliance")
    severity = q.named("compliance_summary")
    unmanaged = q.named("ec2_not_managed")
    compliant_named = q.named("compliant_nodes")
    noncompliant_named = q.named("noncompliant_nodes")
    patch_summary = q.named("patch_summary")

    cutoff = now - dt.timedelta(days=stale_days)
    accounts = [str(a) for a in meta.get("accounts") or []]
    regions = [str(r) for r in meta.get("regions") or []]
    groups = {(a, r) for a in accounts for r in regions}
    groups |= {(n["account_id"], n["region"]) for n in nodes}
    groups |= {(u["account_id"], u["region"]) for u in unmanaged}
    groups |= {(c["account_id"], c["region"]) for c in config}
    groups |= {(s["account_id"], s["region"]) for s in severity}
    order = sorted(groups, key=lambda g: (accounts.index(g[0]) if g[0] in accounts else len(accounts), g[0],
                                          regions.index(g[1]) if g[1] in regions else len(regions), g[1]))
    rows = {g: {key: 0 for key, _ in COUNTS} for g in order}

    stale_nodes, flagged = [], []
    unspecified_only = 0  # non-compliant nodes whose missing patches are all at level UNSPECIFIED
    for n in nodes:
        row = rows[(n["account_id"], n["region"])]
        row["live_nodes"] += 1
        status = n["patch_status"] if n["patch_status"] in STATUSES else "UNKNOWN"
        row[STATUS_SERIES[status]] += 1
        if positive(n["security_noncompliant_count"]):
            row["missing_security"] += 1
        if positive(n["noncompliant_level_critical"]) or positive(n["security_noncompliant_count"]):
            flagged.append(n)
        if n["patch_status"] == "NON_COMPLIANT" and n["noncompliant_level"] == "UNSPECIFIED":
            unspecified_only += 1
        seen = as_time(n["last_seen"])
        if seen is None or seen < cutoff:
            stale_nodes.append(n)
            row["stale"] += 1
    for s in severity:
        if s["compliance_level"] == "CRITICAL":
            rows[(s["account_id"], s["region"])]["missing_critical_level"] += s["noncompliant_nodes"]
    for u in unmanaged:
        rows[(u["account_id"], u["region"])]["unmanaged_ec2"] += 1
    totals = {key: sum(r[key] for r in rows.values()) for key, _ in COUNTS}

    # Most-missing patches: distinct nodes per patch among the non-compliant items.
    missing = [p for p in patches if p["status"] == "NON_COMPLIANT"]
    by_patch: dict[str, dict] = {}
    for p in missing:
        entry = by_patch.setdefault(p["patch_id"], {
            "patch_id": p["patch_id"], "nodes": set(), "levels": Counter(), "classifications": Counter(),
            "vendor_severities": Counter(), "titles": Counter(), "states": Counter(), "groups": set()})
        entry["nodes"].add((p["account_id"], p["region"], p["node_id"]))
        entry["levels"][p["compliance_level"]] += 1
        entry["vendor_severities"][p["vendor_severity"]] += 1
        entry["classifications"][p["classification"]] += 1
        entry["titles"][p["title"]] += 1
        entry["states"][p["patch_state"]] += 1
        entry["groups"].add((p["account_id"], p["region"]))
    ranked = sorted(by_patch.values(), key=lambda e: (-len(e["nodes"]), e["patch_id"]))
    top = [{
        "patch_id": e["patch_id"],
        "nodes": len(e["nodes"]),
        # A patch's compliance level comes from the baseline rule that approved it, so it differs
        # between nodes on different baselines: show the most severe.
        "compliance_level": min(e["levels"], key=severity_rank) or "UNSPECIFIED",
        "vendor_severity": e["vendor_severities"].most_common(1)[0][0],
        "classification": e["classifications"].most_common(1)[0][0],
        "title": e["titles"].most_common(1)[0][0],
        "states": dict(sorted(e["states"].items())),
        "accounts_regions": len(e["groups"]),
    } for e in ranked[:TOP_PATCHES]]

    # AWS Config's view, per account and Region.
    config_rows = {g: Counter() for g in order}
    for c in config:
        counter = config_rows.setdefault((c["account_id"], c["region"]), Counter())
        counter["evaluated"] += 1
        if c["instance_state"] == "stopped":
            counter["stopped"] += 1
        counter[f"managed_{(c['managed_by_ssm'] or 'UNKNOWN').lower()}"] += 1
        if c["patch_compliance_reason"] == "NOT_RECORDED":
            counter["patch_not_recorded"] += 1
        # The patch rule's result; INSUFFICIENT_DATA or none at all both mean no verdict.
        result = c["patch_compliance"] if c["patch_compliance"] in ("COMPLIANT", "NON_COMPLIANT") else "NO_RESULT"
        counter[f"patch_{result.lower()}"] += 1
    config_keys = CONFIG_COLUMNS

    by_tag = tag_breakdown(tags)
    checks = reconcile(nodes, severity, unmanaged, config, compliant_named, noncompliant_named, missing,
                       patch_summary)

    def group_list(items: Iterable[dict], key: str = "node_id") -> list[str]:
        return sorted(i[key] for i in items)

    summary = {
        "title": "Patch compliance report",
        "fleet": {"dir": str(fleet_dir), "now": iso(now), "seed": meta.get("seed"), "accounts": accounts,
                  "regions": regions},
        "generated_at": generated.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "stale_days": stale_days,
        "by_account_region": [{"account_id": a, "region": r, **rows[(a, r)]} for a, r in order],
        "totals": totals,
        "compliance_rate": round(100 * totals["compliant"] / totals["live_nodes"], 1) if totals["live_nodes"] else None,
        "noncompliant_unspecified_only": unspecified_only,
        "top_missing_patches": top,
        "missing_patch_rows": len(missing),
        "distinct_missing_patches": len(by_patch),
        "config": {
            "by_account_region": [{"account_id": a, "region": r, **{k: config_rows[(a, r)][k] for k in config_keys}}
                                  for a, r in sorted(config_rows, key=lambda g: order.index(g) if g in order else 0)],
            "totals": {k: sum(c[k] for c in config_rows.values()) for k in config_keys},
        },
        "by_tag": by_tag,
        "node_lists": {
            "missing_critical_level": group_list(n for n in nodes if positive(n["noncompliant_level_critical"])),
            "missing_security": group_list(n for n in nodes if positive(n["security_noncompliant_count"])),
            "stale": group_list(stale_nodes),
            "unmanaged_ec2": group_list(unmanaged, "instance_id"),
            "not_scanned": group_list(n for n in nodes if n["patch_status"] == "NOT_SCANNED"),
        },
        "checks": checks,
        "sources": sorted(set(q.used)),
    }
    # Kept out of summary.json (row-level data lives in the CSV files) but needed for the HTML and CSVs.
    summary["_rows"] = {"nodes": nodes, "missing": missing, "unmanaged": unmanaged, "stale": stale_nodes,
                        "flagged": flagged}
    return summary


def tag_breakdown(tags: list[dict], max_values: int = 12, max_keys: int = 3) -> list[dict]:
    """Compliance per value of the most used tag keys that have few values (Environment, Owner...).
    Name tags are left out: one value per node says nothing about a group."""
    per_key: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for t in tags:
        if t["tag_key"] and t["tag_key"] != "Name":
            per_key[t["tag_key"]][t["tag_value"] or ""].append(t)
    keys = sorted((k for k, v in per_key.items() if len(v) <= max_values),
                  key=lambda k: (-sum(len(v) for v in per_key[k].values()), k))[:max_keys]
    out = []
    for key in keys:
        values = []
        for value, rows in sorted(per_key[key].items(), key=lambda kv: (-len(kv[1]), kv[0])):
            status = Counter(r["patch_status"] if r["patch_status"] in STATUSES else "UNKNOWN" for r in rows)
            values.append({"value": value, "nodes": len(rows), "compliant": status["COMPLIANT"],
                           "non_compliant": status["NON_COMPLIANT"], "not_scanned": status["NOT_SCANNED"],
                           "unknown": status["UNKNOWN"],
                           "missing_security": sum(positive(r["security_noncompliant_count"]) for r in rows),
                           "missing_critical_level": sum(positive(r["noncompliant_level_critical"]) for r in rows)})
        out.append({"tag_key": key, "values": values})
    return out


def reconcile(nodes, severity, unmanaged, config, compliant_named, noncompliant_named, missing,
              security_named) -> list[dict]:
    """Each headline count computed a second way, from another shipped query."""
    def per_group(items, key=None) -> Counter:
        return Counter((i["account_id"], i["region"]) for i in items if key is None or key(i))

    def check(name: str, a: Counter, b: Counter, how: str) -> dict:
        diff = {f"{g[0]}/{g[1]}": [a[g], b[g]] for g in sorted(set(a) | set(b)) if a[g] != b[g]}
        return {"check": name, "ok": not diff, "how": how, "differences": diff}

    critical = Counter()
    for s in severity:
        if s["compliance_level"] == "CRITICAL":
            critical[(s["account_id"], s["region"])] += s["noncompliant_nodes"]
    return [
        check("compliant nodes", per_group(nodes, lambda n: n["patch_status"] == "COMPLIANT"),
              per_group(compliant_named), "nodes dataset vs named query compliant_nodes"),
        check("non-compliant nodes", per_group(nodes, lambda n: n["patch_status"] == "NON_COMPLIANT"),
              # noncompliant_nodes also lists compliant Windows nodes with unapproved security updates.
              per_group(noncompliant_named, lambda n: positive(n["noncompliant_patches"])),
              "nodes dataset (compliance summary) vs named query noncompliant_nodes (compliance items)"),
        check("nodes with missing patches",
              per_group(nodes, lambda n: n["patch_status"] == "NON_COMPLIANT"),
              Counter({g: len(v) for g, v in _nodes_per_group(missing).items()}),
              "nodes dataset vs distinct nodes of the patches dataset's non-compliant rows"),
        check("nodes missing CRITICAL-level patches",
              per_group(nodes, lambda n: positive(n["noncompliant_level_critical"])),
              critical, "nodes dataset vs named query compliance_summary (compliance level CRITICAL)"),
        check("nodes missing security patches",
              per_group(nodes, lambda n: positive(n["security_noncompliant_count"])),
              per_group(security_named, lambda s: positive(s["security_noncompliant"])),
              "nodes dataset vs named query patch_summary (SecurityNonCompliantCount)"),
        check("unmanaged EC2 instances", per_group(unmanaged),
              per_group(config, lambda c: c["node_type"] == "EC2" and c["managed_by_ssm"] == "NO"),
              "named query ec2_not_managed vs config-compliance dataset (managed_by_ssm NO)"),
    ]


def _nodes_per_group(items: list[dict]) -> dict:
    out: dict = defaultdict(set)
    for i in items:
        out[(i["account_id"], i["region"])].add(i["node_id"])
    return out


# --------------------------------------------------------------------------------------------
# Terminal
# --------------------------------------------------------------------------------------------


def terminal_table(summary: dict) -> str:
    columns = [(k, h) for k, h in COUNTS if k != "unknown" or summary["totals"]["unknown"]]
    header = ["Account", "Region"] + [h for _, h in columns]
    body = [[r["account_id"], r["region"]] + [str(r[k]) for k, _ in columns] for r in summary["by_account_region"]]
    total = ["Total", ""] + [str(summary["totals"][k]) for k, _ in columns]
    widths = [max(len(row[i]) for row in [header, *body, total]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    fleet = summary["fleet"]
    rate = summary["compliance_rate"]
    lines = [
        f"Patch compliance: {len(fleet['accounts'])} accounts x {len(fleet['regions'])} Regions, "
        f"fleet time {fleet['now']}, generated {summary['generated_at']}",
        "",
        line(header), rule, *(line(b) for b in body), rule, line(total), "",
        f"Compliance rate {rate if rate is not None else '-'}% of live managed nodes. Security = nodes missing "
        f"patches the vendor classifies as security; Critical lvl = nodes missing patches their baseline ranks "
        f"CRITICAL; Stale = live, last seen more than {fmt_days(summary['stale_days'])} days before {fleet['now']}.",
        *([f"{summary['noncompliant_unspecified_only']} non-compliant nodes report every missing patch at "
           "compliance level UNSPECIFIED (AWS's predefined baselines assign no level): count them by Security."]
          if summary["noncompliant_unspecified_only"] else []),
    ]
    failed = [c for c in summary["checks"] if not c["ok"]]
    for c in failed:
        lines.append(f"WARNING: sources disagree on {c['check']} ({c['how']}): {c['differences']}")
    return "\n".join(lines)


def fmt_days(days: float) -> str:
    return str(int(days)) if float(days).is_integer() else str(days)


# --------------------------------------------------------------------------------------------
# CSV exports
# --------------------------------------------------------------------------------------------

# Column headers follow Patch Manager's console export ("Export to S3"), with the account and
# Region the organization-wide view adds.
NODE_COLUMNS = [
    ("Account ID", "account_id"), ("Region", "region"), ("Managed node ID", "node_id"),
    ("Managed node name", "computer_name"), ("Node type", "node_type"), ("IP address", "ip_address"),
    ("Platform type", "platform_type"), ("Platform name", "platform_name"),
    ("Platform version", "platform_version"), ("SSM Agent version", "agent_version"),
    ("Instance status", "instance_status"), ("Last seen", "last_seen"), ("Patch group", "patch_group"),
    ("Patch baseline ID", "baseline_id"), ("Compliance status", "patch_status"),
    ("Highest non-compliant level", "noncompliant_level"), ("Last operation", "last_operation"),
    ("Last operation end", "last_operation_end"), ("Installed count", "installed_count"),
    ("Installed other count", "installed_other_count"),
    ("Installed pending reboot count", "installed_pending_reboot_count"),
    ("Installed rejected count", "installed_rejected_count"), ("Missing count", "missing_count"),
    ("Failed count", "failed_count"), ("Not applicable count", "not_applicable_count"),
    ("Critical noncompliant count", "critical_level_noncompliant_count"),
    ("Security noncompliant count", "security_noncompliant_count"),
    ("Other noncompliant count", "other_noncompliant_count"),
    ("Noncompliant critical level count", "noncompliant_level_critical"),
    ("Noncompliant high level count", "noncompliant_level_high"),
    ("Noncompliant medium level count", "noncompliant_level_medium"),
    ("Noncompliant low level count", "noncompliant_level_low"),
    ("Noncompliant informational level count", "noncompliant_level_informational"),
    ("Noncompliant unspecified level count", "noncompliant_level_unspecified"),
]
PATCH_COLUMNS = [
    ("Account ID", "account_id"), ("Region", "region"), ("Managed node ID", "node_id"),
    ("Managed node name", "computer_name"), ("Node type", "node_type"), ("Platform name", "platform_name"),
    ("Platform version", "platform_version"), ("Instance status", "instance_status"), ("Patch ID", "patch_id"),
    ("Title", "title"), ("Classification", "classification"), ("Compliance level", "compliance_level"),
    ("Vendor severity", "vendor_severity"), ("State", "patch_state"), ("Compliance status", "status"),
    ("Installed time", "installed_time"), ("Scan time", "scan_time"), ("Patch baseline ID", "baseline_id"),
    ("Patch group", "patch_group"),
]


def csv_cell(value) -> str | int:
    """A CSV value; text that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a
    leading apostrophe, so a tag value cannot become a formula in the auditor's spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(path: pathlib.Path, columns: list[tuple[str, str]], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow([h for h, _ in columns])
        for r in rows:
            out.writerow([csv_cell(r.get(k)) for _, k in columns])


# --------------------------------------------------------------------------------------------
# SVG charts
# --------------------------------------------------------------------------------------------


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def nice_axis(maximum: float, ticks: int = 5) -> tuple[float, float]:
    """(axis end, tick step) for counts: whole-number steps of 1, 2, 2.5 or 5 times a power of ten."""
    if maximum <= 0:
        return 1, 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    step = max(1, step if step >= 1 else 1)
    if step != int(step) and step < 10:
        step = math.ceil(step)
    return math.ceil(maximum / step) * step, step


def text_width(text: str, size: float = 12) -> float:
    return len(text) * size * 0.56


def fmt(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else f"{n:g}"


def bar_chart(name: str, title: str, categories: list[tuple[str, str]], series: list[str],
              values: dict[tuple[str, str], int], *, stacked: bool, colours: dict[str, str] | None = None,
              legend: list[str] | None = None, width: int = 960, label_title: dict | None = None) -> str:
    """A horizontal bar chart as inline SVG. categories: (key, label); series: keys; values[(category,
    series)]. Stacked: one bar per category, one segment per series; otherwise one bar per series.
    `colours` maps a series (or, with one series, a category) to its colour. Every bar or segment is a
    <rect class="bar" data-group data-series data-value>, zero values included (width 0)."""
    colours = colours or {}
    legend = series if legend is None else legend
    label_w = max([text_width(label) for _, label in categories] + [60]) + 16
    value_w = 56
    left, right = label_w, width - value_w
    plot_w = right - left
    legend_h = 30 if legend else 6
    band = 26 if stacked or len(series) == 1 else 12 + 16 * len(series)
    bar_h = 16 if stacked or len(series) == 1 else 13
    top = legend_h + 4
    height = top + band * max(1, len(categories)) + 30
    if stacked:
        maximum = max([sum(values.get((c, s), 0) for s in series) for c, _ in categories] + [0])
    else:
        maximum = max([values.get((c, s), 0) for c, _ in categories for s in series] + [0])
    end, step = nice_axis(maximum)
    scale = plot_w / end
    out = [f'<svg class="chart" data-chart="{esc(name)}" role="img" aria-label="{esc(title)}" '
           f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>']
    # Legend
    x = left
    for key in legend:
        label = LABELS.get(key, key.title() if key.isupper() else key)
        out.append(f'<g class="legend-item"><rect x="{x:.1f}" y="8" width="12" height="12" rx="2" '
                   f'fill="{colours.get(key, COLOURS.get(key, "#555"))}"/>'
                   f'<text x="{x + 17:.1f}" y="18" class="legend">{esc(label)}</text></g>')
        x += 17 + text_width(label) + 22
    # Grid and axis
    axis_y = top + band * max(1, len(categories))
    tick = 0.0
    while tick <= end + 1e-9:
        gx = left + tick * scale
        out.append(f'<line x1="{gx:.1f}" y1="{top - 2}" x2="{gx:.1f}" y2="{axis_y}" class="grid"/>'
                   f'<text x="{gx:.1f}" y="{axis_y + 16}" class="tick" text-anchor="middle">{fmt(tick)}</text>')
        tick += step
    out.append(f'<line x1="{left}" y1="{top - 2}" x2="{left}" y2="{axis_y}" class="axis"/>')
    for i, (cat, label) in enumerate(categories):
        y0 = top + i * band
        tip = (label_title or {}).get(cat, label)
        out.append(f'<text x="{left - 8:.1f}" y="{y0 + band / 2 + 4:.1f}" class="cat" text-anchor="end">'
                   f'<title>{esc(tip)}</title>{esc(label)}</text>')
        if stacked:
            x = left
            y = y0 + (band - bar_h) / 2
            total = 0
            for s in series:
                v = values.get((cat, s), 0)
                w = v * scale
                out.append(f'<rect class="bar" data-group="{esc(cat)}" data-series="{esc(s)}" data-value="{v}" '
                           f'x="{x:.2f}" y="{y:.1f}" width="{w:.2f}" height="{bar_h}" '
                           f'fill="{colours.get(s, COLOURS.get(s, "#555"))}"><title>{esc(label)} - '
                           f'{esc(LABELS.get(s, s))}: {v}</title></rect>')
                x += w
                total += v
            out.append(f'<text x="{x + 6:.1f}" y="{y + bar_h - 3:.1f}" class="val">{total}</text>')
        else:
            for j, s in enumerate(series):
                v = values.get((cat, s), 0)
                y = y0 + 6 + j * 16 if len(series) > 1 else y0 + (band - bar_h) / 2
                colour = colours.get(s) or colours.get(cat) or COLOURS.get(s, "#555")
                out.append(f'<rect class="bar" data-group="{esc(cat)}" data-series="{esc(s)}" data-value="{v}" '
                           f'x="{left}" y="{y:.1f}" width="{v * scale:.2f}" height="{bar_h}" fill="{colour}">'
                           f'<title>{esc(label)} - {esc(LABELS.get(s, s))}: {v}</title></rect>'
                           f'<text x="{left + v * scale + 6:.1f}" y="{y + bar_h - 3:.1f}" class="val">{v}</text>')
    out.append("</svg>")
    return "".join(out)


def donut(name: str, parts: list[tuple[str, int]], centre: str, caption: str) -> str:
    """A ring of segments (series, value) with `centre` text; each segment a <circle class="bar">."""
    total = sum(v for _, v in parts)
    r, c = 54, 2 * math.pi * 54
    out = [f'<svg class="donut" data-chart="{esc(name)}" role="img" aria-label="{esc(caption)}" viewBox="0 0 140 140" '
           f'width="140" height="140" xmlns="http://www.w3.org/2000/svg"><title>{esc(caption)}</title>'
           f'<circle cx="70" cy="70" r="{r}" fill="none" stroke="#E4E7EB" stroke-width="18"/>']
    offset = 0.0
    for series, v in parts:
        length = c * v / total if total else 0
        out.append(f'<circle class="bar" data-group="all" data-series="{esc(series)}" data-value="{v}" cx="70" cy="70" '
                   f'r="{r}" fill="none" stroke="{COLOURS[series]}" stroke-width="18" '
                   f'stroke-dasharray="{length:.2f} {c - length:.2f}" stroke-dashoffset="{-offset:.2f}" '
                   f'transform="rotate(-90 70 70)"><title>{esc(LABELS[series])}: {v}</title></circle>')
        offset += length
    out.append(f'<text x="70" y="68" text-anchor="middle" class="donut-big">{esc(centre)}</text>'
               f'<text x="70" y="88" text-anchor="middle" class="donut-small">compliant</text></svg>')
    return "".join(out)


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

CSS = """
:root { --ink:#1F2933; --muted:#52606D; --line:#E4E7EB; --soft:#F5F7FA; --accent:#0072B2; }
* { box-sizing: border-box; }
body { margin:0; background:#fff; color:var(--ink);
  font:14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif; }
main { max-width:1200px; margin:0 auto; padding:32px 36px 48px; }
header.top { border-bottom:3px solid var(--ink); padding-bottom:14px; margin-bottom:24px; }
h1 { font-size:26px; margin:0 0 4px; letter-spacing:-0.01em; }
h2 { font-size:18px; margin:36px 0 6px; padding-top:8px; border-top:1px solid var(--line); }
h3 { font-size:15px; margin:18px 0 6px; }
p.lead, .meta { color:var(--muted); margin:0; }
.meta span { margin-right:18px; white-space:nowrap; }
.meta b { color:var(--ink); font-weight:600; }
.note { color:var(--muted); font-size:13px; margin:2px 0 10px; }
.overview { display:flex; gap:24px; align-items:center; }
.kpis { display:grid; grid-template-columns:repeat(4, 1fr); gap:12px; flex:1; }
.kpi { background:var(--soft); border:1px solid var(--line); border-left:4px solid var(--c, var(--accent));
  border-radius:6px; padding:10px 12px; }
.kpi .v { font-size:26px; font-weight:700; font-variant-numeric:tabular-nums; line-height:1.2; }
.kpi .l { color:var(--muted); font-size:12.5px; }
svg.chart { display:block; margin:8px 0 4px; max-width:100%; height:auto; }
svg text { font-family:inherit; fill:var(--ink); }
svg .legend { font-size:12.5px; } svg .cat { font-size:12px; } svg .tick { font-size:11px; fill:var(--muted); }
svg .val { font-size:11.5px; fill:var(--muted); font-variant-numeric:tabular-nums; }
svg .grid { stroke:#EEF1F4; stroke-width:1; } svg .axis { stroke:#9AA5B1; stroke-width:1; }
svg .donut-big { font-size:24px; font-weight:700; } svg .donut-small { font-size:11px; fill:var(--muted); }
.wide { overflow-x:auto; }
.scroll { max-height:460px; overflow:auto; border:1px solid var(--line); border-radius:6px; }
table { border-collapse:collapse; width:100%; font-size:12.5px; font-variant-numeric:tabular-nums; }
th, td { padding:5px 9px; text-align:left; border-bottom:1px solid var(--line); vertical-align:top;
  white-space:nowrap; }
th { white-space:normal; } td.w { white-space:normal; min-width:150px; }
th { background:var(--soft); font-weight:600; color:var(--muted); position:sticky; top:0; }
td.n, th.n { text-align:right; }
td.w { max-width:260px; }
tr.total td { font-weight:700; border-top:2px solid var(--ink); }
code, .id { font-family:"DejaVu Sans Mono", Menlo, Consolas, monospace; font-size:12px; }
.sev { display:inline-block; padding:0 7px; border-radius:9px; font-size:11px; font-weight:600; color:#fff; }
.ok { color:#00704F; font-weight:600; } .bad { color:#B34700; font-weight:600; }
footer { margin-top:40px; color:var(--muted); font-size:12px; border-top:1px solid var(--line); padding-top:10px; }
@media print { .scroll { max-height:none; overflow:visible; } h2 { break-after:avoid; } svg { break-inside:avoid; } }
"""


def table(headers: list[tuple[str, str]], rows: list[list], limit: int = TABLE_ROWS, note: str = "",
          scroll: bool = True, total: list | None = None) -> str:
    """headers: (title, kind), kind "n" numeric, "w" wrapping text, "" one line. Cells are escaped here;
    a cell given as ("html", markup) is markup this module built from escaped parts."""
    def cls(kind: str) -> str:
        return f' class="{kind}"' if kind else ""

    head = "".join(f"<th{cls(kind)}>{esc(h)}</th>" for h, kind in headers)

    def cell(value, kind: str) -> str:
        if isinstance(value, tuple) and value[0] == "html":
            return f"<td{cls(kind)}>{value[1]}</td>"
        return f"<td{cls(kind)}>{esc(value)}</td>"

    body = "".join("<tr>" + "".join(cell(v, kind) for v, (_, kind) in zip(r, headers)) + "</tr>" for r in rows[:limit])
    if total:
        body += '<tr class="total">' + "".join(cell(v, kind) for v, (_, kind) in zip(total, headers)) + "</tr>"
    more = (f'<p class="note">Showing {limit} of {len(rows)} rows; {esc(note)}</p>'
            if len(rows) > limit else "")
    inner = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    wrapper = "scroll" if scroll and len(rows) > 14 else "wide"
    return f'<div class="{wrapper}">{inner}</div>{more}'


def sev_badge(severity: str | None) -> tuple[str, str]:
    s = severity or "UNSPECIFIED"
    colour = COLOURS.get(s, COLOURS["UNSPECIFIED"])
    text_colour = "#1F2933" if s in ("HIGH", "MEDIUM", "UNSPECIFIED") else "#fff"
    return ("html", f'<span class="sev" style="background:{colour};color:{text_colour}">{esc(s.title())}</span>')


def render_html(summary: dict) -> str:
    fleet, totals, rows = summary["fleet"], summary["totals"], summary["_rows"]
    groups = [(f"{r['account_id']}/{r['region']}", f"{r['account_id']} · {r['region']}")
              for r in summary["by_account_region"]]
    by_group = {f"{r['account_id']}/{r['region']}": r for r in summary["by_account_region"]}
    days = fmt_days(summary["stale_days"])
    rate = summary["compliance_rate"]
    status_series = ["compliant", "non_compliant", "not_scanned"] + (["unknown"] if totals["unknown"] else [])

    kpis = [
        ("live_nodes", "Live managed nodes", totals["live_nodes"], "#3E4C59"),
        ("compliant", "Compliant", totals["compliant"], COLOURS["compliant"]),
        ("non_compliant", "Non-compliant", totals["non_compliant"], COLOURS["non_compliant"]),
        ("not_scanned", "Not scanned", totals["not_scanned"], COLOURS["not_scanned"]),
        ("missing_security", "Missing security patches", totals["missing_security"], COLOURS["security"]),
        ("missing_critical_level", "Missing CRITICAL-level patches", totals["missing_critical_level"],
         COLOURS["critical_level"]),
        ("unmanaged_ec2", "Unmanaged EC2 instances", totals["unmanaged_ec2"], COLOURS["unmanaged"]),
        ("stale", f"Stale (> {days} days)", totals["stale"], COLOURS["stale"]),
    ]
    unspecified = summary["noncompliant_unspecified_only"]
    unspecified_note = (
        f'<p class="note" data-note="unspecified-only">{unspecified} non-compliant nodes report every missing patch '
        "at compliance level UNSPECIFIED: their baselines (AWS's predefined ones, or custom ones without compliance "
        "levels) rank nothing CRITICAL, so only the security count shows how exposed they are. Give your baselines' "
        "approval rules compliance levels to rank them (member-patching.yaml does).</p>" if unspecified else "")
    kpi_html = "".join(f'<div class="kpi" data-kpi="{k}" data-value="{v}" style="--c:{c}">'
                       f'<div class="v">{v}</div><div class="l">{esc(label)}</div></div>' for k, label, v, c in kpis)
    ring = donut("overall-compliance", [(s, totals[s]) for s in status_series],
                 f"{rate:g}%" if rate is not None else "-", "Live managed nodes by patch compliance status")

    compliance_chart = bar_chart(
        "compliance-by-account-region", "Live managed nodes by compliance status, per account and Region",
        groups, status_series, {(g, s): by_group[g][s] for g, _ in groups for s in status_series}, stacked=True)
    critical_chart = bar_chart(
        "missing-security-critical-level",
        "Nodes missing security or CRITICAL-level patches, per account and Region",
        groups, ["security", "critical_level"],
        {(g, s): by_group[g][f"missing_{s}"] for g, _ in groups for s in ("security", "critical_level")},
        stacked=False)
    top = summary["top_missing_patches"]
    severities = [s for s in SEVERITIES if any(p["compliance_level"] == s for p in top)]
    patch_chart = bar_chart(
        "top-missing-patches", f"The {len(top)} patches missing on the most nodes",
        [(p["patch_id"], p["patch_id"]) for p in top],
        ["nodes"], {(p["patch_id"], "nodes"): p["nodes"] for p in top}, stacked=False,
        colours={p["patch_id"]: COLOURS.get(p["compliance_level"], COLOURS["UNSPECIFIED"]) for p in top},
        legend=severities, label_title={p["patch_id"]: f"{p['patch_id']}: {p['title']}" for p in top})
    unmanaged_chart = bar_chart(
        "unmanaged-ec2", "EC2 instances not managed by Systems Manager, per account and Region", groups,
        ["unmanaged"], {(g, "unmanaged"): by_group[g]["unmanaged_ec2"] for g, _ in groups}, stacked=False, legend=[])
    stale_chart = bar_chart(
        "stale-nodes", f"Live nodes last seen more than {days} days ago, per account and Region", groups,
        ["stale"], {(g, "stale"): by_group[g]["stale"] for g, _ in groups}, stacked=False, legend=[])

    summary_headers = [("Account", ""), ("Region", ""), ("Live", "n"), ("Compliant", "n"),
                       ("Non-compliant", "n"), ("Not scanned", "n")] + \
        ([("Unknown", "n")] if totals["unknown"] else []) + \
        [("Missing security", "n"), ("Missing CRITICAL level", "n"), ("Unmanaged EC2", "n"),
         (f"Stale (>{days} d)", "n")]
    keys = ["live_nodes", "compliant", "non_compliant", "not_scanned"] + (["unknown"] if totals["unknown"] else []) + \
        ["missing_security", "missing_critical_level", "unmanaged_ec2", "stale"]
    summary_rows = [[r["account_id"], r["region"]] + [r[k] for k in keys] for r in summary["by_account_region"]]
    summary_table = table(summary_headers, summary_rows, scroll=False, total=["Total", ""] + [totals[k] for k in keys])

    flagged = sorted(rows["flagged"], key=lambda n: (-(n["security_noncompliant_count"] or 0),
                                                     -(n["noncompliant_level_critical"] or 0),
                                                     n["account_id"], n["region"], n["node_id"]))
    flagged_table = table(
        [("Account", ""), ("Region", ""), ("Node", ""), ("Name", "w"), ("Platform", "w"),
         ("Status", ""), ("Security", "n"), ("CRITICAL level", "n"), ("Non-compliant", "n"),
         ("Last scan (UTC)", "")],
        [[n["account_id"], n["region"], ("html", f'<span class="id">{esc(n["node_id"])}</span>'), n["computer_name"],
          n["platform_name"], n["instance_status"], n["security_noncompliant_count"] or 0,
          n["noncompliant_level_critical"] or 0,
          sum((n[f"noncompliant_level_{s.lower()}"] or 0) for s in SEVERITIES), short(n["last_operation_end"])]
         for n in flagged], note="nodes.csv lists every node.")

    patch_table = table(
        [("Patch", ""), ("Title", "w"), ("Compliance level", ""), ("Vendor severity", ""), ("Classification", ""),
         ("Nodes", "n"), ("Accounts/Regions", "n"), ("States", "w")],
        [[("html", f'<span class="id">{esc(p["patch_id"])}</span>'), p["title"], sev_badge(p["compliance_level"]),
          p["vendor_severity"] or "", p["classification"] or "", p["nodes"], p["accounts_regions"],
          ", ".join(f"{k} {v}" for k, v in p["states"].items())] for p in top], scroll=False)

    unmanaged_table = table(
        [("Account", ""), ("Region", ""), ("Instance", ""), ("Name tag", "w"), ("State", ""),
         ("Type", ""), ("Platform", "w"), ("Config rule result", ""), ("Recorded (UTC)", "")],
        [[u["account_id"], u["region"], ("html", f'<span class="id">{esc(u["instance_id"])}</span>'), u["name"] or "",
          u["instance_state"], u["instance_type"], u["platform"], u["managed_rule_result"], short(u["config_captured"])]
         for u in rows["unmanaged"]], note="run the named query ec2_not_managed for every row.")
    cfg = summary["config"]
    config_table = table(
        [("Account", ""), ("Region", ""), ("Instances and nodes", "n"), ("Stopped", "n"),
         ("Managed: yes", "n"), ("no", "n"), ("not applicable (stopped)", "n"), ("unknown", "n"),
         ("Patch rule: compliant", "n"), ("non-compliant", "n"), ("no result", "n"),
         ("of which not recorded", "n")],
        [[c["account_id"], c["region"]] + [c[k] for k in CONFIG_COLUMNS] for c in cfg["by_account_region"]],
        scroll=False, total=["Total", ""] + [cfg["totals"][k] for k in CONFIG_COLUMNS])

    now = parse_time(fleet["now"])
    stale = sorted(rows["stale"], key=lambda n: (as_time(n["last_seen"]) or dt.datetime.min, n["node_id"]))
    stale_table = table(
        [("Account", ""), ("Region", ""), ("Node", ""), ("Name", "w"), ("Status", ""),
         ("Last seen (UTC)", ""), ("Days ago", "n"), ("Compliance status", "")],
        [[n["account_id"], n["region"], ("html", f'<span class="id">{esc(n["node_id"])}</span>'), n["computer_name"],
          n["instance_status"], short(n["last_seen"]),
          f"{(now - as_time(n['last_seen'])).total_seconds() / 86400:.1f}" if as_time(n["last_seen"]) else "-",
          n["patch_status"]] for n in stale], note="nodes.csv has each node's last-seen time.")

    tag_html = ""
    for t in summary["by_tag"]:
        tag_html += f"<h3>Tag <code>{esc(t['tag_key'])}</code></h3>" + table(
            [("Value", "w"), ("Nodes", "n"), ("Compliant", "n"), ("Non-compliant", "n"), ("Not scanned", "n"),
             ("Missing security", "n"), ("Missing CRITICAL level", "n"), ("Compliance rate", "n")],
            [[v["value"] or "(empty)", v["nodes"], v["compliant"], v["non_compliant"], v["not_scanned"],
              v["missing_security"], v["missing_critical_level"], f"{100 * v['compliant'] / v['nodes']:.0f}%" if v["nodes"] else "-"]
             for v in t["values"]], scroll=False)
    if not tag_html:
        tag_html = '<p class="note">No node carries a tag with few enough values to group by.</p>'

    checks = table(
        [("Check", ""), ("Result", ""), ("How", "w"), ("Differences (first, second)", "w")],
        [[c["check"], ("html", '<span class="ok">agrees</span>' if c["ok"] else '<span class="bad">differs</span>'),
          c["how"], json.dumps(c["differences"]) if c["differences"] else ""] for c in summary["checks"]], scroll=False)
    sources = "".join(f"<li><code>{esc(s)}</code></li>" for s in summary["sources"])

    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Patch compliance report - {esc(fleet['now'])}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header class="top">
<h1>Patch compliance report</h1>
<p class="meta"><span>Fleet time <b>{esc(fleet['now'])}</b></span>
<span>Generated <b>{esc(summary['generated_at'])}</b></span>
<span><b>{len(fleet['accounts'])}</b> accounts</span>
<span><b>{len(fleet['regions'])}</b> Regions: {esc(', '.join(fleet['regions']))}</span>
<span>Stale after <b>{days}</b> days</span></p>
</header>

<section id="overview">
<div class="overview">{ring}<div class="kpis">{kpi_html}</div></div>
<p class="note">Live managed nodes are the nodes Systems Manager still knows (terminated nodes excluded), from each
node's newest inventory; hybrid nodes silent for 30 days are presumed deregistered. A patch counts as missing when it
makes its node non-compliant: missing, failed, installed pending reboot or installed but rejected. Security is the
vendor's classification of the patch, the same on every baseline; CRITICAL level is the compliance level your patch
baseline assigns, and AWS's predefined baselines assign UNSPECIFIED to every patch.</p>
{unspecified_note}
</section>

<section id="compliance">
<h2>Compliance by account and Region</h2>
{compliance_chart}
{summary_table}
</section>

<section id="critical">
<h2>Nodes missing security or CRITICAL-level patches</h2>
<p class="note">{len(flagged)} nodes miss at least one security or CRITICAL-level patch, most security patches
first.</p>
{critical_chart}
{flagged_table}
</section>

<section id="patches">
<h2>Most-missing patches</h2>
<p class="note">{summary['distinct_missing_patches']} distinct patches are missing across
{summary['missing_patch_rows']} node-patch pairs (missing-patches.csv); the {len(top)} missing on the most nodes,
coloured by the compliance level their baselines give them.</p>
{patch_chart}
{patch_table}
</section>

<section id="unmanaged">
<h2>EC2 instances not managed by Systems Manager</h2>
<p class="note">AWS Config's rule <code>ec2-instance-managed-by-systems-manager</code> finds these instances
non-compliant: Systems Manager cannot see them, so they have no inventory and no patch data.</p>
{unmanaged_chart}
{unmanaged_table}
<h3>AWS Config's view, stopped and unmanaged instances included</h3>
{config_table}
</section>

<section id="stale">
<h2>Stale nodes</h2>
<p class="note">Live managed nodes whose newest inventory is more than {days} days older than the fleet time: their
compliance data may no longer be true.</p>
{stale_chart}
{stale_table}
</section>

<section id="tags">
<h2>Compliance by tag</h2>
{tag_html}
</section>

<section id="method">
<h2>Sources and reconciliation</h2>
<p class="note">Every number comes from the Athena named queries and QuickSight dataset queries this repository
ships, run unchanged by a local engine on the fleet's resource data sync and AWS Config objects. Each headline count
is computed a second way from another query:</p>
{checks}
<h3>Queries</h3>
<ul>{sources}</ul>
</section>

<footer>Generated {esc(summary['generated_at'])} from <code>{esc(fleet['dir'])}</code> (fleet time
{esc(fleet['now'])}{', seed ' + esc(fleet['seed']) if fleet.get('seed') is not None else ''}).
Exports: nodes.csv, missing-patches.csv, summary.json.</footer>
</main>
</body>
</html>
"""


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def write_outputs(summary: dict, out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = summary["_rows"]
    nodes = sorted(rows["nodes"], key=lambda n: (n["account_id"], n["region"], n["node_id"]))
    missing = sorted(rows["missing"], key=lambda p: (p["account_id"], p["region"], p["node_id"],
                                                     severity_rank(p["compliance_level"]), p["patch_id"]))
    write_csv(out / "nodes.csv", NODE_COLUMNS, nodes)
    write_csv(out / "missing-patches.csv", PATCH_COLUMNS, missing)
    (out / "report.html").write_text(render_html(summary), encoding="utf-8")
    public = {k: v for k, v in summary.items() if not k.startswith("_")}
    (out / "summary.json").write_text(json.dumps(public, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fleet", required=True, type=pathlib.Path, help="a fleet-sim output folder")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="folder for report.html, CSVs, summary.json")
    parser.add_argument("--stale-days", type=float, default=7,
                        help="a live node last seen more than this many days before the fleet time is stale (7)")
    args = parser.parse_args(argv)
    if args.stale_days < 0:
        parser.error("--stale-days must not be negative")
    try:
        summary = build(args.fleet, args.stale_days)
    except NotAFleet as error:
        print(f"report.py: not a fleet-sim output folder: {error}. Make one with "
              f"`fleet-sim --out DIR ...` (see `make demo`).", file=sys.stderr)
        return 2
    write_outputs(summary, args.out)
    print(terminal_table(summary))
    print(f"\nWrote {args.out / 'report.html'}, summary.json, nodes.csv ({summary['totals']['live_nodes']} nodes), "
          f"missing-patches.csv ({summary['missing_patch_rows']} rows).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
