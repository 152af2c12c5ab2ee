"""One action table: a keymap remaps any action by id; a bad keymap is one line before start."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from store.db import open_store
from tests.procs import clean_env
from tests.support import assert_one_line_refusal
from tests.tui_support import console_ready, frozen_clock, screen_text, seed, wait_until
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
    bound = [b.id for scope in ("app", "main", "inbox", "composer") for b in bindings(scope)]
    assert sorted(bound) == sorted(ids)
    assert resolve_keymap(None)["help"] == "question_mark"  # defaults alone never clash


def write_config(tmp_path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


async def test_a_keymap_in_the_config_file_remaps_a_key_in_the_console(db_path, tmp_path):
    from tui.cli import console_app
    from tui.settings import build_settings

    config = write_config(tmp_path, '[keymap]\ntag-care = "t"\n')
    settings = build_settings({"config": config, "db": db_path, "operator": "alice"}, environ={})
    app = console_app(db_path, "alice", None, None, keymap=settings.keymap)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("c")
        await pilot.press("t")
        await wait_until(pilot, lambda: tag_count(db_path) == 1)
    assert tag_count(db_path) == 1  # t tagged it; c, pressed first, did nothing (else t untagged it)


def test_an_unknown_action_in_the_config_file_is_one_line_before_the_console_starts(db_path, tmp_path):
    config = write_config(tmp_path, '[keymap]\ntag-kare = "t"\n')
    result = subprocess.run([sys.executable, "-m", "tui", "--config", config, "--db", db_path, "--operator", "alice"],
                            capture_output=True, text=True, env=clean_env(tmp_path), timeout=60)
    line = assert_one_line_refusal(result)
    assert config in line and "unknown action 'tag-kare'" in line and "tag-care" in line
