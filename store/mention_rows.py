"""Inserting many mention rows with one statement and still knowing which were new."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from store.db import Store
from store.schema import DUE_KEY_NEW
from store.view_counts import count_new

_INSERT = f"""
    INSERT INTO mentions (id, network, remote_id, account_id, author_id, text, url, lang, created_at,
        received_at, parent_remote_id, root_remote_id, status, seen, reply_ref, raw, sig_lang, sentiment, needs_reply,
        due_key)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, {DUE_KEY_NEW})
    ON CONFLICT (network, remote_id) DO NOTHING"""

# (network, remote_id, account_id, author_id, text, url, lang, created_at, received_at,
#  parent_remote_id, root_remote_id, status, seen, reply_ref, raw)
MentionRow = tuple[str, str, int, int, str, str | None, str | None, str, str, str | None, str | None, str, int,
                   str, str | None]
SignalColumns = tuple[str | None, int | None, int | None]  # (sig_lang, sentiment, needs_reply), as Signals.columns()
NO_SIGNALS: SignalColumns = (None, None, None)


def insert_mention_rows(store: Store, rows: list[MentionRow],
                        signals: Sequence[SignalColumns] | None = None) -> list[int | None]:
    """The new id of each row, or None where the mention was already stored; inside the caller's write.
    `signals`: each row's, written with it (not by an UPDATE after: a second write of every row, and of
    its due_key by the trigger).

    One executemany instead of a statement per row: ids are given
    explicitly, counting up from the largest (stable, since the caller
    holds the write lock), so the rows that went in are the ids of the
    range that exist -- and when the count of changes says all did, that
    takes no query at all. A duplicate's id stays unused.
    """
    conn = store.conn
    if not rows:
        return []
    if not conn.in_transaction:
        raise RuntimeError("insert_mention_rows needs the caller's write transaction")
    first = (conn.execute("SELECT max(id) FROM mentions").fetchone()[0] or 0) + 1
    before = conn.total_changes
    conn.executemany(_INSERT, [(first + offset, *row, *(signals[offset] if signals is not None else NO_SIGNALS))
                               for offset, row in enumerate(rows)])
    last = first + len(rows) - 1
    if conn.total_changes - before == len(rows):
        result: list[int | None] = list(range(first, last + 1))
    else:
        stored = {row[0] for row in conn.execute("SELECT id FROM mentions WHERE id BETWEEN ? AND ?", (first, last))}
        result = [mention_id if mention_id in stored else None for mention_id in range(first, last + 1)]
    # The quick views' counts (store.view_counts), in this same transaction: by the status each went in with.
    count_new(store, Counter(row[11] for row, mention_id in zip(rows, result, strict=True) if mention_id is not None))
    return result
