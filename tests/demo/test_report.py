"""The compliance report that ends `make demo` (compliance-report's report.html, CSVs and
summary.json, read back from the reports bucket), checked against the fleet's ground truth and in
a real browser.

* The simulated fleet of conftest.py's `demo`: every number of summary.json is recomputed from
  ground-truth.jsonl (what the simulator decided), never from the data the report read. The CSV
  exports hold one row per live node and one per node and non-compliant patch.
* The hand-made fleet of tests/demo/handmade_fleet.py, run through the same demo (`--fleet-dir`):
  the same comparison on the edge cases; HTML and spreadsheet-formula payloads in names and tags
  must come out inert after Athena, the function and its template.
* Debian's chromium (headless) renders report.html: every chart's <svg data-chart> and every bar
  is in the DOM with the value summary.json has, bar lengths are proportional to the values, and
  a screenshot is decoded (zlib and struct only) to check it is not blank and shows the charts'
  colours.

    .venv/bin/python -m pytest -q tests/demo
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import zlib
from collections import Counter, defaultdict
from html.parser import HTMLParser

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "sql"))
import handmade_fleet  # noqa: E402
from conftest import run_demo  # noqa: E402
# The ground truth's reader, shared with the SQL checks.
from truth import SEVERITIES, noncompliant_patches  # noqa: E402
from truth import load as load_truth  # noqa: E402

# Debian's chromium (`make browser` installs it); CHROMIUM overrides the path.
CHROMIUM = pathlib.Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
STALE_DAYS = 7
# Colours the charts must show (Okabe-Ito, as the report's template draws them).
COMPLIANT, NON_COMPLIANT, SECURITY = (0x00, 0x9E, 0x73), (0xD5, 0x5E, 0x00), (0x00, 0x72, 0xB2)


@pytest.fixture(scope="module")
def simulated(demo) -> tuple[pathlib.Path, pathlib.Path, subprocess.CompletedProcess]:
    """(the simulated fleet, the demo's output folder, the run)."""
    out, run = demo
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return out / "fleet", out, run


# --------------------------------------------------------------------------------------------
# The truth
# --------------------------------------------------------------------------------------------


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def truth(fleet: pathlib.Path, stale_days: float = STALE_DAYS) -> dict:
    """What summary.json must say, from ground-truth.jsonl and fleet.json alone."""
    loaded = load_truth(fleet)
    meta, nodes = loaded.fleet, loaded.nodes
    now = parse_time(meta["now"])
    keys = ["live_nodes", "compliant", "non_compliant", "not_scanned", "unknown", "missing_security",
            "missing_critical_level", "unmanaged_ec2", "stale"]
    groups: dict = defaultdict(lambda: dict.fromkeys(keys, 0))
    for a in meta["accounts"]:
        for r in meta["regions"]:
            groups[(a, r)]
    lists = defaultdict(list)
    patch_nodes, patch_level = Counter(), defaultdict(set)
    unspecified_only = 0
    for n in nodes:
        g = groups[(n["account_id"], n["region"])]
        config = n.get("config")
        # The managed rule flags running instances only: stopped ones are NOT_APPLICABLE or have no result.
        if n["node_type"] == "EC2" and config and config.get("managed_rule") == "NON_COMPLIANT" \
                and config.get("state") not in ("terminated", "shutting-down"):
            g["unmanaged_ec2"] += 1
            lists["unmanaged_ec2"].append(n["node_id"])
        if not (n["managed"] and n["live"]):
            continue
        g["live_nodes"] += 1
        g[{"COMPLIANT": "compliant", "NON_COMPLIANT": "non_compliant", "NOT_SCANNED": "not_scanned"}.get(
            n["patch_status"], "unknown")] += 1
        if n["patch_status"] == "NOT_SCANNED":
            lists["not_scanned"].append(n["node_id"])
        if (n.get("missing_by_level") or {}).get("CRITICAL", 0) > 0:
            g["missing_critical_level"] += 1
            lists["missing_critical_level"].append(n["node_id"])
        scan = n.get("scan") or {}
        if n["patch_status"] == "NON_COMPLIANT" and not any(
                v for level, v in n["missing_by_level"].items() if level != "UNSPECIFIED"):
            unspecified_only += 1
        if scan.get("security_noncompliant", 0) > 0:
            g["missing_security"] += 1
            lists["missing_security"].append(n["node_id"])
        stale = parse_time(n["last_seen"]) < now - dt.timedelta(days=stale_days)
        if stale_days == meta.get("stale_after_days", STALE_DAYS):
            assert stale == n["stale"], f"{n['node_id']}: the simulator's stale flag means something else"
        if stale:
            g["stale"] += 1
            lists["stale"].append(n["node_id"])
        for patch in noncompliant_patches(loaded, n) if scan else []:
            patch_nodes[patch["id"]] += 1
            patch_level[patch["id"]].add(patch["level"])
    top = sorted(patch_nodes.items(), key=lambda kv: (-kv[1], kv[0]))[:15]
    return {
        "by_account_region": {k: v for k, v in groups.items()},
        "totals": {k: sum(g[k] for g in groups.values()) for k in keys},
        "top": [(p, count, min(patch_level[p], key=lambda s: SEVERITIES.index(s) if s in SEVERITIES else 9))
                for p, count in top],
        "unspecified_only": unspecified_only,
        "missing_rows": sum(patch_nodes.values()),
        "node_lists": {k: sorted(v) for k, v in lists.items()},
        "now": meta["now"],
    }


def check_against_truth(fleet: pathlib.Path, out: pathlib.Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    want = truth(fleet)
    got = {(r["account_id"], r["region"]): {k: r[k] for k in want["totals"]} for r in summary["by_account_region"]}
    assert got == want["by_account_region"]
    assert {k: summary["totals"][k] for k in want["totals"]} == want["totals"]
    assert [(p["patch_id"], p["nodes"], p["compliance_level"]) for p in summary["top_missing_patches"]] == want["top"]
    assert summary["noncompliant_unspecified_only"] == want["unspecified_only"]
    assert summary["missing_patch_rows"] == want["missing_rows"]
    for name in ("missing_critical_level", "missing_security", "stale", "unmanaged_ec2", "not_scanned"):
        assert summary["node_lists"][name] == want["node_lists"].get(name, []), name
    assert summary["as_of"] == want["now"]
    assert all(c["ok"] for c in summary["checks"]), [c for c in summary["checks"] if not c["ok"]]
    return summary


def check_csv(out: pathlib.Path, summary: dict) -> None:
    with (out / "nodes.csv").open(newline="") as f:
        nodes = list(csv.DictReader(f))
    with (out / "missing-patches.csv").open(newline="") as f:
        patches = list(csv.DictReader(f))
    assert len(nodes) == summary["totals"]["live_nodes"]
    assert len({(n["Account ID"], n["Region"], n["Managed node ID"]) for n in nodes}) == len(nodes)
    totals = summary["totals"]
    statuses = {"COMPLIANT": totals["compliant"], "NON_COMPLIANT": totals["non_compliant"],
                "NOT_SCANNED": totals["not_scanned"]}
    assert Counter(n["Compliance status"] for n in nodes) == Counter({k: v for k, v in statuses.items() if v})
    assert len(patches) == summary["missing_patch_rows"]
    # AvailableSecurityUpdate is non-compliant where the baseline says so (Windows only).
    assert {p["State"] for p in patches} <= {"Missing", "Failed", "InstalledPendingReboot", "InstalledRejected",
                                             "AvailableSecurityUpdate"}
    assert {p["Compliance status"] for p in patches} == {"NON_COMPLIANT"}
    live = {(n["Account ID"], n["Region"], n["Managed node ID"]) for n in nodes}
    assert {(p["Account ID"], p["Region"], p["Managed node ID"]) for p in patches} <= live
    per_patch = Counter(p["Patch ID"] for p in patches)
    assert [(p["patch_id"], per_patch[p["patch_id"]]) for p in summary["top_missing_patches"]] == \
        [(p["patch_id"], p["nodes"]) for p in summary["top_missing_patches"]]


# --------------------------------------------------------------------------------------------
# The numbers
# --------------------------------------------------------------------------------------------


def test_summary_matches_the_simulators_ground_truth(simulated) -> None:
    fleet, out, done = simulated
    summary = check_against_truth(fleet, out)
    assert summary["totals"]["live_nodes"] > 100 and summary["totals"]["non_compliant"] > 0
    assert summary["totals"]["unmanaged_ec2"] > 0 and summary["totals"]["stale"] > 0
    assert len(summary["top_missing_patches"]) == 15
    check_csv(out, summary)


def test_handmade_fleet_edge_cases(handmade) -> None:
    fleet, out, _ = handmade
    summary = check_against_truth(fleet, out)
    # The terminated node's missing patch and the deleted instance of the older snapshot never count.
    assert "i-0a00000000000004" not in json.dumps(summary["node_lists"])
    assert "i-0a000000000000ff" not in (out / "report.html").read_text()
    check_csv(out, summary)


def test_payloads_in_names_and_tags_stay_inert(handmade) -> None:
    _, out, _ = handmade
    page = (out / "report.html").read_text()
    assert handmade_fleet.SCRIPT not in page and handmade_fleet.IMG not in page
    # minijinja's HTML escaping also escapes "/" (as &#x2f;), which stays text to a browser.
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;&#x2f;script&gt;" in page
    parser = Elements()
    parser.feed(page)
    assert not parser.count["script"] and not parser.count["img"] and not parser.count["iframe"]
    assert not any(a.startswith("on") for a in parser.attributes), "event handler attribute in the page"
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace("http://evil", "")
    assert "https://" not in page
    # A tag value cannot become a spreadsheet formula in the exports.
    for name in ("nodes.csv", "missing-patches.csv", "owners.csv"):
        with (out / name).open(newline="") as f:
            for row in csv.reader(f):
                assert not any(cell[:1] in ("=", "+", "@") for cell in row), row


def test_a_fleet_folder_that_is_not_one_stops_the_demo_with_a_reason(tmp_path) -> None:
    (tmp_path / "fleet").mkdir()
    for folder, reason in [(tmp_path / "missing", "is not a folder"), (tmp_path / "fleet", "has no fleet.json")]:
        run = run_demo(tmp_path / "out", "--fleet-dir", str(folder), "--accounts", "1")
        assert run.returncode != 0 and reason in run.stderr and "fleet-sim" in run.stderr, run.stderr[-2000:]
    (tmp_path / "fleet" / "fleet.json").write_text(json.dumps({"now": "2026-11-21T12:00:00Z"}))
    run = run_demo(tmp_path / "out", "--fleet-dir", str(tmp_path / "fleet"), "--accounts", "1")
    assert run.returncode != 0 and "has no sync/ folder" in run.stderr, run.stderr[-2000:]


# --------------------------------------------------------------------------------------------
# In a browser
# --------------------------------------------------------------------------------------------


def require_chromium() -> None:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium with apt)")


def chromium(*args: str, tmp: pathlib.Path) -> subprocess.CompletedProcess:
    require_chromium()
    profile = tmp / "chromium-profile"
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=60)
    shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def rendered(simulated, tmp_path_factory) -> tuple[str, pathlib.Path]:
    """The simulated fleet's report in chromium, once: (the DOM it built, a 1280x3200 screenshot: down to the security chart)."""
    _, out, _ = simulated
    tmp = tmp_path_factory.mktemp("browser")
    png = tmp / "report.png"
    done = chromium("--dump-dom", f"--screenshot={png}", "--window-size=1280,3200", (out / "report.html").as_uri(),
                    tmp=tmp)
    return done.stdout, png


class Elements(HTMLParser):
    """Counts elements and collects every chart's bars and the headline figures."""

    def __init__(self) -> None:
        super().__init__()
        self.count: Counter = Counter()
        self.attributes: set[str] = set()
        self.charts: dict[str, dict] = {}
        self.geometry: dict[str, list] = defaultdict(list)
        self.kpis: dict[str, int] = {}
        self.chart: str | None = None
        self.depth = 0

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        self.count[tag] += 1
        self.attributes |= set(a)
        if tag == "svg" and "data-chart" in a:
            self.chart, self.depth = a["data-chart"], 0
            assert self.chart not in self.charts, f"two charts named {self.chart}"
            self.charts[self.chart] = {}
        elif tag == "svg" and self.chart:
            self.depth += 1
        if self.chart and "bar" in (a.get("class") or "").split():
            key = (a["data-group"], a["data-series"])
            assert key not in self.charts[self.chart], (self.chart, key)
            value = float(a["data-value"])
            self.charts[self.chart][key] = int(value) if value.is_integer() else value
            if tag == "rect":
                self.geometry[self.chart].append((int(a["data-value"]), float(a["width"])))
        if "data-kpi" in a:
            self.kpis[a["data-kpi"]] = int(a["data-value"])

    def handle_endtag(self, tag) -> None:
        if tag == "svg" and self.chart:
            if self.depth:
                self.depth -= 1
            else:
                self.chart = None


def expected_charts(summary: dict) -> dict[str, dict]:
    rows = summary["by_account_region"]
    totals = summary["totals"]
    status = ["compliant", "non_compliant", "not_scanned"] + (["unknown"] if totals["unknown"] else [])

    def g(r: dict) -> str:
        return f"{r['account_id']}/{r['region']}"

    return {
        "overall-compliance": {("all", s): totals[s] for s in status},
        "compliance-by-account-region": {(g(r), s): r[s] for r in rows for s in status},
        "missing-security-critical-level": {(g(r), s): r[f"missing_{s}"] for r in rows
                                            for s in ("security", "critical_level")},
        "top-missing-patches": {(p["patch_id"], "nodes"): p["nodes"] for p in summary["top_missing_patches"]},
        "unmanaged-ec2": {(g(r), "unmanaged"): r["unmanaged_ec2"] for r in rows},
        "stale-nodes": {(g(r), "stale"): r["stale"] for r in rows},
        # One point per run date with a rate (the function's history).
        "compliance-trend": {(p["date"], "compliant_rate"): p["rate"] for p in summary["trend"]["organization"]
                             if p["rate"] is not None},
    }


@pytest.mark.parametrize("fleet", ["simulated", "handmade"])
def test_charts_render_in_a_browser_with_the_summary_numbers(fleet, request, tmp_path) -> None:
    require_chromium()
    _, out, _ = request.getfixturevalue(fleet)
    summary = json.loads((out / "summary.json").read_text())
    if fleet == "simulated":
        dom = request.getfixturevalue("rendered")[0]
    else:
        dom = chromium("--dump-dom", (out / "report.html").as_uri(), tmp=tmp_path).stdout
    parsed = Elements()
    parsed.feed(dom)
    assert parsed.charts == expected_charts(summary)
    for chart, bars in parsed.geometry.items():
        # Bars of one chart share one scale (stacked segments included). Widths have 2 decimals, so
        # the scale is taken from the longest bar (its rounding error, spread over the largest value,
        # is the smallest) and every width is within two roundings of value x scale.
        top_value, top_width = max(bars)
        scale = top_width / top_value if top_value else 0
        assert all(abs(width - value * scale) < 0.011 for value, width in bars), chart
    assert parsed.kpis == {k: summary["totals"][k] for k in (
        "live_nodes", "compliant", "non_compliant", "not_scanned", "missing_security", "missing_critical_level",
        "unmanaged_ec2", "stale")} | {k: summary["sla"][k] for k in ("past_sla", "nodes_past_sla")}
    # What the browser built from the page: no element or handler came from the data.
    assert not parsed.count["script"] and not parsed.count["img"] and not parsed.count["iframe"]
    assert not any(a.startswith("on") for a in parsed.attributes)


def test_screenshot_is_a_rendered_report(request) -> None:
    require_chromium()
    _, png = request.getfixturevalue("rendered")
    width, height, pixels = decode_png(png.read_bytes())
    assert (width, height) == (1280, 3200)
    colours = Counter(pixels)
    assert colours[(255, 255, 255)] < 0.85 * len(pixels), "the page is (nearly) blank"
    assert len(colours) > 300, f"only {len(colours)} colours: text and charts did not render"
    # Each chart colour covers a good area: more than 2,000 pixels (500 in the quarter sampled).
    for name, rgb in {"compliant": COMPLIANT, "non-compliant": NON_COMPLIANT, "security": SECURITY}.items():
        assert colours[rgb] > 500, f"the {name} colour is missing from the screenshot"


def decode_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(width, height, every 2nd pixel of every 2nd row as RGB) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type, interlace)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    bpp = 3 if colour_type == 2 else 4
    stride = width * bpp
    low = int.from_bytes(b"\x7f" * stride, "big")
    high = int.from_bytes(b"\x80" * stride, "big")
    prior = bytes(stride)
    pixels = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1:start + 1 + stride]
        if kind == 0:
            row = line
        elif kind == 2:
            # Up: byte-wise addition without carries, on the whole row as one integer.
            a, b = int.from_bytes(line, "big"), int.from_bytes(prior, "big")
            row = (((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(stride, "big")
        else:
            out = bytearray(line)
            if kind == 1:
                for i in range(bpp, stride):
                    out[i] = (out[i] + out[i - bpp]) & 255
            elif kind == 3:
                for i in range(stride):
                    out[i] = (out[i] + (((out[i - bpp] if i >= bpp else 0) + prior[i]) >> 1)) & 255
            elif kind == 4:
                for i in range(stride):
                    b = prior[i]
                    if i >= bpp:
                        a, c = out[i - bpp], prior[i - bpp]
                        p = a + b - c
                        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                        b = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    out[i] = (out[i] + b) & 255
            else:
                raise AssertionError(f"PNG filter {kind}")
            row = bytes(out)
        prior = row
        if y % 2 == 0:
            pixels += [tuple(row[i:i + 3]) for i in range(0, stride, 2 * bpp)]
    return width, height, pixels
