"""The desk's change feed pushed by PostgreSQL: one async session LISTENs, awaited on the event loop.

Every write transaction sends `NOTIFY` on store.pg_conn.CHANNEL before it commits. A console that
only polled would see another host's tag up to a poll interval late and ask the server several
times a second whether anything changed; with this feed it is woken by the commit itself:

    feed = ChangeFeed(url)
    async for _ in feed:      # each step: something changed since the last one
        await refresh()
    ...
    await feed.aclose()       # on the way out (cancels the listener, closes its session)

Steps coalesce: the listener only raises a flag, and each step lowers it; a consumer that awaits its
refresh before asking for the next step has at most one refresh running and one waiting, however
many commits a second arrive. When the server drops the session (a restart, pg_terminate_backend,
the network) the listener opens a new one with capped backoff, then wakes the consumer once (what
was committed meanwhile was not heard); `listening` says whether it is heard now, so the caller's
poll can cover the gap. A session that goes silent without being dropped (a lost network path) is
found by an empty query after CHECK_EVERY seconds without a notification.
"""

from __future__ import annotations

import asyncio
import contextlib

import psycopg

from store.pg_conn import CHANNEL
from store.pg_open import check_url, connect_options

FIRST_RETRY = 0.2  # seconds before the first reconnection attempt; doubled up to MAX_RETRY
MAX_RETRY = 10.0
CHECK_EVERY = 30.0  # seconds without a notification before the session is checked (one empty query)
CHECK_TIMEOUT = 10.0  # an answer to that check later than this: the session is taken as lost


class ChangeFeed:
    """Wake-ups for each commit to the desk at `url` by any session (see the module's docstring)."""

    def __init__(self, url: str, *, first_retry: float = FIRST_RETRY, max_retry: float = MAX_RETRY,
                 check_every: float = CHECK_EVERY) -> None:
        check_url(url)  # the same refusals as the store's connections, before anything is started
        self.url = url
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.check_every = check_every
        self.listening = False  # a session is LISTENing now: every commit from here on wakes the consumer
        self.sessions = 0  # sessions opened so far (1 + reconnections)
        self.heard = 0  # notifications received
        self.backend_pid: int | None = None  # the listening session's server process (for tests)
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Start listening (on the running loop); iterating starts it too."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._listen(), name="change-feed")

    def __aiter__(self) -> ChangeFeed:
        self.start()
        return self

    async def __anext__(self) -> None:
        if self._closed:
            raise StopAsyncIteration
        await self._changed.wait()
        self._changed.clear()
        if self._closed:
            raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop listening and close the session; safe to call twice, or before the feed started."""
        self._closed = True
        self.listening = False
        self._changed.set()  # a consumer waiting for the next step ends its loop
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self) -> None:
        delay = self.first_retry
        while True:
            opened = self.sessions
            try:
                await self._session()
            except (psycopg.Error, OSError, TimeoutError):
                pass  # dropped or unreachable: try again below, quietly (the caller's poll covers the gap)
            self.listening = False
            if self.sessions > opened:
                delay = self.first_retry  # it was listening: a new drop, so the backoff starts over
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_retry)

    async def _session(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True,
                                                     **connect_options(self.url))  # type: ignore[arg-type]
        async with conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            self.backend_pid = conn.info.backend_pid
            self.sessions += 1
            self.listening = True
            if self.sessions > 1:
                self._changed.set()  # commits while nobody listened were not heard: look once
            while True:
                async for _ in conn.notifies(timeout=self.check_every):
                    self.heard += 1
                    self._changed.set()
                async with asyncio.timeout(CHECK_TIMEOUT):
                    await conn.execute("")  # quiet for a while: is the session still there?
