"""Styles that follow the console's theme: `$text-warning`, `$error`... as the theme colours them.

Widgets that draw Rich `Text` (the mention, the top bar) name colours by role
here, as the CSS does, instead of by name: a light theme never gets white or
pale orange text (the `$text-*` roles are the theme's readable text colours)
and an ANSI theme keeps the terminal's own 16 colours. `$auto` is black or
white, whichever reads on the background given. Words and glyphs carry every
state and tag; colour only repeats them (NO_COLOR drops it, nothing is lost).
"""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style
from textual.app import App
from textual.color import Color, ColorParseError

_variables: dict[tuple[str, bool], dict[str, str]] = {}


def paint(style: str, app: App) -> Style:
    """`style` (Rich syntax) with each `$role` replaced by the app's theme colour for it."""
    key = (app.theme, app.native_ansi_color)
    variables = _variables.get(key)
    if variables is None:
        variables = _variables[key] = app.get_css_variables()
    return _paint(style, key)


@lru_cache(maxsize=1024)
def _paint(style: str, key: tuple[str, bool]) -> Style:
    by_role = _variables[key]
    words = style.split()
    background = None
    if "on" in words[:-1]:
        background = _colour(by_role, words[words.index("on") + 1])
    out = []
    for word in words:
        if word == "$auto":
            word = _auto(background)
        elif word.startswith("$"):
            word = _rich_name(_colour(by_role, word))
        out.append(word)
    return Style.parse(" ".join(word for word in out if word))


def _colour(by_role: dict[str, str], word: str) -> Color | None:
    value = by_role.get(word[1:]) if word.startswith("$") else word
    try:
        return Color.parse(value) if value else None
    except ColorParseError:
        return None


def _rich_name(colour: Color | None) -> str:
    return colour.rich_color.name if colour is not None else "default"


def _auto(background: Color | None) -> str:
    if background is None or background.ansi is not None:
        return "default"  # the terminal's own colours: its foreground reads on them
    return _rich_name(background.get_contrast_text(alpha=1.0))
