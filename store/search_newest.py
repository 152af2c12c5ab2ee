"""The newest mentions matching a full-text expression, on PostgreSQL without reading every match.

FTS5 walks a term's mention ids newest first and stops at the limit. A GIN index hands PostgreSQL
every matching row, unordered: `ORDER BY rowid DESC LIMIT 20` over words in 30,000 of a million
mentions reads 30,000 rows to keep 20. So each indexed document also holds its *bucket* (the
lexeme BUCKET_MARK + rowid >> BUCKET_BITS, added by search_fts's generated column,
store/pg_search_counts.py), and a query over common words asks the newest buckets first, widening
the window until it has its rows. The answer is the same rows in the same order; only which rows
the server reads changes. Rare words (an upper bound on their matches from search_counts) and
SQLite run the one plain query. Several common words that must all be there (a long query's
combinations) are often together in a handful of mentions: those are probed (`_probe`) rather than
walked window by window.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

BUCKET_BITS = 14  # 16,384 mentions a bucket; the same shift as the generated column's
BUCKET_MARK = "\ue002"  # private use, as the filter terms' marks: never a word of a text
PLAIN_UP_TO = 3000  # at most this many matches: one plain query reads them all
_ORDER = "ORDER BY f.rowid DESC"
_ORDER_PG = "ORDER BY f.rowid + 0 DESC"
PROBE = 200  # rows a loose bound's unordered query (_probe) reads at most
PROBE_FIRST = 5000  # a loose bound this low is probed before any window
FIRST_SHARE = 4  # the first window should hold this many times the rows wanted, were the bound exact


def bucket_term(bucket: int) -> str:
    return f"{BUCKET_MARK}{bucket}"


def match_bound(groups: Iterable[Iterable[str]], counts: Mapping[str, int]) -> int | None:
    """At most how many mentions hold one word of every group ("a b": both words); None if unknown."""
    bound: int | None = None
    for words in groups:
        total = 0
        for word in words:
            parts = [counts.get(part) for part in word.split(" ")]
            if any(part is None for part in parts):
                return None
            total += min(part for part in parts if part is not None)
        bound = total if bound is None else min(bound, total)
    return bound


def _newest_matches(conn: sqlite3.Connection, select: str, expression: str, params: list, limit: int,
                   bound: int | None, loose: bool = False) -> list[tuple]:
    """Rows of `select` (`... WHERE f.search_fts MATCH ? <params> ORDER BY f.rowid DESC LIMIT ?`) for
    `expression`, the newest `limit`; `bound`: at most how many mentions match (None: unknown);
    `loose`: the bound may be far above the matches (several words that must all be there)."""
    if isinstance(conn, sqlite3.Connection):
        return conn.execute(select, [expression, *params, limit]).fetchall()
    # The planner guesses a term's share (0.1 % for one it has no statistics of): guessing a rare
    # term common, it walks the primary key newest first and tests every row. The counts know
    # better: the GIN index always, then a sort of what it found.
    if _ORDER not in select:
        raise ValueError(f"newest_matches needs {_ORDER!r} in its statement")
    select = select.replace(_ORDER, _ORDER_PG)
    if bound is None or bound <= PLAIN_UP_TO:
        return conn.execute(select, [expression, *params, limit]).fetchall()
    top = conn.execute("SELECT coalesce(max(rowid), 0) FROM search_fts").fetchone()[0]
    high = top >> BUCKET_BITS  # the newest bucket not asked yet
    size = max(1, -(-limit * FIRST_SHARE * (high + 1) // bound))  # buckets in the first window
    rows: list[tuple] = []
    if loose and bound <= PROBE_FIRST:
        # The rarest word is rare: a window would spare the index little reading.
        loose = False
        if (some := _probe(conn, select, expression, params, limit)) is not None:
            return some
    while high >= 0 and len(rows) < limit:
        low = high - size + 1
        if low <= high // 2:
            # Most of what is left: one plain query, the rows above the windows already read dropped.
            edge = (high + 1) << BUCKET_BITS
            rest = conn.execute(select, [expression, *params, limit + len(rows)]).fetchall()
            rows += [row for row in rest if row[0] < edge][:limit - len(rows)]
            break
        window = " OR ".join(f'"{bucket_term(bucket)}"' for bucket in range(low, high + 1))
        rows += conn.execute(select, [f"({expression}) AND ({window})", *params, limit - len(rows)]).fetchall()
        # At the rate of the windows so far (one row more: a window may hold a few hundred mentions),
        # would all the matches fit in the probe?
        if loose and len(rows) < limit and (len(rows) + 1) * top <= PROBE * (top - (low << BUCKET_BITS) + 1):
            loose = False
            if (some := _probe(conn, select, expression, params, limit)) is not None:
                return some
        high, size = low - 1, size * 2
    return rows


def _probe(conn: sqlite3.Connection, select: str, expression: str, params: list, limit: int) -> list[tuple] | None:
    """All matches, newest `limit` first, if there are at most PROBE; else None.

    For a `loose` bound (several words that must all be there, each common, together perhaps rare: a
    long query's combinations), where every window would read the words' posting lists again to find
    a row or two: any PROBE + 1 matches, unordered, cost one index scan and at most that many rows.
    """
    some = conn.execute(select.replace(_ORDER_PG + " ", ""), [expression, *params, PROBE + 1]).fetchall()
    return sorted(some, key=lambda row: -row[0])[:limit] if len(some) <= PROBE else None
