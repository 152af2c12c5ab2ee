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


def kept_counts(store) -> dict[str, int]:
    return dict(store.conn.execute("SELECT term, docs FROM search_counts WHERE docs > 0").fetchall())


def true_counts(store) -> dict[str, int]:
    """What the index holds, counted the slow way."""
    return dict(store.conn.execute("SELECT word, ndoc FROM ts_stat('SELECT tsv FROM search_fts')").fetchall())


def windows_asked(monkeypatch) -> list[int]:
    """The buckets store.search_newest asks from now on, as asked."""
    import store.search_newest as search_newest

    windows: list[int] = []
    real = search_newest.bucket_term

    def spy(bucket: int) -> str:
        windows.append(bucket)
        return real(bucket)

    monkeypatch.setattr(search_newest, "bucket_term", spy)
    return windows


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


def test_common_words_are_read_newest_bucket_first_with_the_same_answer(pg_store, make_mention, monkeypatch):
    """store.search_newest: windows over the newest buckets give exactly the rows of one plain query."""
    import store.search_newest as search_newest
    from store.ingest import save_batch

    for bucket in (0, 1, 3, 4, 9):  # mentions spread over buckets, some empty, as a long history has
        if bucket:  # ids follow the highest: a row (not indexed) moves it to the bucket's start
            with pg_store.write() as conn:
                conn.execute("CREATE TEMP TABLE gap AS SELECT * FROM mentions ORDER BY id DESC LIMIT 1")
                conn.execute("UPDATE gap SET id = ?, remote_id = 'gap' || ?", (bucket << search_newest.BUCKET_BITS,
                                                                                bucket))
                conn.execute("INSERT INTO mentions SELECT * FROM gap")
                conn.execute("DROP TABLE gap")
        save_batch(pg_store, "demo", [make_mention(text=f"refund {'late' if n % 2 else 'lost'} {bucket}")
                                      for n in range(4)], None)
    queries = ["refund", "refund late", "late refnd", "status:open refund", "net:demo lost"]
    plain = {query: search(pg_store, query, limit=limit) for query in queries for limit in (3, 7, 30)}
    monkeypatch.setattr(search_newest, "PLAIN_UP_TO", 0)
    monkeypatch.setattr(search_newest, "FIRST_SHARE", 1)  # windows small enough for this small desk
    windows = windows_asked(monkeypatch)
    windowed = {query: search(pg_store, query, limit=limit) for query in queries for limit in (3, 7, 30)}
    assert windowed == plain
    assert windows and max(windows) == 9, "windows over the newest buckets were asked"


def test_a_migrated_desk_keeps_its_vocabulary_order(store, pg_desk, clock, make_mention):
    """Typo candidates beyond the first 64 are weighed earliest-seen first: a copy that numbered its
    vocabulary afresh (alphabetically) would rank some queries differently from its source."""
    from store.desk_copy import copy_desk
    from store.ingest import save_batch

    for text in ("zebra crossing", "apple pie", "mango lassi"):
        save_batch(store, "demo", [make_mention(text=text)], None)
    target = open_store(pg_desk, clock=clock)
    try:
        copy_desk(store, target)
        query = "SELECT id, term FROM search_vocab ORDER BY id"
        assert target.conn.execute(query).fetchall() == store.conn.execute(query).fetchall()
    finally:
        target.close()


def test_a_long_querys_rare_combinations_are_probed_not_walked_window_by_window(pg_store, make_mention, monkeypatch):
    """store.search_newest's probe: five words each common (so say the counts, the windows' trigger here), all
    five together in three old mentions. Walking the windows back to them reads the words' posting lists
    once a window (at 1M, 3-5 ms each, 40 statements for an 8-word query); one unordered query finds them
    all. The answers are those of the plain queries."""
    import store.search_newest as search_newest
    import store.search_ranking as search_ranking
    from store.ingest import save_batch

    words = ["alpha", "bravo", "charlie", "delta", "omega"]
    save_batch(pg_store, "demo", [make_mention(text=" ".join(words) + f" old {n}") for n in range(3)], None)
    with pg_store.write() as conn:  # ids jump to bucket 60: a long history's newest mentions
        conn.execute("CREATE TEMP TABLE gap AS SELECT * FROM mentions ORDER BY id DESC LIMIT 1")
        conn.execute("UPDATE gap SET id = ?, remote_id = 'gap'", (60 << search_newest.BUCKET_BITS,))
        conn.execute("INSERT INTO mentions SELECT * FROM gap")
        conn.execute("DROP TABLE gap")
    save_batch(pg_store, "demo", [make_mention(text=" ".join(words[:n % 5] + words[n % 5 + 1:]) + f" new {n}")
                                  for n in range(40)], None)  # four of the five
    queries = ["alpha bravo charlie delta omega", "omega delta charlie bravo alpah",
               "net:demo alpha bravo charlie delta"]
    monkeypatch.setattr(search_ranking, "RARE_MAX", 0)  # every word common, as at 1M
    plain = {query: search(pg_store, query, limit=limit) for query in queries for limit in (3, 20)}
    monkeypatch.setattr(search_newest, "PLAIN_UP_TO", 0)
    monkeypatch.setattr(search_newest, "FIRST_SHARE", 0)  # the first window one bucket: this desk is small
    windows = windows_asked(monkeypatch)
    assert {query: search(pg_store, query, limit=limit) for query in queries for limit in (3, 20)} == plain
    assert not windows, "a combination whose rarest word is rare is probed before any window"
    monkeypatch.setattr(search_newest, "PROBE_FIRST", 0)
    assert {query: search(pg_store, query, limit=limit) for query in queries for limit in (3, 20)} == plain
    # Walked, the three old mentions' combination reads windows 60, 58-59, 54-57, 46-53, 30-45, then the rest.
    assert windows and min(windows) >= 54, f"the windows walked back to bucket {min(windows)}"
    windows.clear()
    monkeypatch.setattr(search_newest, "PROBE", 1)  # matches beyond the probe: the windows go on, same answers
    assert {query: search(pg_store, query, limit=limit) for query in queries for limit in (3, 20)} == plain
    assert min(windows) <= 45
