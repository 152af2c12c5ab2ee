"""A PostgreSQL desk shared by roles: `desk init URL --group ROLE`, a SELECT-only role browsing
read-only (CLI and console), and the leader's upkeep, on a real server (tests/pg_support.py)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator

import pytest

from store.actions import set_tag
from store.db import NotWritable, StoreError, open_for_reading, open_store
from store.maintenance import Housekeeping, housekeep
from tests.pg_support import ROLE
from tests.procs import clean_env
from tests.support import assert_one_line_refusal
from tests.tui_support import frozen_clock, screen_text, seed, wait_until

pytestmark = pytest.mark.postgresql

_SUFFIX = f"{os.getpid()}"
GROUP, OPERATOR, VIEWER = f"md_desk_{_SUFFIX}", f"md_ana_{_SUFFIX}", f"md_viewer_{_SUFFIX}"


def admin(url: str, *statements: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows: list[tuple] = []
        for statement in statements:
            cursor = conn.execute(statement)
            rows = cursor.fetchall() if cursor.description else []
        return rows


def as_role(url: str, role: str) -> str:
    return url.replace(f"//{ROLE}@", f"//{role}@", 1)


def md(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True, timeout=60,
                          env=clean_env(tmp_path, MENTIONDESK_OPERATOR="ana"), cwd=tmp_path)


@pytest.fixture
def roles(pg_server) -> Iterator[None]:
    """Roles exist per server, not per database: made for the test, dropped with what they own after."""
    names = (GROUP, OPERATOR, VIEWER)
    admin(pg_server.url(), f"CREATE ROLE {GROUP} NOLOGIN", f"CREATE ROLE {OPERATOR} LOGIN",
          f"CREATE ROLE {VIEWER} LOGIN")
    yield
    import psycopg

    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        databases = [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'desk_%'")]
    for database in databases:
        admin(pg_server.url(database), *(f"REASSIGN OWNED BY {name} TO {ROLE}" for name in names),
              *(f"DROP OWNED BY {name}" for name in names))
    admin(pg_server.url(), *(f"DROP ROLE {name}" for name in names))


@pytest.fixture
def fresh_desk(pg_server, roles) -> Iterator[str]:
    url = pg_server.fresh_database()
    yield url
    pg_server.drop_database(url)


def test_desk_init_gives_the_desk_to_a_role_whose_members_write_it(tmp_path, fresh_desk):
    made = md(tmp_path, "desk", "init", fresh_desk, "--group", GROUP)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert lines[0].startswith("desk ready: ") and f"role {GROUP}" in lines[0]
    assert f"GRANT {GROUP} TO name" in lines[1] and len(lines) == 2
    owners = admin(fresh_desk, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
    assert owners == [(GROUP,)]
    routines = admin(fresh_desk, "SELECT DISTINCT proowner::regrole::text FROM pg_proc p WHERE pronamespace = "
                                 "'public'::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_depend d "
                                 "WHERE d.objid = p.oid AND d.deptype = 'e')")
    assert routines == [(GROUP,)]

    operator = as_role(fresh_desk, OPERATOR)
    with pytest.raises(StoreError, match="permission denied"):  # not yet a member: it may not even read
        open_store(operator).close()
    admin(fresh_desk, f"GRANT {GROUP} TO {OPERATOR}")
    seed(operator, count=3, hostile=False)
    store = open_store(operator)
    try:
        set_tag(store, 1, "care", True, "ana")
        assert store.conn.execute("SELECT mention_id, tag, operator FROM tags").fetchall() == [(1, "care", "ana")]
        # A newer mentiondesk run by a member migrates as the desk's role: what it makes is the group's too.
        with store.write():
            from store.pg_schema import _as_owner

            _as_owner(store.conn.raw)
            assert store.conn.execute("SELECT current_user").fetchone() == (GROUP,)
    finally:
        store.close()

    again = md(tmp_path, "desk", "init", fresh_desk, "--group", GROUP)  # already the group's: nothing to do
    assert again.returncode == 0, again.stderr


def test_desk_init_without_the_role_says_how_to_make_it(tmp_path, fresh_desk):
    line = assert_one_line_refusal(md(tmp_path, "desk", "init", fresh_desk, "--group", "md_no_such_role"))
    assert "CREATE ROLE md_no_such_role NOLOGIN" in line


@pytest.fixture
def viewer(pg_desk, roles) -> str:
    """A login role granted only SELECT on a seeded desk: its URL."""
    seed(pg_desk, count=8, hostile=False)
    admin(pg_desk, f"GRANT USAGE ON SCHEMA public TO {VIEWER}",
          f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {VIEWER}")
    return as_role(pg_desk, VIEWER)


def test_a_select_only_role_reads_the_desk_and_is_told_why_it_cannot_write(tmp_path, viewer, pg_desk):
    with pytest.raises(NotWritable) as refused:
        open_store(viewer)
    assert f"role {VIEWER} may only read" in str(refused.value) and f"GRANT {ROLE} TO {VIEWER}" in str(refused.value)
    store = open_for_reading(viewer)
    try:
        assert store.conn.execute("SELECT count(*) FROM mentions").fetchone() == (8,)
        with pytest.raises(sqlite3.Error, match="read-only"):
            set_tag(store, 1, "care", True, "viewer")
    finally:
        store.close()

    found = md(tmp_path, "search", "refund", "--db", viewer)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() and found.stderr.startswith(f"mentiondesk: read-only: role {VIEWER} may only read")
    line = assert_one_line_refusal(md(tmp_path, "tag", "1", "care", "--db", viewer))
    assert f"role {VIEWER} may only read" in line
    assert admin(pg_desk, "SELECT count(*) FROM tags") == [(0,)]


async def test_a_console_on_a_select_only_role_browses_with_the_banner_and_refuses_writes(viewer, pg_desk):
    from tui.app import ConsoleApp
    from tui.screens.main import MainScreen
    from tui.widgets.mention_view import MentionView

    app = ConsoleApp(viewer, operator="viewer", clock=frozen_clock)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(MentionView)
                         and len(app.screen.inbox.ids) == 8)
        screen = app.screen
        banner = screen.query_one("#banner")
        await wait_until(pilot, lambda: banner.display and "may only read" in str(banner.render()))
        await pilot.press("j", "c")
        await wait_until(pilot, lambda: any("Not saved" in n.message for n in app._notifications))
        await pilot.press("slash", *"refund")
        await wait_until(pilot, lambda: screen.searching and 0 < len(screen.inbox.ids) <= 8)
        assert "Traceback" not in screen_text(app) and app.is_running
    assert admin(pg_desk, "SELECT count(*) FROM tags") == [(0,)]
    assert app.shift.store.read_only_reason is not None


def test_the_leaders_upkeep_is_postgresqls_own(pg_desk):
    """No WAL or FTS5 segments to keep small: PostgreSQL's autovacuum and checkpointer do it."""
    store = open_store(pg_desk)
    try:
        assert housekeep(store, max_steps=50, wal_limit=0) == Housekeeping(0, 0, None)
    finally:
        store.close()


def test_a_bulk_import_leaves_postgresqls_statistics_fresh(pg_server, monkeypatch):
    """`import` (like `migrate`) runs VACUUM ANALYZE after a big load, not leaving it to autovacuum."""
    import json

    from store import importing
    from tests.conftest import new_mention

    monkeypatch.setattr(importing, "BULK_ROWS", 50)
    pg_desk = pg_server.fresh_database()  # its own: the session's reused desk keeps earlier tests' statistics
    lines = [json.dumps({field: getattr(m, field) for field in ("network", "remote_id", "author_handle", "text",
                                                               "created_at")})
             for m in (new_mention() for _ in range(60))]
    store = open_store(pg_desk)
    try:
        assert importing.import_lines(store, lines[:10], "ana").imported == 10  # small: left to autovacuum
        assert admin(pg_desk, "SELECT last_vacuum, last_analyze FROM pg_stat_user_tables "
                              "WHERE relname = 'mentions'") == [(None, None)]
        assert importing.import_lines(store, lines[10:], "ana").imported == 50
        [(vacuumed, analyzed)] = admin(pg_desk, "SELECT last_vacuum, last_analyze FROM pg_stat_user_tables "
                                                "WHERE relname = 'mentions'")
        assert vacuumed is not None and analyzed is not None
    finally:
        store.close()
        pg_server.drop_database(pg_desk)
