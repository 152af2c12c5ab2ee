"""Pilot tests: marking rows, bulk c/m/e/a, `u` undo (after the toast, across a restart, never over
someone else's change) and recalling a reply within reply_recall."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.procs import run_cli
from tests.tui_support import FROZEN, ScriptedAdapter, console_ready, query, screen_text, seed, wait_until
from tui.app import ConsoleApp
from tui.screens.main import MainScreen
from tui.widgets.composer import ReplyComposer


class Clock:
    """The console's clock, moved only by the test."""

    def __init__(self) -> None:
        self.moment = FROZEN

    def __call__(self):
        return self.moment


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, 60, hostile=False)
    return path


def make_app(db_path, clock=None, **kwargs) -> ConsoleApp:
    return ConsoleApp(db_path, operator="alice", clock=clock or Clock(), **kwargs)


def toasts(app) -> list[str]:
    return [notification.message for notification in app._notifications]


def count(db_path, sql, *params) -> int:
    return query(db_path, sql, *params)[0][0]


async def test_space_marks_and_moves_on_V_extends_the_title_counts_escape_clears(db_path):
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        ids = list(screen.inbox.ids)
        await pilot.press("space")
        assert screen.inbox.selected_id == ids[1]  # moved on: the next space marks the next row
        await pilot.press("space", "j", "j", "V")
        assert set(screen.inbox.marked) == set(ids[:5])
        assert "◆ 5 marked" in screen_text(pilot.app)
        assert "esc Clear marks" in screen_text(pilot.app).splitlines()[-1]  # the footer says how to leave
        await pilot.press("k", "space")  # unmarks row 4 (moving on to row 5)
        assert set(screen.inbox.marked) == set(ids[:3]) | {ids[4]}
        await pilot.press("escape")
        assert not screen.inbox.marked
        assert "marked" not in screen_text(pilot.app)
        assert "Clear marks" not in screen_text(pilot.app).splitlines()[-1]
        await pilot.press("space", "space", "2")  # another view: marks never act on rows out of sight
        await wait_until(pilot, lambda: screen.view == "care")
        assert not screen.inbox.marked


async def test_bulk_done_of_50_rows_is_one_undo_and_u_puts_all_back(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await console_ready(pilot)
        ids = list(screen.inbox.ids)[:50]
        await pilot.press("space", *["j"] * 48, "V")
        assert len(screen.inbox.marked) == 50
        await pilot.press("e")
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM mentions WHERE status = 'done'") == 50)
        assert {row[0] for row in query(db_path, "SELECT id FROM mentions WHERE status = 'done'")} == set(ids)
        assert count(db_path, "SELECT count(*) FROM undo_entries WHERE operator = 'alice'") == 1
        assert "Marked done on 50 mentions — u to undo" in toasts(app)
        assert not screen.inbox.marked  # done rows leave the view: their marks go
        await wait_until(pilot, lambda: ids[0] not in screen.inbox.ids)
        await pilot.press("u")
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM mentions WHERE status = 'done'") == 0)
        assert "Undone: Marked done on 50 mentions." in toasts(app)
        await wait_until(pilot, lambda: ids[0] in screen.inbox.ids)  # back in the open view
    undo_events = query(db_path, "SELECT count(*) FROM events WHERE action = 'status.open' "
                                 "AND json_extract(detail, '$.undo_of') IS NOT NULL")
    assert undo_events == [(50,)]


async def test_m_and_a_apply_to_marked_rows_and_u_undoes_them_in_turn(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        ids = list(screen.inbox.ids)[:3]
        await pilot.press("space", "space", "space", "m")
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM tags WHERE tag = 'marketing'") == 3)
        assert len(screen.inbox.marked) == 3  # tagging keeps the marks for the next key
        await pilot.press("a")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "AskText")
        assert "Assign 3 marked mentions to" in screen_text(app)
        await pilot.press("enter")  # prefilled with alice
        await wait_until(pilot, lambda: query(db_path, "SELECT mention_id, operator FROM assignments ORDER BY 1")
                         == [(i, "alice") for i in sorted(ids)])
        await pilot.press("u")
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM assignments") == 0)
        await pilot.press("u")
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM tags") == 0)


async def tag_selected_care(pilot, db_path) -> int:
    """Press c on the first row; its id once the tag is stored."""
    screen = await console_ready(pilot)
    target = screen.inbox.selected_id
    await pilot.press("c")
    await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM tags") == 1)
    return target


async def test_undo_works_after_the_toast_is_gone_and_after_a_restart(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        target = await tag_selected_care(pilot, db_path)
        assert f"Tagged care on #{target} — u to undo" in toasts(app)
        app.clear_notifications()  # the toast is gone
        await pilot.press("e")
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM mentions WHERE status='done'") == 1)
        await pilot.press("u")
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM mentions WHERE status='done'") == 0)
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:  # a new console, the same operator
        await console_ready(pilot)
        await pilot.press("u")
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM tags") == 0)


async def test_undo_is_refused_in_one_line_when_someone_else_changed_it_since(db_path, tmp_path):
    app = make_app(db_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        target = await tag_selected_care(pilot, db_path)
        untag = await asyncio.to_thread(run_cli, tmp_path, db_path, "tag", str(target), "care", "--off", operator="bo")
        assert untag.returncode == 0, untag.stderr  # bo untagged it, from another process
        await pilot.press("u")
        message = f"Not undone: bo changed #{target} since; left as it is now."
        await wait_until(pilot, lambda: message in toasts(app))
        assert count(db_path, "SELECT count(*) FROM tags") == 0  # as bo left it
        assert count(db_path, "SELECT count(*) FROM events WHERE operator = 'alice' "
                              "AND json_extract(detail, '$.undo_of') IS NOT NULL") == 0
        assert isinstance(app.screen, MainScreen)


async def send_reply(pilot, composer: ReplyComposer, text: str) -> None:
    """r, then the text once the composer has the keys (it opens from a worker), then ctrl+s."""
    await pilot.press("r")
    await wait_until(pilot, lambda: composer.display and composer.query_one("TextArea").has_focus)
    await pilot.press(*text, "ctrl+s")


async def test_a_reply_is_recalled_within_the_window_and_comes_back_as_the_draft(db_path):
    adapter = ScriptedAdapter()
    app = make_app(db_path, adapters=[adapter], sender_poll=0.05, reply_recall=5)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await console_ready(pilot)
        target = screen.inbox.selected_id
        composer = screen.query_one(ReplyComposer)
        await send_reply(pilot, composer, "Sorry, oops")
        await wait_until(pilot, lambda: not composer.display)
        assert "Reply queued — u to recall it within 5 s." in toasts(app)
        assert query(db_path, "SELECT state FROM replies") == [("pending",)]
        await pilot.press("u")  # the clock has not moved: inside the window
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM replies") == 0)
        assert f"Reply to #{target} recalled before it was sent. r reopens it as the draft." in toasts(app)
        await pilot.press("r")
        await wait_until(pilot, lambda: composer.display)
        assert composer.text == "Sorry, oops"
    assert adapter.sent == []
    assert query(db_path, "SELECT action FROM events WHERE action LIKE 'reply.%' ORDER BY id") == [
        ("reply.queue",), ("reply.recall",)]


async def test_a_sent_reply_cannot_be_recalled_and_the_console_says_so(db_path):
    adapter = ScriptedAdapter()
    clock = Clock()
    app = make_app(db_path, clock, adapters=[adapter], sender_poll=0.05, reply_recall=5)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await console_ready(pilot)
        target = screen.inbox.selected_id
        await send_reply(pilot, screen.query_one(ReplyComposer), "On its way")
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM replies") == 1)
        clock.moment = FROZEN + timedelta(seconds=5)  # the window is over: the sender may take it
        await wait_until(pilot, lambda: query(db_path, "SELECT state FROM replies") == [("sent",)])
        await pilot.press("u")
        message = f"Reply to #{target} was already sent: a sent reply cannot be undone."
        await wait_until(pilot, lambda: message in toasts(app))
    assert len(adapter.sent) == 1
    assert query(db_path, "SELECT state FROM replies") == [("sent",)]


async def test_z_snoozes_every_marked_row_in_one_undo_and_u_wakes_them(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await console_ready(pilot)
        ids = set(list(screen.inbox.ids)[:2])
        await pilot.press("space", "space", "z")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SnoozeDialog")
        assert "Snooze 2 mentions until" in screen_text(app)
        await pilot.press("1")  # 1 hour
        await wait_until(pilot, lambda: {row[0] for row in query(db_path, "SELECT mention_id FROM snoozes")} == ids)
        assert not screen.inbox.marked
        assert count(db_path, "SELECT count(*) FROM undo_entries WHERE label = 'Snoozed on 2 mentions'") == 1
        await pilot.press("u")
        await wait_until(pilot, lambda: count(db_path, "SELECT count(*) FROM snoozes") == 0)
        assert "Undone: Snoozed on 2 mentions." in toasts(app)


async def test_V_marks_a_range_across_rows_the_windowed_list_never_loaded(tmp_path):
    path = str(tmp_path / "big.db")
    seed(path, 1500, hostile=False)
    open_ids = [row[0] for row in query(path, "SELECT id FROM mentions WHERE status = 'open' ORDER BY id DESC")]
    async with make_app(path).run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        await pilot.press("space", "G")  # the top row marked, then the bottom: a jump, rows in between unloaded
        await wait_until(pilot, lambda: screen.inbox.selected_id == open_ids[-1])
        window = screen.inbox.ids
        assert not window.complete and window.get(len(window) // 2) is None
        await pilot.press("V")
        assert set(screen.inbox.marked) == set(open_ids)
        await pilot.press("c")
        await wait_until(pilot, lambda: count(path, "SELECT count(*) FROM tags WHERE tag = 'care'") == len(open_ids))
