"""`mentiondesk serve`: the ingest leader without a UI, stopped cleanly by SIGTERM.

Every state change of an account, of the leadership and of a reply is
one `event=... key=value` line on stderr (journald keeps it as is).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp

from adapters.base import Adapter
from adapters.http import USER_AGENT
from adapters.logline import log_state
from adapters.runtime.leader import Leadership, holder_name
from store.worker import StoreWorker

if TYPE_CHECKING:
    from store.triage import Triage


log = logging.getLogger("mentiondesk.serve")


async def serve(db_path: str, build: Callable[[Callable[[], aiohttp.ClientSession]], list[Adapter]], *,
                ttl: float | None = None, reply_deadline: float | None = None, triage: Triage | None = None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    worker = StoreWorker(db_path, name="serve")
    async with aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}) as session:
        adapters = build(lambda: session)
        options: dict = {"ttl": ttl} if ttl else {}
        if reply_deadline:
            options["reply_deadline"] = reply_deadline
        if triage is not None:
            options["runner_options"] = {"triage": triage}
        leadership = Leadership(
            worker, adapters, holder=holder_name("serve"),
            on_change=lambda leading: None if leading else log_state(log, "serve", state="following",
                                                                     reason="another process leads"),
            **options)
        task = asyncio.create_task(leadership.run())
        log_state(log, "serve", state="started", db=db_path,
                  accounts=",".join(a.source for a in adapters) or "none")
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        leadership.stop()
        await task
        stopped.cancel()
    worker.close()
    log_state(log, "serve", state="stopped")
    return 0


def run_serve(db_path: str, build: Callable[[Callable[[], aiohttp.ClientSession]], list[Adapter]], *,
              reply_deadline: float | None = None, ttl: float | None = None, triage: Triage | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s mentiondesk serve: %(message)s")
    return asyncio.run(serve(db_path, build, reply_deadline=reply_deadline, ttl=ttl, triage=triage))
