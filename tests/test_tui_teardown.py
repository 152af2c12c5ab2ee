"""A worker whose widget is being taken down ends quietly: it is not a crash of the console."""

from __future__ import annotations

import asyncio

from tests.tui_support import console_ready, frozen_clock, seed
from tui.app import ConsoleApp
from tui.widgets.line import Line
from tui.widgets.status_bar import StatusBar


async def test_a_count_returning_while_the_console_quits_does_not_crash_it(tmp_path, monkeypatch):
    """CI found it: the status bar's count came back after its lines were removed at exit."""
    db = str(tmp_path / "desk.db")
    seed(db)
    app = ConsoleApp(db, operator="alice", clock=frozen_clock)
    lines_gone = asyncio.Event()
    counting = asyncio.Event()
    drawn_after: list[bool] = []

    def line_unmounted(self: Line) -> None:
        if self.id == "topbar":
            lines_gone.set()

    monkeypatch.setattr(Line, "on_unmount", line_unmounted, raising=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await console_ready(pilot)
        shift = app.shift
        saved = await shift.saved_views()

        async def saved_views_held_until_the_lines_are_gone():
            # The count's last read: what follows it draws at once.
            counting.set()
            # As the store thread's answer at the crash: it arrives once the lines are off the bar,
            # whether or not the bar's worker was told to stop meanwhile (Textual cancels it later,
            # but on a busy machine it may come first; the answer still arrives).
            while not lines_gone.is_set() or bar.children:
                try:
                    await asyncio.sleep(0)
                except asyncio.CancelledError:
                    pass
            drawn_after.append(True)
            return saved

        bar = app.screen.query_one(StatusBar)
        monkeypatch.setattr(shift, "saved_views", saved_views_held_until_the_lines_are_gone)
        bar._counting = False
        bar.recount()
        await counting.wait()
    # Leaving the block quit the console: the count came back with the lines gone, and no error
    # was raised (run_test re-raises a worker's failure here). The bar's timer may have started a
    # second count meanwhile, held the same way: each came back after the lines had gone.
    assert drawn_after, "no count came back after the lines were removed"
    assert app.return_code in (0, None)
