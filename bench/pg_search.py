"""Search on PostgreSQL beside SQLite: the same generated history, the same queries, both backends.

Builds the history as an SQLite file (bench/generate.py), copies it into a throwaway PostgreSQL
server with `store.desk_copy.copy_desk` (what `mentiondesk migrate` does), draws the queries as
bench/run.py does, and runs every query on both: p50/p95 wall time per `search(store, q, limit=20)`,
and how many of SQLite's top 20 PostgreSQL also returns (the same ranking code runs on both; SQLite's
recall against brute force is bench/run.py's). Load average beside the figures.

    .venv/bin/python -m bench.pg_search [--size 100k] [--per-kind 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import SIZES, write_db  # noqa: E402
from bench.run import make_queries, percentile  # noqa: E402
from store.db import open_store  # noqa: E402
from store.desk_copy import copy_desk  # noqa: E402
from store.search import search  # noqa: E402


def timed(store, queries: list[dict]) -> tuple[list[float], list[list[int]]]:
    search(store, "refund")  # loads the vocabulary
    times, ids = [], []
    for item in queries:
        started = time.perf_counter()
        hits = search(store, item["query"], limit=20)
        times.append((time.perf_counter() - started) * 1000)
        ids.append([hit.mention_id for hit in hits])
    return times, ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="100k")
    parser.add_argument("--per-kind", type=int, default=50)
    args = parser.parse_args()
    from tests.pg_support import start_server, stop_server

    server = start_server()
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "history.db"
            started = time.perf_counter()
            write_db(path, SIZES[args.size], progress=False)
            built = time.perf_counter() - started
            queries = make_queries(path, args.per_kind)
            sqlite_store = open_store(path)
            pg_store = open_store(server.fresh_database())
            started = time.perf_counter()
            report = copy_desk(sqlite_store, pg_store)
            copied = time.perf_counter() - started
            load = os.getloadavg()[0]
            results = {"SQLite": timed(sqlite_store, queries), "PostgreSQL": timed(pg_store, queries)}
            load_after = os.getloadavg()[0]
            sqlite_store.close()
            pg_store.close()
    finally:
        stop_server(server)
    same = [len(set(a) & set(b)) / max(1, len(a)) for a, b in zip(results["SQLite"][1], results["PostgreSQL"][1],
                                                                    strict=True)]
    print(f"{SIZES[args.size]:,} mentions: built in {built:.0f} s, copied to PostgreSQL in {copied:.0f} s "
          f"(counts equal: {report.equal}); {len(queries)} queries; load average {load:.2f} -> {load_after:.2f} "
          f"({os.cpu_count()} cores)\n")
    print("| backend | p50 | p95 | max |\n| --- | --- | --- | --- |")
    for name, (times, _ids) in results.items():
        print(f"| {name} | {percentile(times, 0.5):.1f} ms | {percentile(times, 0.95):.1f} ms | {max(times):.1f} ms |")
    print(f"\nPostgreSQL's top 20 holds {sum(same) / len(same):.1%} of SQLite's on average "
          f"({sum(1 for s in same if s == 1.0)} of {len(same)} queries identical as sets).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
