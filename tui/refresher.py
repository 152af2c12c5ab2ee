"""When the main screen reads the desk's changes: on its timer, and at once when PostgreSQL pushes one.

On SQLite the timer's poll is the whole mechanism (one `PRAGMA data_version` a tick). On PostgreSQL
the desk's commits wake the console through its change feed (store/pg_listen.py), so another host's
tag shows as soon as it commits; while the feed is heard the timer only reads the desk every
`quiet_poll` seconds, as a fallback, and when the feed is lost (a server restart) the timer polls at
its own pace again until the feed is back: nothing is said to the operator, nothing is missed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store.changes import Backlog
    from store.pg_listen import ChangeFeed

QUIET_POLL = 5.0  # seconds between the timer's polls while the pushed feed is heard
# Seconds from the end of a pushed refresh to the start of the next: the first change after a quiet
# spell shows at once, but a storm's commits (dozens a second) cannot keep the store thread reading.
PUSH_GAP = 0.1
# Seconds between the status bar's counts while the feed is heard and quiet: counts change only by
# commits (a snooze waking too: the poll commits it), which the feed hears; but a lease lapsing is
# not a commit, and the top bar names who ingests.
QUIET_RECOUNT = 10.0


class Refresher:
    """One refresh at a time: a tick finding one running skips; a push waits for it, then runs."""

    def __init__(self, sync: Callable[[bool], Awaitable[None]], trouble: Callable[[Exception], object],
                 backlog: Backlog, feed: ChangeFeed | None, *, quiet_poll: float = QUIET_POLL,
                 push_gap: float = PUSH_GAP, clock: Callable[[], float] = time.monotonic) -> None:
        self._sync = sync  # sync(pushed): bring the screen up to date
        self._trouble = trouble
        self._backlog = backlog
        self.feed = feed
        self.quiet_poll = quiet_poll
        self.push_gap = push_gap
        self._clock = clock
        self._lock = asyncio.Lock()
        self._read_at = float("-inf")
        self._pushed_at = float("-inf")  # the feed's last step

    @property
    def pushed(self) -> bool:
        """Whether the desk's commits are heard as they happen now."""
        return self.feed is not None and self.feed.listening

    def unchanged_since(self, moment: float) -> bool:
        """Whether the desk is known not to have changed since `moment` (time.monotonic()): the pushed
        feed is heard and woke nothing since, and QUIET_RECOUNT has not passed."""
        return self.pushed and self._pushed_at < moment and self._clock() - moment < QUIET_RECOUNT

    def _poll_due(self) -> bool:
        if self._backlog.pending is not None:
            return True  # changes held back during a storm are shown by the ticks
        return not self.pushed or self._clock() - self._read_at >= self.quiet_poll

    async def tick(self) -> None:
        if not self._lock.locked() and self._poll_due():
            await self._refresh(pushed=False)

    async def follow(self) -> None:
        """Refresh on each step of the pushed feed, until the screen goes (a worker's body)."""
        if self.feed is None:
            return
        try:
            async for _ in self.feed:  # steps coalesce while a refresh runs (store/pg_listen.py)
                while True:
                    self._pushed_at = self._clock()
                    await self._refresh(pushed=True)
                    await asyncio.sleep(self.push_gap)
                    # Held back by the backlog (a showing just before it): shown when due, not at the
                    # timer's next poll, which may be seconds away (poll_interval is a setting).
                    if (wait := self._backlog.due_in()) is None:
                        break
                    await asyncio.sleep(wait)
        finally:
            await self.close()

    async def close(self) -> None:
        if self.feed is not None:
            await self.feed.aclose()

    async def _refresh(self, *, pushed: bool) -> None:
        async with self._lock:
            self._read_at = self._clock()
            try:
                await self._sync(pushed)
            except Exception as exc:  # the desk may be gone or unreachable: say so, keep going
                self._trouble(exc)
