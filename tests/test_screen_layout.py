"""The top and bottom of the screen at 80×24 first, and the selected row kept in view."""

from __future__ import annotations

import re

import pytest

from adapters.base import Batch
from store import actions
from store.db import open_store
from store.inbox import VIEWS
from tests.tui_support import ScriptedAdapter, frozen_clock, mention, seed, wait_until
from tui.actions import BAR_VIEW_KEYS
from tui.app import ConsoleApp
from tui.screens.main import MainScreen
from tui.topbar import compact_count, fit, view_bar


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path)
    return path


def screen_lines(app) -> list[str]:
    """The screen as a person sees it, one string per terminal row."""
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


async def ready(pilot) -> MainScreen:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, MainScreen)
                     and len(pilot.app.screen.inbox.ids) > 0
                     and pilot.app.screen.inbox.row(pilot.app.screen.inbox.ids[0]) is not None
                     and bool(pilot.app.screen.status.counts))
    await pilot.pause()
    return pilot.app.screen


def every_view_shown(line: str, counts: dict[str, int]) -> None:
    for key, name in BAR_VIEW_KEYS.items():
        assert re.search(rf"(^|\s){key} (\w+ )?{re.escape(compact_count(counts[name]))}(\s|$)", line), (name, line)


def test_view_bar_fits_every_view_and_count_in_80_columns_even_with_big_counts():
    views = [(key, name, VIEWS[name].label) for key, name in BAR_VIEW_KEYS.items()]
    counts = {name: 1_234_567 + i * 98_765 for i, name in enumerate(BAR_VIEW_KEYS.values())}
    bar = view_bar(views, counts, "care", 80)
    assert bar.cell_len <= 80
    every_view_shown(bar.plain, counts)
    small = {name: 3 for name in BAR_VIEW_KEYS.values()}
    assert "Marketing" in view_bar(views, small, "open", 120).plain  # full labels where there is room


def test_fit_keeps_whole_pieces_only():
    from rich.text import Text
    line = fit([Text("alpha"), [Text("bravo-long-version"), Text("bravo")], Text("charlie")], 16)
    assert line.plain == "alpha bravo"


async def test_at_80x24_every_view_count_and_whole_footer_words_are_on_screen(db_path):
    adapter = ScriptedAdapter()
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, adapters=[adapter], poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        lines = screen_lines(app)
        every_view_shown(lines[1], screen.status.counts)
        footer = lines[-1].strip()
        pieces = footer.split("  ")
        descriptions = {b.description for b in [*screen.BINDINGS, *app.BINDINGS]} | {"Commands"}
        assert pieces[-1] == "? Help"
        assert all(piece.split(" ", 1)[1] in descriptions for piece in pieces), footer  # no word cut
        # Scrolled away, arrivals are counted beside the list, never over the view bar.
        await pilot.press("G")
        await adapter.queue.put(Batch([mention(100 + i) for i in range(5)], "35"))
        await wait_until(pilot, lambda: screen.inbox.new_above == 5)
        await screen.status.refresh_counts()
        await pilot.pause()
        lines = screen_lines(app)
        assert "↑ 5 new" in lines[2]
        every_view_shown(lines[1], screen.status.counts)


def selected_in_view(screen) -> bool:
    inbox = screen.inbox
    top = inbox.cursor * 2 - inbox.scroll_offset.y
    return 0 <= top and top + 2 <= inbox.scrollable_content_region.height  # not under a scrollbar


@pytest.mark.parametrize("start, composer, others_work", [
    ("top", True, True), ("middle", True, True), ("bottom", True, True), ("middle", False, False),
    ("flows to the last row", False, False)])
async def test_arrivals_keep_the_selected_row_in_view_and_selected(db_path, start, composer, others_work):
    """`others_work`: another operator closes mentions while they arrive (the view reloads)."""
    adapter = ScriptedAdapter()
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, adapters=[adapter], poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        visible = screen.inbox.size.height // 2
        # 4 arrivals from row visible-5 flow it onto the last row, which must be whole on screen.
        moves = {"top": [], "middle": ["j"] * (visible - 2), "bottom": ["G"],
                 "flows to the last row": ["j"] * (visible - 5)}[start]
        await pilot.press(*moves)
        selected = screen.inbox.selected_id
        if composer:
            await pilot.press("r")
            await wait_until(pilot, lambda: screen.query_one("ReplyComposer").display)
        for batch in range(3):
            total = len(screen.inbox.ids)
            await adapter.queue.put(Batch([mention(200 + batch * 10 + i) for i in range(4)], str(40 + batch)))
            closed = 0
            if others_work:
                other = open_store(db_path)
                for mention_id in [i for i in screen.inbox.ids if i != selected][-2:]:
                    actions.toggle_done(other, mention_id, "bob")
                    closed += 1
                other.close()
            await wait_until(pilot, lambda total=total, closed=closed: len(screen.inbox.ids) == total + 4 - closed)
            assert screen.inbox.selected_id == selected
            assert selected_in_view(screen), (start, screen.inbox.cursor, screen.inbox.scroll_offset.y)


async def test_the_selected_row_stays_on_screen_when_the_list_first_outgrows_the_pane(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, count=1, hostile=False)
    adapter = ScriptedAdapter()
    app = ConsoleApp(path, operator="alice", clock=frozen_clock, adapters=[adapter], poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        selected = screen.inbox.selected_id
        for n in range(screen.inbox.size.height // 2 + 2):  # one at a time, past a screenful
            total = len(screen.inbox.ids)
            await adapter.queue.put(Batch([mention(300 + n)], str(300 + n)))
            await wait_until(pilot, lambda total=total: len(screen.inbox.ids) == total + 1)
            assert screen.inbox.selected_id == selected
            assert selected_in_view(screen), (n, screen.inbox.cursor, screen.inbox.scroll_offset.y)


async def test_while_composing_the_footer_offers_send_and_no_key_that_would_type_itself(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        assert "/ Search" in screen_lines(app)[-1]
        await pilot.press("r")
        await wait_until(pilot, lambda: screen.query_one("ReplyComposer").display
                         and "^s Send" in screen_lines(app)[-1])
        footer = screen_lines(app)[-1]
        assert "esc Close, keep draft" in footer
        assert "/ Search" not in footer and "c Care" not in footer  # those letters go into the reply
