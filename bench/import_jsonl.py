"""Import of a JSONL history through `mentiondesk import`, search index included, against a raw reference.

The history is the benchmark database exported with `mentiondesk export`
(the same shape users move between desks), or a JSONL file given directly,
imported into a new file by the real command in a child process, and then
searched once to prove the index is there. The import's second step, the
signals (language, sentiment, needs-reply; issue 14), which `mentiondesk
import` runs once the rows are in and which `signals backfill` resumes, is
timed on its own after `import --no-signals`: the issue 11 target is the
import, and the models cost several times it. In the same run the same file
goes through bench/import_reference.py (json + executemany into a plain
table and FTS5): the import's cost is read against it, and the load
average beside both says how much of the wall time was waiting for a core.

    python bench/import_jsonl.py bench/data/1m.db       # exports it first (once)
    python bench/import_jsonl.py bench/data/1m.jsonl    # a JSONL history as is
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.copydb import remove_db  # noqa: E402

TARGET_S_PER_1M = 60.0
HERE = Path(__file__).resolve().parent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU seconds (the child and everything it waited for) of one command."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["failed"])[-1])
    return elapsed, _children_cpu() - cpu_before, done


def history(source: Path) -> Path:
    """The JSONL to import: `source` itself, or the export of the database `source` (made once)."""
    if source.suffix == ".jsonl":
        return source
    jsonl = source.with_name(source.stem + ".export.jsonl")
    if not jsonl.exists():
        subprocess.run([sys.executable, "-m", "tui", "--db", str(source), "export", "-o", str(jsonl)], check=True,
                       stderr=subprocess.DEVNULL, cwd=HERE.parent)
    return jsonl


def measure(db_path: Path, size: int) -> list[tuple[str, str, str]]:
    jsonl = history(db_path)
    target = jsonl.with_name(jsonl.stem + ".imported.db")
    reference = jsonl.with_name(jsonl.stem + ".reference.db")
    lines = sum(1 for _ in jsonl.open("rb"))
    load_before = os.getloadavg()[0]
    try:
        remove_db(reference)
        ref_wall, ref_cpu, _ = _timed([sys.executable, str(HERE / "import_reference.py"), str(jsonl), str(reference)])
        remove_db(target)
        desk = [sys.executable, "-m", "tui", "--db", str(target)]
        wall, cpu, done = _timed([*desk, "import", "--no-signals", str(jsonl)])
        load_after = os.getloadavg()[0]
        found = subprocess.run([*desk, "search", "refnud", "--limit", "1"], capture_output=True, text=True,
                               cwd=HERE.parent)
        searchable = "searchable" if found.returncode == 0 else "NOT searchable"
        report = done.stderr.strip().splitlines()[-1]
        signals_wall, signals_cpu, _ = _timed([*desk, "signals", "backfill"])
        signals_load = os.getloadavg()[0]
    finally:
        remove_db(target)
        remove_db(reference)
    per_million = wall * 1_000_000 / max(lines, 1)
    return [(
        f"import {lines:,} mentions from JSONL (`mentiondesk import`, {jsonl.stat().st_size / 1e6:.0f} MB), "
        "index included",
        f"{wall:.0f} s wall ({lines / wall:,.0f} rows/s), {cpu:.0f} s CPU (parsing processes included); "
        f"reference in the same run (json + executemany into a plain table and FTS5, "
        f"bench/import_reference.py): {ref_wall:.0f} s wall, {ref_cpu:.0f} s CPU; load {load_before:.1f}→"
        f"{load_after:.1f} on {os.cpu_count()} cores; {searchable} after (\"{report}\")",
        f"1M in ≤ {TARGET_S_PER_1M:.0f} s" + ("" if lines >= 1_000_000 else f" (scaled: {per_million:.0f} s per 1M)"),
    ), (
        "then signals for them (`signals backfill`; `mentiondesk import` runs the same step after its rows)",
        f"{signals_wall:.0f} s wall ({lines / signals_wall:,.0f} mentions/s), {signals_cpu:.0f} s CPU (every core); "
        f"load →{signals_load:.1f}; import and signals together {wall + signals_wall:.0f} s",
        "issue 14: a second, resumable step",
    )]


if __name__ == "__main__":
    for row in measure(Path(sys.argv[1]), 0):
        print(" | ".join(row))
