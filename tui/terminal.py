"""The console's terminal: refuse to start without one, leave promptly when it goes away.

Over `ssh host mentiondesk` (no `-t`) there is no terminal: drawing into the pipe is
useless, and Textual's input thread spins on the endless end-of-file. When the SSH
session drops, the terminal hangs up: SIGHUP arrives (its default action kills the
process before the lease and claims are released), or reads fail. Either way the
console must leave on its own, cleanly.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from collections.abc import Callable

NO_TERMINAL = ("the console needs a terminal; over SSH use `ssh -t HOST mentiondesk` "
               "(commands such as `mentiondesk search` work without one)")
HUNG_UP = 129  # 128 + SIGHUP: the shell's convention for "the terminal went away"


def has_terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def serves_browser() -> bool:
    """Started by `mentiondesk web` through textual-serve: its pipes stand for a browser's terminal
    (and TerminalWatch still sees them close, or the server go, when the tab or the server does)."""
    return os.environ.get("TEXTUAL_DRIVER", "").startswith("textual.drivers.web_driver:")


class TerminalWatch:
    """Calls `on_lost(reason)` once when the terminal hangs up or the parent (sshd) is gone."""

    def __init__(self, on_lost: Callable[[str], None], fd: int = 0) -> None:
        self._on_lost = on_lost
        self._fd = fd
        self._parent = os.getppid()
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self.lost: str | None = None

    def install(self, loop) -> None:
        loop.add_signal_handler(signal.SIGHUP, self._lose, "hang-up signal")

    def check(self) -> str | None:
        """Cheap, called on a timer: a hung-up tty polls as POLLHUP/POLLERR without blocking."""
        if self.lost:
            return self.lost
        try:
            events = self._poll.poll(0)
        except OSError:
            events = [(self._fd, select.POLLERR)]
        if any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, mask in events):
            self._lose("terminal hung up")
        elif os.getppid() != self._parent:
            self._lose("parent process gone")
        return self.lost

    def _lose(self, reason: str) -> None:
        if self.lost is None:
            self.lost = reason
            self._on_lost(reason)
