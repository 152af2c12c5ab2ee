"""Messages any part of the console may post up to its screen."""

from __future__ import annotations

from textual.message import Message


class DatabaseTrouble(Message):
    """A read or write failed: the screen's banner says what, the console goes on."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class DatabaseOk(Message):
    """A write went through: whatever the banner said was fixed."""
