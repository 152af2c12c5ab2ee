"""Ingest with signals and the five example rules, headless: what the leader sustains, and its loop lag.

    python -m bench.triage_ingest [--rate 2000] [--seconds 60] [--plain]

The real ingest path (adapters.runtime.IngestRunner, the store worker thread, signals in the helper
process, examples/rules.toml) fed by the demo network at `--rate` mentions a second into a fresh
database, for `--seconds` after a 10 s warm-up; prints mentions stored (and triaged) per second, the
event-loop lag p50 / p99 / max sampled every 10 ms (what a console's keys would wait behind), the CPU
spent a mention by this process and by the signals helper (less dependent on the load than the rate) and
the load average. `--plain`: the reference, signals and rules off. The demo network catches up when
ingest falls behind, so a rate above what ingest sustains measures the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from adapters.demo.adapter import DemoAdapter
from adapters.runtime.runner import IngestRunner
from store.db import open_store
from store.signals import SignalModel
from store.triage import Triage
from store.worker import StoreWorker

RULES = Path(__file__).resolve().parent.parent / "examples" / "rules.toml"
WARM_UP_S = 10.0


def _counts(store) -> tuple[int, int]:
    stored = store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
    triaged = store.conn.execute("SELECT count(*) FROM mentions WHERE needs_reply IS NOT NULL").fetchone()[0]
    return stored, triaged


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def run(db: Path, rate: float, seconds: float, plain: bool) -> str:
    open_store(db).close()
    sys.setswitchinterval(0.001)  # as the console sets it (tui.app): a waiting loop gets the GIL sooner
    worker = StoreWorker(str(db))
    triage = None if plain else Triage(RULES, SignalModel(("en", "fr")))
    runner = IngestRunner(worker, [DemoAdapter(rate_per_minute=rate * 60, seed=5, burst_every=None)], triage=triage)
    lags: list[float] = []
    measuring = False

    async def probe() -> None:
        while True:
            tick = time.perf_counter()
            await asyncio.sleep(0.01)
            if measuring:
                lags.append((time.perf_counter() - tick - 0.01) * 1000)

    prober = asyncio.create_task(probe())
    load = [os.getloadavg()[0]]
    runner.start()
    try:
        await asyncio.sleep(WARM_UP_S)
        first, first_triaged = await worker.run(_counts)
        measuring, started = True, time.perf_counter()
        cpu = (time.process_time(), _helper_cpu(triage))
        await asyncio.sleep(seconds)
        last, last_triaged = await worker.run(_counts)
        elapsed = time.perf_counter() - started
        cpu = (time.process_time() - cpu[0], _helper_cpu(triage) - cpu[1])
        measuring = False
    finally:
        prober.cancel()
        await runner.stop()
        worker.close()
    load.append(os.getloadavg()[0])
    what = "plain (no signals, no rules)" if plain else "signals + 5 example rules"
    stored = max(1, last - first)
    return (f"{what}, offered {rate:,.0f}/s: stored {(last - first) / elapsed:,.0f}/s, "
            f"with signals {(last_triaged - first_triaged) / elapsed:,.0f}/s over {elapsed:.0f} s; "
            f"loop lag p50 / p99 / max {_pct(lags, 0.5):.1f} / {_pct(lags, 0.99):.1f} / "
            f"{max(lags, default=float('nan')):.1f} ms; CPU a mention: this process {cpu[0] * 1e6 / stored:.0f} µs "
            f"(the demo network's post making included), helper {cpu[1] * 1e6 / stored:.0f} µs; "
            f"load {load[0]:.1f} → {load[1]:.1f}")


def _helper_cpu(triage: Triage | None) -> float:
    """CPU seconds (user + system) of the signals helper process so far (0: none)."""
    pool = triage._pool if triage is not None else None
    total = 0.0
    for pid in getattr(pool, "_processes", None) or {}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="triage-ingest-") as folder:
        print(asyncio.run(run(Path(folder) / "desk.db", args.rate, args.seconds, args.plain)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
