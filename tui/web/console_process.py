"""One browser tab's console: textual-serve's AppService, started for one signed-in operator.

textual-serve starts `command` through a shell with the server's environment;
here the argument list is built by the server from the session (never from
the request) and started without a shell, so no character of a name can
become a shell word, and the operator is a command-line setting, which wins
over the environment and the config file (tui/settings.py).
"""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from textual_serve.app_service import AppService

MAX_CELLS = 1000  # columns or rows a browser may ask for; more is a mistake or an attack on memory


def console_argv(operator: str, db_path: Path | str, config_path: Path, console_options: Sequence[str]) -> list[str]:
    """The console's command line for `operator` on this desk (what `mentiondesk` would run)."""
    return [sys.executable, "-m", "tui", "--db", str(db_path), "--config", str(config_path),
            "--operator", operator, *console_options]


class ConsoleService(AppService):
    def __init__(self, argv: Sequence[str], environment: Mapping[str, str], **options) -> None:
        super().__init__(shlex.join(argv), **options)
        self._argv = list(argv)
        self._extra_environment = dict(environment)

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width=width, height=height)
        environment.update(self._extra_environment)
        return environment

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        self._process = process = await asyncio.create_subprocess_exec(
            *self._argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._build_environment(width=width, height=height))
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            # The console is gone (quit, refused to start, crashed): end the tab's websocket too, so the
            # page says so instead of showing a terminal nobody answers.
            await self.remote_close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None


def cells(value: object, default: int) -> int:
    """A terminal size from the browser, as a sane whole number."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default
    return min(max(number, 1), MAX_CELLS)
