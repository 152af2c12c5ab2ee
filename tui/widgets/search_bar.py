"""The search box: fuzzy search as the operator types, results posted to the screen."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence

from textual import on
from textual.message import Message
from textual.widgets import Input

from store.db import StoreError
from tui.shift import Shift, console_of
from tui.widgets.id_window import IdWindow

PLACEHOLDER = "search: words (typos ok)  tag:care status:open from:@h net:demo"


class SearchBar(Input):
    class Found(Message):
        """Results for the latest query (`keep_selection`: a refresh after new mentions arrived)."""

        def __init__(self, ids: Sequence[int], spans: dict[int, list[tuple[int, int]]],
                     keep_selection: bool) -> None:
            super().__init__()
            self.ids = ids
            self.spans = spans
            self.keep_selection = keep_selection

    class Left(Message):
        """Search closed; `view` is the view to go back to (None: the screen picks another)."""

        def __init__(self, view: str | None) -> None:
            super().__init__()
            self.view = view

    def __init__(self, id: str | None = None) -> None:
        super().__init__(placeholder=PLACEHOLDER, id=id)
        self.searching = False
        self._view = "open"  # the view searched from: an empty query lists it
        self._seq = 0

    @property
    def shift(self) -> Shift:
        return console_of(self).shift

    def on_mount(self) -> None:
        self.display = False

    def start(self, view: str) -> None:
        """Show the box and focus it, remembering `view` for an empty query and for escape."""
        if not self.searching:
            self._view = view
            self.searching = True
            self.display = True
        self.focus()

    def leave(self, *, restore: bool) -> None:
        self.display = False
        self.searching = False
        self.post_message(self.Left(self._view if restore else None))

    def rerun(self) -> None:
        """New mentions arrived: run the query again, keeping the operator's selection."""
        self._schedule(keep_selection=True)

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if event.input is self:
            self._schedule()

    def _schedule(self, *, keep_selection: bool = False) -> None:
        self._seq += 1
        self.run_worker(self._search(self._seq, self.value, keep_selection), group="search", exclusive=True)

    async def _search(self, seq: int, text: str, keep_selection: bool) -> None:
        await asyncio.sleep(0.08)  # typing: only the last keystroke's query runs
        spans: dict[int, list[tuple[int, int]]] = {}
        try:
            if not text.strip():
                # The whole view, a window of it at a time (see tui.widgets.id_window).
                ids: Sequence[int] = IdWindow.from_page(await self.shift.view_page(self._view))
            else:
                # Searching as the operator types: the last word may be unfinished.
                hits = await self.shift.search(text, complete_last=not text[-1:].isspace())
                ids = [hit.mention_id for hit in hits]
                spans = {hit.mention_id: hit.spans for hit in hits}
        except (sqlite3.Error, StoreError) as exc:
            self.notify(f"Search failed, database unreachable: {exc}", severity="error", markup=False)
            return
        if seq == self._seq and self.searching:
            self.post_message(self.Found(ids, spans, keep_selection))
