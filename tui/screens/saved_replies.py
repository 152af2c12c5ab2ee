"""`T`: the desk's saved replies — list, add (a), edit (e / enter), delete (d).

The list follows other consoles within a second (it re-reads the small table off the event
loop); every change goes through the same store code as `mentiondesk replies`.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from store.saved_replies import VARIABLES, SavedReply
from tui.attempt import attempt
from tui.screens.dialogs import Confirm
from tui.screens.reply_picker import reply_label
from tui.shift import console_of

REFRESH = 0.5  # seconds: another console's change shows within a second


class ReplyForm(ModalScreen[dict | None]):
    """Name, language, tags and body; ctrl+s saves, escape cancels."""

    BINDINGS = [Binding("ctrl+s", "save", "Save", priority=True), Binding("escape", "cancel", "Cancel")]

    def __init__(self, reply: SavedReply | None) -> None:
        super().__init__()
        self._reply = reply

    def compose(self) -> ComposeResult:
        reply = self._reply
        with Vertical(classes="dialog wide"):
            yield Static(Text("Edit saved reply" if reply else "New saved reply", style="bold"))
            yield Input(reply.name if reply else "", placeholder="name, e.g. Refund delay — FR", id="form-name")
            yield Input(reply.lang if reply else "", placeholder="language: en, fr… (empty: any)", id="form-lang")
            yield Input(",".join(reply.tags) if reply else "", placeholder="tags: care, marketing", id="form-tags")
            yield TextArea(reply.body if reply else "", id="form-body")
            yield Static(Text("variables: " + " ".join(f"{{{name}}}" for name in VARIABLES), style="dim"))
            yield Static(Text("ctrl+s saves · escape cancels", style="dim"))

    def on_mount(self) -> None:
        for selector, title in (("#form-name", "name"), ("#form-lang", "language (empty: any)"),
                                ("#form-tags", "tags: care, marketing"), ("#form-body", "body")):
            self.query_one(selector).border_title = title  # the fields keep a label once filled in
        self.query_one("#form-name", Input).focus()

    def action_save(self) -> None:
        tags = [tag.strip() for tag in self.query_one("#form-tags", Input).value.split(",") if tag.strip()]
        self.dismiss({"name": self.query_one("#form-name", Input).value,
                      "lang": self.query_one("#form-lang", Input).value, "tags": tags,
                      "body": self.query_one("#form-body", TextArea).text})

    def action_cancel(self) -> None:
        self.dismiss(None)


class SavedRepliesScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "close", "Close"), Binding("a", "add", "Add"),
                Binding("e", "edit", "Edit"), Binding("d", "delete", "Delete")]

    def __init__(self) -> None:
        super().__init__()
        self.replies: list[SavedReply] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text("Saved replies (the whole desk's)", style="bold"))
            yield OptionList(id="replies-list")
            yield Static(id="replies-preview")
            yield Static(Text("a add · e / enter edit · d delete · escape close", style="dim"))

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.reload()
        self.set_interval(REFRESH, self.reload)

    @work(group="saved-replies", exclusive=True)
    async def reload(self) -> None:
        replies = await attempt(self, console_of(self).shift.saved_replies())
        if replies is None or replies == self.replies:
            return
        options = self.query_one(OptionList)
        keep = options.highlighted
        self.replies = replies
        options.set_options([Option(reply_label(reply)) for reply in replies])
        if replies:
            options.highlighted = min(keep or 0, len(replies) - 1)
        else:
            self.query_one("#replies-preview", Static).update(Text("none yet: a adds one", "dim"))

    @on(OptionList.OptionHighlighted)
    def _preview(self) -> None:
        if (reply := self._selected()) is not None:
            self.query_one("#replies-preview", Static).update(Text(reply.body))

    def _selected(self) -> SavedReply | None:
        index = self.query_one(OptionList).highlighted
        return self.replies[index] if index is not None and index < len(self.replies) else None

    @on(OptionList.OptionSelected)
    def _chosen(self) -> None:
        self.action_edit()

    @work(group="dialog")
    async def action_add(self) -> None:
        await self._edit(None)

    @work(group="dialog")
    async def action_edit(self) -> None:
        if (reply := self._selected()) is not None:
            await self._edit(reply)

    async def _edit(self, reply: SavedReply | None) -> None:
        shift = console_of(self).shift
        old_name = reply.name if reply else None
        while (fields := await self.app.push_screen_wait(ReplyForm(reply))) is not None:
            saved = await attempt(self, shift.save_reply(old_name, fields))
            if saved is not None:
                self.notify(f"Saved reply {saved.name!r} saved.", timeout=2, markup=False)
                break
            # Refused (the toast said why): the form opens again with what was typed.
            reply = SavedReply(0, fields["name"], fields["lang"], tuple(fields["tags"]), fields["body"], "", "")
        self.reload()

    @work(group="dialog")
    async def action_delete(self) -> None:
        if (reply := self._selected()) is None:
            return
        if await self.app.push_screen_wait(Confirm(f"Delete the saved reply {reply.name!r} for the whole desk?")):
            await attempt(self, console_of(self).shift.remove_reply(reply.name))
            self.reload()

    def action_close(self) -> None:
        self.dismiss(None)
