"""Search on PostgreSQL beside SQLite: the same generated history, the same queries, both backends.

Builds the history as an SQLite file (bench/generate.py) or reuses one (`--db`, e.g. the 1M file
bench/run.py built: it is opened read-write, so give a copy you may migrate), copies it into a
throwaway PostgreSQL server with `store.desk_copy.copy_desk` (what `mentiondesk migrate` does) or
reuses a desk copied earlier (`--pg URL`), draws the queries as bench/run.py does, and runs every
query on both: p50/p95/max wall time per `search(store, q, limit=20)` per query kind, and how many of
SQLite's top 20 PostgreSQL returns (the same ranking code runs on both, so the top 20 must be the
same; SQLite's recall against brute force is bench/run.py's). Load average beside the figures.

    .venv/bin/python -m bench.pg_search [--size 100k] [--per-kind 50]
    .venv/bin/python -m bench.pg_search --db copy-of-1m.db [--pg postgresql://...] --per-kind 30
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
from store.db import Store, open_store  # noqa: E402
from store.desk_copy import copy_desk  # noqa: E402
from store.search import search  # noqa: E402

KINDS = ["exact", "typo", "exact+filters", "typo+filters", "long typo", "filters only"]


def timed(store: Store, queries: list[dict]) -> tuple[list[float], list[list[int]]]:
    search(store, "refund")  # loads the vocabulary
    times, ids = [], []
    for item in queries:
        started = time.perf_counter()
        hits = search(store, item["query"], limit=20)
        times.append((time.perf_counter() - started) * 1000)
        ids.append([hit.mention_id for hit in hits])
    return times, ids


def _figures(times: list[float]) -> str:
    return f"{percentile(times, 0.5):.1f} / {percentile(times, 0.95):.1f} / {max(times):.1f} ms"


def report(queries: list[dict], results: dict[str, tuple[list[float], list[list[int]]]]) -> list[str]:
    """The markdown table: per kind and overall, both backends, and the top-20 agreement."""
    lines = ["| queries | SQLite p50 / p95 / max | PostgreSQL p50 / p95 / max | PG top 20 = SQLite's |",
             "| --- | --- | --- | --- |"]
    lite_times, lite_ids = results["SQLite"]
    pg_times, pg_ids = results["PostgreSQL"]
    groups = [(kind, [i for i, q in enumerate(queries) if q["kind"] == kind]) for kind in KINDS]
    groups.append(("all but long typo (the targets' set, as bench/run.py)",
                   [i for i, q in enumerate(queries) if q["kind"] != "long typo"]))
    groups.append(("all", list(range(len(queries)))))
    for kind, chosen in groups:
        if not chosen:
            continue
        same = sum(1 for i in chosen if lite_ids[i] == pg_ids[i])
        lines.append(f"| {kind} ({len(chosen)}) | {_figures([lite_times[i] for i in chosen])} | "
                     f"{_figures([pg_times[i] for i in chosen])} | {same} of {len(chosen)} |")
    return lines


def _differences(queries: list[dict], results: dict[str, tuple[list[float], list[list[int]]]]) -> list[str]:
    out = []
    for item, lite, pg in zip(queries, results["SQLite"][1], results["PostgreSQL"][1], strict=True):
        if lite != pg:
            held = len(set(lite) & set(pg)) / max(1, len(lite))
            out.append(f"  differs: {item['kind']}: {item['query']!r} (PG holds {held:.0%} of SQLite's top 20)")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="100k")
    parser.add_argument("--db", type=Path, help="an existing SQLite history to use (a copy: it may be migrated)")
    parser.add_argument("--pg", help="a PostgreSQL desk already copied from --db (skips the copy)")
    parser.add_argument("--per-kind", type=int, default=50)
    args = parser.parse_args()
    from tests.pg_support import start_server, stop_server

    server = start_server() if args.pg is None else None
    try:
        with tempfile.TemporaryDirectory() as folder:
            path, built = args.db, 0.0
            if path is None:
                path = Path(folder) / "history.db"
                started = time.perf_counter()
                write_db(path, SIZES[args.size], progress=False)
                built = time.perf_counter() - started
            queries = make_queries(path, args.per_kind)
            sqlite_store = open_store(path)
            pg_store = open_store(args.pg or server.fresh_database())  # type: ignore[union-attr]
            copied, equal = "reused", "not checked"
            if args.pg is None:
                started = time.perf_counter()
                equal = str(copy_desk(sqlite_store, pg_store).equal)
                copied = f"copied in {time.perf_counter() - started:.0f} s"
            size = sqlite_store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
            load = os.getloadavg()[0]
            results = {"SQLite": timed(sqlite_store, queries), "PostgreSQL": timed(pg_store, queries)}
            load_after = os.getloadavg()[0]
            sqlite_store.close()
            pg_store.close()
    finally:
        if server is not None:
            stop_server(server)
    made = f"built in {built:.0f} s" if args.db is None else f"from {args.db.name}"
    print(f"{size:,} mentions ({made}); PostgreSQL desk {copied} (counts equal: {equal}); {len(queries)} queries; "
          f"load average {load:.2f} -> {load_after:.2f} ({os.cpu_count()} cores)\n")
    print("\n".join(report(queries, results)))
    print("\n".join(_differences(queries, results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
