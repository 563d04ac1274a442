"""The SQL we ship at realistic size: fleet-sim writes an organization's fleet, emulator/localathena.py
loads it as Athena would see it, every named query and dataset query runs, and each result is
checked against the ground truth with the same expectations as `make sql-check` (truth.py).

    .venv/bin/python tests/sql/bench_sql.py --fleet-sim <target>/release/fleet-sim --nodes 5000
    .venv/bin/python tests/sql/bench_sql.py --fleet-sim <target>/release/fleet-sim --nodes 100000 --item-scale 0.02

Prints the generation wall time and fleet-sim's peak RSS, the data's size by table, the load time,
and per query its run time, row count, the bytes Athena would scan and what that costs. Exits
non-zero when a query disagrees with the ground truth.

Bytes scanned: the sync's objects are uncompressed JSON and the Config snapshots gzipped JSON;
neither is splittable into columns, so Athena reads every object of every partition a query
touches, whichever columns it selects, and bills the bytes read (compressed bytes for gzip), at
least 10 MB per query, at $5 per TB ("Amazon Athena pricing"; us-east-1, SQL queries). A filter on
a partition column with values Athena knows at planning time (the history query's ``dt BETWEEN ?
AND ?``) prunes partitions; joins on the newest ``dt`` are counted as reading every ``dt``
(dynamic filtering may read less; this is the upper bound a customer is billed at most).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import resource
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "emulator")]

import duckdb  # noqa: E402
import localathena as la  # noqa: E402
import sqlglot  # noqa: E402
import truth  # noqa: E402
from sqlglot import exp  # noqa: E402

# The queries a compliance report runs (compliance-report, queries::ALL; its summary.json "sources").
REPORT_QUERIES = ["dataset/nodes", "dataset/patches", "dataset/node-tags", "dataset/config-compliance",
                  "named/compliance_summary", "named/ec2_not_managed", "named/compliant_nodes",
                  "named/noncompliant_nodes", "named/patch_summary"]
PRICE_PER_TB = 5.0           # USD per TB scanned, Athena SQL queries
MINIMUM_BYTES = 10 * 10**6   # "rounded up to the nearest megabyte, with a 10 MB minimum per query"


def folder_bytes(folder: pathlib.Path, keep=lambda path: True) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = pathlib.Path(root) / name
            if name != "test.json" and keep(path):
                total += path.stat().st_size
    return total


class Sizes:
    """The bytes of each table's objects in a fleet folder (sync types, Config snapshots by day)."""

    def __init__(self, fleet: pathlib.Path):
        self.inventory = {la.table_name(d.name): folder_bytes(d) for d in (fleet / "sync").iterdir()
                          if d.is_dir()} if (fleet / "sync").is_dir() else {}
        self.history = sum(p.stat().st_size for p in la._config_history(fleet / "config"))
        self.config_by_day: dict[str, int] = {}
        for path in la._config_snapshots(fleet / "config"):
            m = re.search(r"/(\d{4})/(\d{1,2})/(\d{1,2})/ConfigSnapshot/", path.as_posix())
            day = f"{int(m.group(1)):04}-{int(m.group(2)):02}-{int(m.group(3)):02}"
            self.config_by_day[day] = self.config_by_day.get(day, 0) + path.stat().st_size

    def scanned(self, text: str, values: dict, parameters: list | None) -> int:
        """The bytes Athena reads for one run of the query: every object of a table per reference
        to it (a table read in two CTEs, or in one CTE referenced twice, is read twice: Athena
        inlines CTEs, see localathena._inline_cte)."""
        tree = sqlglot.parse_one(la._quote_colon_segments(la.render(text, values)), read="trino")
        ctes = {cte.alias_or_name: cte for cte in tree.find_all(exp.CTE)}

        def reads(node: exp.Expression) -> int:
            """How many times `node` is evaluated: once per reference to each CTE it sits in."""
            cte = node.find_ancestor(exp.CTE)
            if cte is None:
                return 1
            return sum(reads(ref) for ref in tree.find_all(exp.Table)
                       if not ref.db and ref.name == cte.alias_or_name and ref.find_ancestor(exp.CTE) is not cte)

        total = 0
        for table in tree.find_all(exp.Table):
            if not table.db and table.name in ctes:
                continue
            times = reads(table)
            if table.db == la.CLOUDTRAIL_SCHEMA:
                # CloudTrail Lake bills the bytes it scans in its own storage, whose size it does
                # not publish: the compressed ConfigHistory objects give the order of magnitude.
                total += times * self.history
            elif table.db == la.INVENTORY_SCHEMA:
                total += times * self.inventory.get(table.name, 0)
            elif table.db == la.CONFIG_SCHEMA:
                days = self.config_by_day
                if parameters and re.search(r"\bdt BETWEEN \? AND \?", text):
                    first, last = parameters[:2]
                    days = {d: n for d, n in days.items() if first <= d <= last}
                total += times * sum(days.values())
        return total


def cost(scanned: int) -> float:
    return max(scanned, MINIMUM_BYTES) / 10**12 * PRICE_PER_TB


# The sync tables compliance-report copies into Parquet once per run (crates/compliance-report,
# queries::STAGED_TABLES), and the query ids of the two that read the Config table directly.
STAGED_TABLES = ["aws_instanceinformation", "aws_compliancesummary", "aws_complianceitem", "aws_patchsummary",
                 "aws_tag"]


def partition_filters(fleet: pathlib.Path, schema: str, table: str) -> list[str]:
    """WHERE clauses that split a sync table by its account and Region folders, so a Parquet copy
    is made one partition at a time (memory bounded by a partition, not by the table: a
    10,000-node ComplianceItem table is gigabytes of JSON); one empty clause for the Config table."""
    if schema != la.INVENTORY_SCHEMA:
        return [""]
    folders = [d for d in (fleet / "sync").iterdir() if d.is_dir() and la.table_name(d.name) == table]
    return [f" WHERE accountid = {la._literal(a.name.split('=', 1)[1])} AND region = {la._literal(r.name.split('=', 1)[1])}"
            for d in folders for a in sorted(d.glob("accountid=*")) if a.is_dir()
            for r in sorted(a.glob("region=*")) if r.is_dir()] or [""]


def report_run_scan(con, sizes: Sizes, tmp: pathlib.Path, report_queries: list[str],
                    queries: dict, fleet: pathlib.Path) -> list[tuple[str, int]]:
    """What one compliance-report run scans: each staged JSON table once (its CREATE TABLE AS:
    the sync tables and the Config snapshot table, every day of it), then each query over the
    Parquet copies (SNAPPY, as the function writes them), reading only the column chunks of the
    columns it names (Athena reads Parquet by column). Returns (statement, bytes) in run order."""
    statements: list[tuple[str, int]] = []
    chunk_sizes: dict[tuple[str, str], dict[str, int]] = {}
    copies = [(la.INVENTORY_SCHEMA, t, "*", sizes.inventory.get(t, 0)) for t in STAGED_TABLES]
    copies.append((la.CONFIG_SCHEMA, la.CONFIG_TABLE, '*, "$path" AS object_key', sum(sizes.config_by_day.values())))
    for schema, table, select, json_bytes in copies:
        statements.append((f"CTAS {table}", json_bytes))
        chunk_sizes[(schema, table)] = {}
        print(f"  copying {table} ({json_bytes / 2**20:.1f} MiB) into Parquet", file=sys.stderr, flush=True)
        try:
            for n, where in enumerate(partition_filters(fleet, schema, table)):
                path = tmp / f"{table}-{n}.parquet"
                con.execute(f"COPY (SELECT {select} FROM {schema}.{la._quote(table)}{where}) "
                            f"TO {la._literal(str(path))} (FORMAT PARQUET, COMPRESSION SNAPPY)")
                for column, size in con.execute(
                        "SELECT lower(split_part(path_in_schema, ',', 1)), sum(total_compressed_size) "
                        f"FROM parquet_metadata({la._literal(str(path))}) GROUP BY 1").fetchall():
                    chunk_sizes[(schema, table)][column] = chunk_sizes[(schema, table)].get(column, 0) + int(size)
                path.unlink()
        except duckdb.OutOfMemoryException:
            # The local engine, not Athena, runs out of memory (the Config table's snapshots are
            # whole JSON documents, read whole): the copy's column reads are not measured.
            print(f"  {table}: the local engine ran out of memory copying it; the queries' reads of "
                  "its copy are not counted below", flush=True)
    for qid in report_queries:
        tree = sqlglot.parse_one(la._quote_colon_segments(la.render(queries[qid].text, la.NAMED_QUERY_VALUES)),
                                 read="trino")
        named = {c.name.lower() for c in tree.find_all(exp.Column)}
        if "$path" in named:
            named.add("object_key")
        tables = {(t.db, t.name) for t in tree.find_all(exp.Table) if (t.db, t.name) in chunk_sizes}
        statements.append((qid, sum(size for table in tables for column, size in chunk_sizes[table].items()
                                    if column in named)))
    return statements


def rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def run_and_check(con, t: truth.Truth, query: truth.Query, values: dict, parameters) -> tuple[int, str]:
    """Runs a query and checks it against the ground truth: (rows returned, "ok" or what is wrong).
    An answer of millions of rows (the patches dataset) is streamed and compared by digest."""
    expected = truth.expected(t, query.id)
    count = 0

    def counted(rows):
        nonlocal count
        for row in rows:
            count += 1
            yield row
    try:
        if isinstance(expected.rows, truth.Rows):
            truth.compare_stream(query.id, counted(la.stream(con, query.text, values, parameters)), expected)
        else:
            rows = la.run(con, query.text, values, parameters)
            count = len(rows)
            truth.check(t, query.id, rows)
    except AssertionError as error:
        return count, f"WRONG: {str(error)[:300]}"
    return count, "ok"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet-sim", type=pathlib.Path, default=truth.find_fleet_sim(), help="the fleet-sim binary")
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--regions", default="us-east-1,eu-west-1,ap-southeast-2")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--item-scale", type=float, default=1.0,
                        help="compliance items per node relative to a real node (1: realistic)")
    parser.add_argument("--keep", type=pathlib.Path,
                        help="write the fleet here and keep it (default: a temporary folder)")
    parser.add_argument("--fleet", type=pathlib.Path, help="use this fleet-sim folder instead of generating one")
    parser.add_argument("--database", default=":memory:", help="DuckDB database file (default: in memory)")
    # 12GB: the Config history over 10,000 realistic nodes needs about that (peak RSS 14.7 GB of the
    # machine's 24); below it DuckDB fails the query rather than spill the JSON it parses.
    parser.add_argument("--memory-limit", default="12GB",
                        help="DuckDB's memory limit; beyond it, it spills to disk (default 12GB)")
    parser.add_argument("--threads", type=int, help="DuckDB's threads (default: one per core)")
    parser.add_argument("--only", help="run only the queries whose id matches this regular expression")
    parser.add_argument("--scan-only", action="store_true",
                        help="only what each query and a compliance-report run would scan: the queries are not "
                             "run nor checked (the local engine holds a realistic 10,000-node fleet's Config "
                             "snapshots in memory to run the Config queries; Athena does not)")
    args = parser.parse_args()
    if args.fleet is None and (args.fleet_sim is None or not args.fleet_sim.exists()):
        parser.error("--fleet-sim: the fleet-sim binary is needed (cargo build --locked -p fleet-sim)")

    with tempfile.TemporaryDirectory(prefix="bench-sql-") as tmp:
        out = args.fleet or args.keep or pathlib.Path(tmp) / "fleet"
        if args.fleet is None:
            regions = args.regions.split(",")
            print(f"fleet-sim: {args.nodes} nodes, {args.accounts} accounts x {len(regions)} Regions, "
                  f"item scale {args.item_scale:g} -> {out}", flush=True)
            started = time.monotonic()
            said = truth.run_fleet_sim(args.fleet_sim, out, seed=args.seed, nodes=args.nodes,
                                       accounts=args.accounts, regions=regions, now=truth.now_to_the_minute(),
                                       item_scale=args.item_scale)
            generation = time.monotonic() - started
            print(f"  {said.strip()}")
            print(f"  generated in {generation:.1f} s, fleet-sim peak RSS "
                  f"{rss_mib(resource.RUSAGE_CHILDREN):.0f} MiB", flush=True)

        sizes = Sizes(out)
        print("data (what Athena would read):")
        for name, n in sorted(sizes.inventory.items(), key=lambda kv: -kv[1]):
            print(f"  {name:32} {n / 2**20:10.1f} MiB")
        print(f"  {'config snapshots (gzip)':32} {sum(sizes.config_by_day.values()) / 2**20:10.1f} MiB "
              f"over {len(sizes.config_by_day)} days", flush=True)

        started = time.monotonic()
        con = la.connect(out, args.database, memory_limit=args.memory_limit)
        if args.threads:
            con.execute(f"SET threads = {int(args.threads)}")
        load = time.monotonic() - started
        views = con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()[0]
        print(f"catalog: {load:.1f} s to define {views} tables as views over the objects (read by each query, "
              f"as Athena reads S3), peak RSS {rss_mib(resource.RUSAGE_SELF):.0f} MiB", flush=True)

        started = time.monotonic()
        t = truth.load(out)
        print(f"ground truth: {len(t.nodes)} nodes ({len(t.live)} live) read in {time.monotonic() - started:.1f} s")
        problems = truth.consistency_problems(t) + [f"fixture lacks {p}" for p in truth.coverage_problems(t)]
        for problem in problems:
            print(f"  ground truth: {problem}")

        failures = 0
        total = 0.0
        total_scanned = 0
        print(f"{'query':40} {'rows':>9} {'run s':>7} {'scan MiB':>9} {'USD/run':>8}  check")
        scanned_by_query: dict[str, int] = {}
        for query in truth.queries():
            if args.only and not re.search(args.only, query.id):
                continue
            values, parameters = truth.run_inputs(t, query)
            started = time.monotonic()
            count, verdict = (0, "not run") if args.scan_only else run_and_check(con, t, query, values, parameters)
            failures += verdict not in ("ok", "not run")
            elapsed = time.monotonic() - started
            total += elapsed
            scanned = scanned_by_query[query.id] = sizes.scanned(query.text, values, parameters)
            print(f"{query.id:40} {count:>9} {elapsed:>7.2f} {scanned / 2**20:>9.1f} {cost(scanned):>8.4f}  "
                  f"{verdict}", flush=True)
        every = sum(scanned_by_query.values())
        report_queries = [q for q in REPORT_QUERIES if q in scanned_by_query]
        report = sum(scanned_by_query[q] for q in report_queries)
        print(f"queries: {total:.1f} s in all; peak RSS {rss_mib(resource.RUSAGE_SELF):.0f} MiB; "
              f"{failures} of {len(truth.queries())} disagree with the ground truth")
        print(f"one run of every query: {every / 2**30:.2f} GiB scanned, USD "
              f"{sum(cost(n) for n in scanned_by_query.values()):.4f}; one compliance report "
              f"({len(report_queries)} queries): {report / 2**30:.2f} GiB, USD "
              f"{sum(cost(scanned_by_query[q]) for q in report_queries):.4f}")
        if len(report_queries) == len(REPORT_QUERIES):
            by_id = {q.id: q for q in truth.queries()}
            run = report_run_scan(con, sizes, pathlib.Path(tmp), report_queries, by_id, out)
            print("one compliance-report run (each JSON table read once into Parquet, then the queries on the copies):")
            for name, scanned in run:
                print(f"  {name:38} {scanned / 2**20:>10.1f} MiB {cost(scanned):>8.4f} USD")
            ran = sum(n for _, n in run)
            print(f"  total {ran / 2**30:.2f} GiB, USD {sum(cost(n) for _, n in run):.4f} "
                  f"(the {len(report_queries)} queries one by one on the JSON tables: {report / 2**30:.2f} GiB, "
                  f"USD {sum(cost(scanned_by_query[q]) for q in report_queries):.4f}; "
                  f"{len(run)} statements of at least 10 MB each)")
        return 1 if failures or truth.consistency_problems(t) else 0


if __name__ == "__main__":
    sys.exit(main())
