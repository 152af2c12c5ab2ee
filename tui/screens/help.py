"""`?`: every key, in one place."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("j / k, ↓ / ↑", "move down / up"),
    ("g / G", "top / bottom"),
    ("pgdn / pgup", "page down / up"),
    ("c", "toggle the care tag"),
    ("m", "toggle the marketing tag"),
    ("e", "mark done / reopen"),
    ("r", "reply: opens the composer and claims the mention (others see ✎you)"),
    ("ctrl+s", "send the reply"),
    ("escape", "cancel the composer / leave search"),
    ("/", "fuzzy search: words, typos ok; filters tag:care status:open from:@h net:demo"),
    ("1 … 6, 0", "views: open, care, marketing, untriaged, done, mine (assigned to you), 0 all; "
                 "each view's count is in the bar at the top"),
    ("n", "internal note on the mention (never sent)"),
    ("a", "assign the mention to an operator (empty unassigns)"),
    ("H", "shift handover report; n there leaves a note for the next shift"),
    ("R", "retry the latest failed reply"),
    ("E", "edit the latest failed reply and send it again"),
    ("tab", "switch focus between inbox and mention"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("q", "quit"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(title="mentiondesk keys", box=None, padding=(0, 2), show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key, what in KEYS:
            table.add_row(Text(key), Text(what))
        with VerticalScroll(id="help-box"):
            yield Static(table)
            yield Static(Text("escape closes", style="dim"))

    def action_dismiss(self) -> None:
        self.dismiss(None)
