"""One action table: a keymap remaps any action by id; a bad keymap is one line before start."""

from __future__ import annotations

import re

import pytest

from store.db import open_store
from tests.tui_support import frozen_clock, screen_text, seed, wait_until, console_ready
from tui.actions import ACTIONS, KeymapError, bindings, resolve_keymap
from tui.app import ConsoleApp
from tui.screens.help import HelpScreen


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path)
    return path


def tag_count(db_path: str) -> int:
    store = open_store(db_path)
    try:
        return store.conn.execute("SELECT count(*) FROM tags WHERE tag = 'care'").fetchone()[0]
    finally:
        store.close()


ready = console_ready


async def test_remapped_key_runs_the_action_and_the_old_key_does_not(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, keymap={"tag-care": "t", "down": "J"})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        first = screen.inbox.selected_id
        await pilot.press("c", "j")  # the old keys are free now: nothing happens
        await pilot.press("J")
        await wait_until(pilot, lambda: screen.inbox.selected_id != first)
        assert screen.inbox.selected_id == screen.inbox.ids[1]  # one move: J, not j
        assert tag_count(db_path) == 0
        await pilot.press("t")
        await wait_until(pilot, lambda: tag_count(db_path) == 1)
        assert "t Care" in screen_text(app)  # the footer shows the new key
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert re.search(r"│t +toggle the care tag", screen_text(app))
        palette = {c.title: c.help for c in app.get_system_commands(screen)}
        assert palette["Toggle care tag"].endswith("(t)")


@pytest.mark.parametrize("keymap, message", [
    ({"tag-kare": "t"}, "keymap: unknown action 'tag-kare'; actions are: down, up,"),
    ({"tag-care": "m"}, "keymap: key 'm' is bound to both 'tag-care' and 'tag-marketing'"),
    ({"reply": "x", "note": "x"}, "keymap: key 'x' is bound to both 'reply' and 'note'"),
    ({"help": "q"}, "keymap: key 'q' is bound to both 'help' and 'quit'"),
    ({"done": " , "}, "keymap: done = ' , ' names no key"),
])
def test_bad_keymap_is_one_line_before_start(keymap, message, db_path):
    with pytest.raises(KeymapError) as caught:
        ConsoleApp(db_path, operator="alice", clock=frozen_clock, keymap=keymap)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_every_action_has_an_id_a_description_and_one_binding():
    ids = [action.id for action in ACTIONS]
    assert len(ids) == len(set(ids))
    assert all(action.description and action.label for action in ACTIONS)
    bound = [b.id for scope in ("app", "main", "inbox") for b in bindings(scope)]
    assert sorted(bound) == sorted(ids)
    assert resolve_keymap(None)["help"] == "question_mark"  # defaults alone never clash
