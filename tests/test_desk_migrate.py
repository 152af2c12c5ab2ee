"""`mentiondesk migrate --to`: a SQLite desk into PostgreSQL and back, every table, counts checked."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from store.actions import mark_seen, queue_reply, set_status, set_tag
from store.db import open_store
from store.desk import add_note, assign, claim, leave_handover_note, register_operator
from store.desk_copy import REBUILT, copy_desk
from store.drafts import save_draft
from store.ingest import save_batch
from store.lease import acquire
from store.preferences import set_preference
from store.saved_replies import add_reply
from store.saved_views import save_view
from store.snooze import snooze
from store.undo import push
from tests.support import cli_in_process

pytestmark = pytest.mark.postgresql


def fill_desk(store, clock, make_mention) -> None:
    """A desk with rows in every table a shift writes."""
    ids = save_batch(store, "demo", [make_mention(text=f"refund please {n}") for n in range(6)], "cursor-6")
    set_tag(store, ids[0], "care", True, "ana")
    set_tag(store, ids[1], "marketing", True, "bo")
    set_status(store, ids[2], "done", "ana")
    queue_reply(store, ids[0], "we are on it", "ana")
    add_note(store, ids[1], "VIP", "bo")
    assign(store, ids[3], "bo", "ana")
    claim(store, ids[4], "ana")
    leave_handover_note(store, "watch the refund thread", "ana")
    add_reply(store, "Refund delay", "Hello {author}, sorry", "ana", lang="en", tags=["care"])
    save_view(store, "Refunds", "refund", "ana")
    save_draft(store, ids[5], "bo", "half a reply")
    snooze(store, [ids[4]], clock() + timedelta(hours=3), "ana")
    set_preference(store, "ana", "theme", "nord")
    push(store, "ana", "tag", "Tagged #1", {"ids": [ids[0]]})
    acquire(store, "console-1", 30)
    register_operator(store, "ana")
    mark_seen(store, ids[5], "bo")
    with store.write() as conn:
        conn.execute("INSERT INTO account_state (source, key, value, updated_at) VALUES ('x', 'k', 'v', 'now')")
        conn.execute("INSERT INTO source_status (source, state, updated_at) VALUES ('demo', 'ok', 'now')")
        conn.execute("INSERT INTO mention_groups (id, label, representative_id, created_at, updated_at, size) "
                     "VALUES (1, 'refund', ?, 'now', 'now', 2), (2, 'refunds', ?, 'now', 'now', 1)", (ids[0], ids[1]))
        # A group merged into a later one: the self-reference goes in after both rows exist.
        conn.execute("UPDATE mention_groups SET merged_into = 2 WHERE id = 1")
        conn.execute("INSERT INTO group_members (mention_id, group_id, score, at) VALUES (?, 2, 0.9, 'now')",
                     (ids[1],))
        conn.execute("INSERT INTO incidents (title, kind, started_at, detected_at, updated_at, baseline, peak, "
                     "group_id) VALUES ('Surge', 'topic', 'a', 'b', 'c', 1.5, 9.0, 2)")
        conn.execute("INSERT INTO group_answers (group_id, body, drafted_by, approve_over, key_base, created_at, "
                     "updated_at) VALUES (2, 'Sorry {author}', 'ana', 20, 1000, 'now', 'now')")
        conn.execute("INSERT INTO answer_skips (answer_id, mention_id, reason) VALUES (1, ?, 'missing')", (ids[2],))
        conn.execute("INSERT INTO sla_targets (kind, name, seconds) VALUES ('default', '', 3600)")


def table_rows(store, table: str) -> list[tuple]:
    return sorted(store.conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def test_a_desk_goes_to_postgresql_and_back_with_every_row(tmp_path, pg_desk, clock, make_mention, store):
    fill_desk(store, clock, make_mention)
    target = open_store(pg_desk, clock=clock)
    report = copy_desk(store, target)
    assert report.equal and report.indexed == 6
    copied = {count.table: count.source for count in report.counts}
    assert not REBUILT & set(copied)
    assert [table for table, count in copied.items() if count == 0] == [], "fill_desk fills every table"
    back = open_store(tmp_path / "back.db", clock=clock)
    again = copy_desk(target, back)
    assert again.equal
    for table in copied:
        assert table_rows(back, table) == table_rows(store, table), table
    # The copies work on: views count right, ids continue after the copied ones, search finds.
    assert dict(target.conn.execute("SELECT name, n FROM view_counts").fetchall()) == \
        dict(store.conn.execute("SELECT name, n FROM view_counts").fetchall())
    [new_id] = save_batch(target, "demo", [make_mention()], None)
    assert new_id == max(row[0] for row in table_rows(store, "mentions")) + 1
    assert back.conn.execute("SELECT count(*) FROM search_fts WHERE search_fts MATCH 'refund'").fetchone()[0] == 6
    target.close()
    back.close()


def test_a_desk_that_is_not_empty_is_never_overwritten(tmp_path, clock, make_mention, store):
    save_batch(store, "demo", [make_mention()], None)
    other = open_store(tmp_path / "other.db", clock=clock)
    save_batch(other, "demo", [make_mention()], None)
    with pytest.raises(Exception, match="already holds a desk"):
        copy_desk(store, other)
    assert other.conn.execute("SELECT count(*) FROM mentions").fetchone()[0] == 1
    other.close()


def test_the_cli_migrates_and_prints_equal_counts(monkeypatch, capsys, tmp_path, pg_desk, clock, make_mention):
    source = tmp_path / "desk.db"
    store = open_store(source, clock=clock)
    fill_desk(store, clock, make_mention)
    store.close()
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, "--db", str(source), "migrate", "--to", pg_desk)
    assert code == 0, err
    assert "counts equal" in err and "differs" not in out
    assert any(line.split() == ["mentions", "6", "6"] for line in out.splitlines())
    code, _out, err = cli_in_process(monkeypatch, capsys, tmp_path, "--db", pg_desk, "migrate",
                                     "--to", str(tmp_path / "back.db"))
    assert code == 0, err
    conn = sqlite3.connect(tmp_path / "back.db")
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] > 0
    conn.close()
    code, _out, err = cli_in_process(monkeypatch, capsys, tmp_path, "--db", str(source), "migrate", "--to", pg_desk)
    assert code != 0 and err.count("\n") == 1 and "already holds a desk" in err
