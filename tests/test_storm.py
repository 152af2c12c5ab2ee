"""A storm of arrivals: the WAL stays bounded, the search index is merged in short steps with
search unchanged, and the console's throttled change feed loses no update."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time

import pytest

from store.actions import set_tag
from store.changes import Backlog, Changes, Marks
from store.db import JOURNAL_LIMIT_BYTES, open_store
from store.ingest import save_batch
from store.maintenance import checkpoint, fts_segments, housekeep, merge_step, wal_bytes
from store.search import search
from tests.tui_support import console_ready, frozen_clock, mention, seed, wait_until
from tui.app import GIL_SWITCH_S, ConsoleApp

WORDS = ["refund", "delivery", "broken", "charger", "giveaway", "launch", "login", "package", "invoice", "screen"]


def _batch(rng: random.Random, start: int, count: int, make_mention) -> list:
    return [make_mention(remote_id=f"s{start + i}", text=" ".join(rng.choices(WORDS, k=6)) + f" n{start + i}")
            for i in range(count)]


@pytest.fixture
def reader(db_path, clock):
    """Another console's connection: its polls keep a snapshot of the WAL open while ingest writes."""
    opened = open_store(db_path, clock=clock)
    yield opened
    opened.close()


def _write_while_read(store, reader, rng, make_mention, batches: int, *, upkeep: bool, limit: int) -> list[int]:
    sizes = []
    for n in range(batches):
        reader.conn.execute("BEGIN")
        reader.conn.execute("SELECT count(*) FROM mentions").fetchone()  # a snapshot held over the write
        save_batch(store, "demo", _batch(rng, n * 50, 50, make_mention), str(n))
        reader.conn.execute("COMMIT")
        if upkeep:
            housekeep(store, wal_limit=limit)  # the leader's round, between two reads
        sizes.append(wal_bytes(store))
    return sizes


def test_every_connection_caps_the_wal_it_leaves_behind(store):
    assert store.conn.execute("PRAGMA journal_size_limit").fetchone()[0] == JOURNAL_LIMIT_BYTES


def test_a_wal_under_constant_reads_grows_without_upkeep_and_stays_bounded_with_it(store, reader, make_mention):
    rng = random.Random(5)
    limit = 256 * 1024
    store.conn.execute("PRAGMA wal_autocheckpoint = 50")  # small, so this test stays small
    grown = _write_while_read(store, reader, rng, make_mention, 40, upkeep=False, limit=limit)
    assert grown[-1] > 4 * limit  # the problem: readers always on the WAL, it is never restarted
    assert not checkpoint(store, "TRUNCATE").busy and wal_bytes(store) == 0
    kept = _write_while_read(store, reader, rng, make_mention, 40, upkeep=True, limit=limit)
    assert max(kept) <= 2 * limit, kept


def test_merge_steps_fold_the_segments_and_search_finds_the_same(store, make_mention):
    rng = random.Random(7)
    for n in range(30):  # one transaction, one segment each: a live stream's shape
        save_batch(store, "demo", _batch(rng, n * 20, 20, make_mention), str(n))
    piled = fts_segments(store.conn)
    queries = ["refund", "delivry", "broken charger", "n317", "giveaway launch login"]
    before = {q: [hit.mention_id for hit in search(store, q, limit=1000)] for q in queries}
    assert piled > 8 and all(before.values())
    steps = 0
    while merge_step(store, pages=5):
        steps += 1
        assert steps < 500, "merging never finished"
    assert steps >= 1
    assert fts_segments(store.conn) < piled / 2
    assert {q: [hit.mention_id for hit in search(store, q, limit=1000)] for q in queries} == before
    assert not merge_step(store)  # nothing left to merge: a cheap no-op


def test_housekeeping_reports_what_it_did(store, make_mention):
    rng = random.Random(9)
    for n in range(12):
        save_batch(store, "demo", _batch(rng, n * 10, 10, make_mention), str(n))
    done = housekeep(store, max_steps=50, wal_limit=0)
    assert done.merged >= 1 and done.segments == fts_segments(store.conn)
    assert done.checkpoint is not None and not done.checkpoint.busy
    assert os.path.getsize(f"{store.path}-wal") == 0  # over the limit: truncated


# -- the change feed, shown once per interval during a storm -------------------------------------

def _changes(n: int, rng: random.Random) -> Changes:
    touched = frozenset(rng.sample(range(1, 200), rng.randint(0, 3)))
    return Changes(Marks(n, n * 10, n, n), new_mentions=rng.randint(0, 40), touched=touched,
                   membership_changed=rng.random() < 0.1, actions=(f"a{n}",))


def test_the_backlog_shows_a_storm_once_per_interval_and_loses_nothing():
    rng = random.Random(3)
    now = [100.0]
    backlog = Backlog(1.0, clock=lambda: now[0])
    offered: list[Changes] = []
    shown: list[Changes] = []
    for n in range(200):  # a poll every 0.3 s for a minute
        now[0] += 0.3
        changes = _changes(n, rng)
        offered.append(changes)
        if (due := backlog.offer(changes)) is not None:
            shown.append(due)
    if backlog.pending is not None:
        shown.append(backlog.take())
    assert len(shown) <= 200 * 0.3 / 1.0 + 2  # about once a second, not every poll
    assert sum(c.new_mentions for c in shown) == sum(c.new_mentions for c in offered)
    assert frozenset().union(*(c.touched for c in shown)) == frozenset().union(*(c.touched for c in offered))
    assert [a for c in shown for a in c.actions] == [a for c in offered for a in c.actions]
    assert any(c.membership_changed for c in shown) == any(c.membership_changed for c in offered)
    assert shown[-1].marks == offered[-1].marks


def test_the_first_change_after_a_quiet_spell_and_the_operators_own_are_shown_at_once():
    now = [0.0]
    backlog = Backlog(1.0, clock=lambda: now[0])
    first = Changes(Marks(1), new_mentions=1)
    assert backlog.offer(first) == first
    assert backlog.offer(Changes(Marks(2), new_mentions=2)) is None  # 0 s later: held
    forced = backlog.offer(Changes(Marks(3), touched=frozenset({7})), force=True)
    assert forced is not None and forced.new_mentions == 2 and forced.touched == {7}
    now[0] += 1.0
    assert backlog.offer(Changes(Marks(4), new_mentions=1)) is not None


def test_a_few_changes_wait_a_fifth_of_a_second_and_a_storm_a_whole_one():
    now = [0.0]
    backlog = Backlog(1.0, clock=lambda: now[0])
    assert backlog.offer(Changes(Marks(1), touched=frozenset({1}))) is not None
    now[0] += 0.1
    assert backlog.offer(Changes(Marks(2), touched=frozenset({2}))) is None  # too soon after the last
    now[0] += 0.1
    assert backlog.offer(Changes(Marks(3), new_mentions=1)) is not None  # a colleague's edit: 0.2 s
    now[0] += 0.2
    assert backlog.offer(Changes(Marks(4), new_mentions=500)) is None  # a storm is held a whole second
    now[0] += 0.7
    assert backlog.offer(Changes(Marks(5), new_mentions=1)) is None
    now[0] += 0.1
    storm = backlog.offer(Changes(Marks(6), new_mentions=1))
    assert storm is not None and storm.new_mentions == 502
    now[0] += 0.5
    assert backlog.offer(Changes(Marks(7), new_mentions=1)) is None  # right after a storm: still spaced
    now[0] += 0.5
    calm = backlog.offer(Changes(Marks(8), new_mentions=1))
    assert calm is not None and calm.new_mentions == 2
    now[0] += 0.2
    assert backlog.offer(Changes(Marks(9), new_mentions=1)) is not None  # calm again


async def test_the_console_holds_a_storm_back_then_shows_every_arrival_and_change(tmp_path, monkeypatch):
    db_path = str(tmp_path / "desk.db")
    seed(db_path, hostile=False)
    now = [0.0]
    monkeypatch.setattr("tui.screens.main.Backlog", lambda: Backlog(1.0, clock=lambda: now[0]))
    other = open_store(db_path, clock=frozen_clock)
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, poll_interval=0.02)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await console_ready(pilot)
            [first] = save_batch(other, "demo:@brightloop", [mention(100)], None)
            await wait_until(pilot, lambda: first in screen.inbox.ids)  # after a quiet spell: at once
            later = [mid for n in range(5) for mid in save_batch(other, "demo:@brightloop", [
                mention(200 + 10 * n + i) for i in range(10)], None)]
            tagged = screen.inbox.selected_id  # on screen: its row is fetched again when shown
            assert tagged is not None
            set_tag(other, tagged, "care", True, "bob")
            await wait_until(pilot, lambda: (pending := screen._backlog.pending) is not None
                             and pending.new_mentions == 50 and tagged in pending.touched)
            assert not set(later) & set(screen.inbox.ids)  # held back: within a second of the last showing
            now[0] += 1.0
            await wait_until(pilot, lambda: set(later) <= set(screen.inbox.ids)
                             and (row := screen.inbox.row(tagged)) is not None and "care" in row.tags)
            open_ids = {row[0] for row in other.conn.execute("SELECT id FROM mentions WHERE status = 'open'")}
            assert set(screen.inbox.ids) == open_ids
    finally:
        other.close()


async def test_counts_run_one_at_a_time_and_a_change_during_one_is_counted_after(tmp_path, monkeypatch):
    db_path = str(tmp_path / "desk.db")
    seed(db_path, hostile=False)
    other = open_store(db_path, clock=frozen_clock)
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await console_ready(pilot)
            assert sys.getswitchinterval() == GIL_SWITCH_S  # keys wait less behind ingest's threads
            status = screen.status
            await wait_until(pilot, lambda: not status._counting)
            gate, calls, real = asyncio.Event(), [], app.shift.view_counts

            async def held_count() -> dict[str, int]:
                calls.append(len(calls))
                await gate.wait()
                return await real()

            monkeypatch.setattr(app.shift, "view_counts", held_count)
            status.recount()
            await wait_until(pilot, lambda: len(calls) == 1)
            status.recount()
            status.recount()
            for _ in range(10):
                await pilot.pause()
            assert len(calls) == 1  # asked again while counting: no second count queued behind it
            set_tag(other, screen.inbox.ids[0], "care", True, "bob")  # lands while the first count runs
            gate.set()
            await wait_until(pilot, lambda: len(calls) >= 2 and not status._counting)
            care = other.conn.execute("SELECT count(*) FROM mentions m JOIN tags t ON t.mention_id = m.id "
                                      "WHERE t.tag = 'care' AND m.status = 'open'").fetchone()[0]
            assert status.counts["care"] == care
    finally:
        other.close()


def test_a_slow_count_is_not_repeated_every_second():
    from tui.widgets.status_bar import COUNT_SHARE, StatusBar

    status = StatusBar()
    status.counted_at = time.monotonic() - 1.5
    status.count_cost = 0.05
    assert status.count_due()  # cheap counts follow arrivals within a second
    status.count_cost = 1.5 * COUNT_SHARE * 2  # a count costing more than its share of 1.5 s
    assert not status.count_due()


async def test_the_periodic_recount_keeps_to_the_pace_of_a_slow_count(tmp_path, monkeypatch):
    db_path = str(tmp_path / "desk.db")
    seed(db_path, hostile=False)
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        status = screen.status
        calls: list[int] = []
        monkeypatch.setattr(status, "recount", lambda: calls.append(1))
        status.counted_at, status.count_cost = time.monotonic() - 3.0, 10.0  # took 10 s, 3 s ago
        status._recount_if_due()
        assert calls == []
        status.count_cost = 0.1
        status._recount_if_due()
        assert calls == [1]
