"""Run the real console with an event-loop lag probe: `python -m bench.lag_probe OUT -- ARGS...`.

The console is started exactly as `mentiondesk ARGS...` would start it; the
only addition is a task on its event loop that asks to wake every 10 ms and
records how late it woke (what an operator feels as key latency). Every
second one line `monotonic count p50 p99 max` (milliseconds) is appended to
OUT, so a benchmark can read the lag over time while the console runs.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TICK = 0.01


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def probe(out: Path) -> None:
    lags: list[float] = []
    second = time.monotonic() + 1.0
    with out.open("a", buffering=1) as sink:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(TICK)
            lags.append((time.perf_counter() - asked - TICK) * 1000)
            if time.monotonic() >= second:
                sink.write(f"{time.monotonic():.3f} {len(lags)} {_pct(lags, 0.5):.2f} {_pct(lags, 0.99):.2f} "
                           f"{max(lags):.2f}\n")
                # every sample, not only the per-second percentiles: the run's p99 is over all of them
                sink.write("# " + " ".join(f"{lag:.1f}" for lag in lags) + "\n")
                lags.clear()
                second += 1.0


class ProbedPolicy(asyncio.DefaultEventLoopPolicy):
    def __init__(self, out: Path) -> None:
        super().__init__()
        self._out = out

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        tasks = []
        loop.call_soon(lambda: tasks.append(loop.create_task(probe(self._out))))
        return loop


def main(argv: list[str]) -> int:
    out, args = Path(argv[0]), argv[argv.index("--") + 1:] if "--" in argv else argv[1:]
    asyncio.set_event_loop_policy(ProbedPolicy(out))
    from tui.cli import main as console

    return console(args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
