"""Retry arithmetic and what a failed request proves, shared by adapters and the runtime.

Kept apart from adapters/http.py on purpose: the console's leader, runner and
sender need these at start, and importing aiohttp costs about 0.1 s of the
console's cold start even when only the demo stream runs.
"""

from __future__ import annotations

import random
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field


def never_reached(exc: BaseException | None) -> bool:
    """Whether a failed request provably never reached the server.

    A refused connection, a failed DNS lookup and a connect timeout end
    before a byte of the request is written; anything later (a read
    timeout, a dropped connection) may have been processed.
    """
    # Without aiohttp loaded no request of it can have failed: no need to import it here.
    aiohttp = sys.modules.get("aiohttp")
    while exc is not None:
        if aiohttp is not None and isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return True
        if isinstance(exc, ConnectionRefusedError | socket.gaierror):
            return True
        exc = exc.__cause__
    return False


def backoff(attempt: int, *, base: float, cap: float, rand: Callable[[], float] | None = None) -> float:
    """The wait before retry `attempt` (0 for the first): base, 2*base, 4*base ... capped.

    Each delay is drawn from [delay/2, delay] so clients that failed together
    do not come back in lockstep, yet the wait still grows.
    """
    ceiling = min(cap, base * (2 ** min(max(attempt, 0), 32)))
    return ceiling / 2 + ceiling / 2 * (rand or random.random)()


@dataclass
class Backoff:
    """`backoff` for a loop that counts its own failures (reset after a success)."""

    base: float = 1.0
    cap: float = 300.0
    rand: Callable[[], float] = field(default=random.random)
    attempt: int = 0

    def next(self) -> float:
        delay = backoff(self.attempt, base=self.base, cap=self.cap, rand=self.rand)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


def jitter(seconds: float, rand: Callable[[], float] = random.random, spread: float = 2.0) -> float:
    """`seconds` plus up to `spread` seconds, so a crowd waiting for a reset spreads out."""
    return seconds + spread * rand()


def human_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{round(seconds / 60)}m"
    return f"{round(seconds / 3600)}h"
