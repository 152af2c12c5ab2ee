"""Per-mention cost of triage at ingest: signals (language, sentiment, needs-reply) and the five example rules.

    python3 bench/signals_cost.py [N]

N demo mentions (default 5,000, the demo network's own texts, en and fr) are
given signals the way the ingest runner does (one batch at a time, warm
models), then stored in batches of 200 with and without the rules applied in
the same transaction. Prints microseconds per mention for each part, the
rate one core could sustain, and the load average (other processes share
the cores; the figure is only comparable with a reference measured in the
same run: the plain insert).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.demo.adapter import DemoAdapter  # noqa: E402
from bench.live_stream import EXAMPLE_RULES  # noqa: E402
from store.db import open_store  # noqa: E402
from store.ingest import save_batch  # noqa: E402
from store.signals import SignalModel  # noqa: E402
from store.triage import Triage  # noqa: E402

BATCH = 200


def demo_mentions(count: int):
    adapter = DemoAdapter(rate_per_minute=60_000, seed=11, burst_every=None)
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    return [adapter._next_mention(n, start + timedelta(seconds=n)) for n in range(1, count + 1)]


def _store_all(path: Path, mentions, signals, triage: Triage | None) -> float:
    store = open_store(path)
    try:
        started = time.perf_counter()
        for at in range(0, len(mentions), BATCH):
            save_batch(store, "demo", mentions[at:at + BATCH], None,
                       signals=signals[at:at + BATCH] if signals else None,
                       triage=triage.apply if triage else None)
        return time.perf_counter() - started
    finally:
        store.close()


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    mentions = demo_mentions(count)
    load_before = os.getloadavg()
    model = SignalModel(("en", "fr"))
    started = time.perf_counter()
    model.warm()
    warm = time.perf_counter() - started
    started = time.perf_counter()
    signals = [signal for at in range(0, count, BATCH)
               for signal in model.of_all(m.text for m in mentions[at:at + BATCH])]
    signal_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        plain = _store_all(Path(folder) / "plain.db", mentions, None, None)
        triage = Triage(EXAMPLE_RULES)
        ruled = _store_all(Path(folder) / "ruled.db", mentions, signals, triage)
    per = 1e6 / count
    print(f"{count:,} demo mentions ({sum(s.lang == 'fr' for s in signals):,} detected fr); "
          f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"models built and warmed once: {warm:.2f} s (first batch only, off the event loop)")
    print(f"signals: {signal_s * per:.0f} µs/mention ({count / signal_s:,.0f}/s on one core)")
    print(f"store, plain insert (reference): {plain * per:.0f} µs/mention")
    print(f"store with signals + 5 rules in the transaction: {ruled * per:.0f} µs/mention "
          f"(rules: {max(0.0, ruled - plain) * per:.0f} µs/mention; {triage.applied:,} rule actions)")
    total = signal_s + ruled
    print(f"ingest with triage, both threads' work on one core: {count / total:,.0f} mentions/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
