"""executemany on PostgreSQL as one statement over arrays (store/pg_many.py): the rows of row-by-row, one execution."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.postgresql


@pytest.fixture
def row_by_row(monkeypatch) -> list[str]:
    """The statements psycopg ran row by row (executemany): none, where they were made one."""
    ran: list[str] = []
    real = psycopg.Cursor.executemany

    def spy(self, query, params_seq, **kwargs):
        ran.append(str(query))
        return real(self, query, params_seq, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "executemany", spy)
    return ran


@pytest.mark.parametrize("piece_rows", [250, 2])  # 2: a batch in several statements, run in order
def test_inserts_and_updates_of_a_batch_are_one_statement_each_with_the_same_rows(pg_store, make_mention, row_by_row,
                                                                                  monkeypatch, piece_rows):
    import store.pg_many as pg_many
    from store.ingest import insert_mentions

    monkeypatch.setattr(pg_many, "PIECE_ROWS", piece_rows)

    ids = insert_mentions(pg_store, [make_mention(text=f"hello {n}") for n in range(3)])
    conn = pg_store.conn
    row_by_row.clear()
    with pg_store.write():
        before = conn.total_changes
        # A tag given twice in the batch and one already there: skipped, as INSERT OR IGNORE row by row.
        conn.execute("INSERT INTO tags (mention_id, tag, operator, at) VALUES (?, 'care', 'ana', 'then')", (ids[0],))
        conn.executemany("INSERT OR IGNORE INTO tags (mention_id, tag, operator, at) VALUES (?, ?, ?, ?)",
                         [(ids[0], "care", "bo", "now"), (ids[1], "care", "bo", "now"),
                          (ids[1], "care", "cy", "later"), (ids[2], "marketing", "dee", "now")])
        conn.executemany("UPDATE mentions SET priority = ?, suggested_reply = ? WHERE id = ?",
                         [("high", "sorry", ids[0]), (None, "thanks", ids[2])])
        conn.executemany("UPDATE mentions SET status = 'done', seen = 1 WHERE id = ?", [(ids[1],), (ids[2],)])
        assert conn.total_changes - before == 1 + 2 + 2 + 2
    assert row_by_row == []
    assert conn.execute("SELECT mention_id, tag, operator, at FROM tags ORDER BY mention_id, tag").fetchall() == [
        (ids[0], "care", "ana", "then"), (ids[1], "care", "bo", "now"), (ids[2], "marketing", "dee", "now")]
    assert conn.execute("SELECT id, priority, suggested_reply, status, seen FROM mentions ORDER BY id").fetchall() == [
        (ids[0], "high", "sorry", "open", 0), (ids[1], None, None, "done", 1), (ids[2], None, "thanks", "done", 1)]


def test_shapes_whose_rows_depend_on_each_other_stay_row_by_row(pg_store, make_mention, row_by_row):
    from store.ingest import insert_mentions

    ids = insert_mentions(pg_store, [make_mention(text="hello")])
    conn = pg_store.conn
    row_by_row.clear()
    with pg_store.write():
        # One key twice: the later row wins, as it would one after the other.
        conn.executemany("UPDATE mentions SET priority = ? WHERE id = ?", [("low", ids[0]), ("high", ids[0])])
        # A value computed from the row itself: each row sees the one before.
        conn.executemany("UPDATE mentions SET seen = seen + ? WHERE id = ?", [(2, ids[0]), (3, ids[0])])
    assert len(row_by_row) == 2
    assert conn.execute("SELECT priority, seen FROM mentions").fetchone() == ("high", 5)
