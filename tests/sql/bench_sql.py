"""The SQL we ship at realistic size: fleet-sim writes an organization's fleet, demo/localathena.py
loads it as Athena would see it, every named query and dataset query runs, and each result is
checked against the ground truth with the same expectations as `make sql-check` (truth.py).

    .venv/bin/python tests/sql/bench_sql.py --fleet-sim <target>/debug/fleet-sim --nodes 100000

Prints the generation wall time and fleet-sim's peak RSS, the load time, and each query's run time
and row count. Exits non-zero when a query disagrees with the ground truth.
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "demo")]

import localathena as la  # noqa: E402
import truth  # noqa: E402


def rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet-sim", type=pathlib.Path, default=truth.find_fleet_sim(), help="the fleet-sim binary")
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--regions", default="us-east-1,eu-west-1,ap-southeast-2")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=pathlib.Path,
                        help="write the fleet here and keep it (default: a temporary folder)")
    parser.add_argument("--fleet", type=pathlib.Path, help="use this fleet-sim folder instead of generating one")
    parser.add_argument("--database", default=":memory:", help="DuckDB database file (default: in memory)")
    args = parser.parse_args()
    if args.fleet is None and (args.fleet_sim is None or not args.fleet_sim.exists()):
        parser.error("--fleet-sim: the fleet-sim binary is needed (cargo build -p fleet-sim)")

    with tempfile.TemporaryDirectory(prefix="bench-sql-") as tmp:
        out = args.fleet or args.keep or pathlib.Path(tmp) / "fleet"
        if args.fleet is None:
            regions = args.regions.split(",")
            print(f"fleet-sim: {args.nodes} nodes, {args.accounts} accounts x {len(regions)} Regions -> {out}",
                  flush=True)
            started = time.monotonic()
            said = truth.run_fleet_sim(args.fleet_sim, out, seed=args.seed, nodes=args.nodes,
                                       accounts=args.accounts, regions=regions, now=truth.now_to_the_minute())
            generation = time.monotonic() - started
            print(f"  {said.strip()}")
            print(f"  generated in {generation:.1f} s, fleet-sim peak RSS "
                  f"{rss_mib(resource.RUSAGE_CHILDREN):.0f} MiB", flush=True)

        started = time.monotonic()
        con = la.connect(out, args.database)
        load = time.monotonic() - started
        tables = con.execute("SELECT schema_name || '.' || table_name, estimated_size FROM duckdb_tables() "
                             "ORDER BY 1").fetchall()
        print(f"load: {load:.1f} s, {sum(n for _, n in tables)} rows in {len(tables)} tables, "
              f"peak RSS {rss_mib(resource.RUSAGE_SELF):.0f} MiB", flush=True)

        started = time.monotonic()
        t = truth.load(out)
        print(f"ground truth: {len(t.nodes)} nodes ({len(t.live)} live) read in {time.monotonic() - started:.1f} s")
        problems = truth.consistency_problems(t) + [f"fixture lacks {p}" for p in truth.coverage_problems(t)]
        for problem in problems:
            print(f"  ground truth: {problem}")

        failures = 0
        total = 0.0
        print(f"{'query':40} {'rows':>9} {'run s':>7}  check")
        for query in truth.queries():
            values = la.NAMED_QUERY_VALUES if query.kind == "named" else la.DATASET_VALUES
            started = time.monotonic()
            parameters = truth.PARAMETERS[query.id](t) if query.id in truth.PARAMETERS else None
            rows = la.run(con, query.text, values, parameters)
            elapsed = time.monotonic() - started
            total += elapsed
            try:
                truth.check(t, query.id, rows)
                verdict = "ok"
            except AssertionError as error:
                failures += 1
                verdict = f"WRONG: {str(error)[:300]}"
            print(f"{query.id:40} {len(rows):>9} {elapsed:>7.2f}  {verdict}", flush=True)
        print(f"queries: {total:.1f} s in all; peak RSS {rss_mib(resource.RUSAGE_SELF):.0f} MiB; "
              f"{failures} of {len(truth.queries())} disagree with the ground truth")
        return 1 if failures or truth.consistency_problems(t) else 0


if __name__ == "__main__":
    sys.exit(main())
