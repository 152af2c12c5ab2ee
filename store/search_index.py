"""Keeping the search index current as mentions are inserted.

`index_mentions` (called by store.ingest in its insert's transaction)
indexes rows as they are inserted; `deferred_indexing` is the bulk mode for
imports; `unindex_mentions`, `rebuild_index` and `index_pending` repair.
What a term is: store.search_terms.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from store.db import Store, _statements
from store.maintenance import merge_all
from store.search_bulk import _Bulk, _networks
from store.search_documents import insert_documents
from store.search_schema import FILL_COMMON
from store.search_terms import _fts_rows, is_vocab_term

_SOURCE = "SELECT m.id, m.text, a.handle, m.network FROM mentions m JOIN authors a ON a.id = m.author_id"


REFRESH_AFTER = 10_000  # mentions a bulk load must add for `refresh_common` to be worth its scan
WRITE_PIECE = 5000  # rows tokenized between two statements of an indexing transaction


def _write(store: Store, rows: list[tuple[int, str, str, str]]) -> None:
    """Index (id, text, author_handle, network) rows.

    Tokenized and written a piece at a time: PostgreSQL ends a session that stays silent inside a
    transaction for longer than store.pg_conn's IDLE_IN_TRANSACTION_MS, and tokenizing 100,000
    mentions at once takes seconds.
    """
    vocab: set[str] = set()
    for start in range(0, len(rows), WRITE_PIECE):
        insert_documents(store.conn, _fts_rows(rows[start:start + WRITE_PIECE], vocab))
    store.conn.executemany("INSERT OR IGNORE INTO search_vocab (term) VALUES (?)",
                           [(term,) for term in sorted(vocab) if is_vocab_term(term)])


WRITER_GAP = 0.11  # seconds between budgeted indexing transactions (see index_pending)
CATCH_UP = 2000  # pending mentions an ordinary write indexes along with its own
BULK_CACHE_KIB = -64 * 1024  # page cache during a bulk import (negative: KiB)


# Stores inside `deferred_indexing`.
_BULK: weakref.WeakKeyDictionary[Store, _Bulk] = weakref.WeakKeyDictionary()


def index_mentions(store: Store, rows: list[tuple[int, str, str, str]]) -> None:
    """Index (id, text, author_handle, author_name) rows, in the caller's transaction if there is one.

    Authors are found with the from: filter, not by free text, so the name
    is not indexed. Inside `deferred_indexing` the rows go to the bulk
    indexer. Otherwise a few mentions left pending by an interrupted import
    are indexed along, so the index catches up without anyone asking.
    """
    if not rows:
        return
    bulk = _BULK.get(store)
    if bulk is not None:
        bulk.add(store, rows)
        return
    with store.write():
        networks = _networks(store, [row[0] for row in rows])
        _write(store, [(row[0], row[1], row[2], networks.get(row[0], "")) for row in rows])
        if store.conn.execute("SELECT 1 FROM search_pending LIMIT 1").fetchone():
            _index_pending_chunk(store, CATCH_UP)


@contextmanager
def deferred_indexing(store: Store, *, helper: bool = True) -> Iterator[None]:
    """Bulk mode for imports: index what is inserted inside without slowing the inserts.

    Per-transaction indexing of a million mentions costs about as much as
    inserting them. Inside this block `index_mentions` records ids in
    `search_pending` (in the caller's transaction, so an interrupted import
    loses nothing) and, with `helper`, hands the texts to a helper process
    tokenizing on another core; its finished documents are written into
    the index during the following inserts, and the rest when the block
    ends normally (`index_pending`, in big transactions: FTS5 then merges
    far less). If the import stops half way the pending ids stay committed
    and later writes index them a few thousand at a time (or call
    `index_pending`); until then those mentions are stored but not found.
    """
    bulk = _BULK.get(store)
    outermost = bulk is None
    if bulk is None:
        bulk = _BULK[store] = _Bulk(helper)
        bulk.cache_size = store.conn.execute("PRAGMA cache_size").fetchone()[0]
        started_at = _top(store)
        # Inserting a million rows touches every index of mentions: with the
        # default 2 MB page cache that costs about a third more time.
        store.conn.execute(f"PRAGMA cache_size = {BULK_CACHE_KIB}")
    try:
        yield
        if outermost:
            if bulk.tokenizer is not None:
                with store.write():
                    bulk.submit(store)
                    bulk.collect(store, keep=0)
            bulk.close()
            index_pending(store)
            if _top(store) - started_at >= REFRESH_AFTER:
                settle(store)
    finally:
        if outermost:
            bulk.close()
            del _BULK[store]
            store.conn.execute(f"PRAGMA cache_size = {int(bulk.cache_size)}")


def index_pending(store: Store, *, chunk: int = 100_000, progress: Callable[[int], None] | None = None,
                  budget: float | None = None) -> int:
    """Index every pending mention, `chunk` per write (each commits unless a caller's transaction is open).

    With a `budget` (seconds) the chunk adapts so each transaction holds the
    write lock about that long. Returns how many pending entries were consumed.
    """
    done = 0
    if budget is not None:
        chunk = 500
    while True:
        started = time.perf_counter()
        with store.write():
            count = _index_pending_chunk(store, chunk)
        if not count:
            return done
        if budget is not None:
            took = max(time.perf_counter() - started, 1e-4)
            chunk = int(min(100_000, max(100, chunk * min(2.0, budget / took))))
            # A writer waiting on the lock polls every 100 ms (SQLite's busy handler): taking
            # the lock straight back would starve it, so leave it a gap to get in.
            time.sleep(WRITER_GAP)
        done += count
        if progress:
            progress(done)


def _index_pending_chunk(store: Store, limit: int) -> int:
    last = store.conn.execute(
        "SELECT max(mention_id) FROM (SELECT mention_id FROM search_pending ORDER BY mention_id LIMIT ?)",
        (limit,)).fetchone()[0]
    if last is None:
        return 0
    _write(store, store.conn.execute(f"{_SOURCE} WHERE m.id IN (SELECT mention_id FROM search_pending "
                                     "WHERE mention_id <= ?)", (last,)).fetchall())
    return store.conn.execute("DELETE FROM search_pending WHERE mention_id <= ?", (last,)).rowcount


def unindex_mentions(store: Store, mention_ids: Iterable[int]) -> None:
    """Remove mentions from the index; call before deleting them, in the same transaction as the delete.

    The table keeps no copy of the text, so FTS5 needs the terms it indexed,
    recomputed here from the stored text. Vocabulary terms stay: a term no
    mention contains any more just finds nothing.
    """
    ids = list(mention_ids)
    with store.write() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = conn.execute(f"{_SOURCE} WHERE m.id IN ({marks})", chunk).fetchall()
            conn.executemany(
                "INSERT INTO search_fts (search_fts, rowid, terms) VALUES ('delete', ?, ?)",
                _fts_rows(rows, set()),
            )


def rebuild_index(store: Store, *, budget: float = 0.2, progress: Callable[[int], None] | None = None) -> int:
    """Re-create the whole index from the mentions table, in writes other writers can interleave with.

    For a changed tokenizer or a repaired file; returns the number of mentions queued for indexing.
    One short transaction empties the index and marks every mention pending;
    the indexing then runs in transactions of about `budget` seconds each, so
    other writers (operators, the ingest leader renewing its lease) interleave
    instead of waiting behind one long write. Mentions written meanwhile are
    indexed by their own write; an interrupted rebuild leaves the rest
    pending, finished by later writes or `index_pending`. The vocabulary is
    kept (readers refresh it by growing ids); terms no longer used just find nothing.
    """
    with store.write():
        store.conn.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
        queued = store.conn.execute(
            "INSERT OR IGNORE INTO search_pending (mention_id) SELECT id FROM mentions").rowcount
    index_pending(store, budget=budget, progress=progress)
    settle(store)
    return queued


def refresh_common(store: Store) -> int:
    """Count every common term again (a scan of the whole index: about 3 s at 5M); returns the rows kept.

    For after bulk loads and rebuilds; PostgreSQL keeps exact counts itself (nothing done there)."""
    if store.backend != "sqlite":
        return 0
    with store.write() as conn:
        conn.execute("DELETE FROM search_common")
        for statement in _statements(FILL_COMMON):
            conn.execute(statement)
        return int(conn.execute("SELECT count(*) FROM search_common").fetchone()[0])


def settle(store: Store) -> None:
    """After a bulk load or a rebuild: the index in one segment, and the common terms counted again."""
    merge_all(store)
    refresh_common(store)


def _top(store: Store) -> int:
    return int(store.conn.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0])
