"""SVG snapshots of the main screens (update only after reading the report)."""

from __future__ import annotations

import pytest

from tests.tui_support import frozen_clock, seed, wait_until
from tui.app import ConsoleApp
from tui.screens.main import MainScreen
from tui.widgets.inbox import InboxList
from tui.widgets.mention_view import MentionView


@pytest.fixture
def app(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, count=24)
    # No change-feed poll during a snapshot: one landing mid-test (after `r` claims the mention, say)
    # reloads the mention view at a moment that varies from run to run.
    return ConsoleApp(path, operator="alice", clock=frozen_clock, poll_interval=3600)


async def settled(pilot) -> MainScreen:
    def ready() -> bool:
        screen = pilot.app.screen
        if not isinstance(screen, MainScreen) or not screen.query(InboxList) or not len(screen.inbox.ids):
            return False
        view = screen.query_one(MentionView)
        visible = screen.inbox.visible_ids(margin=0)
        return (view.detail is not None and view.detail.row.id == screen.inbox.selected_id
                and all(screen.inbox.row(i) is not None for i in visible))
    await wait_until(pilot, ready)
    await pilot.app.workers.wait_for_complete()  # the top bar's counts load in a worker
    await pilot.pause()
    return pilot.app.screen


def test_main_80x24(app, snap_compare):
    async def run_before(pilot):
        await settled(pilot)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_main_120x36_triaged(app, snap_compare):
    async def run_before(pilot):
        screen = await settled(pilot)
        await pilot.press("j", "c", "m", "j", "j", "c")
        await wait_until(pilot, lambda: sum(len(screen.inbox.row(i).tags) for i in screen.inbox.ids[:4]
                                            if screen.inbox.row(i)) == 3)
        await screen.status.refresh_counts()  # counts refresh on a timer; take them now
        pilot.app.clear_notifications()
        await settled(pilot)
    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


def test_composer_open(app, snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("r")
        # The composer opens from a worker (it claims the mention first): type once it has the keys,
        # or the first ones reach the inbox (a space there marks a row).
        await wait_until(pilot, lambda: pilot.app.screen.query_one("TextArea").has_focus)
        await pilot.press(*"Sorry about that! DM us your order number 🙏")
        pilot.app.screen.query_one("TextArea").cursor_blink = False
        await pilot.pause()
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_help_screen(app, snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
