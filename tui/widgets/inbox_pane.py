"""The left pane: the search box, the list's title and the inbox; it fetches the rows the list draws."""

from __future__ import annotations

import sqlite3

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input

from store.db import StoreError
from store.saved_views import SAVED_PREFIX
from tui.colours import paint
from tui.dbtrouble import DATABASE_ERRORS
from tui.messages import DatabaseTrouble
from tui.shift import console_of
from tui.topbar import compact_count, view_label
from tui.widgets.id_window import IdWindow
from tui.widgets.inbox import InboxList
from tui.widgets.line import Line
from tui.widgets.search_bar import SearchBar


class InboxPane(Vertical):
    search_bar: SearchBar
    inbox: InboxList

    class Listed(Message):
        """What the list holds changed: the view bar follows."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = "open"  # the view listed (while searching: the one searched from)
        self.oldest_first_views: frozenset[str] | None = None  # this operator's, read with the first view

    @property
    def oldest_first(self) -> bool:
        return self.view in (self.oldest_first_views or ())

    def compose(self) -> ComposeResult:
        self.search_bar = SearchBar(id="search")
        self.inbox = InboxList(clock=console_of(self).shift.clock, id="inbox")
        shift = console_of(self).shift
        self.inbox.painter.policy_of = lambda: shift.sla
        yield self.search_bar
        yield Line(id="inbox-title")
        yield self.inbox

    def on_mount(self) -> None:
        self.set_interval(2.0, self._refresh_sending)
        # Relative times stay true ("16s" does not freeze); the list redraws only if one changed.
        self.set_interval(1.0, self.inbox.refresh_ages)
        self.run_worker(self._refresh_sending(), group="sending")

    def update_title(self) -> None:
        inbox = self.inbox
        title = Text()
        if self.search_bar.searching:
            title.append(f" Search · {compact_count(len(inbox.ids))} found", "bold")
        else:
            title.append(f" {view_label(self.view)} · {compact_count(len(inbox.ids))}", "bold")
            if self.view == "priority":
                title.append(" · most urgent first")
            elif self.oldest_first:
                title.append(" · oldest first")
        if inbox.marked:
            title.append(f"  ◆ {compact_count(len(inbox.marked))} marked", "bold")
        if inbox.new_above:
            # Here, not in the view bar: a new-arrivals count never pushes a view off screen.
            title.append(f"  ↑ {compact_count(inbox.new_above)} new", paint("bold $text-warning", self.app))
        self.query_one("#inbox-title", Line).show(title)

    async def load_view(self, view: str, *, keep_selection: bool = True) -> None:
        """The view's first page (or, keeping the selection, the page around it); more as the list scrolls."""
        inbox, shift = self.inbox, console_of(self).shift
        if self.oldest_first_views is None:
            self.oldest_first_views = await shift.oldest_first_views()
        # Priority has its own order, read downwards like an oldest-first list (arrivals go below).
        oldest_first = view in self.oldest_first_views or view == "priority"
        rows: dict = {}
        if view.startswith(SAVED_PREFIX):  # a search: its ids whole, from the search thread
            window = IdWindow.whole(await shift.saved_view_ids(view, oldest_first=oldest_first),
                                    oldest_first=oldest_first)
        else:
            around = dict(around=inbox.selected_id, newer_than=inbox.newest_id) if keep_selection else {}
            page = await shift.view_page(view, oldest_first=oldest_first, **around)
            window, rows = IdWindow.from_page(page, oldest_first=oldest_first), page.rows
        if keep_selection and self.search_bar.searching:
            return
        self.view = view
        inbox.painter.every_clock = view == "priority"
        inbox.put_rows(rows, inbox.epoch)  # drawn with the list: one paint, not placeholders first
        inbox.set_ids(window, keep_selection=keep_selection)
        self.post_message(self.Listed())

    async def add_arrivals(self) -> None:
        """New mentions: above the rows when newest first, below them when oldest first."""
        inbox = self.inbox
        if self.view == "priority":  # an arrival may be due before rows listed: read the page again, in order
            await self.load_view(self.view)
            return
        arrived = await console_of(self).shift.view_ids_after(self.view, inbox.newest_id or 0)
        if inbox.ids.oldest_first:
            inbox.append(arrived[::-1])
        else:
            inbox.prepend(arrived)

    async def set_order(self, oldest_first: bool) -> None:
        """List the current view in this order from now on (the caller saved it)."""
        views = set(self.oldest_first_views or ())
        (views.add if oldest_first else views.discard)(self.view)
        self.oldest_first_views = frozenset(views)
        await self.load_view(self.view, keep_selection=False)

    @on(InboxList.IdsWanted)
    async def _fetch_ids(self, message: InboxList.IdsWanted) -> None:
        # Search results and saved views are whole lists: only a quick view asks for ids.
        inbox, wanted = self.inbox, message.wanted
        try:
            page = await console_of(self).shift.view_slice(self.view, wanted, len(inbox.ids), inbox.newest_id,
                                                           oldest_first=inbox.ids.oldest_first)
        except DATABASE_ERRORS as exc:
            self.post_message(DatabaseTrouble(exc))
            return
        inbox.put_ids(page.start, page.ids, message.generation)

    @on(SearchBar.Left)
    def _search_left(self, message: SearchBar.Left) -> None:
        self.inbox.focus()
        if message.view is not None:
            self.run_worker(self.load_view(message.view), group="view", exclusive=True)

    @on(InboxList.RowsWanted)
    async def _fetch_rows(self, message: InboxList.RowsWanted) -> None:
        inbox = self.inbox
        try:
            rows = await console_of(self).shift.rows(message.ids)
        except DATABASE_ERRORS as exc:
            self.post_message(DatabaseTrouble(exc))
            inbox.forget(set(message.ids))  # asked for again on the next draw
            return
        inbox.put_rows(rows, message.epoch)
        self.update_title()

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.inbox.focus()

    @on(SearchBar.Found)
    def _search_found(self, message: SearchBar.Found) -> None:
        self.inbox.set_ids(message.ids, spans=message.spans, keep_selection=message.keep_selection)
        self.update_title()

    async def _refresh_sending(self) -> None:
        """Whether any process holds the leader lease, so queued replies are really going out."""
        inbox = self.inbox
        try:
            alive = await console_of(self).shift.ingest_holder() is not None
        except (sqlite3.Error, StoreError):
            return
        if alive != inbox.painter.sender_alive:
            inbox.painter.sender_alive = alive
            inbox.refresh()
