"""`z`: until when? A short list (1 h, 3 h, tomorrow 9:00, next Monday 9:00) or a typed time.

Answers the wake time (aware, UTC), "wake" to wake a snoozed mention now, or None. A typed
time that cannot be read is explained in the dialog, which stays open with the text kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from store.db import iso
from store.errors import ActionError
from store.snooze_time import choices, parse_until
from tui.render import wake_time

WAKE = "wake"


class SnoozeDialog(ModalScreen[datetime | str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, now: Callable[[], datetime], *, snoozed_until: str | None = None) -> None:
        super().__init__()
        self._title = title
        self._now = now
        self._snoozed_until = snoozed_until
        self._choices = choices(now())

    def compose(self) -> ComposeResult:
        now = self._now()
        options = [Option(Text.assemble((f"{n}  {c.label}", "bold"), (f"  {wake_time(iso(c.until), now)}", "dim")))
                   for n, c in enumerate(self._choices, 1)]
        if self._snoozed_until is not None:
            options.insert(0, Option(Text.assemble(("w  Wake now", "bold"),
                                                   (f"  (snoozed until {wake_time(self._snoozed_until, now)})",
                                                    "dim"))))
        with Vertical(classes="dialog"):
            yield Static(Text(self._title, style="bold"))
            yield OptionList(*options, id="snooze-choices")
            yield Input(placeholder="or type: 2h, 90m, tomorrow 14:00, fri 14:00, 2026-12-01 09:00", id="snooze-typed")
            yield Static(id="snooze-error")
            yield Static(Text("enter picks · tab: type a time · escape cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_key(self, event) -> None:
        # Digits pick from the list while it has focus; in the input they type.
        if self.focused is self.query_one(OptionList) and event.character:
            offset = 1 if self._snoozed_until is not None else 0
            if event.character.isdigit() and 1 <= int(event.character) <= len(self._choices):
                event.stop()
                self.dismiss(self._choices[int(event.character) - 1].until)
            elif event.character == "w" and offset:
                event.stop()
                self.dismiss(WAKE)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        index = event.option_index
        if self._snoozed_until is not None:
            if index == 0:
                self.dismiss(WAKE)
                return
            index -= 1
        self.dismiss(self._choices[index].until)

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(parse_until(event.value, self._now()))
        except ActionError as exc:
            self.query_one("#snooze-error", Static).update(Text(str(exc), "bold red"))

    def action_cancel(self) -> None:
        self.dismiss(None)
