"""Keypress to screen, measured in a real terminal: tmux send-keys, then capture-pane until it moved.

A program runs in a detached tmux session at 80×24. Before each press the
screen's *selection signature* is taken: which rows carry the selection's
background colour and their text (digits dropped, so a ticking age is not a
move). The key is sent and the pane captured every millisecond or so until
the signature differs; the time from send to that capture is the latency,
terminal, tmux and all. The selection colour is learnt once, from a press
that is allowed to settle.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections import Counter

SGR = re.compile(r"\x1b\[([0-9;]*)m")
WIDTH, HEIGHT = 80, 24


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _cells(line: str) -> list[tuple[str, str]]:
    """(character, background) for each cell of a captured line."""
    cells: list[tuple[str, str]] = []
    background = ""
    position = 0
    for match in SGR.finditer(line):
        cells.extend((char, background) for char in line[position:match.start()])
        position = match.end()
        params = match.group(1).split(";") if match.group(1) else ["0"]
        i = 0
        while i < len(params):
            p = params[i]
            if p in ("0", ""):
                background = ""
            elif p == "49":
                background = ""
            elif p == "48" and i + 1 < len(params):
                span = 5 if params[i + 1] == "2" else 3
                background = ";".join(params[i:i + span])
                i += span - 1
            elif p.isdigit() and (40 <= int(p) <= 47 or 100 <= int(p) <= 107):
                background = p
            elif p in ("38",) and i + 1 < len(params):
                i += 4 if params[i + 1] == "2" else 2
            i += 1
    cells.extend((char, background) for char in line[position:])
    return cells


class Screen:
    def __init__(self, session: str, command: list[str], *, env: dict[str, str] | None = None) -> None:
        self.session = session
        settings = ["-e", "COLORTERM=truecolor", *(x for k, v in (env or {}).items() for x in ("-e", f"{k}={v}"))]
        for attempt in range(5):  # the server may be exiting as the previous session closed
            try:
                _tmux("new-session", "-d", "-s", session, "-x", str(WIDTH), "-y", str(HEIGHT), *settings,
                      shlex.join(command) + "; sleep 3600")
                break
            except subprocess.CalledProcessError as exc:
                if attempt == 4:
                    raise RuntimeError(f"tmux new-session failed: {exc.stderr.strip()}") from None
                time.sleep(0.5)
        self.selection = ""  # the selection's background, once learnt
        self.columns = WIDTH

    def pid(self) -> int:
        return int(_tmux("list-panes", "-t", self.session, "-F", "#{pane_pid}").strip())

    def capture(self) -> list[list[tuple[str, str]]]:
        return [_cells(line) for line in _tmux("capture-pane", "-p", "-e", "-t", self.session).splitlines()]

    def text(self) -> str:
        return _tmux("capture-pane", "-p", "-t", self.session)

    def send(self, *keys: str) -> None:
        _tmux("send-keys", "-t", self.session, *keys)

    def wait_for(self, needle: str, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.session], capture_output=True)

    # -- the selection -------------------------------------------------------------------
    def _rows_by_background(self, screen) -> dict[str, set[int]]:
        """Rows each background fills at least half of: the selection spans its rows, a tag badge
        of the same colour (MKT is drawn on the selection's blue) covers a few cells."""
        cells_by: dict[tuple[str, int], int] = {}
        for y, cells in enumerate(screen):
            for _, background in cells[: self.columns]:
                cells_by[background, y] = cells_by.get((background, y), 0) + 1
        rows: dict[str, set[int]] = {}
        for (background, y), count in cells_by.items():
            if count * 2 >= self.columns:
                rows.setdefault(background, set()).add(y)
        return rows

    def learn(self, key: str, settle: float = 1.0, columns: int = WIDTH) -> bool:
        """Press `key` once and find the background that moved rows: the selection's."""
        self.columns = columns
        before = self._rows_by_background(self.capture())
        self.send(key)
        time.sleep(settle)
        after = self._rows_by_background(self.capture())
        moved = Counter({bg: len(rows) for bg, rows in after.items()
                         if bg and rows != before.get(bg, set()) and len(rows) <= 3})
        if not moved:
            return False
        self.selection = min(moved, key=lambda bg: moved[bg])
        return True

    def signature(self, screen=None) -> tuple:
        screen = self.capture() if screen is None else screen
        rows = []
        for y, cells in enumerate(screen):
            marked = "".join(char for char, background in cells[: self.columns] if background == self.selection)
            if marked.strip() and len(marked) * 2 >= self.columns:
                rows.append((y, re.sub(r"\d", "", marked)))
        return tuple(rows)

    def press(self, key: str, timeout: float = 5.0) -> float | None:
        """Milliseconds from send-keys to the first capture where the selection moved (None: it never did)."""
        before = self.signature()
        start = time.perf_counter()
        self.send(key)
        while time.perf_counter() - start < timeout:
            if self.signature() != before:
                return (time.perf_counter() - start) * 1000
        return None


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def presses(screen: Screen, count: int, *, gap: float = 0.15, keys: tuple[str, str] = ("k", "j"),
            until: float | None = None) -> list[float | None]:
    """Alternate the two keys (up, then down: the selection stays put on average)."""
    out: list[float | None] = []
    n = 0
    while (n < count) if until is None else (time.monotonic() < until):
        out.append(screen.press(keys[n % 2]))
        n += 1
        time.sleep(gap)
    return out


def trivial_reference(session: str, python: str, count: int = 60) -> list[float | None]:
    """Key latency of a trivial Textual list in the same terminal, same way."""
    screen = Screen(session, [python, "-m", "bench.trivial_app"])
    try:
        if not screen.wait_for("item 5"):
            return []
        screen.send("j")
        time.sleep(0.5)
        if not screen.learn("j"):
            return []
        return presses(screen, count, keys=("k", "j"))
    finally:
        screen.close()
