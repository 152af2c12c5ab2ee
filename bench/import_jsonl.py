"""Import of a JSONL history through `mentiondesk import`, search index included.

The history is the benchmark database exported with `mentiondesk export`
(the same shape users move between desks), imported into a new file by the
real command in a child process, and then searched once to prove the index
is there.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.copydb import remove_db  # noqa: E402

TARGET_S_PER_1M = 60.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(db_path: Path, size: int) -> list[tuple[str, str, str]]:
    jsonl = db_path.with_name(db_path.stem + ".export.jsonl")
    target = db_path.with_name(db_path.stem + ".imported.db")
    command = [sys.executable, "-m", "tui"]
    if not jsonl.exists():
        subprocess.run([*command, "--db", str(db_path), "export", "-o", str(jsonl)], check=True,
                       stderr=subprocess.DEVNULL)
    remove_db(target)
    try:
        cpu_before = _children_cpu()
        started = time.perf_counter()
        done = subprocess.run([*command, "--db", str(target), "import", str(jsonl)], capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        cpu = _children_cpu() - cpu_before
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1])
        found = subprocess.run([*command, "--db", str(target), "search", "refnud", "--limit", "1"],
                               capture_output=True, text=True)
        searchable = "searchable" if found.returncode == 0 else "NOT searchable"
        lines = sum(1 for _ in jsonl.open("rb"))
    finally:
        remove_db(target)
    per_million = elapsed * 1_000_000 / max(lines, 1)
    return [(
        f"import {lines:,} mentions from JSONL (`mentiondesk import`, {jsonl.stat().st_size / 1e6:.0f} MB), "
        "index included",
        f"{elapsed:.0f} s wall ({lines / elapsed:,.0f} rows/s; {cpu:.0f} s CPU with the tokenizer helper); "
        f"{searchable} after",
        f"1M in ≤ {TARGET_S_PER_1M:.0f} s" + ("" if lines >= 1_000_000 else f" (scaled: {per_million:.0f} s per 1M)"),
    )]


if __name__ == "__main__":
    for row in measure(Path(sys.argv[1]), 0):
        print(" | ".join(row))
