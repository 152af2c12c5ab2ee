"""Search at scale with its references, in one run, for the same queries, file cached and not.

    python -m bench.search_reference --db bench/data/flood-5m.db            # issue 11, point 5
    python -m bench.search_reference --db DB --engines ours,fts5 --states cold --seed 12

bench/run.py's queries (`make_queries`: 1-3 words and/or filters, and long typo) go to three
engines (bench/search_engines.py): ours (store.search), a plain FTS5 query over the same index,
and tantivy (the `bench` extra; its index is built once beside the database). Each engine runs in
a new process, in each OS-cache state:

- warm: the database (and tantivy's index) read through once first, so every page is cached;
- cold: their pages dropped from the OS cache first (posix_fadvise DONTNEED, checked with
  mincore through `fincore`; what stayed cached is reported).

Per engine and state: p50 / p95 wall and CPU, and the bytes read from disk (getrusage inblock),
with the 1-minute load average. The database is opened read-only; it is never written.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import make_queries, percentile  # noqa: E402
from bench.search_engines import ENGINES, build_tantivy, run, tantivy_dir  # noqa: E402

HERE = Path(__file__).resolve().parent
SHORT = "1-3 words and/or filters"


def files_of(db: Path, engine: str) -> list[Path]:
    paths = [Path(f"{db}{suffix}") for suffix in ("", "-wal", "-shm")]
    if engine == "tantivy":
        paths += sorted(p for p in tantivy_dir(db).iterdir() if p.is_file())
    return [path for path in paths if path.exists()]


def cached_mb(paths: list[Path]) -> float:
    """How much of `paths` is in the OS cache (mincore, through util-linux fincore)."""
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "-o", "RES", *map(str, paths)],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(line) for line in out.split()) / 1e6


def evict(paths: list[Path]) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def warm(paths: list[Path]) -> None:
    for path in paths:
        with path.open("rb", buffering=0) as handle:
            while handle.read(8 << 20):
                pass


def child(engine: str, db: Path, queries_file: Path, out_file: Path) -> None:
    out_file.write_text(json.dumps(run(engine, db, json.loads(queries_file.read_text()))))


def measure(db: Path, engines: list[str], states: list[str], queries: list[dict], scratch: Path) -> list[dict]:
    queries_file = scratch / "queries.json"
    queries_file.write_text(json.dumps(queries))
    runs = []
    for state in states:
        for engine in engines:
            paths = files_of(db, engine)
            if state == "warm":
                warm(paths)
            else:
                evict(paths)
            cached = cached_mb(paths)
            out = scratch / f"{engine}-{state}.json"
            load_before = os.getloadavg()
            subprocess.run([sys.executable, "-m", "bench.search_reference", "--child", engine, str(db),
                            str(queries_file), str(out)], check=True, cwd=HERE.parent)
            record = json.loads(out.read_text())
            record.update(engine=engine, state=state, cached_mb=cached, files_mb=sum(p.stat().st_size for p in paths)
                          / 1e6, load=(load_before[0], os.getloadavg()[0]))
            runs.append(record)
            print(row(record, "short"), file=sys.stderr, flush=True)
    return runs


def _chosen(record: dict, which: str) -> list[dict]:
    results = record["results"]
    if which == "short":
        return [r for r in results if r["kind"] != "long typo"]
    if which == "all":
        return results
    return [r for r in results if r["kind"] == which]


def row(record: dict, which: str) -> str:
    chosen = _chosen(record, which)
    ms = [r["ms"] for r in chosen]
    cpu = [r["cpu_ms"] for r in chosen]
    read = sum(r["read_kb"] for r in chosen) / len(chosen)
    return (f"| {record['engine']} | {record['state']} ({record['cached_mb']:,.0f} of {record['files_mb']:,.0f} MB "
            f"cached) | {percentile(ms, .5):.1f} / **{percentile(ms, .95):.1f}** / {max(ms):.1f} ms "
            f"| {percentile(cpu, .5):.1f} / {percentile(cpu, .95):.1f} ms | {read:,.0f} KB "
            f"| {record['first']['ms']:.0f} ms | {record['load'][0]:.2f} → {record['load'][1]:.2f} |")


def report(runs: list[dict], queries: list[dict]) -> str:
    header = ("| engine | OS cache | wall p50 / p95 / max | CPU p50 / p95 | read from disk per query "
              "| open + first search | load (1 min) |\n| --- | --- | --- | --- | --- | --- | --- |")
    short = [q for q in queries if q["kind"] != "long typo"]
    lines = [f"All {len(short)} queries of {SHORT}:", "", header, *(row(r, "short") for r in runs), "",
             f"The {len(queries) - len(short)} long typo queries (5-8 words):", "", header,
             *(row(r, "long typo") for r in runs), ""]
    ours = {r["state"]: r["results"] for r in runs if r["engine"] == "ours"}
    for record in runs:
        if record["engine"] != "ours" and record["state"] in ours:
            same = sum(a["ids"] == b["ids"] for a, b in zip(ours[record["state"]], record["results"], strict=True))
            lines.append(f"- {record['engine']} {record['state']}: the same hits as ours for {same} of {len(queries)} "
                         "queries")
    lines += ["", "Slowest five per engine and state (wall, CPU, read):", ""]
    for record in runs:
        slow = sorted(record["results"], key=lambda r: -r["ms"])[:5]
        lines.append(f"- {record['engine']} {record['state']}: " + "; ".join(
            f"`{r['query']}` {r['ms']:.0f} / {r['cpu_ms']:.0f} ms, {r['read_kb']:,.0f} KB" for r in slow))
    return "\n".join(lines)


def run_all(db: Path, engines: list[str], states: list[str], per_kind: int = 60,
            seed: int = 11) -> tuple[list[dict], list[dict]]:
    """Every engine in every cache state on the same queries: (runs, queries); tantivy only if installed."""
    engines = list(engines)
    if "tantivy" in engines:
        try:
            import tantivy  # noqa: F401
        except ImportError:
            print("tantivy is not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
            engines.remove("tantivy")
        else:
            build_tantivy(db)
    queries = make_queries(db, per_kind, seed=seed)
    scratch = db.with_name(db.name + ".reference")
    scratch.mkdir(exist_ok=True)
    runs = measure(db, engines, states, queries, scratch)
    (scratch / "runs.json").write_text(json.dumps(runs))
    return runs, queries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Search with its FTS5 and tantivy references, cached and not.")
    parser.add_argument("--db", type=Path, default=HERE / "data" / "flood-5m.db")
    parser.add_argument("--queries", type=int, default=60, help="queries of each kind (bench.run.make_queries)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--states", default="warm,cold")
    parser.add_argument("--out", type=Path, help="also write the tables (markdown) here")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        engine, db, queries_file, out_file = args.child
        child(engine, Path(db), Path(queries_file), Path(out_file))
        return 0
    runs, queries = run_all(args.db, [e for e in args.engines.split(",") if e],
                            [s for s in args.states.split(",") if s], args.queries, args.seed)
    table = report(runs, queries)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
