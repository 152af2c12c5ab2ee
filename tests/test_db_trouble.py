"""Database errors in the console: a banner naming the file and the fix, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from store.db import StoreError
from tests.procs import clean_env, permission_runner
from tests.tui_support import frozen_clock, screen_text, seed, wait_until
from tui.app import ConsoleApp
from tui.dbtrouble import describe
from tui.screens.main import MainScreen
from tui.widgets.mention_view import MentionView

NOBODY, DESK_GROUP = 65534, 4242


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path)
    return path


def tags(db_path) -> list:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT mention_id, tag FROM tags").fetchall()
    finally:
        conn.close()


def banner(screen) -> str:
    widget = screen.query_one("#banner")
    return str(widget.render()) if widget.display else ""


async def test_a_read_only_desk_keeps_browsing_and_searching_and_refuses_writes_in_one_line(db_path):
    app = ConsoleApp(db_path, operator="bob", clock=frozen_clock)
    # The console's own connection may read but not write, as with a 0644 -wal left by another user.
    await app.shift.store.run(lambda store: store.conn.execute("PRAGMA query_only = ON"))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(MentionView)
                         and app.screen.query_one(MentionView).detail is not None)
        screen = app.screen
        await wait_until(pilot, lambda: "read-only" in banner(screen))  # marking it seen was refused
        assert db_path in banner(screen)
        assert "Traceback" not in screen_text(app)
        first = screen.inbox.selected_id
        await pilot.press("j")
        view = screen.query_one(MentionView)
        await wait_until(pilot, lambda: view.detail is not None and view.detail.row.id != first)
        assert view.detail.row.id == screen.inbox.selected_id  # navigation still works
        await pilot.press("c")
        await wait_until(pilot, lambda: any("Not saved" in n.message for n in app._notifications))
        assert tags(db_path) == []
        await pilot.press("slash", *"refund")
        await wait_until(pilot, lambda: screen.searching and 0 < len(screen.inbox.ids) < 31)
        assert app.is_running


async def test_a_database_error_in_a_worker_goes_to_the_banner_not_a_traceback(db_path, monkeypatch):
    import store.handover

    def broken(*_args, **_kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store.handover, "handover_report", broken)  # where the shift finds it, when first asked
    app = ConsoleApp(db_path, operator="bob", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and len(app.screen.inbox.ids) > 0)
        screen = app.screen
        await pilot.press("H")
        await wait_until(pilot, lambda: "disk I/O error" in banner(screen))
        await pilot.press("j")
        assert app.is_running and app.return_code is None


def test_the_stores_own_diagnosis_is_shown_as_it_is(tmp_path):
    error = StoreError(f"cannot open database -wal file {tmp_path}/d.db-wal for writing: permission denied; "
                       f"fix: chmod g+rw {tmp_path}/d.db-wal")
    assert describe(error, tmp_path / "d.db") == str(error)


def test_other_database_errors_say_what_failed_and_where(tmp_path):
    line = describe(sqlite3.OperationalError("disk I/O error"), tmp_path / "x.db")
    assert line == f"database error: disk I/O error — {tmp_path / 'x.db'}"


def test_a_console_whose_wal_is_not_group_writable_gets_the_banner_not_a_traceback(tmp_path):
    """The issue's case for real: another Unix user in the desk's group, a 0660 database, a 0644 -wal.
    The console opens it read-only: it browses, and the banner names the file and the fix."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as a second Unix user")
    runner = permission_runner()
    if runner is None:
        pytest.skip("no interpreter the unprivileged user can run")
    desk = Path(tempfile.mkdtemp(prefix="mentiondesk-ro-"))
    try:
        db = desk / "desk.db"
        seed(str(db), 8, hostile=False)
        holder = sqlite3.connect(db)  # the first operator's console: keeps -wal/-shm in place
        holder.execute("SELECT count(*) FROM mentions").fetchone()
        for path, mode in ((desk, 0o2770), (db, 0o660), (Path(f"{db}-wal"), 0o644), (Path(f"{db}-shm"), 0o644)):
            os.chown(path, 0, DESK_GROUP)
            os.chmod(path, mode)
        env = clean_env(desk, PYTHONPATH=runner.path, PYTHONDONTWRITEBYTECODE="1", HOME=str(desk))
        result = subprocess.run([runner.python, "-m", "tests.procs", "console-read-only", str(db)],
                                capture_output=True, text=True, env=env, cwd=desk, timeout=60,
                                user=NOBODY, group=NOBODY, extra_groups=[DESK_GROUP])
        holder.close()
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout)
        assert report["running"]
        assert report["rows"] == 8, "the desk is browsed read-only"
        assert f"{db}-wal" in report["banner"] and f"chmod g+rw {db}-wal" in report["banner"], report["banner"]
        assert tags(str(db)) == []
    finally:
        shutil.rmtree(desk, ignore_errors=True)
