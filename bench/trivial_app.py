"""The reference for key latency: a trivial Textual list moved with j/k, nothing else running."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList


class TrivialList(App):
    BINDINGS = [Binding("j", "down"), Binding("k", "up"), Binding("q", "quit")]

    def compose(self) -> ComposeResult:
        yield OptionList(*(f"item {n}: a line of text like a mention's" for n in range(200)), id="list")

    def action_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()


if __name__ == "__main__":
    TrivialList().run()
