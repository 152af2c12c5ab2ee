"""Keeping the search index current as mentions are inserted."""

from __future__ import annotations

from store.db import Store


def index_mentions(store: Store, rows: list[tuple[int, str, str, str]]) -> None:
    """Index (id, text, author_handle, author_name) rows, inside the caller's transaction."""
    if rows:
        store.conn.executemany(
            "INSERT INTO mentions_fts (rowid, text, handle) VALUES (?, ?, ?)",
            [(mention_id, text, f"{handle} {name}") for mention_id, text, handle, name in rows],
        )
