"""Flood mode in the console: the leader groups a burst and raises an incident; the banner, F and the group view."""

from __future__ import annotations

import time
from datetime import timedelta

from adapters.base import Batch
from store.db import iso, open_store
from store.records import NewMention
from tests.tui_support import FROZEN, ScriptedAdapter, console_ready, frozen_clock, screen_text, seed
from tui.app import ConsoleApp
from tui.screens.flood import FloodScreen
from tui.widgets.incident_banner import IncidentBanner

WORDINGS = ["no shuttle at the airport, we are stuck here", "stuck at the airport, the shuttle never came",
            "STILL NO SHUTTLE AT THE AIRPORT", "RT @ana: no shuttle at the airport, we are stuck here 😡"]


async def until(pilot, predicate, seconds: float = 20.0) -> None:
    """Poll a condition the leader's timers make true (grouping each second, detection every five)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition never held"
        await pilot.pause(0.05)


def flood(count: int) -> list[NewMention]:
    return [NewMention(network="demo", account="@brightloop", remote_id=f"flood:{n}", author_handle=f"@p{n}",
                       text=WORDINGS[n % len(WORDINGS)], created_at=iso(FROZEN - timedelta(seconds=90 - n)))
            for n in range(count)]


async def test_a_burst_raises_the_banner_and_its_group_opens_in_the_split_view(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path)
    adapter = ScriptedAdapter()
    app = ConsoleApp(path, operator="alice", clock=frozen_clock, adapters=[adapter], poll_interval=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        await adapter.queue.put(Batch(flood(40), "flood"))
        banner = screen.query_one(IncidentBanner)
        await until(pilot, lambda: banner.display and "INCIDENT #1 NEW: Spike: no shuttle" in screen_text(app))
        await pilot.press("F")
        await until(pilot, lambda: isinstance(app.screen, FloodScreen) and "40 waiting" in screen_text(app))
        await pilot.press("a")  # acknowledge the incident
        await until(pilot, lambda: "acknowledged" in screen_text(app))
        await pilot.press("enter")  # the group's members, in the split view
        await until(pilot, lambda: "Search · 40 found" in screen_text(app))
        assert screen.search_bar.value.startswith("group:")
        await pilot.press("tab")
        await pilot.press("X")  # this one is about something else: its own group
        await until(pilot, lambda: any("is now group" in n.message for n in app._notifications))
    store = open_store(path)
    try:
        actions = [row[0] for row in store.conn.execute(
            "SELECT action FROM events WHERE action LIKE 'incident.%' OR action LIKE 'group.%' ORDER BY id")]
    finally:
        store.close()
    assert actions == ["incident.raise", "incident.ack", "group.split"]


async def test_demo_flood_starts_from_the_palette_only_where_the_demo_runs(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path)
    app = ConsoleApp(path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await console_ready(pilot)
        await pilot.press("ctrl+f")
        await until(pilot, lambda: any("Only the console running the demo stream" in n.message
                                       for n in app._notifications))
