"""A tag in one console seen by another, on PostgreSQL (LISTEN/NOTIFY) and on SQLite, side by side.

Two processes on one desk: the writer tags a mention (store.actions.set_tag, its own connection);
the reader polls the change feed (store.changes.poll) as a console does, every `--interval`
seconds, and notes when the tagged mention shows up as touched. Each trial's latency is from the
writer's commit returning to the reader's poll seeing it. p50/p99 over `--trials` (100), with the
load average, for a throwaway PostgreSQL server (tests/pg_support.py) and an SQLite file.

Pushed (PostgreSQL): the reader awaits the desk's change feed (store.pg_listen.ChangeFeed) on its
event loop instead of polling; the latency is from the commit returning to the feed waking it.

Idle console (`--idle SECONDS`): a real console (ConsoleApp, headless) on the PostgreSQL desk, left
alone; every statement its connections send (each one round trip) is counted by thread, polled
(the feed off: the console before issue 15's pushed feed) and pushed.

    .venv/bin/python -m bench.pg_feed [--trials 100] [--interval 0.05] [--idle 20]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store.actions import set_tag  # noqa: E402
from store.changes import marks_now, poll  # noqa: E402
from store.db import open_store  # noqa: E402
from store.ingest import save_batch  # noqa: E402
from store.records import NewMention  # noqa: E402


def _reader(desk: str, mention_id: int, trials: int, interval: float, ready, seen) -> None:
    store = open_store(desk)
    marks = marks_now(store)
    ready.set()
    found = 0
    while found < trials:
        changes = poll(store, marks)
        marks = changes.marks
        if mention_id in changes.touched:
            seen.put(time.perf_counter())
            found += 1
        time.sleep(interval)
    store.close()


def measure(desk: str, trials: int, interval: float, *, pushed: bool = False) -> list[float]:
    """Latencies of `trials` tags, a reader polling every `interval` (or `pushed`: awaiting the feed)."""
    store = open_store(desk)
    [mention_id] = save_batch(store, "demo", [NewMention(
        network="demo", account="@brand", remote_id=f"feed-{time.time_ns()}", author_handle="@ana",
        author_name="Ana", text="feed latency probe", created_at="2026-01-01T00:00:00.000Z")], None)
    ready = multiprocessing.Event()
    seen: multiprocessing.Queue[float] = multiprocessing.Queue()
    reader = (multiprocessing.Process(target=_push_reader, args=(desk, trials, ready, seen)) if pushed else
              multiprocessing.Process(target=_reader, args=(desk, mention_id, trials, interval, ready, seen)))
    reader.start()
    ready.wait(30)
    latencies = []
    for trial in range(trials):
        time.sleep(interval * 2.5)  # let the reader settle between trials, off its poll phase; one wake each
        set_tag(store, mention_id, "care", trial % 2 == 0, "bench")
        committed = time.perf_counter()
        latencies.append(seen.get(timeout=10) - committed)
    reader.join(30)
    store.close()
    return latencies


def _push_reader(desk: str, trials: int, ready, seen) -> None:
    from store.pg_listen import ChangeFeed

    async def follow() -> None:
        feed = ChangeFeed(desk)
        feed.start()
        while not feed.listening:
            await asyncio.sleep(0.01)
        ready.set()
        woken = 0
        async for _ in feed:
            seen.put(time.perf_counter())
            woken += 1
            if woken >= trials:
                break
        await feed.aclose()

    asyncio.run(follow())


def idle_statements(desk: str, seconds: float, *, pushed: bool) -> Counter[str]:
    """Statements sent by an idle console's connections in `seconds`, by thread (after 3 s to settle)."""
    import psycopg

    from tui.app import ConsoleApp

    counts: Counter[str] = Counter()
    lock = threading.Lock()
    originals = {cls: cls.execute for cls in (psycopg.Cursor, psycopg.AsyncCursor)}

    def count() -> None:
        name = threading.current_thread().name.split("_")[0].rstrip("-0123456789")
        with lock:
            counts[name if name != "MainThread" else "event loop (change feed)"] += 1

    def sync_execute(self, *args, **kwargs):
        count()
        return originals[psycopg.Cursor](self, *args, **kwargs)

    async def async_execute(self, *args, **kwargs):
        count()
        return await originals[psycopg.AsyncCursor](self, *args, **kwargs)

    psycopg.Cursor.execute = sync_execute  # type: ignore[method-assign]  # Connection.execute comes here too
    psycopg.AsyncCursor.execute = async_execute  # type: ignore[method-assign]
    app = ConsoleApp(desk, operator="bench")
    if not pushed:
        app.shift.change_feed = lambda: None  # type: ignore[method-assign]  # as before the pushed feed
    window: Counter[str] = Counter()

    async def run() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(3)
            with lock:
                before = Counter(counts)
            await asyncio.sleep(seconds)
            with lock:
                window.update(counts - before)

    try:
        asyncio.run(run())
    finally:
        for cls, execute in originals.items():
            cls.execute = execute  # type: ignore[method-assign]
    return window


def ingest_rate(desk: str, seconds: float, batch: int) -> float:
    """Mentions stored per second by store.ingest.save_batch (signals and search index included)."""
    store = open_store(desk)
    stored, serial, started = 0, 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        mentions = []
        for _ in range(batch):
            serial += 1
            mentions.append(NewMention(
                network="demo", account="@brand", remote_id=f"ingest-{serial}", author_handle=f"@a{serial % 500}",
                author_name="Ana", text=f"my parcel {serial} is late, where is my refund please",
                created_at="2026-01-01T00:00:00.000Z"))
        stored += len(save_batch(store, "demo", mentions, str(serial)))
    rate = stored / (time.perf_counter() - started)
    store.close()
    return rate


def _line(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"| {name} | {len(ordered)} | {statistics.median(ordered) * 1000:.1f} ms | {p99 * 1000:.1f} ms | "
            f"{ordered[-1] * 1000:.1f} ms |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.05, help="the reader's poll interval, seconds")
    parser.add_argument("--idle", type=float, default=0, metavar="SECONDS",
                        help="also count an idle console's statements per second, polled and pushed")
    parser.add_argument("--ingest", type=float, default=0, metavar="SECONDS",
                        help="also measure save_batch's mentions/s for this long on each backend")
    args = parser.parse_args()
    from tests.pg_support import start_server, stop_server

    server = start_server()
    rows = []
    try:
        load_before = os.getloadavg()
        rows.append(_line("PostgreSQL (LISTEN/NOTIFY), polled", measure(server.fresh_database(), args.trials,
                                                                         args.interval)))
        rows.append(_line("PostgreSQL (LISTEN/NOTIFY), pushed", measure(server.fresh_database(), args.trials,
                                                                        args.interval, pushed=True)))
        with tempfile.TemporaryDirectory() as folder:
            rows.append(_line("SQLite (data_version)", measure(str(Path(folder) / "desk.db"), args.trials,
                                                               args.interval)))
        load_after = os.getloadavg()
        if args.idle:
            desk = server.fresh_database()
            open_store(desk).close()
            for pushed in (False, True):
                window = idle_statements(desk, args.idle, pushed=pushed)
                total = sum(window.values())
                print(f"Idle console, {'pushed' if pushed else 'polled'}, {args.idle:g} s, load average "
                      f"{os.getloadavg()[0]:.2f}: {total / args.idle:.2f} statements/s (" +
                      ", ".join(f"{name} {n / args.idle:.2f}/s" for name, n in window.most_common()) + ")")
        if args.ingest:
            with tempfile.TemporaryDirectory() as folder:
                rates = {"PostgreSQL": ingest_rate(server.fresh_database(), args.ingest, 50),
                         "SQLite": ingest_rate(str(Path(folder) / "desk.db"), args.ingest, 50)}
            print(f"save_batch of 50, {args.ingest:g} s each, load average {os.getloadavg()[0]:.2f}: " +
                  ", ".join(f"{name} {rate:,.0f} mentions/s" for name, rate in rates.items()))
    finally:
        stop_server(server)
    print(f"Reader polls every {args.interval * 1000:.0f} ms (one tag every {args.interval * 2.5 * 1000:.0f} ms); "
          f"load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after ({os.cpu_count()} cores).\n")
    print("| backend | trials | p50 | p99 | max |\n| --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
