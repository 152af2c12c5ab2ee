"""The reports screen: S opens it, charts cycle, the numbers are one key away, periods switch."""

from __future__ import annotations

import pytest

from store import actions
from store.db import open_store
from store.sla import SlaPolicy
from tests.tui_support import console_ready, frozen_clock, screen_text, seed, wait_until
from tui.app import ConsoleApp
from tui.screens.reports import ReportsScreen


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path)
    store = open_store(path, clock=frozen_clock)
    try:
        ids = [row[0] for row in store.conn.execute("SELECT id FROM mentions ORDER BY id")]
        for mention_id in ids[:6]:
            actions.set_tag(store, mention_id, "care", True, "ana")
        actions.set_tag(store, ids[0], "marketing", True, "bo")
        actions.set_status(store, ids[1], "done", "ana")
    finally:
        store.close()
    return path


def make_app(db_path, **kwargs) -> ConsoleApp:
    policy = SlaPolicy.from_table({"care": 3600.0}, ("care", "marketing"))
    return ConsoleApp(db_path, operator="alice", clock=frozen_clock, sla=policy, **kwargs)


async def _open(pilot) -> ReportsScreen:
    await console_ready(pilot)
    await pilot.press("S")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReportsScreen)
                     and "mentions)" in screen_text(pilot.app))
    screen = pilot.app.screen
    assert isinstance(screen, ReportsScreen)
    return screen


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_reports_open_with_a_chart_and_its_summary(db_path, size):
    async with make_app(db_path).run_test(size=size) as pilot:
        await _open(pilot)
        text = screen_text(pilot.app)
        assert "Reports: the last 7 days, by day (31 mentions)" in text
        assert "1/7 Mentions arrived per day: 31 in all" in text
        assert "Arrivals" in text  # the chart's own title, drawn by plotext
        await pilot.press("tab")
        await wait_until(pilot, lambda: "2/7 Open mentions at the end of each day: now 30" in screen_text(pilot.app))
        await pilot.press("tab", "tab", "tab", "tab")
        await wait_until(pilot, lambda: "Care ⇄ marketing: 1 handed off (1 both tags" in screen_text(pilot.app))
        await pilot.press("tab")  # seeded without signals: every mention's sentiment is unknown
        await wait_until(pilot, lambda: "7/7 Negative mentions per day: 0 (0% of all)" in screen_text(pilot.app))


async def test_numbers_key_shows_every_figure_and_periods_switch(db_path):
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot)
        await pilot.press("n")
        numbers = screen.query_one("#reports-numbers")
        assert numbers.display
        assert "Volume:" in numbers.text and "by tag: untriaged 25, care 5, both 1" in numbers.text
        assert "SLA (care 1h): " in numbers.text
        await pilot.press("d")
        await wait_until(pilot, lambda: "Reports: the last 24 hours, by hour" in screen_text(pilot.app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(pilot.app.screen, ReportsScreen))


async def test_reports_in_the_palette_and_help(db_path):
    async with make_app(db_path).run_test(size=(100, 50)) as pilot:  # the whole key list, unscrolled
        await console_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: "reports: arrivals, backlog" in screen_text(pilot.app))


async def test_unanswered_mentions_show_their_sla_clock_in_the_row_and_the_view(tmp_path):
    path = str(tmp_path / "sla.db")
    seed(path)  # mentions 1..31 arrived 99..69 minutes before the frozen clock
    policy = SlaPolicy.from_table({"default": 3600.0, "care": 80 * 60.0}, ("care", "marketing"))
    app = ConsoleApp(path, operator="alice", clock=frozen_clock, sla=policy)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        newest = screen.inbox.selected_id
        await wait_until(pilot, lambda: "first reply late 9m (target 1h)" in screen_text(pilot.app))
        assert " · late 9m" in screen_text(pilot.app)  # the row says it in words, not only in red
        await pilot.press("c")  # care: 80 minutes allowed, so 11 minutes are left (the last quarter)
        await wait_until(pilot, lambda: "first reply due 11m (target 1h20m)" not in screen_text(pilot.app)
                         and "first reply due 11m (target 1h)" in screen_text(pilot.app))
        assert " · due 11m" in screen_text(pilot.app)
        store = open_store(path, clock=frozen_clock)
        try:
            actions.queue_reply(store, newest, "on it", "alice")
        finally:
            store.close()
        await wait_until(pilot, lambda: "first reply" not in screen_text(pilot.app))
