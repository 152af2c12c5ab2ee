"""Drives adapters as asyncio tasks and writes what they yield to the store.

Each adapter streams from its stored cursor; every batch is committed
together with its cursor on the store thread (never on the event loop),
so a crash resumes exactly after the last commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from adapters.base import Adapter, Batch, SourceState, SourceStatus
from adapters.logline import log_state
from adapters.retry import Backoff, human_seconds
from adapters.runtime.account_values import StoredValues
from store.account_settings import save_text_limits
from store.ingest import load_cursor, save_batch
from store.source_status import set_source_status
from store.worker import StoreWorker

if TYPE_CHECKING:
    from store.triage import Triage

log = logging.getLogger(__name__)


#: first and longest pause before restarting an adapter whose stream died
RESTART_BASE = float(os.environ.get("MENTIONDESK_RESTART_BASE", "1"))
RESTART_CAP = 60.0
#: consecutive deaths (none lasting HEALTHY seconds) after which the leader gives up its lease
GIVE_UP_AFTER = 6
HEALTHY = 120.0


class IngestRunner:
    def __init__(self, worker: StoreWorker, adapters: list[Adapter],
                 on_dead: Callable[[str, str], None] | None = None, *,
                 restart_base: float | None = None, restart_cap: float = RESTART_CAP,
                 give_up_after: int = GIVE_UP_AFTER, healthy: float = HEALTHY, triage: Triage | None = None):
        self.worker = worker
        self.adapters = adapters
        self._on_dead = on_dead or (lambda source, reason: None)
        self._restart_base = RESTART_BASE if restart_base is None else restart_base
        self._restart_cap = restart_cap
        self._give_up_after = give_up_after
        self._healthy = healthy
        self.triage = triage
        self._tasks: list[asyncio.Task] = []
        self.skipped: list[tuple[str, str]] = []
        self.restarts: dict[str, int] = {}
        self._status_writes: set[asyncio.Task] = set()
        self._last_state: dict[str, str] = {}

    def status_callback(self, source: str, adapter: Adapter | None = None) -> Callable[[SourceStatus], None]:
        """A callback adapters call with their state; it is written to the store.

        With `adapter`, limits it has learnt from its server are stored too
        (after instance discovery it reports a state), so the CLI and other
        consoles count replies by them.
        """
        stored = None

        def record(status: SourceStatus) -> None:
            nonlocal stored
            self._write_status(source, status.state.value, status.detail)
            if adapter is None:
                return
            limits = adapter.text_limits
            if limits is not None and limits != stored:
                stored = limits
                self._background(self.worker.run(save_text_limits, adapter.network, adapter.account, limits))
        return record

    def _write_status(self, source: str, state: str, detail: str) -> None:
        if self._last_state.get(source) != state:
            level = logging.WARNING if state in (SourceState.STOPPED, SourceState.AUTH_FAILED) else logging.INFO
            log_state(log, "account", level=level, account=source, state=state, reason=detail or None)
        self._last_state[source] = state
        self._background(self.worker.run(set_source_status, source, state, detail))

    def _background(self, write) -> None:
        task = asyncio.get_running_loop().create_task(write)
        self._status_writes.add(task)  # keep a reference until it is written
        task.add_done_callback(self._status_writes.discard)

    async def _drive(self, adapter: Adapter) -> None:
        source = adapter.source
        cursor = await self.worker.run(load_cursor, source)
        storing: asyncio.Future | None = None  # the last batch's commit, still on the store thread
        try:
            # aclosing: a cancelled stream runs its cleanup now (a webhook answers 503 at once).
            async with contextlib.aclosing(adapter.stream(cursor)) as stream:
                async for batch in stream:
                    storing = await self._commit(adapter, source, batch, storing)
            if storing is not None:
                await storing
        finally:
            if storing is not None:
                # Started, the store thread finishes it before anything asked next (one thread), so a
                # restart reads the cursor after it; not started, it never runs and the restart replays it.
                # Its error (the database gone as the stream stops) is the stream's to report, not asyncio's
                # "exception was never retrieved" at garbage collection.
                storing.add_done_callback(lambda done: done.cancelled() or done.exception())
                storing.cancel()

    async def _commit(self, adapter: Adapter, source: str, batch: Batch,
                      storing: asyncio.Future | None) -> asyncio.Future | None:
        """Commit a batch; returns its commit still running when the adapter lets its stream go on meanwhile
        (`Adapter.overlaps_commit`), so the next batch is fetched and given signals while this one commits."""
        for reason in batch.skipped:
            log.warning("%s skipped an item: %s", source, reason)
            self.skipped.append((source, reason))
        if not batch.mentions and batch.cursor is None:
            return storing
        triage = self.triage if batch.mentions else None
        # Signals are CPU work (language, sentiment): off the loop and the store thread (store.triage says
        # where), computed while the last batch commits.
        signals = await triage.signals(batch.mentions) if triage is not None else None
        if storing is not None:
            await storing  # batches commit in order; a failed commit ends the stream here
        save = self.worker.run(save_batch, source, batch.mentions, batch.cursor, signals=signals,
                               triage=triage.apply if triage is not None else None)
        if not adapter.overlaps_commit:
            await save
            return None
        return asyncio.ensure_future(save)

    async def _guarded(self, adapter: Adapter) -> None:
        """Run one adapter for ever: a stream that dies is restarted with capped backoff.

        A stream that keeps dying (GIVE_UP_AFTER times, none of them lasting
        HEALTHY seconds) is reported through `on_dead`: the leader then gives
        up its lease so another process can try.
        """
        source = adapter.source
        backoff = Backoff(base=self._restart_base, cap=self._restart_cap)
        deaths = 0
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._drive(adapter)
                reason = "the stream ended"
            except asyncio.CancelledError:
                raise
            except sqlite3.Error as exc:  # the database refused or went away: its one line says it all
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # one broken adapter must not stop the others
                log.exception("adapter %s stopped", source)
                reason = f"{type(exc).__name__}: {exc}"
            if loop.time() - started >= self._healthy:
                deaths = 0
                backoff.reset()
            deaths += 1
            self.restarts[source] = self.restarts.get(source, 0) + 1
            if deaths >= self._give_up_after:
                self._write_status(source, SourceState.STOPPED.value, f"stopped after {deaths} failures: {reason}")
                self._on_dead(source, reason)
                return
            delay = backoff.next()
            self._write_status(source, SourceState.STOPPED.value,
                               f"restarting in {human_seconds(delay)} (failure {deaths}): {reason}")
            await asyncio.sleep(delay)
            try:
                await adapter.reset()  # a fresh start (a listener keeps serving meanwhile)
            except Exception:
                log.exception("closing adapter %s before its restart", source)
            log_state(log, "account", account=source, state="restarting", failure=deaths)

    def start(self) -> None:
        for adapter in self.adapters:
            adapter.bind_status(self.status_callback(adapter.source, adapter))
            adapter.bind_values(StoredValues(self.worker, adapter.source))
            self._tasks.append(asyncio.create_task(self._guarded(adapter), name=f"ingest:{adapter.source}"))

    async def halt(self) -> None:
        """Stop ingesting; the adapters stay open (a reply may still be on its way out through one)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def stop(self) -> None:
        await self.halt()
        if self.triage is not None:
            self.triage.close()
        for adapter in self.adapters:
            await adapter.aclose()
