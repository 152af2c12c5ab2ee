"""Delivers the outbox: exactly once, through crashes, retries, outages and rate limits.

One lane (task) per adapter, so a network that hangs for its full
timeout never delays replies to another. Each claim is fenced by the
leader's lease (see store/lease.py); right before every network call the
lane checks the lease has more time left than the adapter's longest
request, so no call can outlive the leadership it was made under.

Each account's lane is paced (adapters/runtime/paces.py): typed replies
are claimed before replies of group answers, and group replies one at a
time, spread within the account's budget, so a long answer delays a typed
reply by one send at most; a Retry-After holds that account's lane only.

A reply whose attempt provably never reached the server (refused, DNS,
connect timeout) does not spend an attempt: it waits for the network
until `reply_deadline`, then fails. A reply whose attempt may have
reached it stays "uncertain", failed or not, and is looked up before it
is ever sent again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from adapters.base import Adapter, ManualReply, ReplyError, ReplyRequest
from adapters.logline import log_state
from adapters.retry import backoff, human_seconds, never_reached
from adapters.runtime.paces import AccountPaces, Pause, Wake, wait_or_wake
from store.lease import Lease, LeaseLost
from store.outbox import (
    Fence,
    OutgoingReply,
    Route,
    adopt_after,
    claim_due,
    deadline_passed,
    mark_failed,
    mark_manual,
    mark_sent,
    mark_sent_earlier,
    schedule_retry,
    unclaim,
    wait_for_network,
)
from store.worker import StoreWorker

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
#: how long a reply may wait for an unreachable network before it fails (config `reply_deadline`)
REPLY_DEADLINE = 24 * 3600.0
#: longest pause between tries while a network is unreachable
NETWORK_RETRY_CAP = 60.0
#: first and longest pause between tries of a reply that failed for another reason
RETRY_BASE, RETRY_CAP = 2.0, 300.0


def _retry_delay(attempts: int) -> float:
    """After the `attempts`-th failed try: 2 s, 4 s ... up to 5 min, jittered."""
    return backoff(attempts - 1, base=RETRY_BASE, cap=RETRY_CAP)


class HeldLease(Protocol):
    """The leader's view of its lease: what it holds, and for how much longer (monotonic)."""

    @property
    def lease(self) -> Lease: ...

    def remaining(self) -> float: ...


class LeaseShort(Exception):
    """Not enough lease left for one more network call."""


class Superseded(Exception):
    """The claim was taken over by a newer epoch before this attempt's result was recorded."""


class ReplySender:
    def __init__(self, worker: StoreWorker, adapters: list[Adapter], *, poll_interval: float = 1.0,
                 held: Callable[[], HeldLease | None] | None = None,
                 reply_deadline: float = REPLY_DEADLINE, network_retry_cap: float = NETWORK_RETRY_CAP,
                 pause: Pause = wait_or_wake):
        self.worker = worker
        self.paces = AccountPaces(worker)
        self._pause = pause
        self.adapters = adapters
        self.poll_interval = poll_interval
        self.reply_deadline = reply_deadline
        self.network_retry_cap = network_retry_cap
        self.wake = Wake()
        self._held = held
        self._closing = False

    def close(self) -> None:
        """Claim nothing more; lanes end after the reply they are delivering."""
        self._closing = True
        self.wake.set()

    # --- routing ------------------------------------------------------------------

    def adapter_for(self, reply: OutgoingReply) -> Adapter | None:
        for adapter in self.adapters:
            same_network = reply.network == adapter.network or reply.network.startswith(adapter.network + ":")
            if same_network and reply.account == adapter.account:
                return adapter
        for adapter in self.adapters:  # an account renamed in config still answers its network
            if reply.network == adapter.network:
                return adapter
        return None

    def _route(self, adapter: Adapter) -> Route:
        same = [a for a in self.adapters if a.network == adapter.network]
        fallback = tuple(a.account for a in same) if same[0] is adapter else None
        return Route(adapter.network, adapter.account, fallback)

    # --- fencing ------------------------------------------------------------------

    def _fence(self, adapter: Adapter) -> Fence | None:
        if self._held is None:
            return None
        held = self._held()
        if held is None:
            raise LeaseLost("not the leader")
        # The old epoch's longest call: the longest any of our adapters allows.
        margin = max((a.max_request_time for a in self.adapters), default=adapter.max_request_time)
        return Fence(held.lease.holder, held.lease.epoch, adapter.max_request_time, adopt_after(held.lease, margin))

    def _check_lease(self, adapter: Adapter) -> None:
        """Right before a network call: is there more lease left than the call may take?"""
        if self._held is None:
            return
        held = self._held()
        left = held.remaining() if held is not None else 0.0
        if left <= adapter.max_request_time:
            raise LeaseShort(f"lease has {left:.1f}s left, a request may take {adapter.max_request_time:g}s")

    async def _bounded(self, adapter: Adapter, call):
        """A send that may take several requests (a token refresh, then the post) still ends within
        the adapter's longest request time, which is what the lease was checked against."""
        if self._held is None or not adapter.max_request_time:
            return await call
        try:
            return await asyncio.wait_for(call, adapter.max_request_time)
        except TimeoutError:
            raise ReplyError(f"no answer within {adapter.max_request_time:g}s", unknown_outcome=True) from None

    async def _record(self, fn, *args, **kwargs):
        # A result is written even if the lane is cancelled meanwhile (the leader stepping down):
        # dropping a "sent" would make the next leader send again.
        if await asyncio.shield(self.worker.run(fn, *args, **kwargs)) is False:
            raise Superseded  # a newer leader claimed the reply meanwhile: its outcome, not ours

    # --- one reply -------------------------------------------------------------------

    async def deliver(self, reply: OutgoingReply, adapter: Adapter | None = None) -> str:
        """Deliver one claimed reply; returns the resulting state."""
        try:
            return await self._deliver(reply, adapter or self.adapter_for(reply))
        except Superseded:
            log_state(log, "reply", level=logging.WARNING, reply=reply.id, state="superseded", epoch=reply.epoch,
                      reason="a newer leader claimed it; this attempt's outcome was not recorded")
            return "superseded"

    async def _deliver(self, reply: OutgoingReply, adapter: Adapter | None) -> str:
        source = adapter.source if adapter else reply.network
        if adapter is None:
            await self._record(schedule_retry, reply, 60.0, f"no adapter for {reply.network}",
                               uncertain=reply.uncertain)
            return "pending"
        request = ReplyRequest(reply.id, reply.key, reply.text, reply.network, reply.mention_remote_id,
                               reply.author_handle, reply.reply_ref, reply.mention_url)
        log_state(log, "reply", reply=reply.id, state="sending", account=source, attempt=reply.attempts,
                  epoch=reply.epoch, uncertain=int(reply.uncertain))
        try:
            if reply.uncertain:
                # An earlier attempt may have posted: look before sending again.
                self._check_lease(adapter)
                existing = await adapter.find_reply(request)
                if existing is not None:
                    await self._record(mark_sent, reply, existing.remote_id, existing.url, adopted=True)
                    log_state(log, "reply", reply=reply.id, state="sent", account=source, adopted=1,
                              remote_id=existing.remote_id)
                    return "sent"
                if reply.prior_key and reply.prior_text:
                    self._check_lease(adapter)
                    earlier = await adapter.find_reply(replace(request, key=reply.prior_key, text=reply.prior_text))
                    if earlier is not None:
                        await self._record(mark_sent_earlier, reply, earlier.remote_id, earlier.url)
                        log_state(log, "reply", reply=reply.id, state="sent", account=source, adopted=1,
                                  remote_id=earlier.remote_id, reason="the text from before the edit was posted")
                        return "sent"
            self._check_lease(adapter)
            sent = await self._bounded(adapter, self.paces.attempt(adapter, request, reply.answer_id is not None))
        except LeaseShort as exc:
            # Not sent: it waits for the lease to be renewed (or for the next leader). Stepping
            # down is the leader's call, made on its renewals, not on a renewal that is late.
            await self._record(unclaim, reply)
            log_state(log, "reply", level=logging.WARNING, reply=reply.id, state="queued", account=source,
                      reason=f"not sent: {exc}")
            return "pending"
        except ManualReply as exc:
            await self._record(mark_manual, reply, str(exc))
            log_state(log, "reply", reply=reply.id, state="manual", account=source, reason=str(exc))
            return "manual"
        except ReplyError as exc:
            if exc.retry_after:  # a 429 (of the send or of a lookup): that account waits, the others go on
                self.paces.hold(adapter, exc.retry_after)
            return await self._failed(reply, source, exc)
        except Exception as exc:  # unknown failure: the request may have gone out
            log.exception("sending reply %s", reply.id)
            reason = f"{type(exc).__name__}: {exc}"
            delay = _retry_delay(reply.attempts)
            await self._record(schedule_retry, reply, delay, reason, uncertain=True)
            log_state(log, "reply", level=logging.WARNING, reply=reply.id, state="retry", account=source,
                      uncertain=1, delay=f"{delay:.1f}s", reason=reason)
            return "pending"
        await self._record(mark_sent, reply, sent.remote_id, sent.url)
        log_state(log, "reply", reply=reply.id, state="sent", account=source, remote_id=sent.remote_id)
        return "sent"

    async def _failed(self, reply: OutgoingReply, source: str, exc: ReplyError) -> str:
        reason = str(exc)
        if exc.not_sent or (not exc.unknown_outcome and never_reached(exc)):
            if await self.worker.run(deadline_passed, reply, self.reply_deadline):
                reason = f"no network for {human_seconds(self.reply_deadline)}: {reason}"
                await self._record(mark_failed, reply, reason, uncertain=reply.uncertain)
                log_state(log, "reply", level=logging.WARNING, reply=reply.id, state="failed", account=source,
                          uncertain=int(reply.uncertain), reason=reason)
                return "failed"
            delay = self._network_delay(reply, exc)
            await self._record(wait_for_network, reply, delay, reason)
            log_state(log, "reply", level=logging.WARNING, reply=reply.id, state="waiting for network",
                      account=source, delay=f"{delay:.1f}s", reason=reason)
            return "pending"
        uncertain = exc.unknown_outcome or reply.uncertain
        if exc.permanent or reply.attempts >= MAX_ATTEMPTS:
            await self._record(mark_failed, reply, reason, uncertain=uncertain)
            log_state(log, "reply", level=logging.WARNING, reply=reply.id, state="failed", account=source,
                      uncertain=int(uncertain), reason=reason)
            return "failed"
        delay = max(exc.retry_after or 0.0, _retry_delay(reply.attempts))
        await self._record(schedule_retry, reply, delay, reason, uncertain=uncertain)
        log_state(log, "reply", level=logging.WARNING, reply=reply.id, state="retry", account=source,
                  uncertain=int(uncertain), delay=f"{delay:.1f}s", reason=reason)
        return "pending"

    def _network_delay(self, reply: OutgoingReply, exc: ReplyError) -> float:
        """Try again soon after a short outage, every `network_retry_cap` seconds in a long one."""
        try:
            queued = datetime.fromisoformat(reply.created_at)
            waited = max(0.0, (datetime.now(queued.tzinfo) - queued).total_seconds())
        except ValueError:
            waited = 0.0
        delay = min(self.network_retry_cap, max(0.5, waited / 10))
        return max(exc.retry_after or 0.0, delay * random.uniform(0.8, 1.0))

    # --- lanes -------------------------------------------------------------------------

    async def run_once(self, adapter: Adapter | None = None, *, first: bool = False) -> int:
        """One claim-and-deliver pass, for one adapter's lane or (None) for all of them in turn.

        Unfenced (no lease view: a single-process harness), the `first` pass
        adopts every 'sending' row at once, as a new leader would.
        """
        if adapter is None:
            total = 0
            for each in self.adapters:
                total += await self.run_once(each, first=first)
            return total
        singles, bulk = self.paces.claimable(adapter)
        if not singles:
            return 0  # a Retry-After or a spent budget: nothing may go yet
        claimed = await self.worker.run(claim_due, limit=singles, reclaim_sending=first and self._held is None,
                                        fence=self._fence(adapter), route=self._route(adapter), bulk_limit=bulk)
        for index, reply in enumerate(claimed):
            if self._closing or not self.paces.may_send(adapter, reply.answer_id is not None):
                for rest in claimed[index:]:  # hand the rest back untouched
                    await self.worker.run(unclaim, rest)
                break
            await self.deliver(reply, adapter)
        if claimed:
            await self.paces.publish(adapter)
        return len(claimed)

    async def _lane(self, adapter: Adapter, wake: asyncio.Event) -> None:
        first = True
        try:
            await self.paces.start(adapter)
        except Exception:  # the record of earlier sends is a refinement; the server's limits still hold
            log.exception("reading the recent sends of %s", adapter.source)
        while not self._closing:
            idle = self.poll_interval
            try:
                claimed = await self.run_once(adapter, first=first)
                first = False
                if claimed:
                    continue
                idle = self.paces.wait(adapter, self.poll_interval)
            except LeaseLost as exc:
                # Renewing late, or no longer ours: claim nothing. If it is gone, the leader's
                # next renewal steps down and ends this lane; if late, the next claim goes through.
                log.debug("not claiming for %s: %s", adapter.source, exc)
            except Exception:
                log.exception("reply sender for %s", adapter.source)
            wake.clear()
            await self._pause(idle, wake)

    async def run(self) -> None:
        lanes = [asyncio.create_task(self._lane(adapter, self.wake.add()), name=f"send:{adapter.source}")
                 for adapter in self.adapters]
        try:
            await asyncio.gather(*lanes)
        finally:
            for lane in lanes:
                lane.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
