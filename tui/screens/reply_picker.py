"""The saved-reply picker: type part of a name (typos ok), enter inserts it filled in.

Replies fitting the mention's language and tags come first; the preview shows the text
as it will be inserted, with any variable this mention cannot fill left visible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from store.saved_replies import SavedReply, fill, rank


def reply_label(reply: SavedReply) -> Text:
    label = Text(reply.name, "bold")
    badges = " ".join(filter(None, [reply.lang, *reply.tags]))
    if badges:
        label.append(f"  {badges}", "dim")
    return label


class ReplyPicker(ModalScreen[SavedReply | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("down", "move(1)", show=False),
                Binding("up", "move(-1)", show=False)]

    def __init__(self, replies: list[SavedReply], *, lang: str | None, tags: Iterable[str],
                 values: Mapping[str, str | None]) -> None:
        super().__init__()
        self._replies = replies
        self._lang = lang
        self._tags = tuple(tags)
        self._values = values
        self._shown: list[SavedReply] = []
        self._ranked_for: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text("Insert a saved reply", style="bold"))
            yield Input(placeholder="name (typos ok)", id="picker-query")
            yield OptionList(id="picker-list")
            yield Static(id="picker-preview")
            yield Static(Text("enter inserts · ↑↓ choose · escape cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._rank("")

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        self._rank(event.value)

    @work(group="picker-rank", exclusive=True)
    async def _rank(self, query: str) -> None:
        # rapidfuzz blocks: off the event loop, like every search.
        shown = await asyncio.to_thread(rank, self._replies, query, lang=self._lang, tags=self._tags)
        self._show(shown, query)

    def _show(self, shown: list[SavedReply], query: str) -> None:
        self._shown, self._ranked_for = shown, query
        options = self.query_one(OptionList)
        options.set_options([Option(reply_label(reply)) for reply in shown])
        if shown:
            options.highlighted = 0
        self._preview()

    @on(OptionList.OptionHighlighted)
    def _preview(self) -> None:
        index = self.query_one(OptionList).highlighted
        preview = self.query_one("#picker-preview", Static)
        if index is None or index >= len(self._shown):
            preview.update(Text("no saved reply matches", "dim"))
            return
        filled = fill(self._shown[index].body, self._values)
        text = Text(filled.text)
        if filled.missing:
            text.append(f"\nfill in before sending: {' '.join('{' + n + '}' for n in filled.missing)}", "bold red")
        preview.update(text)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if self._shown:
            options.highlighted = max(0, min(len(self._shown) - 1, (options.highlighted or 0) + step))

    @on(Input.Submitted)
    @on(OptionList.OptionSelected)
    def _chosen(self) -> None:
        query = self.query_one(Input).value
        if query != self._ranked_for:  # enter came before the ranking of the last keystroke
            self._show(rank(self._replies, query, lang=self._lang, tags=self._tags), query)
        index = self.query_one(OptionList).highlighted
        if index is not None and index < len(self._shown):
            self.dismiss(self._shown[index])

    def action_cancel(self) -> None:
        self.dismiss(None)
