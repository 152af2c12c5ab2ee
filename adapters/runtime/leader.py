"""Run the adapters and the sender only while this process holds the lease.

Every console (and `mentiondesk serve`) runs a Leadership; exactly one of
them wins the lease and ingests and sends, the rest only write operator
actions. The holder renews every 5 s (ttl/3 for short test leases); if it
dies, its lease lapses and the next contender takes over within ttl plus
one renewal interval.

The holder steps down the moment it cannot be sure of its lease: a
renewal that fails, one still unanswered when the lease would run out
(a write lock held elsewhere), or one that comes back with another epoch
(the lease lapsed meanwhile). The sender checks the same clock before
every network call, so the lease must outlive the adapters' longest
request (30 s) plus the time between renewals: see LEASE_TTL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from adapters.base import Adapter
from adapters.logline import log_state
from adapters.runtime.flood_watch import FloodWatch
from adapters.runtime.runner import IngestRunner
from adapters.runtime.sender import REPLY_DEADLINE, ReplySender
from store.lease import Lease, acquire, release
from store.maintenance import housekeep
from store.outbox import reply_requests_since
from store.worker import StoreWorker

log = logging.getLogger(__name__)

# The lease must outlive the longest network call a send may make (adapters' 30 s) plus the
# time between renewals: renewed every 5 s, a 45 s lease has over 30 s left even when a
# renewal comes up to 10 s late (a busy store thread); later than that, sends just wait.
# A dead leader is replaced within ttl + one renewal; a cleanly stopped one within a renewal.
# Tests shorten both (MENTIONDESK_REQUEST_TIMEOUT caps every adapter's requests; a short ttl
# alone also shortens them, see Leadership._fit_requests_to_lease).
LEASE_TTL = 45.0  # the default; settings (lease_ttl, MENTIONDESK_LEASE_TTL) choose another
RENEW_EVERY = 5.0
REQUEST_TIME = float(os.environ.get("MENTIONDESK_REQUEST_TIMEOUT", "0")) or None
# The leader's upkeep (store.maintenance): bounded search-index merges and a WAL checkpoint.
HOUSEKEEP_EVERY = 2.0


def holder_name(label: str = "") -> str:
    return f"{label or 'console'}@{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class HeldLease:
    """The lease as last renewed; `remaining()` reads the same clock the database compares with,
    so a process frozen (SIGSTOP) or starved past its lease sees it is over the moment it runs."""

    lease: Lease
    clock: Callable[[], datetime]

    def remaining(self) -> float:
        expires = datetime.fromisoformat(self.lease.expires_at)
        return (expires - self.clock()).total_seconds()


class Leadership:
    def __init__(self, worker: StoreWorker, adapters: list[Adapter], *, holder: str,
                 ttl: float = LEASE_TTL, sender_poll: float = 1.0,
                 on_change: Callable[[bool], None] | None = None,
                 reply_deadline: float = REPLY_DEADLINE, runner_options: dict | None = None):
        self.worker = worker
        self.adapters = adapters
        if REQUEST_TIME:
            for adapter in adapters:
                adapter.limit_request_time(REQUEST_TIME)
        self.holder = holder
        self.ttl = ttl
        self.renew_every = min(ttl / 3, RENEW_EVERY)
        self.sender_poll = sender_poll
        self.reply_deadline = reply_deadline
        self.is_leader = False
        self.held: HeldLease | None = None
        self.runner: IngestRunner | None = None
        self.sender: ReplySender | None = None
        self._runner_options = runner_options or {}
        self._sender_task: asyncio.Task | None = None
        self.flood: FloodWatch | None = None  # grouping and surge detection, while leading
        self._flood_task: asyncio.Task | None = None
        self._upkeep_task: asyncio.Task | None = None
        self._on_change = on_change or (lambda leading: None)
        self._stopped = asyncio.Event()
        self._trouble = asyncio.Event()
        self._trouble_reason = ""
        self._give_up = False
        self._last_epoch: int | None = None
        self._events_seen: int | None = None

    def _fit_requests_to_lease(self) -> None:
        """A send starts only with more lease left than its longest request may take, and just after a
        renewal ttl - renew_every is left: a lease too short for the adapters' timeouts would never
        send. Shorten those timeouts to fit (a short test ttl, an impatient operator) and say so."""
        room = self.ttl - self.renew_every
        longest = max((a.max_request_time for a in self.adapters), default=0.0)
        if longest < room:
            return
        room *= 0.75  # and leave a late renewal some slack
        for adapter in self.adapters:
            if adapter.max_request_time >= room:
                adapter.limit_request_time(room)
        log_state(log, "leader", level=logging.WARNING, state="requests shortened", holder=self.holder,
                  reason=f"a {self.ttl:g}s lease renewed every {self.renew_every:g}s leaves room for "
                         f"{room:g}s requests, not {longest:g}s")

    def current(self) -> HeldLease | None:
        return self.held if self.is_leader else None

    def _lost(self, reason: str) -> None:
        """Step down at once, not at the next renewal (an adapter that keeps dying)."""
        if self.is_leader and not self._trouble.is_set():
            self._trouble_reason = reason
            self._trouble.set()

    def _dead_adapter(self, source: str, reason: str) -> None:
        self._give_up = True
        self._lost(f"adapter {source} keeps failing: {reason}")

    async def _become_leader(self, held: HeldLease) -> None:
        try:
            self._events_seen = (await self.worker.run(reply_requests_since, None)).newest_event
        except Exception:
            self._events_seen = None
        self.held = held
        self._last_epoch = held.lease.epoch
        self.runner = IngestRunner(self.worker, self.adapters, on_dead=self._dead_adapter, **self._runner_options)
        self.sender = ReplySender(self.worker, self.adapters, poll_interval=self.sender_poll,
                                  held=self.current, reply_deadline=self.reply_deadline)
        self.is_leader = True
        self.runner.start()
        self._sender_task = asyncio.create_task(self.sender.run(), name="sender")
        self.flood = FloodWatch(self.worker)
        self._flood_task = asyncio.create_task(self.flood.run(), name="flood-watch")
        self._upkeep_task = asyncio.create_task(self._upkeep(), name="upkeep")
        log_state(log, "leader", state="acquired", holder=self.holder, epoch=held.lease.epoch,
                  expires=held.lease.expires_at)
        self._on_change(True)

    async def _step_down(self, reason: str, *, notify: bool = True) -> None:
        was_leader = self.is_leader
        self.is_leader = False  # first: no network call starts from here on
        if self._upkeep_task:
            self._upkeep_task.cancel()
            await asyncio.gather(self._upkeep_task, return_exceptions=True)
            self._upkeep_task = None
        if self.runner:
            await self.runner.halt()  # no more ingesting: a successor may be starting already
        if self._flood_task:
            self._flood_task.cancel()
            await asyncio.gather(self._flood_task, return_exceptions=True)
            self._flood_task, self.flood = None, None
        if self._sender_task:
            if notify and self.sender is not None:
                # A POST already on the wire is not cut off (that would not unsend it): it ends
                # within its own timeout and its outcome is recorded; nothing new starts.
                self.sender.close()
                longest = max((a.max_request_time for a in self.adapters), default=0.0)
                try:
                    await asyncio.wait_for(asyncio.shield(self._sender_task), longest + 1)
                except (TimeoutError, Exception):
                    pass
            self._sender_task.cancel()
            await asyncio.gather(self._sender_task, return_exceptions=True)
            self._sender_task = None
        if self.runner:
            await self.runner.stop()
            self.runner = None
        self.sender = None
        if was_leader:
            log_state(log, "leader", level=logging.WARNING if notify else logging.INFO, state="stepped down",
                      holder=self.holder, epoch=self._last_epoch, reason=reason)
            if notify:  # stopping is not losing the lease to someone else
                self._on_change(False)

    async def _upkeep(self) -> None:
        """Between ingest batches (same store thread), in short steps: never a stall."""
        while True:
            await asyncio.sleep(HOUSEKEEP_EVERY)
            try:
                await self.worker.run(housekeep)
            except Exception as exc:  # a busy or read-only moment: the next round tries again
                log.debug("upkeep skipped: %s", exc)

    def wake_sender(self) -> None:
        if self.sender:
            self.sender.wake.set()

    async def _renew(self) -> HeldLease | None:
        """One acquire/renew; waits no longer than the lease we hold lasts.

        On a timeout the renewal goes on in the store thread; this returns
        None (step down) and a later round sees what it did.
        """
        call = asyncio.ensure_future(self.worker.run(acquire, self.holder, self.ttl))
        try:
            if self.is_leader and self.held is not None:
                lease = await asyncio.wait_for(asyncio.shield(call), max(0.0, self.held.remaining()))
            else:
                lease = await call
        except TimeoutError:
            log_state(log, "leader", level=logging.WARNING, state="renew failed", holder=self.holder,
                      reason="no answer from the database before the lease ran out")
            return None
        except Exception as exc:  # an unreachable file: stop ingesting, keep trying
            log_state(log, "leader", level=logging.WARNING, state="renew failed", holder=self.holder,
                      reason=f"{type(exc).__name__}: {exc}")
            return None
        return None if lease is None else HeldLease(lease, self.worker.clock)

    async def _log_operator_replies(self) -> None:
        """Replies queued or retried by any process since the last round, one line each."""
        try:
            found = await self.worker.run(reply_requests_since, self._events_seen)
        except Exception:
            return  # the next round tries again; the lease check says what is wrong
        self._events_seen = found.newest_event
        for request in found.requests:
            log_state(log, "reply", reply=request.reply_id,
                      state="queued" if request.action == "reply.queue" else "retry", operator=request.operator)

    async def _round(self) -> None:
        if self.is_leader:
            await self._log_operator_replies()
        held = await self._renew()
        if self.is_leader:
            mine = self.held
            assert mine is not None, "held is set before is_leader becomes True"
            if held is None:
                await self._step_down("lease not renewed")
            elif held.lease.epoch != mine.lease.epoch:
                # It lapsed in between (a late renewal): what we sent under the old epoch is uncertain.
                await self._step_down(f"lease lapsed (epoch {mine.lease.epoch} -> {held.lease.epoch})")
                await self._release_now()
            else:
                self.held = held
            return
        if held is None:
            return
        if held.lease.epoch == self._last_epoch:
            # Ours again without a new epoch (we stepped down on a slow renewal): start a
            # fresh epoch so claims made before stepping down are fenced off properly.
            await self._release_now()
            return
        await self._become_leader(held)

    async def _release_now(self) -> None:
        try:
            await self.worker.run(release, self.holder)
            log_state(log, "leader", state="released", holder=self.holder, epoch=self._last_epoch)
        except Exception as exc:
            log_state(log, "leader", level=logging.WARNING, state="release failed", holder=self.holder,
                      reason=f"{type(exc).__name__}: {exc}; it lapses in {self.ttl:g}s")

    async def _pause(self, seconds: float) -> None:
        waiters = [asyncio.ensure_future(self._stopped.wait()), asyncio.ensure_future(self._trouble.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def run(self) -> None:
        self._fit_requests_to_lease()
        try:
            while not self._stopped.is_set():
                await self._round()
                await self._pause(self.renew_every)
                if self._trouble.is_set() and not self._stopped.is_set():
                    reason, give_up = self._trouble_reason, self._give_up
                    self._trouble.clear()
                    self._give_up = False
                    if self.is_leader:
                        await self._step_down(reason)
                        if give_up:
                            await self._release_now()
                            log_state(log, "leader", level=logging.WARNING, state="gave up", holder=self.holder,
                                      reason=f"{reason}; another process may take over")
                            await self._pause(self.ttl * 2)  # let another process try first
        finally:
            was_leader = self.is_leader
            await self._step_down("stopping", notify=False)
            if was_leader:
                await self._release_now()

    def stop(self) -> None:
        self._stopped.set()
