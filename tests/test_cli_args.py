"""Every number and duration the command line takes, --version, and where the demo's data goes."""

from __future__ import annotations

import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from store.db import open_store
from tests.procs import clean_env, query, wait_for
from tests.support import assert_one_line_refusal

HUGE = "99999999999999999999999"
BOTH_BACKENDS = True  # tests/conftest.py: the tests taking `desk_db` also run on PostgreSQL


def mentiondesk(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True, encoding="utf-8",
                          env=clean_env(home, MENTIONDESK_OPERATOR="tester", **env), cwd=home, timeout=60)


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("args")
    open_store(home / "desk.db").close()
    return home


@pytest.mark.parametrize("args", [
    ["tag", HUGE, "care"], ["tag", "-1", "care"], ["tag", "0", "care"], ["tag", "9223372036854775808", "care"],
    ["tag", "١٢", "care"], ["done", HUGE], ["done", HUGE, "--reopen"], ["note", HUGE, "hi"], ["assign", HUGE, "bo"],
    ["reply", HUGE, "hi"], ["search", "x", "--limit", HUGE], ["search", "x", "--limit", "0"],
    ["--demo-rate", "inf"], ["--demo-rate", "nan"], ["--demo-rate", "1e400"], ["--demo-rate", "-3"],
    ["handover", "--since", "3000000d"], ["handover", "--since", f"{HUGE}m"], ["handover", "--since", "9" * 5000 + "h"],
    ["handover", "--since", "0001-01-01T00:00+14:00"], ["handover", "--since", "soon"],
])
def test_every_number_and_duration_out_of_range_gets_one_line(desk, args):
    result = mentiondesk(desk, *args, "--db", str(desk / "desk.db")) if args[0] != "--demo-rate" else \
        mentiondesk(desk, *args, "serve", "--db", str(desk / "desk.db"))
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("mentiondesk") and len(line) < 300, line


def test_the_largest_mention_id_is_an_ordinary_not_found(tmp_path, desk_db):
    for args in (["tag", "9223372036854775807", "care"], ["reply", "9223372036854775807", "hi"],
                 ["snooze", "9223372036854775807", "2h"]):
        result = mentiondesk(tmp_path, *args, "--db", str(desk_db))
        assert "no mention" in assert_one_line_refusal(result), args


def test_version(tmp_path):
    result = mentiondesk(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout == f"mentiondesk {version('mentiondesk')}\n"
    assert not list(tmp_path.glob("xdg-data/**/*.db")), "--version touches no database"


# -- the demo keeps its made-up mentions out of the real desk ------------------------------------------------

def run_demo_serve(home: Path, **env: str) -> str:
    """`mentiondesk serve` on the demo stream until some mentions are stored; its stderr."""
    err = home / "serve.err"
    with err.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "tui", "--demo-rate", "6000", "serve"], stdout=sink,
                                stderr=sink, env=clean_env(home, **env), cwd=home)
    try:
        data = home / "xdg-data" / "mentiondesk"
        target = Path(env["MENTIONDESK_DB"]) if "MENTIONDESK_DB" in env else data / "demo.db"
        wait_for(lambda: target.exists() and _count(target) > 0, timeout=30, what="demo mentions stored")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return err.read_text()


def _count(db: Path) -> int:
    try:
        return query(db, "SELECT count(*) FROM mentions")[0][0]
    except Exception:  # noqa: BLE001 - not migrated yet
        return 0


def test_the_demo_writes_its_own_file_beside_the_default_and_says_so(tmp_path):
    err = run_demo_serve(tmp_path)
    data = tmp_path / "xdg-data" / "mentiondesk"
    assert not (data / "mentiondesk.db").exists()
    notice = [line for line in err.splitlines() if "demo" in line]
    assert notice and str(data / "demo.db") in notice[0] and "Traceback" not in err


def test_a_chosen_database_takes_the_demo_as_asked(tmp_path):
    chosen = tmp_path / "chosen.db"
    err = run_demo_serve(tmp_path, MENTIONDESK_DB=str(chosen))
    assert _count(chosen) > 0
    assert not (tmp_path / "xdg-data" / "mentiondesk" / "demo.db").exists()
    assert "demo.db" not in err


@pytest.mark.parametrize("value", ['"fast"', "inf", "nan", "-1", "0", "1e400", "true"])
def test_a_demo_rate_out_of_range_in_the_config_is_one_line(tmp_path, value):
    config = tmp_path / "config.toml"
    config.write_text(f"demo_rate = {value}\n")
    result = mentiondesk(tmp_path, "serve", "--config", str(config), "--db", str(tmp_path / "desk.db"))
    assert "demo_rate" in assert_one_line_refusal(result)


async def test_the_console_on_the_demo_file_says_so_in_a_toast(tmp_path):
    from tui.cli import console_app, demo_notice

    app = console_app(tmp_path / "demo.db", "tester", None, demo_notice(tmp_path / "demo.db"))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert [n.message for n in app._notifications] == [demo_notice(tmp_path / "demo.db")]


def test_the_command_line_reads_package_metadata_only_for_version():
    """Every console start builds the parser: importlib.metadata (10-25 ms) waits for --version."""
    probe = ("import sys; from tui.cli import build_parser; build_parser().parse_args(['--no-demo']); "
             "print('importlib.metadata' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stdout + result.stderr
