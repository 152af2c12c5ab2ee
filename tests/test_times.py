"""Times as the operator reads them: live relative ages, local clock times without milliseconds."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from store.db import iso, open_store
from store.ingest import save_batch
from tests.tui_support import FROZEN, mention, screen_text, seed, wait_until
from tui.app import ConsoleApp
from tui.render import clock_time
from tui.screens.main import MainScreen
from tui.widgets.mention_view import MentionView

TOKYO = ZoneInfo("Asia/Tokyo")  # FROZEN (12:00 UTC, Thu 26 Nov 2026) is 21:00 there


@pytest.mark.parametrize("stored, shown", [
    ("2026-11-26T05:03:00.123Z", "14:03"),             # today: time only, no milliseconds
    ("2026-11-23T05:03:00.000Z", "Mon 14:03"),         # this week: weekday
    ("2026-11-03T05:03:59.999Z", "2026-11-03 14:03"),  # older: the date
    ("2026-11-25T16:30:00Z", "01:30"),                 # yesterday in UTC, today in Tokyo
])
def test_clock_time_is_local_and_by_the_minute(stored, shown):
    assert clock_time(stored, FROZEN, TOKYO) == shown


def test_clock_time_honours_the_tz_variable(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()  # conftest's fixture restores the zone afterwards
    assert clock_time("2026-11-26T11:59:00.000Z", FROZEN) == "06:59"


async def test_relative_times_stay_live_and_redraw_only_when_they_change(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, count=5, hostile=False)
    store = open_store(path)
    fresh = replace(mention(50, text="just now: where is my parcel?"), created_at=iso(FROZEN - timedelta(seconds=16)))
    save_batch(store, "demo:@brightloop", [fresh], "50")
    store.close()
    now = [FROZEN]
    app = ConsoleApp(path, operator="alice", clock=lambda: now[0])
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(MentionView)
                         and app.screen.query_one(MentionView).detail is not None)
        screen = app.screen
        view = screen.query_one(MentionView)
        assert "just now" in view.detail.row.text
        await pilot.pause()
        assert "16s" in screen_text(app)
        assert "11:59" in screen_text(app)  # its clock time, local (UTC here), no seconds
        shown = []
        view.show = lambda detail, show=view.show: (shown.append(detail), show(detail))[1]
        view.refresh_ages()
        screen.inbox.refresh_ages()
        assert shown == []  # nothing changed: nothing redrawn
        now[0] = FROZEN + timedelta(minutes=3)
        # The widgets' own one-second timers bring the ages up to date.
        deadline = time.monotonic() + 5
        while "3m ago" not in screen_text(app) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        text = screen_text(app)
        assert "3m ago" in text and "16s" not in text  # the mention view
        assert "· demo · 3m" in text  # its inbox row
