"""Triage beside ingest: a batch is committed and acknowledged first, its signals and rules follow.

Signals (language, sentiment) cost about as much as storing a batch with its rules, and they run in
a helper process: awaited before the insert, the two took turns and ingest ran at half speed. Here
the helper starts on a batch's texts while the store thread commits it (store.ingest.save_untriaged
queues its ids), the stream goes on at once, and the batch's signals and rules are written in a
second transaction when the helper answers (store.triage_queue.triage_batch). At most `depth` batches
wait for triage: past that, the stream waits (so a slow helper slows ingest rather than piling up).
Mentions show without their tags for that moment (tens of milliseconds); ids a dead leader left
queued are triaged by the next one (`recover`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from adapters.base import Batch
from store.ingest import save_untriaged
from store.signals import Signals
from store.triage import Triage
from store.triage_queue import leftovers, triage_batch
from store.worker import StoreWorker

log = logging.getLogger(__name__)
DEPTH = 4


class TriagePipe:
    def __init__(self, worker: StoreWorker, triage: Triage, depth: int = DEPTH):
        self.worker, self.triage, self.depth = worker, triage, depth
        self._waiting: deque[asyncio.Task[None]] = deque()

    async def commit(self, source: str, batch: Batch) -> None:
        computing = asyncio.ensure_future(self.triage.signals_of([mention.text for mention in batch.mentions]))
        try:
            ids = await self.worker.run(save_untriaged, source, batch.mentions, batch.cursor)
        except BaseException:
            computing.cancel()
            raise
        self._waiting.append(asyncio.create_task(self._finish(ids, computing)))
        while self._waiting and self._waiting[0].done():
            self._waiting.popleft()
        while len(self._waiting) > self.depth:
            await self._waiting.popleft()

    async def _finish(self, ids: list[int | None], computing: asyncio.Future[list[Signals] | None]) -> None:
        try:
            signals = await computing
        except Exception:  # Triage.signals_of says why; the mentions get their rules without signals
            signals = None
        new = [i for i in ids if i is not None]
        if signals is not None and len(signals) == len(ids):
            signals = [s for i, s in zip(ids, signals, strict=True) if i is not None]
        else:
            signals = None
        try:
            await self.worker.run(triage_batch, new, signals, self.triage.apply)
        except Exception as exc:  # the ids stay queued: the next leader triages them
            log.warning("triage of %d mention(s) left for later: %s: %s", len(new), type(exc).__name__, exc)

    async def recover(self) -> int:
        """Triage what a previous leader committed and never triaged; returns how many."""
        done = 0
        while rows := await self.worker.run(leftovers):
            ids = [row[0] for row in rows]
            triaged = await self.worker.run(triage_batch, ids, await self.triage.signals_of([r[1] for r in rows]),
                                            self.triage.apply)
            if not triaged:
                break  # someone else took them meanwhile
            done += len(triaged)
        return done

    async def drain(self) -> None:
        """Let the batches already committed get their triage (the lease is still held)."""
        waiting, self._waiting = list(self._waiting), deque()
        await asyncio.gather(*waiting, return_exceptions=True)
