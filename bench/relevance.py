"""Search relevance: labelled queries of each kind, precision@20 against the intended word, recall, latency.

    python bench/relevance.py [--size 1m] [--db PATH] [--queries 40] [--seed 29] [--out bench/RESULTS.md]
                               [--no-tantivy]

Runs on the benchmark database (built by `python -m bench.run` or
bench.generate). For every kind of query (bench.relevance_queries), reports

- precision@20: the share of the first min(20, R) hits that hold every
  intended word, R being how many mentions hold them all; for labels cut
  from a mention, a word also counts as held through the dictionary word an
  author's misspelling of it stands for (bench.relevance_queries), and the
  stricter figure, every word exactly as written, is reported beside it;
- recall@20 against bench.truth's brute-force scoring of every mention;
- p50/p95 wall time of `store.search.search(limit=20)`, each query run once
  in this process after one warm-up search (which loads the vocabulary);
- with tantivy installed (`pip install tantivy`), the same queries as
  tantivy fuzzy term queries over the same folded terms, as a reference.

Writes a "Search relevance" section into RESULTS.md (replacing an older one).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import SIZES  # noqa: E402
from bench.relevance_queries import KINDS, Labelled, make  # noqa: E402
from bench.truth import BruteForce, recall_at  # noqa: E402

HERE = Path(__file__).resolve().parent
TOP = 20
SECTION = "## Search relevance"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def holders(truth: BruteForce, words: tuple[str, ...], misspells: tuple[tuple[str, ...], ...] = ()) -> set[int]:
    """Mentions holding every word; a word also counts as held through a dictionary word it misspells."""
    spellings = [(word, *(misspells[index] if index < len(misspells) else ())) for index, word in enumerate(words)]
    sets = sorted(({mention_id for spelling in group for mention_id in truth.postings.get(spelling, ())}
                   for group in spellings), key=len)
    out = sets[0] if sets else set()
    for ids in sets[1:]:
        out &= ids
    return out


def precision(found: list[int], relevant: set[int]) -> float | None:
    if not relevant:
        return None
    wanted = min(TOP, len(relevant))
    return len([mention_id for mention_id in found[:wanted] if mention_id in relevant]) / wanted


def run_searches(db: Path, queries: list[Labelled]) -> tuple[list[dict], float]:
    from store.db import open_store
    from store.search import search

    store = open_store(db, readonly=True)
    try:
        started = time.perf_counter()
        search(store, "refund")  # loads the vocabulary
        first = time.perf_counter() - started
        out = []
        for item in queries:
            started, cpu = time.perf_counter(), time.thread_time()
            hits = search(store, item.query, limit=TOP, complete_last=item.complete_last)
            out.append({"ms": (time.perf_counter() - started) * 1000, "cpu_ms": (time.thread_time() - cpu) * 1000,
                        "ids": [hit.mention_id for hit in hits]})
        return out, first
    finally:
        store.close()


def brute_force(db: Path, conn) -> BruteForce:
    """bench.truth's postings of every mention, kept beside the database while it is unchanged."""
    stamp = db.stat()
    cache = db.with_name(db.name + ".truth.pickle")
    key = (stamp.st_size, stamp.st_mtime_ns)
    if cache.exists():
        with cache.open("rb") as source:
            if pickle.load(source) == key:
                return pickle.load(source)
    print("relevance: tokenizing every mention (brute force) ...", file=sys.stderr, flush=True)
    truth = BruteForce(conn.execute("SELECT id, text FROM mentions"))
    with cache.open("wb") as sink:
        pickle.dump(key, sink)
        pickle.dump(truth, sink, protocol=pickle.HIGHEST_PROTOCOL)
    return truth


def evaluate(db: Path, count: int, pool: int, use_tantivy: bool, seed: int = 29) -> str:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    truth = brute_force(db, conn)
    queries = make(conn, count, truth.count, pool, seed)
    load = [os.getloadavg()[0]]
    print(f"relevance: {len(queries)} queries through store.search ...", file=sys.stderr, flush=True)
    results, first = run_searches(db, queries)
    load.append(os.getloadavg()[0])
    reference = None
    if use_tantivy:
        from bench import relevance_tantivy

        reference = relevance_tantivy.run(conn, queries, TOP)
    rows = []
    for kind in KINDS:
        chosen = [(item, result, index) for index, (item, result) in enumerate(zip(queries, results, strict=True))
                  if item.kind == kind]
        precisions, recalls, ref_precisions, written = [], [], [], []
        for item, result, index in chosen:
            relevant = holders(truth, item.intended, item.misspells)
            value = precision(result["ids"], relevant)
            if value is not None:
                precisions.append(value)
                result["precision"] = value
                written.append(precision(result["ids"], holders(truth, item.intended)) or 0.0)
                answer = reference[index] if reference is not None else None
                if answer is not None:
                    ref_precisions.append(precision(answer["ids"], relevant) or 0.0)
            from store.query import parse_query

            expected = truth.scores(list(parse_query(item.query).terms), complete_last=item.complete_last)
            value = recall_at(result["ids"], expected, TOP)
            if value is not None:
                recalls.append(value)
                result["recall"] = value
        times = [result["ms"] for _, result, _ in chosen]
        cpu = [result["cpu_ms"] for _, result, _ in chosen]
        ref = "not installed"
        if reference is not None:
            ref_times = [answer["ms"] for _, _, i in chosen if (answer := reference[i]) is not None]
            ref = f"{_mean(ref_precisions)} / {percentile(ref_times, 0.95):.1f} ms"
        rows.append(f"| {kind} ({len(chosen)}) | {_mean(precisions)} | {_mean(written)} | {_mean(recalls)} | "
                    f"{percentile(times, 0.5):.1f} / {percentile(times, 0.95):.1f} ms | "
                    f"{percentile(cpu, 0.5):.1f} / {percentile(cpu, 0.95):.1f} ms | {ref} |")
    every = [r["ms"] for r in results]
    every_cpu = [r["cpu_ms"] for r in results]
    all_precisions = [p for item, r in zip(queries, results, strict=True)
                      if (p := precision(r["ids"], holders(truth, item.intended, item.misspells))) is not None]
    examples = "\n".join(f"- {kind}: `{next(q.query for q in queries if q.kind == kind)}`" for kind in KINDS)
    detail = [{"kind": item.kind, "query": item.query, "intended": item.intended, "misspells": item.misspells,
               **result}
              for item, result in zip(queries, results, strict=True)]
    db.with_name(db.name + ".relevance.json").write_text(json.dumps(detail, ensure_ascii=False, indent=1))
    worst = sorted((d for d in detail if d.get("precision", 1) < 1), key=lambda d: d["precision"])[:12]
    examples += "\n\nLowest precision (intended words in brackets):\n\n" + ("\n".join(
        f"- {d['kind']}: `{d['query']}` [{' '.join(d['intended'])}]: {d['precision']:.2f}" for d in worst) or "- none")
    return "\n".join([
        SECTION, "",
        f"{len(truth.postings):,} distinct terms; load average (1 min) at start / end of the searches: "
        f"{load[0]:.2f} / {load[1]:.2f} (2 cores shared with other work). First search in the process "
        f"(loads the vocabulary): {first * 1000:.0f} ms. Each query run once, cached document counts "
        "warming as they go, as in a console.", "",
        "| kind (queries) | precision@20 vs intended word | the same, words exactly as written | "
        "recall@20 vs brute force | search p50 / p95 wall | CPU p50 / p95 | tantivy fuzzy: precision@20 / p95 wall |",
        "| --- | --- | --- | --- | --- | --- | --- |", *rows,
        f"| **all ({len(queries)})** | **{_mean(all_precisions)}** (target ≥ 0.95) | | | "
        f"{percentile(every, 0.5):.1f} / **{percentile(every, 0.95):.1f} ms** (target p95 ≤ 50) | "
        f"{percentile(every_cpu, 0.5):.1f} / {percentile(every_cpu, 0.95):.1f} ms | |",
        "", "One query of each kind:", "", examples, "",
    ])


def _mean(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f}" if values else "–"


def write_section(out: Path, section: str) -> None:
    text = out.read_text() if out.exists() else "# Benchmark results\n"
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        tail = rest.split("\n## ", 1)
        text = head + section + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Search relevance evaluation.")
    parser.add_argument("--size", choices=sorted(SIZES), default="1m")
    parser.add_argument("--db", type=Path, help="database (default bench/data/<size>.db)")
    parser.add_argument("--queries", type=int, default=40, help="queries of each kind")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--seed", type=int, default=29, help="another seed draws other queries (default 29)")
    parser.add_argument("--no-tantivy", action="store_true", help="skip the tantivy reference even if installed")
    args = parser.parse_args(argv)
    db = args.db or HERE / "data" / f"{args.size}.db"
    if not db.exists():
        print(f"relevance: {db} does not exist; build it with: python -m bench.run --size {args.size}",
              file=sys.stderr)
        return 2
    use_tantivy = not args.no_tantivy
    if use_tantivy:
        try:
            import tantivy  # noqa: F401
        except ImportError:
            use_tantivy = False
    size = SIZES.get(args.size, 1_000_000)
    section = evaluate(db, args.queries, max(1000, size // 3), use_tantivy, args.seed)
    print(section)
    write_section(args.out, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
