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
        waiting = asyncio.create_task(_next(feed))
        await asyncio.sleep(0)
    finally:
        await feed.aclose()
    assert not feed.listening
    with pytest.raises(StopAsyncIteration):
        await waiting  # a consumer waiting for the next step ends with the feed
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

    seed(pg_desk, 8, hostile=False)
    # The timer's first tick is SLOW_POLL away: only the pushed feed can show the tag in time.
    app = ConsoleApp(pg_desk, operator="ana", clock=frozen_clock, poll_interval=SLOW_POLL, quiet_poll=SLOW_POLL)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _listening(pilot)
        selected = screen.inbox.selected_id
        assert selected is not None and "care" not in screen_text(app)
        started = time.monotonic()
        await asyncio.to_thread(_tag_from_another_process, pg_desk, selected, "care", tmp_path)
        committed = time.monotonic()
        await _until(lambda: "care" in screen_text(app))
        shown = time.monotonic()
        assert shown - started < SLOW_POLL / 3, (committed - started, shown - committed)
        assert app.is_running
        listener = screen._refresher.feed.backend_pid
    # Quitting closed the listening session (no task left behind for the loop's end to destroy).
    assert listener is not None
    deadline = time.monotonic() + DEADLINE
    while _sessions(pg_desk, listener):
        assert time.monotonic() < deadline, "the listening session outlived the console"
        await asyncio.sleep(0.05)


async def _listening(pilot):
    """The console's main screen, its 8 mentions listed and its change feed heard."""
    from tui.screens.main import MainScreen

    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and len(app.screen.inbox.ids) == 8)
    screen = app.screen
    await wait_until(pilot, lambda: screen._refresher is not None and screen._refresher.pushed)
    return screen


def _sessions(url: str, pid: int) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        [(count,)] = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchall()
        return count


async def test_an_idle_console_hardly_asks_the_server_anything_while_the_feed_is_heard(pg_desk, monkeypatch):
    """Polled every 300 ms, with its bars re-read every 1-2 s, an idle console sent ~12 statements a second
    (bench/pg_feed.py --idle); heard by the pushed feed it sends the lease check and the safety nets."""
    from tui.app import ConsoleApp

    seed(pg_desk, 8, hostile=False)
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self, query, *args, **kwargs):
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    app = ConsoleApp(pg_desk, operator="ana", clock=frozen_clock, quiet_poll=SLOW_POLL)
    async with app.run_test(size=(100, 30)) as pilot:
        await _listening(pilot)
        await pilot.pause(1.0)  # the start's reads (counts, incidents, the SLA) done
        before = len(sent)
        await pilot.pause(4.0)
        idle = sent[before:]
        assert len(idle) < 20, idle  # polled: ~48 in 4 s
        assert "" not in idle  # no data_version poll: the feed is heard


# -- the console's side: when it reads the desk (tui/refresher.py, no server) ---------------------


class FakeFeed:
    """A ChangeFeed's surface: steps put by the test, `listening` set by it."""

    def __init__(self) -> None:
        self.listening = True
        self.closed = False
        self.steps: asyncio.Queue[None] = asyncio.Queue()

    def __aiter__(self) -> FakeFeed:
        return self

    async def __anext__(self) -> None:
        await self.steps.get()

    async def aclose(self) -> None:
        self.closed = True


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refresher(feed, clock, calls: list[bool], release: asyncio.Event | None = None):
    from store.changes import Backlog
    from tui.refresher import Refresher

    async def sync(pushed: bool) -> None:
        calls.append(pushed)
        if release is not None:
            await release.wait()

    return Refresher(sync, lambda exc: None, Backlog(), feed, quiet_poll=5.0, push_gap=0, clock=clock)


async def test_the_timer_reads_every_tick_without_a_heard_feed_and_every_quiet_poll_with_one():
    clock, calls, feed = Ticks(), [], FakeFeed()
    feed.listening = False
    refresher = _refresher(feed, clock, calls)
    for _ in range(3):
        await refresher.tick()
    assert calls == [False, False, False]  # the feed lost: the poll is the whole mechanism again
    feed.listening = True
    await refresher.tick()
    clock.now += 4.9
    await refresher.tick()
    assert len(calls) == 3
    clock.now += 0.2
    await refresher.tick()
    assert len(calls) == 4
    sqlite = _refresher(None, clock, calls := [])
    await sqlite.tick()
    await sqlite.tick()
    assert calls == [False, False] and not sqlite.pushed


async def test_a_push_during_a_running_read_waits_for_it_then_reads_once():
    clock, calls, feed, release = Ticks(), [], FakeFeed(), asyncio.Event()
    refresher = _refresher(feed, clock, calls, release)
    follow = asyncio.create_task(refresher.follow())
    ticking = asyncio.create_task(refresher.tick())
    await _until(lambda: calls == [False])
    for _ in range(50):  # a burst while the read runs
        feed.steps.put_nowait(None)
    await refresher.tick()  # a tick finding a read running skips
    assert calls == [False]
    release.set()
    await ticking
    await _until(lambda: feed.steps.empty() and len(calls) == 51)
    assert calls.count(True) == 50 and calls[1:] == [True] * 50  # FakeFeed does not coalesce: each read ran
    follow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follow
    assert feed.closed


async def test_a_pushed_change_the_backlog_holds_back_is_shown_when_due_without_a_tick():
    """A commit heard just after a showing is held by the backlog (QUIET_GAP): the push path shows it
    once due; the timer's poll (30 s in the console tests, a setting) is not what brings it."""
    from store.changes import Backlog, Changes, Marks
    from tui.refresher import Refresher

    backlog = Backlog(quiet_gap=0.05)
    backlog.offer(Changes(Marks(), touched=frozenset({1})))  # a showing just now
    polls = [Changes(Marks(), touched=frozenset({2}))]  # what the heard commit changed; then nothing new
    shown: list[Changes] = []

    async def sync(pushed: bool) -> None:
        if (changes := backlog.offer(polls.pop(0) if polls else Changes(Marks()))) is not None:
            shown.append(changes)

    feed = FakeFeed()
    refresher = Refresher(sync, lambda exc: None, backlog, feed, quiet_poll=SLOW_POLL, push_gap=0)
    follow = asyncio.create_task(refresher.follow())
    feed.steps.put_nowait(None)
    await _until(lambda: any(2 in changes.touched for changes in shown))
    assert backlog.pending is None and feed.steps.empty()
    follow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follow


async def test_the_bars_skip_their_reads_only_while_the_feed_is_heard_and_quiet():
    from tui.refresher import QUIET_RECOUNT

    clock, calls, feed = Ticks(), [], FakeFeed()
    refresher = _refresher(feed, clock, calls)
    follow = asyncio.create_task(refresher.follow())
    read_at = clock.now
    clock.now += 1
    assert refresher.unchanged_since(read_at)
    feed.steps.put_nowait(None)  # a commit heard after that read
    await _until(lambda: calls == [True])
    assert not refresher.unchanged_since(read_at)
    read_at = clock.now + 0.5
    clock.now += 1
    assert refresher.unchanged_since(read_at)
    clock.now = read_at + QUIET_RECOUNT
    assert not refresher.unchanged_since(read_at)  # the safety net: a lapsed lease is no commit
    feed.listening = False
    assert not refresher.unchanged_since(clock.now)
    follow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follow


async def test_a_burst_of_commits_refreshes_the_console_a_few_times_and_shows_the_last(pg_desk):
    """2,000 commits by another session: a handful of refreshes (not 2,000), and the last commit is shown."""
    from tui.app import ConsoleApp

    seed(pg_desk, 8, hostile=False)
    app = ConsoleApp(pg_desk, operator="ana", clock=frozen_clock, poll_interval=SLOW_POLL, quiet_poll=SLOW_POLL)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _listening(pilot)
        refreshes: list[bool] = []
        changes = app.shift.changes

        async def counted(marks, *, force: bool = False):
            refreshes.append(force)
            return await changes(marks, force=force)

        app.shift.changes = counted
        selected = screen.inbox.selected_id
        assert selected is not None
        writer = open_store(pg_desk)

        def burst() -> None:
            for _ in range(2000):  # each its own transaction: 2,000 notifications
                writer.conn.execute("UPDATE mentions SET text = text WHERE id = 1")
            set_tag(writer, selected, "care", True, "bob")

        try:
            await asyncio.to_thread(burst)
        finally:
            writer.close()
        await _until(lambda: "care" in screen_text(app))
        assert screen._refresher.feed.heard >= 2001
        assert 1 <= len(refreshes) < 200, len(refreshes)


async def test_after_the_server_drops_every_session_the_console_goes_on_without_a_word(pg_desk, tmp_path):
    """As after a restart: the feed and the store threads' sessions are all ended while idle. The next
    reads open new sessions (nothing was lost: a read is safe to send again) and no banner is shown."""
    from tui.app import ConsoleApp

    seed(pg_desk, 8, hostile=False)
    app = ConsoleApp(pg_desk, operator="ana", clock=frozen_clock, poll_interval=SLOW_POLL, quiet_poll=SLOW_POLL)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _listening(pilot)
        feed = screen._refresher.feed
        with psycopg.connect(pg_desk, autocommit=True) as admin:
            # The console's sessions (named by store.pg_open), not the test desk's own admin session.
            ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND application_name = 'mentiondesk'")
            [(count,)] = ended.fetchall()
            assert count >= 3  # the screen's and the search's store threads, the feed (the SLA sync's, if open)
        await _until(lambda: feed.sessions == 2 and feed.listening)
        selected = screen.inbox.selected_id
        await asyncio.to_thread(_tag_from_another_process, pg_desk, selected, "care", tmp_path)
        await _until(lambda: "care" in screen_text(app))
        await pilot.pause(0.1)
        assert not screen.banner.display, screen_text(app)
        await pilot.press("m")  # a write on the store thread's new session too
        await _until(lambda: "marketing" in screen_text(app))
        assert not screen.banner.display, screen_text(app)


def test_a_read_or_a_write_after_the_idle_session_was_ended_goes_to_a_new_session(pg_desk):
    """Nothing of it ran on the ended session, so it is sent again; the feed's count moves (what was
    committed meanwhile was not heard)."""
    seed(pg_desk, 3, hostile=False)
    store = open_store(pg_desk)
    try:
        for step in ("read", "version", "write"):
            _terminate(pg_desk, store.conn.raw.info.backend_pid)
            if step == "read":
                assert store.conn.execute("SELECT count(*) FROM mentions").fetchone() == (3,)
            elif step == "version":
                version = store.conn.data_version()
                assert store.conn.data_version() == version
            else:
                set_tag(store, 1, "care", True, "ana")
                assert store.conn.execute("SELECT count(*) FROM tags").fetchone() == (1,)
    finally:
        store.close()
