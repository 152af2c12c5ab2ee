"""Delivers the outbox: exactly once, through crashes, retries and rate limits."""

from __future__ import annotations

import asyncio
import logging
import random

from adapters.base import Adapter, ManualReply, ReplyError, ReplyRequest
from store.outbox import OutgoingReply, claim_due, mark_failed, mark_manual, mark_sent, schedule_retry
from store.worker import StoreWorker

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


def backoff(attempt: int, *, base: float = 2.0, cap: float = 300.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter (seconds)."""
    rng = rng or random
    return rng.uniform(0, min(cap, base * 2 ** max(0, attempt - 1)))


class ReplySender:
    def __init__(self, worker: StoreWorker, adapters: list[Adapter], *, poll_interval: float = 1.0):
        self.worker = worker
        self.adapters = adapters
        self.poll_interval = poll_interval
        self.wake = asyncio.Event()
        self._first_pass = True

    def adapter_for(self, reply: OutgoingReply) -> Adapter | None:
        for adapter in self.adapters:
            same_network = reply.network == adapter.network or reply.network.startswith(adapter.network + ":")
            if same_network and reply.account == adapter.account:
                return adapter
        for adapter in self.adapters:  # an account renamed in config still answers its network
            if reply.network == adapter.network:
                return adapter
        return None

    def _networks(self) -> set[str]:
        return {adapter.network for adapter in self.adapters}

    async def deliver(self, reply: OutgoingReply) -> str:
        """Deliver one claimed reply; returns the resulting state."""
        adapter = self.adapter_for(reply)
        if adapter is None:
            await self.worker.run(schedule_retry, reply, 60.0, f"no adapter for {reply.network}", uncertain=reply.uncertain)
            return "pending"
        request = ReplyRequest(reply.id, reply.key, reply.text, reply.network, reply.mention_remote_id,
                               reply.author_handle, reply.reply_ref, reply.mention_url)
        try:
            if reply.uncertain:
                # An earlier attempt may have posted: look before sending again.
                existing = await adapter.find_reply(request)
                if existing is not None:
                    await self.worker.run(mark_sent, reply, existing.remote_id, existing.url, adopted=True)
                    return "sent"
            sent = await adapter.send_reply(request)
        except ManualReply as exc:
            await self.worker.run(mark_manual, reply, str(exc))
            return "manual"
        except ReplyError as exc:
            if exc.permanent or reply.attempts >= MAX_ATTEMPTS:
                await self.worker.run(mark_failed, reply, str(exc))
                return "failed"
            delay = max(exc.retry_after or 0.0, backoff(reply.attempts))
            await self.worker.run(schedule_retry, reply, delay, str(exc), uncertain=exc.unknown_outcome or reply.uncertain)
            return "pending"
        except Exception as exc:  # unknown failure: the request may have gone out
            log.exception("sending reply %s", reply.id)
            await self.worker.run(schedule_retry, reply, backoff(reply.attempts), f"{type(exc).__name__}: {exc}",
                                  uncertain=True)
            return "pending"
        await self.worker.run(mark_sent, reply, sent.remote_id, sent.url)
        return "sent"

    async def run_once(self) -> int:
        # The first pass after winning the lease adopts a dead leader's in-flight sends.
        claimed = await self.worker.run(claim_due, self._networks(), reclaim_sending=self._first_pass)
        self._first_pass = False
        for reply in claimed:
            await self.deliver(reply)
        return len(claimed)

    async def run(self) -> None:
        while True:
            try:
                if await self.run_once():
                    continue
            except Exception:
                log.exception("reply sender")
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), self.poll_interval)
            except TimeoutError:
                pass
