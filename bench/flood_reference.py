"""The flood profile's search and import rows, each beside the reference measured in the same run.

Search (issue 11, point 5: p95 ≤ 50 ms at 5M): bench/search_reference.py's queries through ours,
plain FTS5 and tantivy, with the file in the OS cache and with its pages dropped. Import (point 3:
1M in ≤ 60 s): bench/import_jsonl.py, the history exported and imported again by the real command,
beside a raw json + executemany; measured on histories of up to 1M, the target's size.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.run import percentile

Row = tuple[str, str, str]
SEARCH_TARGET_MS = 50.0
IMPORT_UP_TO = 1_000_000


def measure_search(db: Path, size: int) -> list[Row]:
    from bench.search_reference import run_all

    runs, queries = run_all(db, ["ours", "fts5", "tantivy"], ["warm", "cold"])
    short = sum(q["kind"] != "long typo" for q in queries)
    out: list[Row] = []
    for state in ("warm", "cold"):
        mine = [r for r in runs if r["state"] == state]
        ours = next(r for r in mine if r["engine"] == "ours")
        ms = _short_ms(ours)
        refs = "; ".join(f"{r['engine']} p95 {percentile(_short_ms(r), .95):.1f} ms" for r in mine if r is not ours)
        out.append((f"search, {short} queries of 1-3 words and/or filters, OS cache {state} "
                    f"({ours['cached_mb']:,.0f} of {ours['files_mb']:,.0f} MB cached), p50 / p95",
                    f"{statistics.median(ms):.1f} / {percentile(ms, .95):.1f} ms wall; reference: {refs}; "
                    f"load {ours['load'][0]:.1f}→{ours['load'][1]:.1f}",
                    f"p95 ≤ {SEARCH_TARGET_MS:.0f} ms" if size > IMPORT_UP_TO else ""))
    return out


def _short_ms(run: dict) -> list[float]:
    return [x["ms"] for x in run["results"] if x["kind"] != "long typo"]


def measure_import(db: Path, size: int) -> list[Row]:
    if size > IMPORT_UP_TO:
        return [("import from JSONL", f"measured on the 1M history (the target's size), not at {size:,}", "")]
    from bench.import_jsonl import measure

    return measure(db, size)
