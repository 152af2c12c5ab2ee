"""`?`: every key, in one place."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.actions import ACTIONS


def help_rows(app: App) -> list[tuple[str, str]]:
    """(keys, what) for every action, with the keys the keymap gave it."""
    keys = getattr(app, "keys", {})
    rows = []
    for action in ACTIONS:
        if action.id == "help":
            rows.append((app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, "")),
                         "command palette: every action by name"))
        shown = [app.get_key_display(Binding(key, "")) for key in keys.get(action.id, action.keys).split(",")]
        rows.append((" / ".join(shown), action.description))
    return rows



class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(title="mentiondesk keys", box=None, padding=(0, 2), show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key, what in help_rows(self.app):
            table.add_row(Text(key), Text(what))
        with VerticalScroll(id="help-box"):
            yield Static(table)
            yield Static(Text("escape closes", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
