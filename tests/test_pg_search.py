"""Search's PostgreSQL plumbing: the term counts its index's triggers keep, long indexing transactions."""

from __future__ import annotations

import json
import time

import pytest

import store.search_index as search_index
from store.db import open_store
from store.importing import import_lines
from store.search import search
from store.search_index import index_pending, rebuild_index, unindex_mentions

pytestmark = pytest.mark.postgresql


@pytest.fixture
def pg_store(pg_desk, clock):
    opened = open_store(pg_desk, clock=clock)
    yield opened
    opened.close()


def kept_counts(store) -> dict[str, int]:
    return dict(store.conn.execute("SELECT term, docs FROM search_counts WHERE docs > 0").fetchall())


def true_counts(store) -> dict[str, int]:
    """What the index holds, counted the slow way."""
    return dict(store.conn.execute("SELECT word, ndoc FROM ts_stat('SELECT tsv FROM search_fts')").fetchall())


def test_term_counts_follow_every_write_to_the_index(pg_store, make_mention):
    from store.ingest import save_batch

    ids = save_batch(pg_store, "demo", [make_mention(text=f"refund please order {n}") for n in range(5)], None)
    save_batch(pg_store, "demo", [make_mention(text="refund came late")], None)
    assert kept_counts(pg_store)["refund"] == 6
    assert kept_counts(pg_store) == true_counts(pg_store)
    unindex_mentions(pg_store, ids[:2])
    assert kept_counts(pg_store)["refund"] == 4 and kept_counts(pg_store) == true_counts(pg_store)
    rebuild_index(pg_store, budget=0.05)
    assert kept_counts(pg_store)["refund"] == 6 and kept_counts(pg_store) == true_counts(pg_store)
    lines = [json.dumps({"network": "demo", "remote_id": f"imp-{n}", "author_handle": "@ana", "text": "refund now",
                         "created_at": "2024-01-01T00:00:00Z"}) for n in range(3)]
    import_lines(pg_store, lines, "ana")
    assert kept_counts(pg_store)["refund"] == 9 and kept_counts(pg_store) == true_counts(pg_store)
    # Spelling correction weighs by these counts: the common word wins over the rare typo.
    save_batch(pg_store, "demo", [make_mention(text="refudn")], None)
    assert [hit.score for hit in search(pg_store, "refudn", limit=20)][:1] == [100.0]


def test_a_big_indexing_transaction_is_never_silent_long_enough_to_be_ended(pg_store, make_mention, monkeypatch):
    """Tokenizing 100,000 mentions takes seconds; the server ends a session silent that long inside a
    transaction (store.pg_conn.IDLE_IN_TRANSACTION_MS). Here tokenizing takes 10 ms a mention and the
    server waits 500 ms: 100 mentions tokenized at once would be ended."""
    from store.ingest import save_batch

    save_batch(pg_store, "demo", [make_mention(text=f"parcel {n} lost") for n in range(100)], None)
    with pg_store.write() as conn:  # the index emptied, every mention waiting (as after a migration)
        conn.execute("DELETE FROM search_fts")
        conn.execute("INSERT OR IGNORE INTO search_pending (mention_id) SELECT id FROM mentions")
    real = search_index._fts_rows

    def slow(rows, vocab):
        time.sleep(0.01 * len(rows))  # a slow machine's tokenizer, not a wait for anything
        return real(rows, vocab)

    monkeypatch.setattr(search_index, "_fts_rows", slow)
    monkeypatch.setattr(search_index, "WRITE_PIECE", 5)
    pg_store.conn.raw.execute("SET idle_in_transaction_session_timeout = 500")
    assert index_pending(pg_store) == 100  # one transaction
    assert len(search(pg_store, "parcel lost", limit=200)) == 100
