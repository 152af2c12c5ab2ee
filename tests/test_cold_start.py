"""Cold start (#11): what the console loads and runs before its first painted rows.

Every module imported at start and every collector pass is CPU on the way to the first rows
(0.4 s at 1M, 0.5 s at 5M). These tests name what must wait for its first use.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap

from store.db import open_store
from store.ingest import save_batch
from tests.conftest import new_mention
from tests.tui_support import screen_text, wait_until
from tui import startup
from tui.app import ConsoleApp
from tui.cli import build_parser, console_only, main

# Loaded by their first use, never by a start: dialogs and help (a key), reply counting (typing a reply),
# the TOML reader (a config file), rules and indexing (a console that leads ingest), network libraries.
NOT_AT_START = (
    "regex", "tomllib", "tomli_w", "secrets", "webbrowser", "statistics",
    "aiohttp", "rapidfuzz", "psycopg", "sqlite_utils", "plotext", "hypothesis",
    "store.ingest", "store.triage", "store.rules_file", "store.search_index", "adapters.bluesky.records",
    "adapters.runtime.leader", "tui.screens.dialogs", "tui.screens.help", "tui.screens.reply_picker",
    "tui.screens.saved_replies", "tui.screens.snooze_dialog", "tui.screens.reports", "tui.screens.flood",
)

# In a child process (sys.modules here holds every test's imports): the command line's parsing and
# settings, as `mentiondesk` runs them, then the console headless until its rows and counts are shown.
_PROBE = textwrap.dedent("""
    import asyncio, json, sys
    from tui.cli import _cli_values, build_parser
    from tui.settings import build_settings

    args = build_parser().parse_args(["--db", sys.argv[1], "--no-demo", "--config", sys.argv[2]])
    build_settings(_cli_values(args))
    from tui.app import ConsoleApp

    async def first_paint():
        app = ConsoleApp(sys.argv[1], operator="ana")
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(400):
                screen = app.screen
                if getattr(screen, "status", None) is not None and screen.status.counts and screen.inbox.ids:
                    break
                await pilot.pause()
            else:
                raise SystemExit("the console never listed its mentions")
            print(json.dumps(sorted(sys.modules)))

    asyncio.run(first_paint())
""")


def test_a_console_start_leaves_what_its_first_paint_does_not_need_unimported(db_path, tmp_path):
    store = open_store(db_path)
    save_batch(store, "demo:@brand", [new_mention() for _ in range(3)], None)
    store.close()
    result = subprocess.run([sys.executable, "-c", _PROBE, str(db_path), str(tmp_path / "none.toml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "tui.screens.main" in loaded, "the probe did not reach the console"
    assert sorted(loaded & set(NOT_AT_START)) == [], sorted(loaded & set(NOT_AT_START))


async def test_the_collector_held_for_the_start_resumes_once_the_rows_are_painted(db_path):
    store = open_store(db_path)
    save_batch(store, "demo:@brand", [new_mention()], None)
    store.close()
    app = ConsoleApp(str(db_path), operator="ana")
    startup.hold()
    try:
        assert not gc.isenabled()
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: gc.isenabled())
            assert "hello brand" in screen_text(app), "enabled once the first rows were painted"
            assert gc.get_freeze_count() > 0, "what start-up built stays out of later passes"
    finally:
        startup.resume()
        gc.unfreeze()
        gc.enable()


def test_a_command_other_than_the_console_turns_the_collector_back_on(db_path, tmp_path, capsys):
    startup.hold()
    try:
        assert not gc.isenabled()
        assert main(["--db", str(db_path), "--config", str(tmp_path / "none.toml"), "config"]) == 0
        assert gc.isenabled()
    finally:
        startup.resume()
        gc.enable()


def test_python_m_tui_holds_the_collector_until_the_console_paints():
    """`python -m tui` and the `mentiondesk` script both go through tui.launch, which holds it first."""
    probe = ("import gc, sys; import tui.launch as launch; import tui.cli as cli; "
             "cli.main = lambda: print(gc.isenabled()) or 0; sys.exit(launch.main())")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stdout + result.stderr


CONSOLE_LINES: tuple[list[str], ...] = (
    [], ["--no-demo"], ["--db", "x.db", "--operator", "bo"], ["--db=x.db", "--demo-rate", "12"],
    ["--demo-flood", "--config", "c.toml", "--demo"], ["--db", "search"], ["--demo-rate", "2.5"])
COMMAND_LINES = (["search", "refund"], ["--db", "x.db", "views", "list"], ["--help"], ["--version"], ["--db"],
                 ["--no-demo", "--"], ["--oper", "bo"], ["--db", "x.db", "web"])


def test_a_console_command_line_is_read_without_building_the_commands_parsers():
    """Forty subcommand parsers cost every console start 5-7 ms; a line with none reads the same without them."""
    for line in CONSOLE_LINES:
        assert console_only(line), line
        assert build_parser(commands=False).parse_args(line) == build_parser().parse_args(line), line
    for line in COMMAND_LINES:
        assert not console_only(line), line


def test_every_console_option_is_known_to_the_shortcut():
    """An option added to the console's parser and not to console_only would send its lines the slow way."""
    for action in build_parser(commands=False)._actions:
        if action.dest in ("help", "version"):
            continue
        for option in action.option_strings:
            line = [option] if action.nargs == 0 else [option, "1"]
            assert console_only(line), option


COMMAND_PARSER_MODULES = ("tui.cli_views", "tui.cli_sla", "tui.cli_demo", "tui.cli_kit_args", "tui.cli_answer",
                          "tui.web.cli_args")


def test_the_console_start_builds_no_command_parser():
    probe = ("import sys; from tui.cli import build_parser, console_only; line = ['--db', 'x.db', '--no-demo']; "
             "build_parser(commands=not console_only(line)).parse_args(line); "
             f"print(sorted(m for m in sys.modules if m in {COMMAND_PARSER_MODULES!r}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
