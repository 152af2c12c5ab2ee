"""The Priority view on a large history: migration, re-keying for a new [sla], and switching to it.

    python -m bench.priority DB     (a copy is made beside DB and removed after)

Measures, on a copy: the V2_PRIORITY migration (keys every open mention), `sync_policy` with a
care/marketing/default policy (re-keys them), the store reads the list makes (first page, a page around
a mention, `G`), and in the real console (headless, in process) key to first row drawn for `D`
against `1` (Open), alternating, with the process's CPU time.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.copydb import copy_db, remove_db
from bench.flood import load
from store.db import open_store
from store.inbox_window import view_page, view_slice
from store.priority import sync_policy
from store.sla import SlaPolicy

POLICY = SlaPolicy.from_table({"care": 3600, "marketing": 4 * 3600, "default": 8 * 3600}, ["care", "marketing"])


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} / {max(values) * 1000:.0f} ms"


async def _switches(db: Path) -> tuple[list[float], list[float], list[float], list[float]]:
    from tui.app import ConsoleApp
    from tui.screens.main import MainScreen

    app = ConsoleApp(str(db), operator="bench", sla=POLICY)
    times: dict[str, list[float]] = {"priority": [], "open": []}
    cpu: dict[str, list[float]] = {"priority": [], "open": []}

    async def until(condition: Callable[[], bool]) -> None:
        started = time.perf_counter()
        while not condition():
            if time.perf_counter() - started > 60:
                raise RuntimeError("the console never showed it")
            await asyncio.sleep(0.001)

    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, MainScreen) and app.screen.inbox.row(
            app.screen.inbox.ids.get(0) or -1) is not None)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        inbox = screen.inbox
        for _ in range(5):
            for key, view in (("D", "priority"), ("1", "open")):
                tick, used = time.perf_counter(), time.process_time()
                await pilot.press(key)
                await until(lambda v=view: screen.view == v and (i := inbox.ids.get(0)) is not None  # type: ignore[misc]
                            and inbox.row(i) is not None)
                times[view].append(time.perf_counter() - tick)
                cpu[view].append(time.process_time() - used)
    return times["priority"], cpu["priority"], times["open"], cpu["open"]


def main(db: Path) -> None:
    copy = copy_db(db, db.with_name(db.stem + ".priority.db"))
    try:
        before = load()
        tick = time.perf_counter()
        store = open_store(str(copy))
        migrated = time.perf_counter() - tick
        tick = time.perf_counter()
        rekeyed = sync_policy(store, POLICY)
        synced = time.perf_counter() - tick
        print(f"migration (to schema with V2_PRIORITY): {migrated:.1f} s; sync_policy re-keyed {rekeyed:,} open "
              f"in {synced:.1f} s; load {before}→{load()}")
        for view in ("priority", "open"):
            reads = []
            for _ in range(5):
                tick = time.perf_counter()
                page = view_page(store, view, "bench")
                first = time.perf_counter() - tick
                middle = page.ids[len(page.ids) // 2]
                tick = time.perf_counter()
                view_page(store, view, "bench", around=middle)
                around = time.perf_counter() - tick
                tick = time.perf_counter()
                view_slice(store, view, "bench", start=page.total - 400, limit=400, total=page.total)
                jump = time.perf_counter() - tick
                reads.append((first, around, jump))
            med = [statistics.median(r[i] for r in reads) * 1000 for i in range(3)]
            print(f"{view}: {page.total:,} listed; first page {med[0]:.1f} ms, page around a row {med[1]:.1f} ms, "
                  f"G (last page) {med[2]:.1f} ms (medians of 5)")
        store.close()
        before = load()
        p_wall, p_cpu, o_wall, o_cpu = asyncio.run(_switches(copy))
        print(f"console, key to first row drawn, median / max of 5: D (Priority) {_ms(p_wall)} wall, {_ms(p_cpu)} CPU; "
              f"1 (Open) {_ms(o_wall)} wall, {_ms(o_cpu)} CPU; load {before}→{load()}")
    finally:
        remove_db(copy)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
