"""The top two lines: who is at the desk and who ingests, then every view with its key and count."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from store.inbox import VIEWS
from store.lease import LeaseHolder
from store.saved_views import SavedView
from tui.actions import BAR_VIEW_KEYS
from tui.colours import paint
from tui.dbtrouble import DATABASE_ERRORS
from tui.messages import DatabaseTrouble
from tui.render import age
from tui.shift import Shift, console_of
from tui.topbar import fit, view_bar
from tui.widgets.line import Line

if TYPE_CHECKING:
    from store.source_status import SourceStatus  # the module loads lazily, with the first count

COUNT_SHARE = 0.2  # at most this share of the time counting during a storm
SAVED_RECOUNT = 10.0  # seconds: a saved view's count is a search, so it is refreshed less often

SOURCE_STYLE = {"connected": "$text-success", "auth failed": "bold $text-error", "stopped": "$text-error",
                "rate-limited": "$text-warning", "reconnecting": "$text-warning"}


class StatusBar(Vertical):
    DEFAULT_CSS = "StatusBar { height: auto; }"

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.counts: dict[str, int] = {}
        self.counted_at = 0.0  # time.monotonic() of the last count
        self.count_cost = 0.0  # seconds the last count took
        self._counting = False
        self._recount = False  # asked again while counting
        self._view: str | None = "open"  # None while searching
        self._listed = 0  # the list's length: the current view's count until the first count arrives
        self._statuses: list[SourceStatus] = []
        self._holder: LeaseHolder | None = None
        self.saved: list[SavedView] = []  # the desk's saved views, on keys 7-9
        self._saved_counts: dict[str, int] = {}
        self._saved_counted_at = -SAVED_RECOUNT

    @property
    def shift(self) -> Shift:
        return console_of(self).shift

    def compose(self) -> ComposeResult:
        yield Line(id="topbar")
        yield Line(id="viewbar")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())
        self.set_interval(2.0, self._recount_if_due)

    def _recount_if_due(self) -> None:
        # A slow count is not restarted every 2 s either (its reads hold the WAL); nor an idle desk's.
        if self.count_due() and not self.shift.unchanged_since(self.counted_at):
            self.recount()

    def on_resize(self) -> None:
        self._draw()

    def show_view(self, view: str | None, listed: int) -> None:
        """The view on screen (None: a search) and how many rows its list has."""
        self._view, self._listed = view, listed
        self._draw_views()

    def recount(self) -> None:
        """Counts, sources and the lease again, in the background; one count at a time.

        A count asked for while one runs is made right after it (that one may have
        started before the change): never a queue of counts in front of a search.
        """
        if self._counting:
            self._recount = True
            return
        self._counting = True
        self.run_worker(self.refresh_counts(), group="topbar")

    def count_due(self) -> bool:
        """Whether arrivals should be counted now: within a second, but on a history where a count
        takes long, no more than a COUNT_SHARE of the time (a storm would otherwise count non-stop)."""
        return time.monotonic() - self.counted_at > max(1.0, self.count_cost / COUNT_SHARE)

    async def refresh_counts(self) -> None:
        self.counted_at = time.monotonic()
        self._counting = True
        try:
            # Counting is the slowest read on a long history: its own connection and thread.
            statuses = await self.shift.source_statuses()
            self.counts = await self.shift.view_counts()
            self._holder = await self.shift.ingest_holder()
            saved = await self.shift.saved_views()
            if saved != self.saved or time.monotonic() - self._saved_counted_at > SAVED_RECOUNT:
                self.saved = saved
                self._saved_counts = await self.shift.saved_view_counts(saved)
                self._saved_counted_at = time.monotonic()
        except DATABASE_ERRORS as exc:
            self.post_message(DatabaseTrouble(exc))
            return
        finally:
            self.count_cost = time.monotonic() - self.counted_at
            self._counting = False
            if self._recount and self.is_attached:
                self._recount = False
                self.recount()
        self._statuses = statuses
        self._draw()

    def _draw(self) -> None:
        self._draw_top()
        self._draw_views()

    def _draw_top(self) -> None:
        """Brand, operator, who ingests, then each source: whole pieces that fit, most important first."""
        shift = self.shift
        app = self.app
        pieces: list[Text | list[Text]] = [Text(" mentiondesk ", "bold reverse"), Text(shift.operator, "bold")]
        if shift.is_leader:
            pieces.append(Text("· ingesting", paint("$text-success", app)))
        elif self._holder is not None:
            pieces.append([Text(f"· ingest by {self._holder.holder}", "dim"), Text("· ingest elsewhere", "dim")])
        elif not shift.has_adapters:
            pieces.append(Text("· no ingest running", paint("$text-warning", app)))
        now = shift.clock()
        for status in self._statuses:
            short = Text(f"● {status.source} {status.state}",
                         paint(SOURCE_STYLE.get(status.state, "$text-accent"), app))
            full = short.copy()
            if status.detail:
                full.append(f" ({status.detail})", "dim")
            if status.last_event_at:
                full.append(f" · last {age(status.last_event_at, now)} ago", "dim")
            pieces.append([full, short] if full.cell_len > short.cell_len else short)
        self.query_one("#topbar", Line).show(fit(pieces, self.size.width))

    def _draw_views(self) -> None:
        views = [(key, name, VIEWS[name].label) for key, name in BAR_VIEW_KEYS.items()]
        views += [(view.key, view.view, view.name) for view in self.saved]
        counts = {**self.counts, **self._saved_counts}
        if self._view is not None:
            counts.setdefault(self._view, self._listed)  # until the first count arrives
        self.query_one("#viewbar", Line).show(view_bar(views, counts, self._view, self.size.width))


class TroubleBanner(Static):
    """What the database refused, in one line above everything; gone once a write goes through."""

    def on_mount(self) -> None:
        self.display = False

    def show(self, line: str) -> str:
        self.update(Text(f" ⚠ {line}"))
        self.display = True
        return line

    def clear(self) -> None:
        if self.display:
            self.display = False
