"""The Priority view: open mentions by first-reply due time (late first), then needs-reply, then negativity."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from store import actions
from store.db import open_store
from store.inbox_window import view_page, view_slice
from store.ingest import save_batch
from store.priority import sync_policy, view_list
from store.signals import Signals
from store.sla import SlaPolicy
from store.snooze import snooze, unsnooze
from tests.support import cli_in_process
from tests.tui_support import FROZEN, console_ready, frozen_clock, mention, screen_text, seed, wait_until
from tui.app import ConsoleApp

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

POLICY = SlaPolicy.from_table({"care": 3600, "marketing": 4 * 3600, "default": 8 * 3600}, ["care", "marketing"])


class Clock:
    def __init__(self) -> None:
        self.now = FROZEN

    def __call__(self):
        return self.now


@pytest.fixture
def desk(tmp_path):
    clock = Clock()
    store = open_store(str(tmp_path / "desk.db"), clock=clock)
    # Mentions 1..20, created 99..80 minutes before FROZEN; no signals unless a test sets them.
    save_batch(store, "demo:@brightloop", [mention(i) for i in range(1, 21)], None)
    sync_policy(store, POLICY)
    yield store, clock
    store.close()


def listed(store, limit: int = 100) -> list[int]:
    return list(view_page(store, "priority", "alice", size=limit).ids)


def test_late_care_first_then_by_due_and_answered_last(desk):
    store, _ = desk
    assert listed(store) == list(range(1, 21))  # one target (the default): oldest is due first
    actions.set_tag(store, 15, "care", True, "alice")  # due 1 h after it came: 25 min late, before all
    actions.set_tag(store, 3, "marketing", True, "alice")  # 4 h: still before the default's 8 h
    actions.queue_reply(store, 1, "On it!", "alice")  # answered: its clock stopped, listed last
    order = listed(store)
    assert order[:2] == [15, 3] and order[-1] == 1
    assert order[2:-1] == [i for i in range(2, 21) if i not in (3, 15)]
    actions.set_tag(store, 15, "care", False, "alice")  # untagged: back to its place
    assert listed(store)[:2] == [3, 2]


def test_needs_reply_then_negative_break_ties(tmp_path):
    store = open_store(str(tmp_path / "desk.db"))
    same = [replace(mention(i), created_at=mention(1).created_at) for i in range(1, 5)]  # all due alike
    signals = [Signals("en", 1, False), Signals("en", 0, True), Signals("en", -1, False), Signals("en", -1, True)]
    save_batch(store, "demo:@brightloop", same, None, signals=signals)
    sync_policy(store, POLICY)
    assert listed(store) == [4, 2, 3, 1]  # needs a reply and negative, needs a reply, negative, praise
    store.close()


def test_snoozed_time_does_not_count(desk):
    store, clock = desk
    before = listed(store)
    snooze(store, [2], FROZEN + timedelta(hours=5), "alice")
    assert 2 not in listed(store)  # out of the work queues while snoozed
    clock.now = FROZEN + timedelta(hours=3)
    unsnooze(store, [2], "alice")
    paused = store.conn.execute("SELECT paused FROM mentions WHERE id = 2").fetchone()[0]
    assert paused == 3 * 3600
    assert listed(store) == [i for i in before if i != 2] + [2]  # due 3 h later than the rest
    listed_ = view_list(store, "priority", POLICY, "alice", limit=50)
    clocks = {entry.row.id: entry.sla for entry in listed_.rows}
    assert listed_.total == 20 and clocks[2] is not None and clocks[2].left == pytest.approx(
        (8 - 3) * 3600 - 98 * 60 + 3 * 3600, abs=1)


def test_pages_by_keyset_agree_with_the_whole_order(desk):
    store, _ = desk
    for i in range(1, 21, 3):
        actions.set_tag(store, i, "care", True, "alice")
    whole = listed(store)
    first = view_page(store, "priority", "alice", size=6)
    assert list(first.ids) == whole[:6] and first.total == 20
    down = view_slice(store, "priority", "alice", start=6, limit=6, total=20, below=first.ids[-1])
    assert list(down.ids) == whole[6:12]
    up = view_slice(store, "priority", "alice", start=0, limit=6, total=20, above=down.ids[0])
    assert list(up.ids) == whole[:6]
    around = view_page(store, "priority", "alice", around=whole[10], size=6)
    assert list(around.ids) == whole[around.start:around.start + len(around.ids)] and around.anchor == 10
    jump = view_slice(store, "priority", "alice", start=14, limit=6, total=20)
    assert list(jump.ids) == whole[14:]


def test_a_changed_policy_rekeys_and_an_unchanged_one_does_not(desk):
    store, _ = desk
    actions.set_tag(store, 20, "marketing", True, "alice")
    assert sync_policy(store, POLICY) == 0
    assert listed(store)[0] == 20  # marketing's 4 h beat the default's 8 h
    looser = SlaPolicy.from_table({"marketing": 10 * 3600, "default": 8 * 3600}, ["care", "marketing"])
    assert sync_policy(store, looser) == 20
    assert listed(store)[-1] == 20


async def test_d_lists_the_most_urgent_first_with_every_rows_clock(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, 12, hostile=False)
    store = open_store(path, clock=frozen_clock)
    actions.set_tag(store, 9, "care", True, "bob")  # 1 h target: the latest due of the others is hours away
    store.close()
    app = ConsoleApp(path, operator="alice", clock=frozen_clock, sla=POLICY)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        assert screen.inbox.ids[0] != 9  # the Open view: newest first
        await pilot.press("D")
        await wait_until(pilot, lambda: screen.pane.view == "priority" and screen.inbox.ids[0] == 9
                         and screen.inbox.row(9) is not None)
        text = screen_text(app)
        assert "Priority · 12 · most urgent first" in text
        assert "1h · late 31m" in text  # #9 came 91 minutes ago with a 1 h target
        assert text.count("1h · due 6h") == 11  # the others' 8 h: shown although far off (this view shows all)
        await pilot.press("O")  # its order is its own
        await wait_until(pilot, lambda: any("Priority lists the most urgent first" in note.message
                                            for note in app._notifications))
        assert screen.inbox.ids[0] == 9


def test_views_show_priority_on_the_command_line(monkeypatch, capsys, tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, 6, hostile=False)
    (tmp_path / "none.toml").write_text('[sla]\ncare = "1h"\ndefault = "8h"\n')
    code, _, _ = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "tag", "4", "care")
    assert code == 0
    code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "views", "show", "priority",
                                  "--limit", "3")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "Priority: 6 mentions, the first 3"
    assert [int(line.split()[0]) for line in lines[1:]] == [4, 1, 2]
    code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "views", "show", "priority", "--json")
    listed_ = json.loads(out)
    assert listed_["total"] == 6 and listed_["mentions"][0]["id"] == 4 and listed_["mentions"][0]["late"]


def test_a_new_mention_is_keyed_as_it_is_stored(desk):
    store, _ = desk
    # Created before the others (an older post reaching the desk late): due first.
    save_batch(store, "demo:@brightloop", [replace(mention(21), created_at="2026-11-26T09:00:00.000Z")], None)
    assert listed(store)[0] == 21
    assert store.conn.execute("SELECT count(*) FROM mentions WHERE due_key IS NULL").fetchone()[0] == 0


async def test_an_arrival_due_first_goes_to_the_top_of_the_priority_view(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, 8, hostile=False)
    app = ConsoleApp(path, operator="alice", clock=frozen_clock, sla=POLICY, poll_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        await pilot.press("D")
        await wait_until(pilot, lambda: screen.pane.view == "priority" and len(screen.inbox.ids) == 8)
        store = open_store(path, clock=frozen_clock)
        # A post from this morning that reached the desk late: due before everything listed.
        [late] = save_batch(store, "demo:@brightloop", [replace(mention(99), created_at="2026-11-26T05:00:00.000Z")],
                            None)
        store.close()
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 9 and screen.inbox.ids.get(0) == late)


async def test_re_keying_for_new_targets_never_holds_up_the_first_page(tmp_path, monkeypatch):
    import threading

    import store.sla_desk
    from store.priority import rekey

    path = str(tmp_path / "desk.db")
    seed(path, 12, hostile=False)
    release, started = threading.Event(), threading.Event()

    def slow_rekey(store):  # a re-key of a big backlog for the seeded targets, held until the inbox is shown
        started.set()
        assert release.wait(30)
        return rekey(store)

    monkeypatch.setattr(store.sla_desk, "rekey", slow_rekey)
    app = ConsoleApp(path, operator="alice", clock=frozen_clock, sla=POLICY)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await console_ready(pilot)  # the first page comes while the re-key is held
            await wait_until(pilot, started.is_set)
            assert len(screen.inbox.ids) > 0 and not release.is_set()
            selected = screen.inbox.selected_id
            await pilot.press("c")  # and the operator's actions go through meanwhile
            await wait_until(pilot, lambda: (row := screen.inbox.row(selected)) is not None and "care" in row.tags)
            release.set()
    finally:
        release.set()
