"""The flood profile (issue 11): a desk that is behind, 70 % of its history open.

    python -m bench.run --profile flood --size 1m    # builds bench/data/flood-1m.db if missing
    python -m bench.flood bench/data/flood-1m.db     # the measurements alone, on a built file

Each measurement is one function `(db, size) -> [(label, measured, target)]` in
MEASUREMENTS (search and import: bench/flood_reference.py); add yours there.
Every figure carries the 1-minute load average beside it (the machine is
shared) and, where the issue asks, a reference measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cold_start import _newest_handle, launch_once  # noqa: E402
from bench.copydb import copy_db, remove_db  # noqa: E402
from bench.flood_reference import measure_import, measure_search  # noqa: E402
from bench.trivial_start import MARKER  # noqa: E402

Row = tuple[str, str, str]
HERE = Path(__file__).resolve().parent
# Targets by size: (cold start s, view switch ms, counts ms).
TARGETS = {1_000_000: (0.4, 100.0, 50.0), 5_000_000: (0.5, 150.0, 50.0)}


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _targets(size: int) -> tuple[float, float, float]:
    return TARGETS.get(size, TARGETS[5_000_000] if size > 1_000_000 else TARGETS[1_000_000])


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} / {max(values) * 1000:.0f} ms"


def measure_cold_start(db: Path, size: int, runs: int = 5) -> list[Row]:
    """Spawn to first painted inbox in a pty, launches alternating with a trivial Textual app."""
    copy = copy_db(db, db.with_name(db.stem + ".coldstart.db"))
    trivial = [sys.executable, str(HERE / "trivial_start.py")]
    try:
        marker = _newest_handle(copy).encode()
        launch_once(copy, marker)  # warm the OS page cache and run any migration once
        launch_once(copy, MARKER.encode(), argv=trivial)
        before = load()
        console: list[float] = []
        reference: list[float] = []
        console_cpu: list[float] = []
        reference_cpu: list[float] = []
        for _ in range(runs):
            console.append(launch_once(copy, marker, cpu=console_cpu))
            reference.append(launch_once(copy, MARKER.encode(), argv=trivial, cpu=reference_cpu))
    finally:
        remove_db(copy)
    target = _targets(size)[0]
    return [(f"cold start to first painted inbox ({runs} launches in a pty, 120x40), median / max",
             f"{statistics.median(console):.2f} / {max(console):.2f} s wall, {statistics.median(console_cpu):.2f} s "
             f"CPU; trivial Textual app {statistics.median(reference):.2f} / {max(reference):.2f} s wall, "
             f"{statistics.median(reference_cpu):.2f} s CPU; {before}→{load()}",
             f"≤ {target} s")]


def measure_counts(db: Path, size: int, runs: int = 20) -> list[Row]:
    """All view counts as the console reads them, against counting the views (what it did before)."""
    from store.db import open_store
    from store.inbox import VIEWS
    from store.view_counts import view_counts

    store = open_store(db, readonly=True)
    try:
        before = load()
        tick = time.perf_counter()
        counts = view_counts(store, "bench")
        first = time.perf_counter() - tick
        times = []
        for _ in range(runs):
            tick = time.perf_counter()
            view_counts(store, "bench")
            times.append(time.perf_counter() - tick)
        tick = time.perf_counter()
        brute = {name: store.conn.execute(f"SELECT count(*) {VIEWS[name].source}", {"operator": "bench"})
                 .fetchone()[0] for name in ("care", "untriaged")}
        counted = time.perf_counter() - tick
    finally:
        store.close()
    assert all(counts[name] == brute[name] for name in brute), (counts, brute)
    return [(f"view counts, all 7 views ({counts['open']:,} open), first / median of {runs}",
             f"{first * 1000:.2f} / {statistics.median(times) * 1000:.2f} ms; reference: counting care + "
             f"untriaged as before {counted * 1000:.0f} ms; {before}→{load()}", f"≤ {_targets(size)[2]:.0f} ms")]


async def _switches(db: Path) -> tuple[list[float], list[float], list[float]]:
    """Key to the first frame that shows the view's first row (or the oldest, for `G`).

    The key goes to the driver as a terminal's would, and the time stops at the first frame the
    console writes once the row is in the list: Pilot's `press` also waits until the process is
    idle (the mention's detail loaded and laid out), which is not what the operator waits for.
    """
    from textual import events

    from tui.app import ConsoleApp
    from tui.screens.main import MainScreen

    app = ConsoleApp(str(db), operator="bench")
    switches: list[float] = []
    jumps: list[float] = []
    cpu: list[float] = []  # the process's CPU per switch (all threads): what a busy machine does not inflate
    frames: list[float] = []
    display = app._display

    def counted_display(screen, renderable):
        display(screen, renderable)
        if renderable is not None:
            frames.append(time.perf_counter())

    setattr(app, "_display", counted_display)  # noqa: B010 (mypy forbids assigning a method)

    async def until(condition: Callable[[], bool]) -> float:
        started = time.perf_counter()
        while not condition():
            if time.perf_counter() - started > 30:
                raise RuntimeError("the console never showed it")
            await asyncio.sleep(0.001)
        return time.perf_counter() - started

    async def key_to_frame(key: str, shown: Callable[[], bool]) -> float:
        assert app._driver is not None
        tick = time.perf_counter()
        app._driver.send_message(events.Key(key, key))
        await until(shown)
        ready = time.perf_counter()
        # The first frame after the rows are in the list in which the list is not waiting to be painted.
        await until(lambda: bool(frames) and frames[-1] >= ready and inbox not in screen._dirty_widgets
                    and not inbox._repaint_required)
        return frames[-1] - tick

    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, MainScreen) and app.screen.inbox.row(
            app.screen.inbox.ids.get(0) or -1) is not None)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        inbox = screen.inbox

        def drawn(view: str, position: int) -> Callable[[], bool]:
            return lambda: (screen.view == view and inbox.cursor == position
                            and (i := inbox.ids.get(position)) is not None and inbox.row(i) is not None)

        for _ in range(3):
            for key, view in (("2", "care"), ("4", "untriaged"), ("3", "marketing"), ("5", "done"),
                              ("1", "open")):
                used = time.process_time()
                switches.append(await key_to_frame(key, drawn(view, 0)))
                cpu.append(time.process_time() - used)
                await pilot.pause(0.3)  # let the detail and counts settle: each switch starts from rest
                jumps.append(await key_to_frame("G", drawn(view, len(inbox.ids) - 1)))
                await pilot.pause(0.3)
    return switches, jumps, cpu


def measure_view_switch(db: Path, size: int) -> list[Row]:
    """Key press to the new view's first row drawn, in the real console (headless, in process)."""
    copy = copy_db(db, db.with_name(db.stem + ".switch.db"))
    try:
        before = load()
        switches, jumps, cpu = asyncio.run(_switches(copy))
    finally:
        remove_db(copy)
    return [(f"view switch, key to first row drawn ({len(switches)} switches over 5 views), median / max",
             f"{_ms(switches)} wall, {_ms(cpu)} CPU; {before}→{load()}", f"≤ {_targets(size)[1]:.0f} ms"),
            (f"`G` on a view, key to the oldest row drawn ({len(jumps)} jumps), median / max",
             f"{_ms(jumps)} wall", "")]


def measure_bytes(db: Path, size: int) -> list[Row]:
    """Database bytes per mention, and where they go (dbstat)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        mentions = conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
        stats = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
        free = conn.execute("PRAGMA freelist_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    file_bytes = db.stat().st_size
    top = sorted(stats.items(), key=lambda item: -item[1])[:6]
    parts = ", ".join(f"{name} {pages / mentions:.0f}" for name, pages in top)
    thread = sum(stats.get(name, 0) for name in ("mentions_by_root", "mentions_by_parent"))
    return [(f"database bytes per mention ({mentions:,} mentions, file {file_bytes / 1e6:.0f} MB)",
             f"{file_bytes / mentions:.0f} (largest: {parts}; free pages {free / mentions:.0f}); the two thread "
             f"indexes {thread / mentions:.2f}", "was ~580, 47 in the thread indexes")]


def measure_storm(db: Path, size: int) -> list[Row]:
    """Arrivals at 2,000/s into the console on this history (bench/live_stream.py, on a copy)."""
    from bench import live_stream

    if live_stream.SECONDS <= 0:
        return [("live storm at 2,000/s", "skipped (--storm-seconds 0)", "")]
    return live_stream.measure(db, size)


MEASUREMENTS: list[Callable[[Path, int], list[Row]]] = [
    measure_bytes, measure_counts, measure_view_switch, measure_cold_start, measure_search, measure_import,
    measure_storm,
]


def run_all(db: Path, size: int) -> str:
    lines = ["| benchmark | measured | target |", "| --- | --- | --- |"]
    for measure in MEASUREMENTS:
        print(f"flood: {measure.__name__} ...", file=sys.stderr, flush=True)
        for label, value, target in measure(db, size):
            lines.append(f"| {label} | {value} | {target} |")
    return "\n".join(lines)


def run_profile(size_name: str, db: Path | None, *, rebuild: bool, out: Path) -> int:
    """`bench.run --profile flood`: build the history if missing, measure, replace its RESULTS.md section."""
    from bench.generate import PROFILES, SIZES, build_record, write_db
    from bench.run import machine

    size = SIZES[size_name]
    db = db or HERE / "data" / f"flood-{size_name}.db"
    if rebuild:
        for suffix in ("", "-wal", "-shm", ".build.json"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    if not db.exists():
        print(f"building {db} ({size:,} mentions, {PROFILES['flood']:.0%} open) ...", file=sys.stderr)
        write_db(db, size, open_share=PROFILES["flood"])
    table = run_all(db, size)
    build = json.loads(build_record(db).read_text()) if build_record(db).exists() else None
    made = (f"Built by bench/generate.py in {build['total_seconds']:.0f} s wall (load {build['load_before']:.1f}"
            f"→{build['load_after']:.1f}). " if build else "")
    info = machine()
    body = (f"Measured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} with `python -m bench.run --profile flood "
            f"--size {size_name}` on {info['cpu']}, SQLite {info['sqlite']}. {made}\n\n{table}\n")
    print(body)
    replace_section(out, f"Flood profile, {size_name}", body)
    print(f"\nwritten to {out}", file=sys.stderr)
    return 0


def replace_section(path: Path, title: str, body: str) -> None:
    """Put `## title` with `body` into the markdown file, replacing that section if it is there."""
    text = path.read_text() if path.exists() else ""
    heading = f"## {title}\n"
    if heading in text:
        before, rest = text.split(heading, 1)
        after = rest[rest.index("\n## "):] if "\n## " in rest else ""
        text = f"{before}{heading}\n{body}{after}"
    else:
        text = f"{text.rstrip()}\n\n{heading}\n{body}"
    path.write_text(text)


if __name__ == "__main__":
    path = Path(sys.argv[1])
    count = sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute("SELECT count(*) FROM mentions").fetchone()[0]
    print(run_all(path, count))
