"""Run every benchmark, print a table, write bench/RESULTS.md.

    python -m bench.run                    # 1M mentions; builds bench/data/1m.db first if missing
    python -m bench.run --size 100k        # quicker
    python -m bench.run --rebuild          # re-measure the import too
    python -m bench.run --profile flood --size 5m   # the flood profile (bench/flood.py): 70 % open

Searches run in a child process that only opens the database and searches,
so its memory is what a console holding the same database would hold. The
ground truth (bench.truth) is computed in this process afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rapidfuzz  # noqa: E402

from bench.corpus import mistype  # noqa: E402
from bench.generate import PROFILES, SIZES, build_record, write_db  # noqa: E402

HERE = Path(__file__).resolve().parent
TARGETS = {"p50_ms": 15.0, "p95_ms": 50.0, "recall": 0.95, "import_s_per_1m": 60.0, "rss_mb": 150.0}
SEARCH_LIMIT = 20
PAGE_LIMIT = 200  # what the console asks for


# -- placeholders the lead wires ---------------------------------------------
# Each is a callable(db_path: Path, size: int) -> list of (label, value, target)
# rows, or None while not wired: the table then says "not measured yet".
def _hook(module: str) -> Callable[[Path, int], list[tuple[str, str, str]]]:
    def run(db: Path, size: int) -> list[tuple[str, str, str]]:
        from importlib import import_module

        return import_module(module).measure(db, size)
    return run


# Whole-product benchmarks, each `measure(db_path, size) -> [(label, value, target)]`.
PENDING: dict[str, Callable[[Path, int], list[tuple[str, str, str]]] | None] = {
    "import from JSONL (store.importing)": _hook("bench.import_jsonl"),
    "live stream (mentions/s into an open console)": _hook("bench.live_stream"),
    "cold start (launch to first screen on the 1M file)": _hook("bench.cold_start"),
    "bulk: mark and tag 5,000 rows (store.bulk)": _hook("bench.bulk"),
}


# -- the machine -------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores", "memory": memory,
        "os": platform.platform(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "rapidfuzz": rapidfuzz.__version__,
    }


# -- the query set -----------------------------------------------------------


def make_queries(db: Path, count: int, seed: int = 11) -> list[dict]:
    """`count` queries of each kind, built from random mentions of the file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        top = conn.execute("SELECT max(id) FROM mentions").fetchone()[0]
        rng = random.Random(seed)
        queries: list[dict] = []
        kinds = ["exact", "typo", "exact+filters", "typo+filters", "long typo", "filters only"]
        for kind in kinds:
            made = 0
            while made < count:
                mention_id = rng.randint(1, top)
                row = conn.execute(
                    "SELECT m.text, m.network, m.status, a.handle FROM mentions m "
                    "JOIN authors a ON a.id = m.author_id WHERE m.id = ?", (mention_id,)).fetchone()
                if row is None:
                    continue
                text, network, status, handle = row
                tags = [r[0] for r in conn.execute("SELECT tag FROM tags WHERE mention_id = ?", (mention_id,))]
                words = [w.strip(".,!?;:()\"'¿¡") for w in text.split()]
                words = [w for w in words if w.isalpha() and not w.startswith("@")]
                query = _words(rng, words, typo="typo" in kind, length=(5, 8) if kind == "long typo" else None)
                if query is None and kind != "filters only":
                    continue
                filters = _filters(rng, network, status, handle, tags) if "filters" in kind else ""
                if kind == "filters only":
                    query = ""
                if not (query or filters):
                    continue
                queries.append({"kind": kind, "query": f"{filters} {query}".strip()})
                made += 1
        return queries
    finally:
        conn.close()


def _words(rng: random.Random, words: list[str], *, typo: bool, length: tuple[int, int] | None = None) -> str | None:
    if not words:
        return None
    size = rng.randint(*length) if length else rng.choice((1, 2, 2, 3))
    if len(words) < size:
        return None
    start = rng.randrange(len(words) - size + 1)
    picked = words[start:start + size]
    if not typo:
        return " ".join(picked)
    long_enough = [i for i, w in enumerate(picked) if len(w) >= 5]
    if not long_enough:
        return None
    for index in long_enough:
        if index == long_enough[0] or rng.random() < 0.4:
            word = mistype(picked[index], rng)
            if len(word) >= 9 and rng.random() < 0.3:
                word = mistype(word, rng)
            picked[index] = word
    return " ".join(picked)


def _filters(rng: random.Random, network: str, status: str, handle: str, tags: list[str]) -> str:
    options = [f"net:{network}", f"status:{status}", f"from:{handle.lstrip('@').split('@')[0]}"]
    options += [f"tag:{tag}" for tag in tags]
    return " ".join(rng.sample(options, rng.randint(1, min(3, len(options)))))


# -- the search worker (child process) ---------------------------------------


def worker(db: Path, queries_file: Path, out_file: Path) -> None:
    from store.db import open_store
    from store.search import search

    queries = json.loads(queries_file.read_text())
    store = open_store(db, readonly=True)
    results = []
    start = time.perf_counter()
    search(store, "refund")  # loads the vocabulary: reported as the first search
    first = time.perf_counter() - start
    for item in queries:
        wall, cpu = time.perf_counter(), time.thread_time()
        hits = search(store, item["query"], limit=SEARCH_LIMIT)
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        results.append({**item, "ms": wall * 1000, "cpu_ms": cpu * 1000, "ids": [hit.mention_id for hit in hits]})
    # Again (caches warm), and as the console asks: 200 hits with spans.
    for key, limit in (("repeat_ms", SEARCH_LIMIT), ("page_ms", PAGE_LIMIT)):
        for result in results:
            wall = time.perf_counter()
            search(store, result["query"], limit=limit)
            result[key] = (time.perf_counter() - wall) * 1000
    status = Path("/proc/self/status").read_text()
    rss = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status.splitlines()
           if line.startswith(("VmRSS", "VmHWM"))}
    out_file.write_text(json.dumps({"first_search_ms": first * 1000, "rss_mb": rss.get("VmRSS"),
                                    "peak_rss_mb": rss.get("VmHWM"), "results": results}))
    store.close()


# -- ground truth ------------------------------------------------------------


def truth_recall(db: Path, results: list[dict]) -> None:
    """Adds "recall" to each text query's result (in place)."""
    from bench.truth import BruteForce, recall_at
    from store.query import parse_query

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    print("ground truth: tokenizing every mention ...", file=sys.stderr, flush=True)
    tick = time.perf_counter()
    truth = BruteForce(conn.execute("SELECT id, text FROM mentions"))
    print(f"  {len(truth.postings):,} distinct terms in {time.perf_counter() - tick:.0f} s", file=sys.stderr)
    for number, result in enumerate(results, start=1):
        parsed = parse_query(result["query"])
        if not parsed.terms:
            continue
        allowed = _allowed(conn, parsed.filters) if parsed.filters else None
        result["recall"] = recall_at(result["ids"], truth.scores(list(parsed.terms), allowed), SEARCH_LIMIT)
        if number % 50 == 0:
            print(f"  {number}/{len(results)} queries checked", file=sys.stderr, flush=True)
    conn.close()


def _allowed(conn: sqlite3.Connection, filters) -> set[int]:
    """Ids passing the filters, computed the plain way (no shared code with store.search)."""
    sets = []
    if filters.tags:
        marks = ",".join("?" * len(filters.tags))
        sets.append({r[0] for r in conn.execute(f"SELECT mention_id FROM tags WHERE tag IN ({marks})", filters.tags)})
    if filters.statuses:
        marks = ",".join("?" * len(filters.statuses))
        sets.append({r[0] for r in conn.execute(f"SELECT id FROM mentions WHERE status IN ({marks})",
                                                filters.statuses)})
    if filters.networks:
        marks = ",".join("?" * len(filters.networks))
        sets.append({r[0] for r in conn.execute(f"SELECT id FROM mentions WHERE network IN ({marks})",
                                                filters.networks)})
    if filters.authors:
        wanted = {h.lower().lstrip("@") for h in filters.authors}

        def names(handle: str) -> set[str]:
            bare = handle.lower().lstrip("@")
            user = bare.split("@")[0] if "@" in bare[1:] else bare.removesuffix(".bsky.social")
            return {bare, user or bare}

        author_ids = [author_id for author_id, handle in conn.execute("SELECT id, handle FROM authors")
                      if names(handle) & wanted]
        ids: set[int] = set()
        for start in range(0, len(author_ids), 500):
            chunk = author_ids[start:start + 500]
            ids |= {r[0] for r in conn.execute(
                f"SELECT id FROM mentions WHERE author_id IN ({','.join('?' * len(chunk))})", chunk)}
        sets.append(ids)
    return set.intersection(*sets)


# -- report ------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def file_sizes(db: Path) -> dict[str, float]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = {"file_mb": db.stat().st_size / 1e6,
               "vocabulary": conn.execute("SELECT count(*) FROM search_vocab").fetchone()[0]}
        try:
            rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
            out["search_index_mb"] = sum(size for name, size in rows
                                         if name.startswith("search_") or name.startswith("sqlite_autoindex_search"))
            out["search_index_mb"] /= 1e6
        except sqlite3.OperationalError:
            pass
        return out
    finally:
        conn.close()


def _build_row(label: str, build: dict) -> str:
    seconds = build["insert_seconds"] + build.get("index_seconds", 0.0)
    cpu = (build.get("insert_cpu_seconds", 0.0) + build.get("index_cpu_seconds", 0.0)
           + build.get("helper_cpu_seconds", 0.0))
    phases = (f"inserting {build['insert_seconds']:.0f} s + indexing {build['index_seconds']:.0f} s"
              if build.get("deferred_index") else "indexed in every transaction")
    return (f"| {label}: {build['rows']:,} mentions via store.ingest.insert_mentions, {build['batch']:,} per "
            f"transaction, search index included | {seconds:.0f} s wall ({phases}); "
            f"{build['rows'] / seconds:,.0f} rows/s; {cpu:.0f} s CPU (helper process included); "
            f"load {build['load_before']:.1f}→{build['load_after']:.1f}; built {build.get('built_at', '?')} "
            f"| 1M in ≤ {TARGETS['import_s_per_1m']:.0f} s |")


def report(args: argparse.Namespace, size: int, builds: list[tuple[str, dict]], run: dict, sizes: dict,
           load: tuple[float, float]) -> str:
    results = run["results"]
    lines = []
    info = machine()
    lines.append(f"Machine: {info['cpu']}, {info['memory']} RAM; {info['os']}; Python {info['python']}, "
                 f"SQLite {info['sqlite']}, rapidfuzz {info['rapidfuzz']}")
    lines.append(f"Load average (1 min) at start / end of the search runs: {load[0]:.2f} / {load[1]:.2f} "
                 f"on {os.cpu_count()} cores (other work shares this machine; wall times include waiting "
                 f"for a core, CPU times do not)")
    lines.append(f"Data: {size:,} generated mentions (bench/generate.py, seed 2024), "
                 f"file {sizes['file_mb']:.0f} MB, search index {sizes.get('search_index_mb', float('nan')):.0f} MB, "
                 f"vocabulary {sizes['vocabulary']:,} terms")
    lines.append("")
    lines.append("| benchmark | measured | target |")
    lines.append("| --- | --- | --- |")
    text_queries = [r for r in results if r["kind"] != "filters only"]
    kinds = ["exact", "typo", "exact+filters", "typo+filters", "long typo", "filters only"]
    for kind in kinds:
        chosen = [r for r in results if r["kind"] == kind]
        if not chosen:
            continue
        ms = [r["ms"] for r in chosen]
        cpu = [r["cpu_ms"] for r in chosen]
        lines.append(f"| search {kind} ({len(chosen)} queries), p50 / p95 / max | "
                     f"{percentile(ms, .5):.1f} / {percentile(ms, .95):.1f} / {max(ms):.1f} ms wall; "
                     f"{percentile(cpu, .5):.1f} / {percentile(cpu, .95):.1f} ms CPU | "
                     f"p50 ≤ {TARGETS['p50_ms']:.0f} ms, p95 ≤ {TARGETS['p95_ms']:.0f} ms |")
    usual = [r for r in results if r["kind"] != "long typo"]
    ms = [r["ms"] for r in usual]
    cpu = [r["cpu_ms"] for r in usual]
    lines.append(f"| search, all {len(usual)} queries of 1-3 words and/or filters, p50 / p95 | "
                 f"{percentile(ms, .5):.1f} / "
                 f"{percentile(ms, .95):.1f} ms wall; {percentile(cpu, .5):.1f} / {percentile(cpu, .95):.1f} ms CPU | "
                 f"p50 ≤ 15 ms, p95 ≤ 50 ms |")
    repeat = [r["repeat_ms"] for r in usual]
    lines.append(f"| same {len(usual)} queries again, p50 / p95 | {percentile(repeat, .5):.1f} / "
                 f"{percentile(repeat, .95):.1f} ms wall | |")
    page = [r["page_ms"] for r in usual]
    lines.append(f"| same {len(usual)} queries, {PAGE_LIMIT} hits with spans (the console's page), p50 / p95 | "
                 f"{percentile(page, .5):.1f} / {percentile(page, .95):.1f} ms wall | |")
    lines.append(f"| first search in a new process (loads the vocabulary) | {run['first_search_ms']:.0f} ms | |")
    for kind in ["typo", "typo+filters", "exact", "exact+filters", "long typo"]:
        recalls = [r["recall"] for r in results if r["kind"] == kind and r.get("recall") is not None]
        if recalls:
            lines.append(f"| recall@20 vs brute force, {kind} ({len(recalls)} queries), mean / worst | "
                         f"{statistics.mean(recalls):.3f} / {min(recalls):.3f} | ≥ {TARGETS['recall']} |")
    recalls = [r["recall"] for r in text_queries if r.get("recall") is not None and r["kind"] != "long typo"]
    if recalls:
        lines.append(f"| recall@20 vs brute force, all queries of 1-3 words, mean | {statistics.mean(recalls):.3f} "
                     "| ≥ 0.95 |")
    elif args.skip_truth:
        lines.append("| recall@20 vs brute force | not measured (--skip-truth) | ≥ 0.95 |")
    lines.append(f"| resident memory, DB open and all queries run (now / peak) | {run['rss_mb']:.0f} / "
                 f"{run['peak_rss_mb']:.0f} MB | ≤ {TARGETS['rss_mb']:.0f} MB |")
    for label, record in builds:
        lines.append(_build_row(label, record))
    for name, hook in PENDING.items():
        if hook is None:
            lines.append(f"| {name} | not measured yet | |")
        else:
            for label, value, target in hook(Path(args.db), size):
                lines.append(f"| {label} | {value} | {target} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the mentiondesk benchmarks.")
    parser.add_argument("--size", choices=sorted(SIZES), default="1m")
    parser.add_argument("--db", type=Path, help="database (default bench/data/<size>.db)")
    parser.add_argument("--queries", type=int, default=60, help="queries of each kind")
    parser.add_argument("--rebuild", action="store_true", help="delete and rebuild the database (import benchmark)")
    parser.add_argument("--skip-truth", action="store_true", help="skip the brute-force recall check")
    parser.add_argument("--skip-relevance", action="store_true",
                        help="skip the labelled relevance evaluation (bench/relevance.py)")
    parser.add_argument("--inline-too", action="store_true",
                        help="also build a copy indexing in every transaction, to compare import strategies")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--storm-seconds", type=float, default=600.0,
                        help="how long the live storm runs (bench/live_stream.py; 600 for the report)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="usual",
                        help="flood: 70 %% open, measured by bench/flood.py into its own section")
    parser.add_argument("--worker", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ["MENTIONDESK_STORM_SECONDS"] = f"{args.storm_seconds:g}"
    if args.worker:
        worker(*args.worker)
        return 0
    size = SIZES[args.size]
    if args.profile == "flood":
        from bench.flood import run_profile

        return run_profile(args.size, args.db, rebuild=args.rebuild, out=args.out)
    args.db = args.db or HERE / "data" / f"{args.size}.db"
    inline = args.db.with_name(args.db.stem + "-inline.db")
    if args.rebuild:
        for path in (args.db, inline):
            for suffix in ("", "-wal", "-shm", ".build.json"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    if not args.db.exists():
        print(f"building {args.db} ({size:,} mentions) ...", file=sys.stderr)
        write_db(args.db, size)
    builds = []
    if build_record(args.db).exists():
        builds.append(("import, index built at the end", json.loads(build_record(args.db).read_text())))
    if args.inline_too and not build_record(inline).exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{inline}{suffix}").unlink(missing_ok=True)
        print(f"building {inline} (indexing in every transaction) ...", file=sys.stderr)
        write_db(inline, size, deferred=False)
    if build_record(inline).exists():
        builds.append(("import, index in every transaction", json.loads(build_record(inline).read_text())))
    queries = make_queries(args.db, args.queries)
    scratch = args.db.with_name(args.db.name + ".queries.json")
    out = args.db.with_name(args.db.name + ".run.json")
    scratch.write_text(json.dumps(queries))
    load_start = os.getloadavg()[0]
    print(f"searching {len(queries)} queries in a child process ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "bench.run", "--worker", str(args.db), str(scratch), str(out)],
                   check=True, cwd=HERE.parent)
    load_end = os.getloadavg()[0]
    run = json.loads(out.read_text())
    if not args.skip_truth:
        truth_recall(args.db, run["results"])
    table = report(args, size, builds, run, file_sizes(args.db), (load_start, load_end))
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    print(table)
    misses = [r for r in run["results"] if r.get("recall") is not None and r["recall"] < 1]
    detail = "\n".join(f"- `{r['query']}` ({r['kind']}): recall {r['recall']:.2f}" for r in misses[:30])
    slow = sorted(run["results"], key=lambda r: -r["ms"])[:10]
    slowest = "\n".join(f"- `{r['query']}` ({r['kind']}): {r['ms']:.1f} ms wall, {r['cpu_ms']:.1f} ms CPU"
                        for r in slow)
    args.out.write_text(
        f"# Benchmark results\n\nMeasured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} with:\n\n"
        f"    {command.strip()}\n\n{table}\n\n## Slowest queries\n\n{slowest}\n\n"
        f"## Queries below full recall\n\n{detail or '- none'}\n"
        + (f"\n{storm.SECTION}" if (storm := sys.modules.get("bench.live_stream")) and storm.SECTION else "")
    )
    if not args.skip_relevance:
        from bench import relevance

        relevance.main(["--size", args.size, "--db", str(args.db), "--out", str(args.out)])
    print(f"\nwritten to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
