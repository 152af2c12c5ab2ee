"""Bulk actions: mark 5,000 listed rows with `V` and tag them care, as the console does.

    python bench/bulk.py                          # on bench/data/100k.db (built first if missing)
    python bench/bulk.py --size 1m                # or any size bench.generate knows
    python bench/bulk.py --db PATH                # any mentiondesk database (a copy is used)

The list is every mention not yet tagged care, newest first, as the inbox holds
a view (an array of ids). Marking is the console's own code (tui.selection: the
list sliced between the anchor and the cursor into the marks); tagging is store.bulk.change,
what `c` runs on the store thread. Every SQL statement is traced to count the
transactions. The reference, measured in the same run, tags 5,000 other rows
one at a time as `c` did before (store.actions.toggle_tag: a transaction each).
Then the same in the real console, headless: `space`, `V` 5,000 rows down and
`c`, each timed from the key press until the console has handled it (for `c`:
stored, the change feed read and the list reloaded). Run by `dev.py bench`
(bench/run.py) too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from array import array
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.copydb import copy_db, remove_db  # noqa: E402

ROWS = 5_000
RUNS = 5
TARGET_S = 1.0
HERE = Path(__file__).resolve().parent


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def run(db: Path, rows: int = ROWS, runs: int = RUNS) -> dict:
    """Times (seconds) of marking and tagging `rows` rows, `runs` times over different rows."""
    from store import actions, bulk
    from store.db import open_store
    from store.undo import undo_last
    from tui.selection import Selection, ids_between

    store = open_store(db)
    statements: list[str] = []
    try:
        ids = array("q", (row[0] for row in store.conn.execute(
            "SELECT id FROM mentions m WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.mention_id = m.id "
            "AND t.tag = 'care') ORDER BY id DESC")))
        if len(ids) < rows * (runs + 1):
            raise SystemExit(f"{db}: {len(ids):,} mentions without the care tag; need {rows * (runs + 1):,}")
        load_before = _load()
        marking, tagging, undoing, transactions = [], [], [], []
        for run_index in range(runs):
            first, last = ids[run_index * rows], ids[(run_index + 1) * rows - 1]
            started = time.perf_counter()
            selection = Selection()
            selection.toggle(first)  # space on the first row, then V on the 5,000th
            selection.extend(ids_between(ids, first, last), last)
            targets = selection.ordered()
            marked = time.perf_counter()
            statements.clear()
            store.conn.set_trace_callback(statements.append)
            outcome = bulk.change(store, "bench", "tag:care", targets)
            store.conn.set_trace_callback(None)
            tagged = time.perf_counter()
            assert outcome.changed == rows, outcome
            marking.append(marked - started)
            tagging.append(tagged - marked)
            transactions.append(sum(1 for s in statements if s.strip().upper() in ("COMMIT", "BEGIN IMMEDIATE")) // 2)
            started = time.perf_counter()
            undo_last(store, "bench")
            undoing.append(time.perf_counter() - started)
        reference_ids = list(ids[runs * rows:(runs + 1) * rows])
        started = time.perf_counter()
        for mention_id in reference_ids:
            actions.toggle_tag(store, mention_id, "care", "bench")
        reference = time.perf_counter() - started
        return {"mentions": store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0], "rows": rows,
                "marking": marking, "tagging": tagging, "undoing": undoing, "transactions": transactions,
                "reference": reference, "load": f"{load_before}→{_load()}"}
    finally:
        store.close()


async def _in_console(db: Path, rows: int) -> tuple[float, float, str, float]:
    """The real console (headless) on the open view: `space`, then `V` on the 5,000th row, then `c`.
    Seconds from each key press until the console has handled it (for `c`: tagged, synced, list reloaded)."""
    from tui.app import ConsoleApp
    from tui.screens.main import MainScreen

    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    open_count = conn.execute("SELECT count(*) FROM mentions WHERE status = 'open'").fetchone()[0]
    conn.close()
    app = ConsoleApp(str(db), operator="bench")
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 120
        while not (isinstance(app.screen, MainScreen) and len(app.screen.inbox.ids) == open_count):
            if time.monotonic() > deadline:
                raise SystemExit("the console never listed the open view")
            await pilot.pause(0.05)
        screen = app.screen
        load = _load()
        started = time.perf_counter()
        await pilot.press("j")  # the reference: a key that only moves the cursor
        moved = time.perf_counter() - started
        await pilot.press("k", "space")
        screen.inbox.action_move(rows - 2)  # the cursor onto the 5,000th row (space moved it one down)
        started = time.perf_counter()
        await pilot.press("V")
        marked = time.perf_counter()
        assert len(screen.inbox.marked) == rows
        await pilot.press("c")
        tagged = time.perf_counter()
        return marked - started, tagged - marked, f"{load}→{_load()}", moved


def rows_for(result: dict) -> list[tuple[str, str, str]]:
    total = [m + t for m, t in zip(result["marking"], result["tagging"], strict=True)]
    rows = f"{result['rows']:,}"
    console = result.get("console")
    shown = [] if console is None else [
        (f"bulk in the console (headless, open view; {result['mentions']:,} in the file): V on {rows} rows / c",
         f"{console[0]:.3f} / {console[1]:.3f} s (c: stored, synced and the list reloaded; reference, j in the same "
         f"run: {console[3]:.3f} s); load {console[2]}", "")]
    return shown + [
        (f"bulk: mark {rows} rows (V) and tag them care, {len(total)} runs, median / max",
         f"{statistics.median(total):.3f} / {max(total):.3f} s (marking {max(result['marking']) * 1000:.1f} ms max); "
         f"transactions per run: {sorted(set(result['transactions']))}; load {result['load']}; "
         f"{result['mentions']:,} mentions in the file",
         f"≤ {TARGET_S:.0f} s, 1 commit"),
        (f"bulk: undo of that tagging ({rows} rows), median / max",
         f"{statistics.median(result['undoing']):.3f} / {max(result['undoing']):.3f} s", ""),
        (f"reference: the same {rows} tags one at a time (toggle_tag, a commit each)",
         f"{result['reference']:.2f} s", ""),
    ]


def measure(db: Path, size: int) -> list[tuple[str, str, str]]:
    """bench/run.py's hook: on a copy, so the benchmark database is left as it was."""
    with tempfile.TemporaryDirectory() as folder:
        copy = copy_db(db, Path(folder) / "bulk.db")
        try:
            result = run(copy)
            result["console"] = asyncio.run(_in_console(copy, ROWS))
            return rows_for(result)
        finally:
            remove_db(copy)


def main(argv: list[str] | None = None) -> int:
    from bench.generate import SIZES, write_db

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="100k")
    parser.add_argument("--db", type=Path, help="database (default bench/data/<size>.db, built if missing)")
    args = parser.parse_args(argv)
    db = args.db or HERE / "data" / f"{args.size}.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {db} ({SIZES[args.size]:,} mentions)…", file=sys.stderr)
        write_db(db, SIZES[args.size])
    for label, value, target in measure(db, 0):
        print(f"{label}: {value}" + (f"  (target {target})" if target else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
