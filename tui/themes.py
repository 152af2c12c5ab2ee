"""The console's theme: the config's `theme`, unless the operator picked another in the palette.

The palette's choice is remembered for the operator on the desk (so it
follows them to any console and host); picking the configured theme again
forgets it. Colour is never the only sign of anything (glyphs and words
carry state and tags), so every theme, 16 colours and NO_COLOR stay readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.theme import Theme

from tui.dbtrouble import DATABASE_ERRORS

if TYPE_CHECKING:
    from tui.app import ConsoleApp

DEFAULT_THEME = "textual-dark"
PREFERENCE = "theme"


class ThemeMemory:
    def __init__(self, app: ConsoleApp, configured: str | None) -> None:
        self._app = app
        self._configured = configured or DEFAULT_THEME
        self._shown = self._configured

    async def start(self) -> None:
        """Apply the operator's remembered theme, then remember what they pick in the palette."""
        app = self._app
        try:
            remembered = await app.shift.preference(PREFERENCE)
        except DATABASE_ERRORS:
            remembered = None  # the configured theme then; the banner says what is wrong with the desk
        if remembered in app.available_themes and remembered != app.theme:
            self._shown = remembered
            app.theme = remembered
        app.theme_changed_signal.subscribe(app, self._changed)

    def _changed(self, theme: Theme) -> None:
        if theme.name == self._shown:
            return  # the one this console applied
        self._shown = theme.name
        value = None if theme.name == self._configured else theme.name
        self._app.run_worker(self._remember(value), group="theme", exclusive=True)

    async def _remember(self, value: str | None) -> None:
        try:
            await self._app.shift.set_preference(PREFERENCE, value)
        except DATABASE_ERRORS:
            self._app.notify("Theme not remembered: the desk is read-only or unreachable.", severity="warning")
