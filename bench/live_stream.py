"""Live stream: 2,000 mentions/s into an open console for 60 s.

The real console (ConsoleApp, headless) runs on a copy of the benchmark
database with the demo network as its only source, at 120,000 mentions a
minute. Meanwhile a probe measures how late the event loop wakes up (its lag,
which is what an operator feels as key latency), and a pilot presses j/k
every 100 ms like an operator. Afterwards every generated mention must be in
the store, and the gap between a mention's creation and its commit (when it
becomes visible and searchable: the index is written in the same
transaction) is read back from the database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402

from adapters.demo.adapter import DemoAdapter  # noqa: E402
from bench.copydb import copy_db, remove_db  # noqa: E402
from store.signals import SignalModel  # noqa: E402
from store.triage import Triage  # noqa: E402
from tui.app import ConsoleApp  # noqa: E402
from tui.screens.main import MainScreen  # noqa: E402

RATE_PER_S = 2000
EXAMPLE_RULES = Path(__file__).resolve().parent.parent / "examples" / "rules.toml"
TARGET_LAG_MS = 50.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _run(db: Path, seconds: float, triage: Triage | None = None) -> dict:
    before = sqlite3.connect(db).execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0]
    adapter = DemoAdapter(rate_per_minute=RATE_PER_S * 60, seed=99, burst_every=None)
    app = ConsoleApp(str(db), operator="bench", adapters=[adapter], triage=triage)
    lags: list[float] = []
    key_ms: list[float] = []
    async with app.run_test(size=(120, 40)):
        start = time.perf_counter()
        stop = start + seconds

        async def probe() -> None:
            tick = 0.01
            while time.perf_counter() < stop:
                asked = time.perf_counter()
                await asyncio.sleep(tick)
                lags.append((time.perf_counter() - asked - tick) * 1000)

        async def operator() -> None:
            while time.perf_counter() < stop:
                screen = app.screen
                assert isinstance(screen, MainScreen)
                before_cursor = screen.inbox.cursor
                pressed = time.perf_counter()
                key = "j" if len(key_ms) % 2 == 0 else "k"
                event = events.Key(key, key)  # the way a terminal's key arrives: through the driver
                event.set_sender(app)
                assert app._driver is not None  # run_test drives the app headless
                app._driver.send_message(event)
                while screen.inbox.cursor == before_cursor and time.perf_counter() - pressed < 5:
                    await asyncio.sleep(0.001)
                key_ms.append((time.perf_counter() - pressed) * 1000)
                await asyncio.sleep(0.1)

        await asyncio.gather(probe(), operator())
        elapsed = time.perf_counter() - start
        assert isinstance(app.screen, MainScreen)
        shown = len(app.screen.inbox.ids)
    return {"before": before, "lags": lags, "keys": key_ms, "elapsed": elapsed, "shown": shown,
            "last_seq": adapter_last_seq(db)}


def adapter_last_seq(db: Path) -> int:
    row = sqlite3.connect(db).execute("SELECT cursor FROM cursors WHERE source LIKE 'demo:%'").fetchone()
    return int(row[0]) if row else 0


def _latencies(db: Path, after_id: int) -> tuple[int, list[float]]:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT created_at, received_at FROM mentions WHERE id > ?", (after_id,)).fetchall()
    out = []
    for created, received in rows:
        a = datetime.fromisoformat(created.replace("Z", "+00:00"))
        b = datetime.fromisoformat(received.replace("Z", "+00:00"))
        out.append((b - a).total_seconds())
    return len(rows), out


def measure(db_path: Path, size: int, seconds: float = 60.0, *, triage: bool = False) -> list[tuple[str, str, str]]:
    """With `triage`: signals on every mention and the five example rules (examples/rules.toml) on."""
    copy = copy_db(db_path, db_path.with_name(db_path.stem + ".live.db"))
    try:
        triaging = Triage(EXAMPLE_RULES, SignalModel(("en", "fr"))) if triage else None
        result = asyncio.run(_run(copy, seconds, triaging))
        stored, latency = _latencies(copy, result["before"])
        if triaging is not None:
            signalled = sqlite3.connect(copy).execute(
                "SELECT count(*) FROM mentions WHERE id > ? AND sentiment IS NOT NULL", (result["before"],)
            ).fetchone()[0]
            assert signalled == stored, f"{stored - signalled} mentions stored without signals"
            assert triaging.applied > 0 and not triaging.disabled, "the rules did nothing"
    finally:
        remove_db(copy)
    lags = result["lags"]
    rate = stored / result["elapsed"]
    label = "live stream with signals + 5 rules" if triage else "live stream"
    rows = [
        (f"live stream: mentions stored per second over {result['elapsed']:.0f} s",
         f"{rate:,.0f}/s ({stored:,} stored, demo sequence reached {result['last_seq']:,})",
         f"{RATE_PER_S:,}/s for 60 s"),
        ("live stream: event-loop lag p50 / p99 / max",
         f"{statistics.median(lags):.1f} / {_pct(lags, 0.99):.1f} / {max(lags):.1f} ms "
         f"({len(lags):,} probes)",
         f"p99 ≤ {TARGET_LAG_MS:.0f} ms"),
        ("live stream: key press → selection moved, p50 / p99",
         f"{_pct(result['keys'], 0.5):.0f} / {_pct(result['keys'], 0.99):.0f} ms "
         f"({len(result['keys'])} presses of j/k)",
         "responsive"),
        ("live stream: creation → stored and searchable, p50 / p99 / max",
         f"{_pct(latency, 0.5) * 1000:.0f} / {_pct(latency, 0.99) * 1000:.0f} / {max(latency) * 1000:.0f} ms",
         "≤ 1 s"),
    ]
    return [(name.replace("live stream", label, 1), value, target) for name, value, target in rows]


if __name__ == "__main__":
    args = [arg for arg in sys.argv[1:] if arg != "--triage"]
    seconds = float(args[1]) if len(args) > 1 else 60.0
    for row in measure(Path(args[0]), 0, seconds, triage="--triage" in sys.argv):
        print(" | ".join(row))
