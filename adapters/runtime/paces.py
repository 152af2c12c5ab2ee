"""The sender's pacers, one per account: fed by each attempt, asked before each claim, shown on the desk.

A new leader's pacer starts from the account's sends on record (replies
sent within its longest window), so a restart or a change of leader does
not forget what a window has already spent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from adapters.base import Adapter, ManualReply, ReplyError, ReplyRequest, SentReply
from adapters.runtime.pacing import Pacer
from store.db import iso
from store.pacing import PaceState, recent_sends, save_pace
from store.worker import StoreWorker

log = logging.getLogger(__name__)

#: the shortest sleep of a lane: clocks count in microseconds, and a wait they cannot tell from none would spin
MIN_WAIT = 0.001


class Wake:
    """`set()` wakes every lane (each has its own event to clear)."""

    def __init__(self) -> None:
        self.events: list[asyncio.Event] = []

    def add(self) -> asyncio.Event:
        event = asyncio.Event()
        self.events.append(event)
        return event

    def set(self) -> None:
        for event in self.events:
            event.set()


async def wait_or_wake(seconds: float, wake: asyncio.Event) -> None:
    try:
        await asyncio.wait_for(wake.wait(), seconds)
    except TimeoutError:
        pass


#: how a lane sleeps: `seconds`, or less when `wake` is set (tests pass a virtual clock's)
Pause = Callable[[float, asyncio.Event], Awaitable[None]]


def _iso(seconds: float | None) -> str | None:
    if seconds is None or seconds == float("inf"):
        return None
    return iso(datetime.fromtimestamp(seconds, UTC))


class AccountPaces:
    def __init__(self, worker: StoreWorker):
        self.worker = worker
        self.pacers: dict[str, Pacer] = {}

    def now(self) -> float:
        return self.worker.clock().timestamp()

    def of(self, adapter: Adapter) -> Pacer:
        pacer = self.pacers.get(adapter.source)
        if pacer is None:
            pacer = self.pacers[adapter.source] = Pacer(adapter.send_rates())
        return pacer

    async def start(self, adapter: Adapter) -> Pacer:
        """The account's pacer, knowing the sends already on record in its windows."""
        pacer = self.of(adapter)
        longest = max((w.rate.window for w in pacer.windows), default=0.0)
        if longest:
            since = iso(self.worker.clock() - timedelta(seconds=longest))
            for sent in await self.worker.run(recent_sends, adapter.source, since):
                try:
                    pacer.sent(datetime.fromisoformat(sent.sent_at).timestamp(), bulk=sent.bulk)
                except ValueError:
                    continue
        return pacer

    # --- before a claim ------------------------------------------------------------------

    def claimable(self, adapter: Adapter) -> tuple[int, int]:
        """(typed replies, group replies) that may be claimed now."""
        pacer, now = self.of(adapter), self.now()
        singles = min(10, pacer.free(now))
        return singles, int(singles > 0 and pacer.ready_at(now, bulk=True) <= now)

    def may_send(self, adapter: Adapter, bulk: bool) -> bool:
        now = self.now()
        return self.of(adapter).ready_at(now, bulk=bulk) <= now

    def wait(self, adapter: Adapter, idle: float) -> float:
        """How long an idle lane sleeps: until the next reply of either kind may go, `idle` at most.

        A kind that may go now but was not claimed has nothing due: a wake-up brings the next one."""
        pacer, now = self.of(adapter), self.now()
        later = [at - now for at in (pacer.ready_at(now, bulk=False), pacer.ready_at(now, bulk=True)) if at > now]
        return max(MIN_WAIT, min([idle, *later]))

    # --- the attempt ---------------------------------------------------------------------------

    async def attempt(self, adapter: Adapter, request: ReplyRequest, bulk: bool) -> SentReply:
        """The network call, told to the account's pacer whatever its outcome."""
        try:
            sent = await adapter.send_reply(request)
        except ManualReply:
            raise  # nothing was sent
        except BaseException as exc:
            self.tried(adapter, bulk, exc)
            raise
        self.tried(adapter, bulk, None)
        return sent

    def tried(self, adapter: Adapter, bulk: bool, error: BaseException | None) -> None:
        """A send was attempted: it spent budget unless it provably never reached the server."""
        pacer, now = self.of(adapter), self.now()
        if not (isinstance(error, ReplyError) and error.not_sent):
            pacer.sent(now, bulk=bulk)
        budget = adapter.take_budget()
        if budget is not None:
            pacer.observe(budget)

    def hold(self, adapter: Adapter, seconds: float) -> None:
        self.of(adapter).hold(seconds, self.now())

    async def publish(self, adapter: Adapter) -> None:
        """Write the account's pace where every console and the CLI read it."""
        now = self.now()
        snap = self.of(adapter).snapshot(now)
        state = PaceState(snap.label, snap.rate, snap.interval, _iso(snap.next_bulk_at), iso(self.worker.clock()),
                          _iso(snap.hold_until), snap.limit, snap.remaining, _iso(snap.reset_at),
                          snap.sends_until_reset, snap.interval_after)
        try:
            await self.worker.run(save_pace, adapter.source, state)
        except Exception:  # the pace is shown, not needed: a busy database must not stop a send
            log.warning("could not record the pace of %s", adapter.source, exc_info=True)
