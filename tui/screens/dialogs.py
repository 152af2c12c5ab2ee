"""Small modal dialogs that answer through dismiss()."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea


class AskText(ModalScreen[str | None]):
    """One line of text (an operator name...); escape answers None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, *, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._title, style="bold"))
            yield Input(value=self._value, placeholder=self._placeholder, id="answer")
            yield Static(Text("enter confirms · escape cancels", style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AskNote(ModalScreen[str | None]):
    """Several lines (a note); ctrl+s saves, escape cancels."""

    BINDINGS = [Binding("ctrl+s", "save", "Save", priority=True), Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._title, style="bold"))
            yield TextArea(id="note-text")
            yield Static(Text("ctrl+s saves · escape cancels", style="dim"))

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """A yes/no question; anything but y is no."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._question))
            yield Static(Text("y: yes · n / escape: no", style="bold"))

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ShowText(ModalScreen[str | None]):
    """A read-only report (the handover); `n` answers "note", escape closes."""

    BINDINGS = [Binding("escape,q", "close", "Close"), Binding("n", "note", "Leave a handover note")]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text(self._title, style="bold"))
            yield TextArea(self._body, read_only=True, id="report")
            yield Static(Text("n: leave a handover note · escape: close", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_note(self) -> None:
        self.dismiss("note")
