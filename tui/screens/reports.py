"""The reports screen: the desk's numbers over a period, one chart at a time, the figures one key away."""

from __future__ import annotations

import os
from datetime import timedelta

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea
from textual_plotext import PlotextPlot

from store.db import iso
from store.reports import Report
from tui.render import clock_time
from tui.report_charts import CHARTS, draw
from tui.report_text import format_report
from tui.shift import console_of

PERIODS = {"d": ("the last 24 hours", timedelta(days=1), "hour"), "w": ("the last 7 days", timedelta(days=7), "day"),
           "t": ("the last 30 days", timedelta(days=30), "day")}


class ReportsScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("tab,right,l", "chart(1)", "Next chart"),
        Binding("shift+tab,left,h", "chart(-1)", "Previous chart", show=False),
        Binding("n", "numbers", "Numbers"),
        Binding("d", "period('d')", "24 h"),
        Binding("w", "period('w')", "7 days"),
        Binding("t", "period('t')", "30 days"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._chart = 0
        self._period = "w"
        self._report: Report | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="reports"):
            yield Static(Text("Reports: loading…", style="bold"), id="reports-title")
            yield Static(Text(""), id="reports-summary")
            yield PlotextPlot(id="reports-chart")
            yield TextArea("", read_only=True, id="reports-numbers")
            yield Static(Text("tab: next chart · n: numbers · d / w / t: 24 h / 7 d / 30 d · esc: close",
                              style="dim"))

    def on_mount(self) -> None:
        plot = self.query_one(PlotextPlot)
        if os.environ.get("NO_COLOR"):
            plot.theme = "clear"  # plotext's own colours too: no-color.org
        self.query_one("#reports-numbers").display = False
        self.load()

    @work(exclusive=True, group="report")
    async def load(self) -> None:
        shift = console_of(self).shift
        words, span, by = PERIODS[self._period]
        since = iso(shift.clock() - span)
        self.query_one("#reports-title", Static).update(Text(f"Reports: {words}, by {by} — loading…", style="bold"))
        self._report = await shift.report(since, by)
        self.query_one("#reports-title", Static).update(Text(
            f"Reports: {words}, by {by} ({self._report.total} mentions)", style="bold"))
        self.query_one("#reports-numbers", TextArea).text = format_report(
            self._report, lambda moment: clock_time(moment, shift.clock()))
        self._show()

    def _show(self) -> None:
        if self._report is None:
            return
        plot = self.query_one(PlotextPlot)
        summary = draw(plot.plt, self._report, self._chart)
        position = f"{self._chart % len(CHARTS) + 1}/{len(CHARTS)} "
        self.query_one("#reports-summary", Static).update(Text(position + summary))
        plot.refresh()

    def action_chart(self, step: int) -> None:
        self._chart = (self._chart + step) % len(CHARTS)
        self._show()

    def action_numbers(self) -> None:
        numbers = self.query_one("#reports-numbers")
        numbers.display = not numbers.display
        self.query_one(PlotextPlot).display = not numbers.display

    def action_period(self, key: str) -> None:
        if key != self._period:
            self._period = key
            self.load()

    def action_close(self) -> None:
        self.dismiss(None)
