"""The ingest leader's flood watch: group arrivals into near-duplicates, look for surges, raise incidents.

Runs only while this process leads (one grouper for the desk), on the
leader's store thread; a new leader warms its grouper from the database.
"""

from __future__ import annotations

import asyncio
import logging

from adapters.logline import log_state
from store.grouping import Grouper
from store.groups import BATCH, corrections_since, group_new_mentions, warm_grouper
from store.incidents import SurgeRule, detect
from store.worker import StoreWorker

log = logging.getLogger("mentiondesk.flood")


class FloodWatch:
    def __init__(self, worker: StoreWorker, rule: SurgeRule | None = None, *, group_every: float = 1.0,
                 detect_every: float = 5.0):
        self.worker = worker
        self.rule = rule or SurgeRule()
        self.group_every = group_every
        self.detect_every = detect_every
        self.grouper = Grouper()
        self._events_seen = 0
        self.limit = 200  # mentions per step, adapted to take about 0.1 s
        self.wake = asyncio.Event()

    async def _corrections(self) -> None:
        found = await self.worker.run(corrections_since, self._events_seen)
        self._events_seen = found.newest_event
        for group_id, text in found.examples:
            self.grouper.add_exemplar(group_id, text)

    async def step(self) -> int:
        """Group what arrived, about 0.1 s of work at a time; returns how many mentions were placed.

        The grouper shares the store thread with ingest and sending: a storm makes grouping lag
        behind (it catches up from its cursor), never ingest or the operators' console.
        """
        await self._corrections()
        loop = asyncio.get_running_loop()
        started = loop.time()
        placed = await self.worker.run(group_new_mentions, self.grouper, self.limit)
        took = loop.time() - started
        if placed >= self.limit and took > 0:
            self.limit = max(20, min(BATCH, int(self.limit * 0.1 / took)))
        return placed

    async def run(self) -> None:
        self._events_seen = (await self.worker.run(corrections_since, 0)).newest_event
        await self.worker.run(warm_grouper, self.grouper)
        loop = asyncio.get_running_loop()
        next_detect = 0.0
        while True:
            try:
                placed = await self.step()
                if loop.time() >= next_detect:
                    next_detect = loop.time() + self.detect_every
                    for incident in await self.worker.run(detect, self.rule):
                        log_state(log, "incident", state="raised", incident=incident.id, kind=incident.kind,
                                  title=incident.title)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bad moment for the database: the next round tries again
                log_state(log, "flood", level=logging.WARNING, state="step failed",
                          reason=f"{type(exc).__name__}: {exc}")
                placed = 0
            self.wake.clear()
            try:  # behind: a short breath for ingest and sending; else the usual pause
                await asyncio.wait_for(self.wake.wait(), 0.05 if placed >= self.limit else self.group_every)
            except TimeoutError:
                pass
