"""Counted views (store.view_counts) always equal a brute-force count of the views."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from store import actions, desk
from store.db import SCHEMA_VERSION, _statements, open_store
from store.importing import import_lines
from store.inbox import VIEWS
from store.ingest import insert_mentions, save_batch
from store.schema import MIGRATIONS, V2_VIEW_COUNTS
from store.view_counts import view_counts
from tests.tui_support import frozen_clock, mention

ROOT = Path(__file__).resolve().parent.parent
OPERATORS = ("alice", "bob")


def brute(store, operator: str) -> dict[str, int]:
    return {name: store.conn.execute(f"SELECT count(*) {spec.source}", {"operator": operator}).fetchone()[0]
            for name, spec in VIEWS.items()}


def assert_counts(store) -> None:
    for operator in (*OPERATORS, "nobody"):
        assert view_counts(store, operator) == brute(store, operator), operator


@pytest.fixture
def path(tmp_path) -> Path:
    target = tmp_path / "desk.db"
    store = open_store(target, clock=frozen_clock)
    save_batch(store, "demo:@brightloop", [mention(i) for i in range(1, 41)], None)
    for operator in OPERATORS:
        desk.register_operator(store, operator)
    store.close()
    return target


def mixed_writes(store, rng: random.Random, steps: int, operator: str) -> None:
    ids = [row[0] for row in store.conn.execute("SELECT id FROM mentions")]
    for _ in range(steps):
        mention_id = rng.choice(ids)
        move = rng.randrange(4)
        if move == 0:
            actions.toggle_tag(store, mention_id, rng.choice(("care", "marketing")), operator)
        elif move == 1:
            actions.toggle_done(store, mention_id, operator)
        else:
            desk.assign(store, mention_id, rng.choice((*OPERATORS, None)), operator, allow_new=True)


def test_counts_follow_tag_done_reopen_assign_and_import(path, tmp_path):
    store = open_store(path, clock=frozen_clock)
    other = open_store(path, clock=frozen_clock)  # a second connection writing the same desk
    try:
        assert_counts(store)
        first = store.conn.execute("SELECT min(id) FROM mentions").fetchone()[0]
        actions.toggle_tag(store, first, "care", "alice")
        actions.toggle_tag(other, first, "marketing", "bob")
        assert_counts(store)
        desk.assign(store, first, "bob", "alice")
        actions.toggle_done(other, first, "bob")  # done: leaves care, marketing, mine
        assert_counts(store)
        actions.toggle_done(store, first, "alice")  # reopened: back in all of them
        desk.assign(other, first, "alice", "bob")  # moved from bob's Mine to alice's
        assert_counts(store)
        actions.toggle_tag(store, first, "care", "alice")
        actions.toggle_tag(store, first, "marketing", "alice")  # untagged: untriaged again
        desk.assign(store, first, None, "alice")
        assert_counts(store)
        insert_mentions(other, [mention(100)], status="done")
        lines = [json.dumps({"network": "demo", "account": "@brightloop", "remote_id": f"imported:{i}",
                             "author_handle": "@imp", "author_name": "Imp", "text": f"imported {i}",
                             "created_at": "2026-01-01T00:00:00Z", "status": ("open", "done")[i % 2],
                             "tags": [["care"], ["marketing"], [], ["care", "marketing"]][i % 4]})
                 for i in range(30)]
        report = import_lines(other, lines, "importer")
        assert report.imported == 30
        assert_counts(store)
        rng = random.Random(7)
        for _ in range(3):
            mixed_writes(rng.choice((store, other)), rng, 60, rng.choice(OPERATORS))
            assert_counts(store)
    finally:
        store.close()
        other.close()


WRITER = """
import random, sys
sys.path.insert(0, {root!r})
from store.db import open_store
from tests.test_view_counts import mixed_writes
store = open_store({path!r})
mixed_writes(store, random.Random(int(sys.argv[1])), 150, sys.argv[2])
store.close()
"""


def test_counts_stay_right_with_two_processes_writing_at_once(path):
    code = WRITER.format(root=str(ROOT), path=str(path))
    children = [subprocess.Popen([sys.executable, "-c", code, str(seed), operator])
                for seed, operator in ((1, "alice"), (2, "bob"))]
    store = open_store(path, clock=frozen_clock)
    try:
        mixed_writes(store, random.Random(3), 150, "alice")  # while both children write
        assert [child.wait(timeout=120) for child in children] == [0, 0]
        assert_counts(store)
        assert store.conn.execute("SELECT count(*) FROM events").fetchone()[0] > 300  # they really wrote
    finally:
        store.close()


def test_migration_counts_an_existing_history(tmp_path):
    """A desk from before the counted views gets its counts from the mentions it holds."""
    target = tmp_path / "old.db"
    conn = sqlite3.connect(target, isolation_level=None)
    before = MIGRATIONS.index(V2_VIEW_COUNTS)
    for script in MIGRATIONS[:before]:
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {before}")
    conn.execute("INSERT INTO accounts (id, network, handle) VALUES (1, 'demo', '@brand')")
    conn.execute("INSERT INTO authors (id, network, handle) VALUES (1, 'demo', '@a')")
    conn.executemany("INSERT INTO mentions (id, network, remote_id, account_id, author_id, text, created_at, "
                     "received_at, status) VALUES (?, 'demo', ?, 1, 1, 'hi', 'x', 'x', ?)",
                     [(i, f"r{i}", ("open", "open", "done")[i % 3]) for i in range(1, 31)])
    conn.executemany("INSERT INTO tags (mention_id, tag, operator, at) VALUES (?, ?, 'x', 'x')",
                     [(i, ("care", "marketing")[i % 2]) for i in range(1, 31, 4)] + [(5, "care")])
    conn.executemany("INSERT INTO assignments (mention_id, operator, by, at) VALUES (?, ?, 'x', 'x')",
                     [(i, OPERATORS[i % 2]) for i in range(1, 31, 5)])
    conn.close()
    store = open_store(target, clock=frozen_clock)
    try:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert_counts(store)
        assert view_counts(store, "alice")["mine"] > 0 and view_counts(store)["untriaged"] > 0
    finally:
        store.close()


def test_thread_indexes_skip_mentions_outside_a_thread(path):
    """The thread indexes hold only mentions with a parent or root (most have neither)."""
    store = open_store(path, clock=frozen_clock)
    try:
        save_batch(store, "demo:@brightloop", [mention(200, root_remote_id="demo:1", parent_remote_id="demo:1")],
                   None)
        for index in ("mentions_by_root", "mentions_by_parent"):
            assert store.conn.execute(f"SELECT count(*) FROM mentions INDEXED BY {index} "
                                      "WHERE network = 'demo' AND root_remote_id IS NOT NULL "
                                      "AND parent_remote_id IS NOT NULL").fetchone()[0] == 1
            stat = store.conn.execute("SELECT count(*) FROM dbstat WHERE name = ? AND pagetype = 'leaf'",
                                      (index,)).fetchone()[0]
            entries = store.conn.execute(f"SELECT count(*) FROM pragma_index_info('{index}')").fetchone()[0]
            assert (stat, entries) == (1, 2)
        sql = store.conn.execute("SELECT group_concat(sql, ' ') FROM sqlite_master WHERE name IN "
                                 "('mentions_by_root', 'mentions_by_parent')").fetchone()[0]
        assert sql.count("IS NOT NULL") == 2
    finally:
        store.close()
