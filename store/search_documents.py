"""Writing documents (a mention's terms) into the search index, on either backend."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence


def insert_documents(conn: sqlite3.Connection, documents: Sequence[tuple[int, str]]) -> None:
    """(mention id, space-separated terms) rows into search_fts.

    On PostgreSQL one COPY: the index's statement triggers (store/pg_search_counts.py) then count
    the batch's terms once, not once per row.
    """
    if not documents:
        return
    if isinstance(conn, sqlite3.Connection):
        conn.executemany("INSERT INTO search_fts (rowid, terms) VALUES (?, ?)", documents)
    else:
        conn.copy_rows("search_fts", ("rowid", "terms"), documents)
