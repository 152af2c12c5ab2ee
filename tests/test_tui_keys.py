"""Pilot tests: press the console's keys, check the database and the screen."""

from __future__ import annotations

import pytest

from store.db import open_store
from tests.tui_support import (
    ScriptedAdapter,
    console_ready,
    frozen_clock,
    mention,
    query,
    screen_text,
    seed,
    wait_until,
)
from tui.app import ConsoleApp
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.widgets.composer import ReplyComposer

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


@pytest.fixture
def db_path(desk_db):
    seed(desk_db)
    return desk_db


def make_app(db_path, **kwargs) -> ConsoleApp:
    return ConsoleApp(db_path, operator="alice", clock=frozen_clock, **kwargs)


ready = console_ready


async def test_moves_and_top_bottom(db_path):
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        ids = list(screen.inbox.ids)
        assert screen.inbox.selected_id == ids[0] == max(ids)  # newest first
        await pilot.press("j", "j", "down")
        assert screen.inbox.selected_id == ids[3]
        await pilot.press("k", "up")
        assert screen.inbox.selected_id == ids[1]
        await pilot.press("G")
        assert screen.inbox.selected_id == ids[-1]
        await pilot.press("g")
        assert screen.inbox.selected_id == ids[0]


async def test_tags_toggle_and_are_logged(db_path):
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        await pilot.press("j")
        target = screen.inbox.selected_id
        await pilot.press("c")
        await wait_until(pilot,
                         lambda: screen.inbox.row(target) is not None and "care" in screen.inbox.row(target).tags)
        await pilot.press("m")
        await wait_until(pilot,
                         lambda: screen.inbox.row(target) is not None and "marketing" in screen.inbox.row(target).tags)
    assert query(db_path, "SELECT tag, operator FROM tags WHERE mention_id = ? ORDER BY tag", target) == [
        ("care", "alice"), ("marketing", "alice")]
    events = query(db_path, "SELECT action, operator FROM events WHERE mention_id = ? ORDER BY id", target)
    assert events == [("tag.add", "alice"), ("tag.add", "alice")]


async def test_untag_with_second_press(db_path):
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        target = screen.inbox.selected_id
        await pilot.press("c")
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM tags")[0][0] == 1)
        await pilot.press("c")
        await wait_until(pilot,
                         lambda: query(db_path, "SELECT count(*) FROM events WHERE action='tag.remove'")[0][0] == 1)
    assert query(db_path, "SELECT count(*) FROM tags WHERE mention_id = ?", target) == [(0,)]


async def test_done_leaves_open_view_and_shows_in_done(db_path):
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        target = screen.inbox.selected_id
        following = screen.inbox.ids[1]
        await pilot.press("e")
        await wait_until(pilot, lambda: target not in screen.inbox.ids)
        assert screen.inbox.selected_id == following  # the next one comes up
        assert query(db_path, "SELECT status FROM mentions WHERE id = ?", target) == [("done",)]
        await pilot.press("5")
        await wait_until(pilot, lambda: screen.view == "done" and list(screen.inbox.ids) == [target])
        await pilot.press("e")  # reopen from the done view
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 0)
    assert query(db_path, "SELECT status FROM mentions WHERE id = ?", target) == [("open",)]
    assert [a for (a,) in query(db_path, "SELECT action FROM events ORDER BY id")] == ["status.done", "status.open"]


async def test_quick_views(db_path):
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        first, second = screen.inbox.ids[0], screen.inbox.ids[1]
        await pilot.press("c", "j", "m")
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM tags")[0][0] == 2)
        await pilot.press("2")
        await wait_until(pilot, lambda: screen.view == "care" and list(screen.inbox.ids) == [first])
        await pilot.press("3")
        await wait_until(pilot, lambda: screen.view == "marketing" and list(screen.inbox.ids) == [second])
        await pilot.press("4")
        await wait_until(pilot, lambda: screen.view == "untriaged")
        assert first not in screen.inbox.ids and second not in screen.inbox.ids
        assert len(screen.inbox.ids) == 29
        await pilot.press("1")
        await wait_until(pilot, lambda: screen.view == "open" and len(screen.inbox.ids) == 31)


async def test_reply_is_queued_with_operator_and_sent_once(db_path):
    adapter = ScriptedAdapter()
    app = make_app(db_path, adapters=[adapter], sender_poll=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        target = screen.inbox.selected_id
        await pilot.press("r")
        composer = screen.query_one(ReplyComposer)
        assert composer.display
        await pilot.press(*"Sorry! DM us")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not composer.display)
        await wait_until(pilot, lambda: len(adapter.sent) == 1)
        await wait_until(pilot, lambda: query(db_path, "SELECT state FROM replies")[0][0] == "sent")
    rows = query(db_path, "SELECT mention_id, text, operator, state, idem_key FROM replies")
    assert rows == [(target, "Sorry! DM us", "alice", "sent", adapter.sent[0].key)]
    assert adapter.sent[0].text == "Sorry! DM us"


async def test_escape_keeps_draft_and_over_limit_refuses(db_path):
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        await pilot.press("r", *"draft text", "escape")
        composer = screen.query_one(ReplyComposer)
        assert not composer.display
        await pilot.press("r")
        assert composer.text == "draft text"
        composer.query_one("TextArea").load_text("x" * 501)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert composer.display  # refused, text kept
        assert composer.text == "x" * 501
    assert query(db_path, "SELECT count(*) FROM replies") == [(0,)]


async def test_help_and_quit(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "toggle the care tag" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press("q")
    assert app.return_code == 0


async def test_hostile_text_is_inert_on_screen(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ready(pilot)
        hostile_id = screen.inbox.ids[0]
        await wait_until(pilot, lambda: screen.query_one("MentionView").detail is not None
                         and screen.query_one("MentionView").detail.row.id == hostile_id)
        text = screen_text(app)
        assert "[bold red]x[/]" in text
        assert "[@click=app.quit]quit[/]" in text
        assert "\x1b" not in text and "\u202e" not in text and "pwned" not in text
        await pilot.click("MentionView")
        assert app.is_running  # a click on the text is not an action


async def test_live_arrivals_keep_selection_and_count_when_scrolled(db_path):
    adapter = ScriptedAdapter()
    app = make_app(db_path, adapters=[adapter], poll_interval=0.05)
    async with app.run_test(size=(100, 20)) as pilot:
        screen = await ready(pilot)
        await pilot.press("G")
        selected = screen.inbox.selected_id
        await adapter.queue.put(__import__("adapters.base", fromlist=["Batch"]).Batch(
            [mention(100 + i) for i in range(5)], "35"))
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 36)
        assert screen.inbox.selected_id == selected
        assert screen.inbox.new_above == 5
        assert "↑ 5 new" in screen_text(app)
        await pilot.press("g")
        assert screen.inbox.new_above == 0
        assert screen.inbox.selected_id == max(screen.inbox.ids)


async def test_search_finds_typos_opens_in_split_view_and_escape_returns(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ready(pilot)
        before = list(screen.inbox.ids)
        await pilot.press("slash", *"delivry late")
        await wait_until(pilot, lambda: screen.searching and 0 < len(screen.inbox.ids) < len(before))
        first = screen.inbox.selected_id
        await wait_until(pilot, lambda: screen.query_one("MentionView").detail is not None
                         and screen.query_one("MentionView").detail.row.id == first)
        assert "delivery was late" in screen.query_one("MentionView").detail.row.text
        assert screen.inbox._spans[first]  # matches are highlighted
        await pilot.press("enter", "j")  # results are a normal list: move, tag...
        await pilot.press("c")
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM tags")[0][0] == 1)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.searching and list(screen.inbox.ids) == before)


async def test_search_filters_combine_with_text(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ready(pilot)
        await pilot.press("c")  # newest (the hostile "Refund now" post) becomes care
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM tags")[0][0] == 1)
        await pilot.press("slash", *"refund tag:care")
        await wait_until(pilot, lambda: screen.searching and len(screen.inbox.ids) == 1)
        assert screen.inbox.ids[0] == query(db_path, "SELECT mention_id FROM tags")[0][0]


async def test_every_key_action_is_in_the_command_palette(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        titles = {command.title for command in app.get_system_commands(screen)}
    for title in ("Toggle care tag", "Toggle marketing tag", "Mark done / reopen", "Reply", "Search",
                  "Retry failed reply", "Edit failed reply", "Internal note", "Assign", "Shift handover",
                  "View: Open", "View: Care", "View: Marketing", "View: Untriaged", "View: Done", "View: Mine",
                  "Keys"):
        assert title in titles


async def test_palette_command_runs_the_action(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        target = screen.inbox.selected_id
        command = next(c for c in app.get_system_commands(screen) if c.title == "Toggle care tag")
        command.callback()
        await wait_until(pilot,
                         lambda: query(db_path, "SELECT count(*) FROM tags WHERE mention_id = ?", target)[0][0] == 1)


async def test_note_assign_and_mine_view(db_path):
    app = make_app(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        target = screen.inbox.selected_id
        await pilot.press("n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "AskNote")
        await pilot.press(*"VIP, call back", "ctrl+s")
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM notes")[0][0] == 1)
        await pilot.press("a")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "AskText")
        await pilot.press("enter")  # defaults to yourself
        await wait_until(pilot, lambda: query(db_path, "SELECT operator FROM assignments") == [("alice",)])
        await pilot.press("6")
        await wait_until(pilot, lambda: screen.view == "mine" and list(screen.inbox.ids) == [target])
    assert query(db_path, "SELECT operator, text FROM notes") == [("alice", "VIP, call back")]
    assert [a for (a,) in query(db_path, "SELECT action FROM events ORDER BY id")] == ["note.add", "assign"]


async def test_reply_to_a_mention_someone_else_is_replying_to_asks_first(db_path):
    from store import desk

    app = make_app(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        target = screen.inbox.selected_id
        other = open_store(db_path, clock=frozen_clock)  # claims expire by the desk's clock
        try:
            assert desk.claim(other, target, "bob") is None
        finally:
            other.close()
        composer = screen.query_one(ReplyComposer)
        await pilot.press("r")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "Confirm")
        assert "bob is replying" in screen_text(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert not composer.display
        assert query(db_path, "SELECT operator FROM claims") == [("bob",)]
        await pilot.press("r")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "Confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: composer.display)
        assert query(db_path, "SELECT operator FROM claims") == [("alice",)]
        await pilot.press("escape")  # cancelling releases the claim
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM claims") == [(0,)])


async def test_quitting_while_ingesting_exits_cleanly_and_hands_the_lease_on(db_path):
    adapter = ScriptedAdapter()
    app = make_app(db_path, adapters=[adapter])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app.leadership is not None and app.leadership.is_leader)
        await pilot.press("n")  # a dialog's worker is waiting for an answer when the app quits
        await wait_until(pilot, lambda: type(app.screen).__name__ == "AskNote")
        app.exit()
    assert app.return_code == 0
    assert query(db_path, "SELECT count(*) FROM leases WHERE holder != ''") == [(0,)]
