"""Virtual time for the sender's lanes: minutes of rate windows pass in milliseconds, deterministically."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

STALL = 2.0  # real seconds without any lane moving before the sleepers' time moves on regardless


class VirtualTime:
    """`ReplySender(pause=...)` for `lanes` lanes: when all sleep, the clock (with a settable `moment`)
    moves to the earliest wake-up."""

    def __init__(self, clock: Any, lanes: int, *, set_time: Callable[[datetime], None] | None = None):
        self.clock, self.lanes = clock, lanes
        self.set_time = set_time or (lambda at: setattr(clock, "moment", at))
        self.sleeping: list[tuple[datetime, int, asyncio.Future]] = []
        self._order = itertools.count()

    async def pause(self, seconds: float, wake: asyncio.Event) -> None:
        future = asyncio.get_running_loop().create_future()
        entry = (self.clock() + timedelta(seconds=seconds), next(self._order), future)
        heapq.heappush(self.sleeping, entry)
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.sleep(0)  # let a lane that is about to sleep too get here first
            self._advance()
            while not (future.done() or woken.done()):
                done, _ = await asyncio.wait({future, woken}, timeout=STALL, return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    # Another lane is neither sleeping nor getting anywhere (idle on its own wake event, or
                    # gone): time moves on for the sleepers, or they would wait for it forever.
                    self._advance(force=True)
        finally:
            woken.cancel()
            if entry in self.sleeping:
                self.sleeping.remove(entry)
                heapq.heapify(self.sleeping)

    def _advance(self, *, force: bool = False) -> None:
        if not self.sleeping or (len(self.sleeping) < self.lanes and not force):
            return
        at, _, future = heapq.heappop(self.sleeping)
        if at > self.clock():
            self.set_time(at)
        if not future.done():
            future.set_result(None)
