"""`?`: every key, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.actions import ACTIONS
from tui.shift import console_of

if TYPE_CHECKING:
    from tui.app import ConsoleApp


def help_rows(app: ConsoleApp) -> list[tuple[str, str]]:
    """(keys, what) for every action, with the keys the keymap gave it."""
    rows = []
    for action in ACTIONS:
        if action.id == "help":
            rows.append((app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, "")),
                         "command palette: every action by name"))
        rows.append((" / ".join(app.keys_shown(action.id)), action.description))
    return rows



class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(title="mentiondesk keys", box=None, padding=(0, 2), show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key, what in help_rows(console_of(self)):
            table.add_row(Text(key), Text(what))
        with VerticalScroll(id="help-box"):
            yield Static(table)
            yield Static(Text("escape closes", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
