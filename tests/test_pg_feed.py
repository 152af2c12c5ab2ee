"""The desk's change feed pushed by PostgreSQL (store/pg_listen.py, tui/refresher.py): a commit by another
process wakes a console at once (its poll slowed to 30 s, so only the push can deliver it); the
listener comes back after its session is terminated; a burst of commits coalesces into few refreshes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from store.actions import set_tag
from store.db import open_store
from store.pg_listen import ChangeFeed
from tests.procs import clean_env
from tests.tui_support import frozen_clock, screen_text, seed, wait_until

pytestmark = pytest.mark.postgresql

SLOW_POLL = 30.0  # the console's fallback poll in these tests: far beyond every deadline below
DEADLINE = 10.0  # seconds for a pushed change to arrive: generous under load, a third of SLOW_POLL


async def _until(predicate, *, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def _next(feed: ChangeFeed, timeout: float = DEADLINE) -> None:
    await asyncio.wait_for(anext(aiter(feed)), timeout)


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def _tag_from_another_process(url: str, mention_id: int, tag: str, home: Path) -> None:
    code = ("import sys; from store.db import open_store; from store.actions import set_tag; "
            "s = open_store(sys.argv[1]); set_tag(s, int(sys.argv[2]), sys.argv[3], True, 'bob'); s.close()")
    subprocess.run([sys.executable, "-c", code, url, str(mention_id), tag], check=True, env=clean_env(home),
                   timeout=60)


async def test_a_commit_by_another_session_wakes_the_feed(pg_desk, tmp_path):
    seed(pg_desk, 3)
    feed = ChangeFeed(pg_desk)
    try:
        feed.start()
        await _until(lambda: feed.listening)
        await asyncio.to_thread(_tag_from_another_process, pg_desk, 1, "care", tmp_path)
        await _next(feed)
        assert feed.heard >= 1
    finally:
        await feed.aclose()
    assert not feed.listening
    with pytest.raises(StopAsyncIteration):
        await anext(aiter(feed))


async def test_the_feed_reconnects_after_its_session_is_terminated_and_delivers_again(pg_desk):
    seed(pg_desk, 3)
    store = open_store(pg_desk)
    feed = ChangeFeed(pg_desk, first_retry=0.05, max_retry=0.5)
    try:
        feed.start()
        await _until(lambda: feed.listening)
        first = feed.backend_pid
        assert first is not None
        await asyncio.to_thread(_terminate, pg_desk, first)
        await _until(lambda: feed.sessions == 2 and feed.listening)
        assert feed.backend_pid != first
        await _next(feed)  # the reconnection itself: what was committed meanwhile was not heard
        heard = feed.heard
        await asyncio.to_thread(set_tag, store, 2, "care", True, "bob")
        await _next(feed)
        assert feed.heard > heard  # a real notification from the new session, not the reconnection's wake
    finally:
        await feed.aclose()
        store.close()


async def test_a_burst_of_commits_coalesces_into_a_few_steps(pg_desk):
    """2,000 commits while the consumer is busy with one refresh: it then takes one step, not 2,000."""
    seed(pg_desk, 3)
    store = open_store(pg_desk)
    feed = ChangeFeed(pg_desk)
    try:
        feed.start()
        await _until(lambda: feed.listening)

        def burst() -> None:
            for _ in range(2000):  # each its own transaction: 2,000 notifications
                store.conn.execute("UPDATE mentions SET text = text WHERE id = 1")

        await asyncio.to_thread(burst)
        await _until(lambda: feed.heard >= 2000)
        steps = 0
        while True:
            try:
                await asyncio.wait_for(anext(aiter(feed)), 0.3)
            except TimeoutError:
                break
            steps += 1
        assert steps == 1
    finally:
        await feed.aclose()
        store.close()


async def test_a_console_shows_another_hosts_tag_pushed_well_before_its_slowed_poll(pg_desk, tmp_path):
    from tui.app import ConsoleApp
    from tui.screens.main import MainScreen

    seed(pg_desk, 8, hostile=False)
    # The timer's first tick is SLOW_POLL away: only the pushed feed can show the tag in time.
    app = ConsoleApp(pg_desk, operator="ana", clock=frozen_clock, poll_interval=SLOW_POLL, quiet_poll=SLOW_POLL)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and len(app.screen.inbox.ids) == 8)
        screen = app.screen
        await wait_until(pilot, lambda: screen._refresher is not None and screen._refresher.pushed)
        selected = screen.inbox.selected_id
        assert selected is not None and "care" not in screen_text(app)
        started = time.monotonic()
        await asyncio.to_thread(_tag_from_another_process, pg_desk, selected, "care", tmp_path)
        committed = time.monotonic()
        await _until(lambda: "care" in screen_text(app))
        shown = time.monotonic()
        assert shown - started < SLOW_POLL / 3, (committed - started, shown - committed)
        assert app.is_running
