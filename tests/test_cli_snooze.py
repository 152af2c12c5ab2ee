"""`mentiondesk snooze` and `unsnooze`: the store's snooze, from scripts."""

from __future__ import annotations

from store.db import open_store
from store.inbox import view_ids
from tests.tui_support import seed
from tui.cli import main

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


def test_snooze_and_unsnooze_from_the_command_line(desk_db, capsys):
    db = desk_db
    seed(str(db), 3, hostile=False)
    assert main(["snooze", "1", "2", "2h", "--db", str(db), "--operator", "ana"]) == 0
    out = capsys.readouterr().out
    assert out.count("snoozed until") == 2
    store = open_store(db)
    try:
        assert list(view_ids(store, "open")) == [3]
        assert sorted(view_ids(store, "snoozed")) == [1, 2]
    finally:
        store.close()
    assert main(["unsnooze", "1", "3", "--db", str(db), "--operator", "bo"]) == 0
    assert capsys.readouterr().out == "#1 awake\n#3 awake (was not snoozed)\n"
    store = open_store(db)
    try:
        assert store.conn.execute("SELECT operator, action, mention_id FROM events ORDER BY id").fetchall() == [
            ("ana", "snooze", 1), ("ana", "snooze", 2), ("bo", "unsnooze", 1)]
    finally:
        store.close()


def test_a_bad_time_or_id_is_one_line(desk_db, capsys):
    db = desk_db
    seed(str(db), 1, hostile=False)
    assert main(["snooze", "1", "someday", "--db", str(db)]) == 2
    assert main(["snooze", "99", "2h", "--db", str(db)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("mentiondesk: cannot read 'someday' as a time")
    assert err[1] == "mentiondesk: no mention with id 99"
