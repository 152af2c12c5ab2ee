"""Counts of common search terms kept in search_common, so a search need not count them through FTS5."""

from __future__ import annotations

import sqlite3

import pytest

import store.search_index as search_index
from store.db import _statements, open_store
from store.ingest import insert_mentions
from store.schema import V2_SEARCH_COMMON
from store.search import search
from store.search_frequency import Frequencies
from store.search_index import deferred_indexing, rebuild_index
from store.search_schema import COMMON_MIN
from tests.conftest import new_mention

COMMON = COMMON_MIN + 20  # mentions holding "delivery"


def _fill(store, *, common: int = COMMON, rare: int = 3) -> None:
    texts = [f"delivery late again number{i}" for i in range(common)] + ["dlivery came"] * rare
    with store.write():
        insert_mentions(store, [new_mention(text=text) for text in texts])


def _fts_counts(conn: sqlite3.Connection) -> dict[str, int]:
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.check_vocab USING fts5vocab(main, 'search_fts', 'row')")
    return dict(conn.execute("SELECT term, doc FROM temp.check_vocab WHERE doc >= ?", (COMMON_MIN,)).fetchall())


def _common(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT term, docs FROM search_common").fetchall())


def test_a_bulk_load_counts_the_common_terms(store, monkeypatch):
    monkeypatch.setattr(search_index, "REFRESH_AFTER", 50)
    with deferred_indexing(store, helper=False):
        _fill(store)
    common = _common(store.conn)
    assert common["delivery"] == COMMON
    assert common == _fts_counts(store.conn)  # every term in COMMON_MIN mentions or more, and only those
    assert "dlivery" not in common


def test_a_small_load_leaves_the_counts_alone(store):
    with deferred_indexing(store, helper=False):
        _fill(store)  # fewer mentions than REFRESH_AFTER: not worth a scan of the whole index
    assert _common(store.conn) == {}


def test_search_takes_a_common_terms_count_from_the_table(store):
    _fill(store)
    store.conn.execute("INSERT INTO search_common (term, docs) VALUES ('delivery', 7), ('dlivery', 5000)")
    counts = Frequencies().of(store.conn, ["delivery", "dlivery", "late"])
    # From the table where it has them (not what FTS5 would count: 120 and 3); FTS5 for the rest.
    assert counts == {"delivery": 7, "dlivery": 5000, "late": COMMON}
    # The ranking follows the counts: the typo's reading now outweighs the real word.
    hits = search(store, "dilivery", limit=5)
    assert hits and all("dlivery" in store.conn.execute("SELECT text FROM mentions WHERE id = ?",
                                                         (hit.mention_id,)).fetchone()[0] for hit in hits[:3])


def test_a_rebuild_counts_again(store):
    _fill(store)
    store.conn.execute("INSERT INTO search_common (term, docs) VALUES ('delivery', 7), ('gone', 999)")
    rebuild_index(store)
    assert _common(store.conn) == _fts_counts(store.conn)
    assert _common(store.conn)["delivery"] == COMMON


def test_the_migration_counts_an_existing_history(store):
    _fill(store)
    conn = store.conn
    conn.execute("DROP TABLE search_common")
    for statement in _statements(V2_SEARCH_COMMON):
        conn.execute(statement)
    assert _common(conn) == _fts_counts(conn) and _common(conn)["delivery"] == COMMON


def test_a_file_without_the_table_opened_read_only_still_counts(tmp_path):
    path = tmp_path / "old.db"
    writer = open_store(path)
    _fill(writer)
    writer.conn.execute("DROP TABLE search_common")  # as a file of the schema before it, read without migrating
    writer.close()
    reader = open_store(path, readonly=True)
    try:
        assert Frequencies().of(reader.conn, ["delivery", "dlivery"]) == {"delivery": COMMON, "dlivery": 3}
    finally:
        reader.close()


@pytest.mark.parametrize("rows", [0, 1])
def test_refresh_on_an_empty_or_tiny_history(store, rows):
    from store.search_index import refresh_common

    _fill(store, common=rows, rare=0)
    assert refresh_common(store) == 0


def test_settling_merges_the_index_into_one_segment_and_finds_the_same(store):
    from store.maintenance import fts_segments
    from store.search_index import settle

    for round_ in range(12):  # each transaction writes a segment of its own
        with store.write():
            insert_mentions(store, [new_mention(text=f"delivery parcel round{round_} item{i}") for i in range(10)])
    before = fts_segments(store.conn)
    found = [hit.mention_id for hit in search(store, "dilivery parcel", limit=50)]
    settle(store)
    assert before > 1 and fts_segments(store.conn) == 1
    assert [hit.mention_id for hit in search(store, "dilivery parcel", limit=50)] == found
    assert _common(store.conn) == _fts_counts(store.conn)
