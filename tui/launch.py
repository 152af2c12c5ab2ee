"""The `mentiondesk` command and `python -m tui`: the collector is held before anything is imported."""

from __future__ import annotations

from tui import startup


def main() -> int:
    startup.hold()
    from tui.cli import main as cli_main  # the console's imports: with the collector held (tui.startup)

    return cli_main()
