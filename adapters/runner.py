"""Drives adapters as asyncio tasks and writes what they yield to the store.

Each adapter streams from its stored cursor; every batch is committed
together with its cursor on the store thread (never on the event loop),
so a crash resumes exactly after the last commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from adapters.account_values import StoredValues
from adapters.base import Adapter, Batch, SourceState, SourceStatus
from store.account_settings import save_text_limits
from store.ingest import load_cursor, save_batch, set_source_status
from store.worker import StoreWorker

log = logging.getLogger(__name__)


class IngestRunner:
    def __init__(self, worker: StoreWorker, adapters: list[Adapter],
                 on_committed: Callable[[Adapter, list[int]], None] | None = None):
        self.worker = worker
        self.adapters = adapters
        self._on_committed = on_committed
        self._tasks: list[asyncio.Task] = []
        self.skipped: list[tuple[str, str]] = []
        self._status_writes: set[asyncio.Task] = set()

    def status_callback(self, source: str, adapter: Adapter | None = None) -> Callable[[SourceStatus], None]:
        """A callback adapters call with their state; it is written to the store.

        With `adapter`, limits it has learnt from its server are stored too
        (after instance discovery it reports a state), so the CLI and other
        consoles count replies by them.
        """
        stored = None

        def record(status: SourceStatus) -> None:
            nonlocal stored
            detail = status.detail
            self._background(self.worker.run(set_source_status, source, status.state.value, detail))
            limits = adapter.text_limits if adapter is not None else None
            if limits is not None and limits != stored:
                stored = limits
                self._background(self.worker.run(save_text_limits, adapter.network, adapter.account, limits))
        return record

    def _background(self, write) -> None:
        task = asyncio.get_running_loop().create_task(write)
        self._status_writes.add(task)  # keep a reference until it is written
        task.add_done_callback(self._status_writes.discard)

    async def _drive(self, adapter: Adapter) -> None:
        source = adapter.source
        cursor = await self.worker.run(load_cursor, source)
        # aclosing: a cancelled stream runs its cleanup now (a webhook answers 503 at once).
        async with contextlib.aclosing(adapter.stream(cursor)) as stream:
            async for batch in stream:
                await self._commit(adapter, source, batch)

    async def _commit(self, adapter: Adapter, source: str, batch: Batch) -> None:
        for reason in batch.skipped:
            log.warning("%s skipped an item: %s", source, reason)
            self.skipped.append((source, reason))
        if not batch.mentions and batch.cursor is None:
            return
        new_ids = await self.worker.run(save_batch, source, batch.mentions, batch.cursor)
        if new_ids and self._on_committed:
            self._on_committed(adapter, new_ids)

    async def _guarded(self, adapter: Adapter) -> None:
        try:
            await self._drive(adapter)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one broken adapter must not stop the others
            log.exception("adapter %s stopped", adapter.source)
            await self.worker.run(set_source_status, adapter.source, SourceState.STOPPED.value,
                                  f"stopped: {type(exc).__name__}: {exc}")

    def start(self) -> None:
        for adapter in self.adapters:
            adapter.bind_status(self.status_callback(adapter.source, adapter))
            adapter.bind_values(StoredValues(self.worker, adapter.source))
            self._tasks.append(asyncio.create_task(self._guarded(adapter), name=f"ingest:{adapter.source}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for adapter in self.adapters:
            await adapter.aclose()
