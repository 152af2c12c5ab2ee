"""Shared bits of the command line: one-line refusals, and terminal-safe output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from store.sanitize import terminal_safe


def fail(message: str, code: int = 2) -> int:
    """One clear line on stderr, and the exit status."""
    print(f"mentiondesk: {terminal_safe(str(message))}", file=sys.stderr)
    return code


class TerminalSafeStream:
    """A text stream that passes everything written through `terminal_safe`.

    Every print of the command line goes through it (names, notes, server
    errors, file names), so no string from outside can retitle the terminal,
    write its clipboard or clear the screen, whichever command printed it.
    """

    def __init__(self, stream: TextIO):
        self.raw = stream

    def write(self, text: str) -> int:
        self.raw.write(terminal_safe(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self.raw, name)


def unguarded(stream: TextIO) -> TextIO:
    """The real stream under a guard, for output that must keep its escape codes (a progress bar)."""
    return getattr(stream, "raw", stream) if isinstance(stream, TerminalSafeStream) else stream


@contextmanager
def terminal_safe_output() -> Iterator[None]:
    """Guard stdout and stderr for the duration (and put the real ones back)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = TerminalSafeStream(sys.stdout), TerminalSafeStream(sys.stderr)
    try:
        yield
    finally:
        for guarded in (sys.stdout, sys.stderr):
            try:
                guarded.flush()
            except (OSError, ValueError):
                pass
        sys.stdout, sys.stderr = saved
