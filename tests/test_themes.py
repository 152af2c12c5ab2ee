"""Themes and colour: the config's theme, the palette's choice remembered, 16 colours, NO_COLOR.

Colour is never the only sign: every state has a glyph, every tag a word.
"""

from __future__ import annotations

import pytest
from rich.color import Color as RichColor
from textual.app import App
from textual.color import Color
from textual.theme import BUILTIN_THEMES

from store.db import open_store
from store.preferences import preference, set_preference
from tests.test_snapshots import settled
from tests.tui_support import console_ready, frozen_clock, seed, wait_until
from tui.app import ConsoleApp
from tui.colours import paint
from tui.render import STATE_COLOR, STATE_GLYPH, TAG_BADGE


def triaged_desk(path: str) -> str:
    seed(path, count=24)
    store = open_store(path, clock=frozen_clock)
    conn = store.conn
    conn.execute("INSERT INTO tags VALUES (25, 'care', 'ann', '2026-11-26T11:00:00Z'), "
                 "(24, 'marketing', 'ann', '2026-11-26T11:00:00Z'), (23, 'care', 'ann', '2026-11-26T11:00:00Z')")
    conn.execute("UPDATE mentions SET status = 'done' WHERE id = 22")
    conn.execute("UPDATE mentions SET seen = 0 WHERE id = 21")  # new to everyone: ●
    store.close()
    return path


@pytest.fixture
def db_path(tmp_path):
    return triaged_desk(str(tmp_path / "desk.db"))


# -- styles by role -------------------------------------------------------------------
@pytest.mark.parametrize("name", list(BUILTIN_THEMES))
def test_every_role_style_resolves_in_every_theme(name):
    app = App()
    app.theme = name
    for style in [*STATE_COLOR.values(), *(badge for _label, badge in TAG_BADGE.values())]:
        assert "$" not in str(paint(style, app))
    for _label, badge in TAG_BADGE.values():
        style = paint(badge, app)
        assert style.bgcolor is not None and style.bgcolor != style.color  # a badge always stands out
        if not BUILTIN_THEMES[name].name.startswith("ansi"):
            assert style.color is not None and contrast(style.color, style.bgcolor) >= 3.0, style
    new = paint(STATE_COLOR["new"], app).color
    if new is not None and not name.startswith("ansi"):  # readable on the theme's background
        assert contrast(new, Color.parse(app.get_css_variables()["background"]).rich_color) >= 3.0


def contrast(one: RichColor, other: RichColor) -> float:
    """WCAG contrast ratio of two colours."""
    def luminance(colour: RichColor) -> float:
        red, green, blue = (channel / 255 for channel in colour.get_truecolor())
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_states_and_tags_carry_a_glyph_or_word():
    assert len(set(STATE_GLYPH.values())) == len(STATE_GLYPH)  # one glyph per state
    assert {label for label, _style in TAG_BADGE.values()} == {"CARE", "MKT"}
    assert "white" not in " ".join(STATE_COLOR.values())  # unreadable on a light theme


# -- the configured theme and the palette's choice ---------------------------------------
async def test_the_config_theme_applies_and_a_palette_choice_is_remembered(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, theme="nord")
    async with app.run_test(size=(80, 24)) as pilot:
        await console_ready(pilot)
        assert app.theme == "nord"
        app.theme = "gruvbox"  # what the palette's Theme command does
        await wait_until(pilot, lambda: stored(db_path, "alice") == "gruvbox")
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, theme="nord")
    async with app.run_test(size=(80, 24)) as pilot:
        await console_ready(pilot)
        await wait_until(pilot, lambda: app.theme == "gruvbox")  # remembered over the config's
        app.theme = "nord"  # back to the configured one: nothing to remember
        await wait_until(pilot, lambda: stored(db_path, "alice") is None)
    app = ConsoleApp(db_path, operator="bob", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:  # alice's choice is hers
        await console_ready(pilot)
        await pilot.pause()
        assert app.theme == "textual-dark" and stored(db_path, "bob") is None


async def test_a_remembered_theme_this_textual_lacks_is_ignored(db_path):
    store = open_store(db_path)
    set_preference(store, "alice", "theme", "no-such-theme")
    store.close()
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, theme="dracula")
    async with app.run_test(size=(80, 24)) as pilot:
        await console_ready(pilot)
        await app.workers.wait_for_complete()
        assert app.theme == "dracula"


def stored(db_path, operator):
    store = open_store(db_path)
    try:
        return preference(store, operator, "theme")
    finally:
        store.close()


# -- snapshots: a non-default theme and NO_COLOR, at 80x24 -------------------------------
def test_main_80x24_light_theme(db_path, snap_compare):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, theme="textual-light")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled)


def test_main_80x24_no_color(db_path, snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled)


def test_the_config_file_theme_reaches_the_console(db_path, tmp_path, monkeypatch):
    from tui import cli, terminal

    config = tmp_path / "config.toml"
    config.write_text('theme = "solarized-light"\ndemo = false\n', encoding="utf-8")
    started: list[str] = []
    monkeypatch.setattr(terminal, "has_terminal", lambda: True)
    monkeypatch.setattr(ConsoleApp, "run", lambda app: started.append(app.theme))
    assert cli.main(["--config", str(config), "--db", db_path, "--operator", "alice"]) == 0
    assert started == ["solarized-light"]


@pytest.mark.parametrize(("no_color", "theme", "reversed_"), [
    (True, "ansi-dark", True), (False, "ansi-dark", False), (True, "textual-dark", False)])
async def test_the_selected_row_shows_without_colour(db_path, monkeypatch, no_color, theme, reversed_):
    # NO_COLOR with a terminal-colour theme drops backgrounds: the cursor row must still stand out.
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, theme=theme)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await console_ready(pilot)
        await wait_until(pilot, lambda: screen.mention.detail is not None)
        cursor = screen.inbox.get_component_rich_style("inbox--cursor")
        assert bool(cursor.reverse) is reversed_
        assert reversed_ or cursor.bgcolor is not None  # otherwise its background marks it
