"""Paced sending: 2,000 group replies queued on two Mastodon accounts, each kept within its server's budget.

    python bench/pacing.py                 # 2 accounts x 1,000 replies, 300 posts per 5-minute window
    python bench/pacing.py --per-account 200 --limit 30 --window 60

The real sender (adapters.runtime.sender), store and Mastodon adapter post
to two local fake Mastodon servers (tests/mastodon_server.py) that count
posts in fixed windows, state X-RateLimit-* on every answer and refuse
with 429 over the limit. Time is virtual (tests/virtual_time.py): the
servers, the store and the lanes share one clock that jumps to the next
wake-up when every lane sleeps, so hours of rate windows run in seconds
of wall time and the CPU figure is the cost of sending, not of waiting.
Halfway, an operator's typed reply is queued on the first account: how
many group replies went before it is counted. The ETA `pacing_eta`
gave at the first send is compared with the time the last one went.

CPU is this process's (sender, store thread, both servers, aiohttp), per
reply sent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from adapters.mastodon.adapter import MastodonAdapter  # noqa: E402
from adapters.runtime.sender import ReplySender  # noqa: E402
from store.actions import queue_reply  # noqa: E402
from store.db import open_store  # noqa: E402
from store.ingest import save_batch  # noqa: E402
from store.pacing import pacing_eta  # noqa: E402
from store.queue_bulk import queue_bulk_replies  # noqa: E402
from store.records import NewMention  # noqa: E402
from store.worker import StoreWorker  # noqa: E402
from tests.mastodon_server import TOKEN, FakeMastodon  # noqa: E402
from tests.virtual_time import VirtualTime  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment


def _mentions(db: str, server: FakeMastodon, account: str, count: int) -> list[int]:
    store = open_store(db)
    try:
        mentions = []
        for number in range(count):
            status = server.remote_status(f"the show is cancelled?! {number}")
            mentions.append(NewMention(network="mastodon", account=account, remote_id=status["uri"],
                                       author_handle=f"@fan{number}@remote.example", author_name=f"Fan {number}",
                                       text=f"the show is cancelled?! {number}",
                                       created_at="2026-11-30T08:59:00.000Z",
                                       reply_ref={"status_id": status["id"], "acct": f"fan{number}@remote.example",
                                                  "visibility": "public"}))
        return save_batch(store, f"mastodon:{account}", mentions, None)
    finally:
        store.close()


async def run(per_account: int, limit: int, window: float) -> dict:
    clock = Clock()
    folder = tempfile.mkdtemp(prefix="pacing-bench-")
    db = os.path.join(folder, "desk.db")
    open_store(db).close()
    servers, accounts = [], []
    for index in range(2):
        server = FakeMastodon(start_id=10_000 + index * 1_000_000)
        server.clock, server.post_limit, server.post_window = clock, limit, window
        await server.start()
        servers.append(server)
        accounts.append(f"@brand{index}@example.social")
    mention_ids = [_mentions(db, server, account, per_account + 1) for server, account in zip(servers, accounts,
                                                                                               strict=True)]
    store = open_store(db, clock=clock)
    try:
        for answer, ids in enumerate(mention_ids, start=1):
            queue_bulk_replies(store, answer, [(m, "Sorry: refunds go out this week, automatically.")
                                               for m in ids[:per_account]], "carla")
    finally:
        store.close()
    worker = StoreWorker(db, clock=clock)
    async with aiohttp.ClientSession() as http:
        adapters = [MastodonAdapter(account=account, server=server.base, token=TOKEN, session=http, clock=clock,
                                    streaming=False, thread_watch_interval=0)
                    for server, account in zip(servers, accounts, strict=True)]
        sender = ReplySender(worker, list(adapters), pause=VirtualTime(clock, lanes=2).pause)
        start_virtual, start_wall, start_cpu = clock(), time.perf_counter(), time.process_time()
        task = asyncio.create_task(sender.run())
        eta: float | None = None
        eta_at = start_virtual
        typed_key, typed_behind = None, None
        total = 2 * per_account
        while sum(len(s.ours()) for s in servers) < total + (typed_key is not None):
            await asyncio.sleep(0.01)
            if eta is None and servers[0].ours():
                known = [e.seconds for e in await worker.run(pacing_eta, 1) if e.seconds is not None]
                if known:  # the pace is published after the first send
                    eta, eta_at = max(known), clock()
            if typed_key is None and len(servers[0].ours()) >= per_account // 2:
                typed_key = (await worker.run(queue_reply, mention_ids[0][-1], "Your refund left today.", "bo")).key
                typed_before = len(servers[0].posts())
                sender.wake.set()
            if typed_key is not None and typed_behind is None:
                keys = [r.headers.get("Idempotency-Key") for r in servers[0].posts()]
                if typed_key in keys:
                    typed_behind = keys.index(typed_key) - typed_before
        wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
        sender.close()
        await asyncio.gather(task, return_exceptions=True)
        for adapter in adapters:
            await adapter.aclose()
    worker.close()
    per_window = []
    for server in servers:
        times = [r.at for r in server.posts() if r.at is not None]
        first = times[0]
        counts: dict[int, int] = {}
        for at in times:
            index = int((at - first).total_seconds() // window)
            counts[index] = counts.get(index, 0) + 1
        per_window.append(max(counts.values()))
        await server.stop()
    last = max(r.at for r in servers[0].posts() if r.at is not None)
    return {"sent": total + 1, "refused": sum(len(s.refused) for s in servers), "max_in_window": max(per_window),
            "limit": limit, "window": window, "virtual_s": (last - start_virtual).total_seconds(),
            "floor_s": per_account / (limit - int(limit * 0.05)) * window, "wall_s": wall,
            "cpu_ms_per_send": cpu * 1000 / (total + 1),
            "typed_behind": typed_behind, "eta_s": eta, "eta_actual_s": (last - eta_at).total_seconds()}


def pacer_cost(decisions: int = 20_000) -> float:
    """Microseconds per decision (ready_at for a typed and a group reply, then a send) of a Bluesky-shaped
    pacer whose day window already holds 11,000 sends: the worst a lane asks of it."""
    from adapters.bluesky.replies import WRITE_POINTS
    from adapters.runtime.pacing import Pacer

    pacer, now = Pacer(WRITE_POINTS), 1_800_000_000.0
    for number in range(11_000):
        pacer.sent(now - 86_000 + number * 7.8, bulk=True)
    start = time.process_time()
    for _ in range(decisions):
        pacer.ready_at(now, bulk=False)
        now = pacer.ready_at(now, bulk=True)
        pacer.sent(now, bulk=True)
    return (time.process_time() - start) * 1e6 / decisions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-account", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--window", type=float, default=300.0)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    result = asyncio.run(run(args.per_account, args.limit, args.window))
    print(f"load average (1 min) at start / end: {load:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"replies sent: {result['sent']} (2 accounts x {args.per_account} group replies + 1 typed)")
    print(f"refused by the servers (429): {result['refused']}")
    print(f"most posts in one server window: {result['max_in_window']} (limit {result['limit']} per "
          f"{result['window']:g} s)")
    print(f"virtual time to send all: {timedelta(seconds=round(result['virtual_s']))} "
          f"(at the whole budget less the 5 % reserve: {timedelta(seconds=round(result['floor_s']))})")
    took = timedelta(seconds=round(result["eta_actual_s"]))
    print(f"answer #1 (first account): ETA from pacing_eta after its first send "
          f"{timedelta(seconds=round(result['eta_s'] or 0))}; it took {took}")
    print(f"group replies sent before the typed one, after it was queued: {result['typed_behind']}")
    print(f"wall time: {result['wall_s']:.1f} s; CPU per reply sent: {result['cpu_ms_per_send']:.2f} ms")
    print(f"pacer alone, a Bluesky day window holding 11,000 sends: {pacer_cost():.1f} µs CPU per decision")
    return 0


if __name__ == "__main__":
    sys.exit(main())
