"""Run the adapters and the sender only while this process holds the lease.

Every console (and `mentiondesk serve`) runs a Leadership; exactly one of
them wins the lease and ingests and sends, the rest only write operator
actions. The holder renews every ttl/3; if it dies, its lease lapses and
the next contender to try takes over within ttl + ttl/3.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

from adapters.base import Adapter
from adapters.runner import IngestRunner
from adapters.sender import ReplySender
from store.lease import release, try_acquire
from store.worker import StoreWorker

log = logging.getLogger(__name__)

# Tests shorten it to exercise failover quickly.
LEASE_TTL = float(os.environ.get("MENTIONDESK_LEASE_TTL", "6"))


def holder_name(label: str = "") -> str:
    return f"{label or 'console'}@{socket.gethostname()}:{os.getpid()}"


class Leadership:
    def __init__(self, worker: StoreWorker, adapters: list[Adapter], *, holder: str,
                 ttl: float = LEASE_TTL, sender_poll: float = 1.0,
                 on_change: Callable[[bool], None] | None = None):
        self.worker = worker
        self.adapters = adapters
        self.holder = holder
        self.ttl = ttl
        self.sender_poll = sender_poll
        self.is_leader = False
        self.runner: IngestRunner | None = None
        self.sender: ReplySender | None = None
        self._sender_task: asyncio.Task | None = None
        self._on_change = on_change or (lambda leading: None)
        self._stopped = asyncio.Event()

    async def _become_leader(self) -> None:
        self.runner = IngestRunner(self.worker, self.adapters)
        self.sender = ReplySender(self.worker, self.adapters, poll_interval=self.sender_poll)
        self.runner.start()
        self._sender_task = asyncio.create_task(self.sender.run(), name="sender")
        self.is_leader = True
        log.info("%s is the ingest leader", self.holder)
        self._on_change(True)

    async def _step_down(self, *, notify: bool = True) -> None:
        if self._sender_task:
            self._sender_task.cancel()
            await asyncio.gather(self._sender_task, return_exceptions=True)
            self._sender_task = None
        if self.runner:
            await self.runner.stop()
            self.runner = None
        self.sender = None
        if self.is_leader:
            self.is_leader = False
            if notify:  # stopping is not losing the lease to someone else
                self._on_change(False)

    def wake_sender(self) -> None:
        if self.sender:
            self.sender.wake.set()

    async def run(self) -> None:
        try:
            while not self._stopped.is_set():
                try:
                    held = await self.worker.run(try_acquire, self.holder, self.ttl)
                except Exception as exc:  # an unreachable file: stop ingesting, keep trying
                    log.warning("lease check failed: %s", exc)
                    held = False
                if held and not self.is_leader:
                    await self._become_leader()
                elif not held and self.is_leader:
                    await self._step_down()
                try:
                    await asyncio.wait_for(self._stopped.wait(), self.ttl / 3)
                except TimeoutError:
                    pass
        finally:
            was_leader = self.is_leader
            await self._step_down(notify=False)
            if was_leader:
                try:
                    await self.worker.run(release, self.holder)
                except Exception:
                    log.warning("could not release the lease; it lapses in %ss", self.ttl)

    def stop(self) -> None:
        self._stopped.set()
