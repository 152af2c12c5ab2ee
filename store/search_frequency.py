"""Document frequencies of indexed terms: how many mentions hold a word.

Spelling correction weighs a typo candidate by how common it is (see
store.search_candidates), so the search needs the number of mentions of a
few dozen words per query. FTS5 already knows: an `fts5vocab` table over
the index answers "term = ?" by reading that term's ids, no text. The table
lives in the connection's temp schema and answers are cached per database
file, refreshed once the history has grown by a few percent: a ranking
weight, not a count shown to anyone. Reading a common word's ids costs
megabytes at 5M (most of what a search with a cold OS cache reads), so the
counts of common terms are kept in `search_common` (store/search_schema.py),
filled after bulk imports (store.search_index.refresh_common); a common term's count there may
lag the history by what was added since, like the cache.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from cachetools import LRUCache

CACHED_TERMS = 200_000
STALE_GROWTH = 0.05  # forget cached counts when the history grew by this share ...
STALE_AT_LEAST = 20  # ... or by this many mentions, whichever is more

_VOCAB_TABLE = "temp.search_df"


def _ensure_table(conn: sqlite3.Connection) -> None:
    # One per connection: temp objects are private to it, and a read-only file may still have them.
    if conn.execute("SELECT 1 FROM temp.sqlite_master WHERE name = 'search_df'").fetchone() is None:
        conn.execute(f"CREATE VIRTUAL TABLE {_VOCAB_TABLE} USING fts5vocab(main, 'search_fts', 'row')")


class Frequencies:
    """Mentions per term for one database file, cached; callers hold the vocabulary's lock."""

    def __init__(self) -> None:
        self.counts: LRUCache[str, int] = LRUCache(CACHED_TERMS)
        self.mentions = 0  # history size the cache was filled at
        self.size = 0  # history size now (top mention id)

    def refresh(self, conn: sqlite3.Connection) -> None:
        self.size = conn.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0]
        if self.size < self.mentions or self.size > self.mentions + max(STALE_AT_LEAST,
                                                                        self.mentions * STALE_GROWTH):
            self.counts.clear()
            self.mentions = self.size

    def of(self, conn: sqlite3.Connection, terms: Iterable[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        missing = []
        for term in terms:
            count = self.counts.get(term)
            if count is None:
                missing.append(term)
            else:
                out[term] = count
        if missing and not isinstance(conn, sqlite3.Connection):
            # PostgreSQL: the counts its index's triggers keep (store/pg_schema.py), one round trip.
            found = dict(conn.execute("SELECT term, docs FROM search_counts WHERE term = ANY(?)",
                                      (missing,)).fetchall())
            for term in missing:
                out[term] = self.counts[term] = found.get(term, 0)
        elif missing:
            _ensure_table(conn)
            for start in range(0, len(missing), 500):
                chunk = missing[start:start + 500]
                found = _common(conn, chunk)
                rest = [term for term in chunk if term not in found]
                if rest:
                    found.update(conn.execute(f"SELECT term, doc FROM {_VOCAB_TABLE} WHERE term IN "
                                              f"({', '.join('?' for _ in rest)})", rest).fetchall())
                for term in chunk:
                    out[term] = self.counts[term] = found.get(term, 0)
        return out


def _common(conn: sqlite3.Connection, terms: list[str]) -> dict[str, int]:
    try:
        return dict(conn.execute(f"SELECT term, docs FROM search_common WHERE term IN "
                                 f"({', '.join('?' for _ in terms)})", terms).fetchall())
    except sqlite3.OperationalError:  # a file of an older schema, opened read-only: FTS5 counts all
        return {}
