"""Virtual time for the sender's lanes: minutes of rate windows pass in milliseconds, deterministically."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any


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
            await asyncio.wait({future, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            if entry in self.sleeping:
                self.sleeping.remove(entry)
                heapq.heapify(self.sleeping)

    def _advance(self) -> None:
        if len(self.sleeping) < self.lanes:
            return
        at, _, future = heapq.heappop(self.sleeping)
        if at > self.clock():
            self.set_time(at)
        if not future.done():
            future.set_result(None)
