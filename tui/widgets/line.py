"""One line of text that redraws only when it changed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class Line(Static):
    """A one-line Static (its height is fixed in app.tcss) that is laid out once.

    Static.update lays the whole screen out again: during a storm the view bar
    and the list's title are set several times a second, mostly to the same text.
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._line: Text | None = None

    def show(self, line: Text) -> None:
        if line != self._line:
            self._line = line
            self.update(line, layout=False)
