"""The reply composer with a live counter by the network's rule."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from adapters.base import TextRule


class ReplyComposer(Vertical):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mention_id: int | None = None
        self.rule: TextRule | None = None
        self.target = ""
        self.editing_reply: int | None = None  # a failed reply being edited and resent

    def compose(self) -> ComposeResult:
        yield Static("", id="composer-title")
        yield TextArea(id="composer-text", soft_wrap=True, show_line_numbers=False)
        yield Static("", id="composer-counter")

    def open(self, mention_id: int, target: str, rule: TextRule, draft: str = "") -> None:
        self.mention_id = mention_id
        self.editing_reply = None
        self.rule = rule
        self.target = target
        self.query_one("#composer-title", Static).update(
            Text.assemble(("Reply to ", "bold"), (target, "bold"), ("  ctrl+s send · esc cancel", "dim"))
        )
        area = self.query_one(TextArea)
        area.load_text(draft)
        area.move_cursor(area.document.end)
        self.display = True
        self._update_counter()
        area.focus()

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    def over_limit(self) -> int:
        return -self.rule.remaining(self.text) if self.rule else 0

    def _update_counter(self) -> None:
        if self.rule is None:
            return
        used = self.rule.count(self.text)
        left = self.rule.limit - used
        style = "bold red" if left < 0 else ("yellow" if left < 20 else "dim")
        self.query_one("#composer-counter", Static).update(
            Text.assemble((f"{used}/{self.rule.limit}", style), (f"  ({self.rule.description})", "dim"))
        )

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._update_counter()

    def close(self) -> None:
        self.display = False
        self.mention_id = None
        self.editing_reply = None
