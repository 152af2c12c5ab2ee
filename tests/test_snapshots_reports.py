"""SVG snapshots of the reports and handover screens at 80×24 (update only after reading the report)."""

from __future__ import annotations

import pytest

from store.sla import SlaPolicy
from tests.test_snapshots import settled
from tests.tui_support import frozen_clock, screen_text, seed, wait_until
from tui.app import ConsoleApp
from tui.screens.dialogs import ShowText
from tui.screens.reports import ReportsScreen


@pytest.fixture
def app(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, count=24)
    policy = SlaPolicy.from_table({"care": 3600.0, "default": 4 * 3600.0}, ("care", "marketing"))
    return ConsoleApp(path, operator="alice", clock=frozen_clock, sla=policy)


def test_reports_80x24(app, snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReportsScreen)
                         and "mentions)" in screen_text(pilot.app))
        await pilot.pause()
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_handover_80x24(app, snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("H")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ShowText))
        await pilot.pause()
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
