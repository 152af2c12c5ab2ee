"""Writing mentions from adapters: batched, idempotent, cursor in the same commit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

from store.db import Store, inserted_id
from store.mention_rows import MentionRow, insert_mention_rows
from store.records import NewMention
from store.search_index import index_mentions
from store.signals import Signals
from store.snooze import wake_on_posts


def _ids_for(store: Store, table: str, network: str, handle: str, extra: dict | None = None) -> int:
    """The id of one (network, handle) of `table`, made if missing (store.import_write's, row by row)."""
    row = store.conn.execute(
        f"SELECT id FROM {table} WHERE network = ? AND handle = ?", (network, handle)
    ).fetchone()
    if row:
        return row[0]
    columns = {"network": network, "handle": handle, **(extra or {})}
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    cursor = store.conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(columns.values()))
    return inserted_id(cursor)


def _ids_of_batch(store: Store, known: dict[tuple[str, str, str], int], table: str,
                  wanted: Iterable[tuple[str, str, dict | None]]) -> None:
    """Into `known`, the id of each (network, handle) of `table` (accounts, authors), made where missing: a
    few statements for a batch (on PostgreSQL a round trip and a plan each; 500 new authors a batch at 2,000/s)."""
    missing: dict[tuple[str, str], dict | None] = {}
    for network, handle, extra in wanted:
        if (table, network, handle) not in known:
            missing.setdefault((network, handle), extra)
    if not missing:
        return

    def look(keys: list[tuple[str, str]]) -> None:
        networks: dict[str, list[str]] = {}
        for network, handle in keys:
            networks.setdefault(network, []).append(handle)
        for network, handles in networks.items():
            for start in range(0, len(handles), 500):
                chunk = handles[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                for handle, found in store.conn.execute(
                        f"SELECT handle, id FROM {table} WHERE network = ? AND handle IN ({marks})", (network, *chunk)):
                    known[(table, network, handle)] = found

    look(list(missing))
    new = [key for key in missing if (table, *key) not in known]
    if new:  # in the order first met, as one INSERT each would have numbered them
        extras = sorted({name for key in new for name in (missing[key] or {})})
        names = ", ".join(["network", "handle", *extras])
        marks = ", ".join("?" for _ in range(2 + len(extras)))
        store.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                               [(*key, *((missing[key] or {}).get(name, "") for name in extras)) for key in new])
        look(new)


def insert_mentions(store: Store, mentions: Iterable[NewMention], *, received_at: str | None = None,
                    status: str = "open") -> list[int]:
    """Insert (joining the caller's transaction, if any); returns ids of mentions that were new.

    A mention already stored (same network + remote id) is skipped, so
    replays after reconnects, crashes or re-imports are harmless.
    """
    ids = insert_rows(store, ((mention, status, received_at) for mention in mentions))
    return [mention_id for mention_id in ids if mention_id is not None]


def insert_rows(store: Store, rows: Iterable[tuple[NewMention, str, str | None]], *,
                cleaned: bool = False, ids: dict[tuple[str, str, str], int] | None = None,
                signals: Sequence[Signals] | None = None) -> list[int | None]:
    """(mention, status, received_at) rows -> the new id of each, or None for a duplicate; one write.

    `cleaned`: the caller already ran NewMention.cleaned() (import does, to
    report bad lines), so the text is not scanned twice. `ids` caches author
    and account ids across calls in one long import: only pass a dict whose
    entries were all committed (or will be, in the same transaction). `signals`: one per row, stored with it.
    """
    with store.write():
        return _insert_rows(store, rows, cleaned, {} if ids is None else ids, signals)


def _insert_rows(store: Store, rows: Iterable[tuple[NewMention, str, str | None]], cleaned: bool,
                 known: dict[tuple[str, str, str], int], signals: Sequence[Signals] | None = None
                 ) -> list[int | None]:
    now = store.now()
    kept: list[tuple[NewMention, str, str | None, int]] = []  # with where each is in the result
    count = 0
    for mention, status, received_at in rows:
        count += 1
        m = mention if cleaned else mention.cleaned()
        if m.remote_id and m.network:
            kept.append((m, status, received_at, count - 1))
    _ids_of_batch(store, known, "accounts", ((m.network, m.account, None) for m, *_ in kept))
    _ids_of_batch(store, known, "authors",
                  ((m.network, m.author_handle, {"display_name": m.author_name}) for m, *_ in kept))
    accepted: list[NewMention] = []
    stored: list[MentionRow] = []
    positions: list[int] = []  # where each stored row is in the result
    for m, status, received_at, position in kept:
        stored.append((m.network, m.remote_id, known[("accounts", m.network, m.account)],
                       known[("authors", m.network, m.author_handle)], m.text, m.url, m.lang, m.created_at,
                       received_at or now, m.parent_remote_id, m.root_remote_id, status, 0,
                       # ASCII JSON: a payload may hold lone surrogates that SQLite cannot encode as text.
                       json.dumps(m.reply_ref) if m.reply_ref else "{}",
                       json.dumps(m.raw, default=str) if m.raw is not None else None))
        accepted.append(m)
        positions.append(position)
    columns = [signals[position].columns() for position in positions] if signals is not None else None
    result: list[int | None] = [None] * count
    indexed: list[tuple[int, str, str, str]] = []
    # One statement for the whole batch: a bulk load of a million mentions runs through here too.
    for position, m, mention_id in zip(positions, accepted, insert_mention_rows(store, stored, columns), strict=True):
        result[position] = mention_id
        if mention_id is not None:
            indexed.append((mention_id, m.text, m.author_handle, m.author_name))
    index_mentions(store, indexed)
    # An author who writes again in a snoozed thread wakes it, in this same transaction.
    wake_on_posts(store, [entry[0] for entry in indexed])
    return result


def save_batch(store: Store, source: str, mentions: list[NewMention], cursor: str | None, *,
               signals: Sequence[Signals] | None = None,
               triage: Callable[[Store, list[int]], None] | None = None) -> list[int]:
    """Store a batch and its stream cursor atomically; with each mention's signals (one per mention, in
    order) and the triage rules run over the new ones, in the same transaction."""
    with store.write():
        ids = insert_rows(store, ((mention, "open", None) for mention in mentions),
                          signals=signals if signals is not None and len(signals) == len(mentions) else None)
        new_ids = [mention_id for mention_id in ids if mention_id is not None]
        if triage is not None and new_ids:
            triage(store, new_ids)
        if mentions:
            store.conn.execute(
                "UPDATE source_status SET last_event_at = ? WHERE source = ?", (store.now(), source)
            )
        if cursor is not None:
            store.conn.execute(
                """INSERT INTO cursors (source, cursor, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor,
                   updated_at = excluded.updated_at""",
                (source, cursor, store.now()),
            )
    return new_ids


def load_cursor(store: Store, source: str) -> str | None:
    row = store.conn.execute("SELECT cursor FROM cursors WHERE source = ?", (source,)).fetchone()
    return row[0] if row else None
