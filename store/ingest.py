"""Writing mentions from adapters: batched, idempotent, cursor in the same commit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from store.db import Store, inserted_id
from store.mention_rows import MentionRow, insert_mention_rows
from store.records import NewMention
from store.redact import redact_error
from store.sanitize import clean_line
from store.search_index import index_mentions
from store.signals import Signals
from store.snooze import wake_on_posts


def _ids_for(store: Store, table: str, network: str, handle: str, extra: dict | None = None) -> int:
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


def insert_mentions(store: Store, mentions: Iterable[NewMention], *, received_at: str | None = None,
                    status: str = "open") -> list[int]:
    """Insert (joining the caller's transaction, if any); returns ids of mentions that were new.

    A mention already stored (same network + remote id) is skipped, so
    replays after reconnects, crashes or re-imports are harmless.
    """
    ids = insert_rows(store, ((mention, status, received_at) for mention in mentions))
    return [mention_id for mention_id in ids if mention_id is not None]


def insert_rows(store: Store, rows: Iterable[tuple[NewMention, str, str | None]], *,
                cleaned: bool = False, ids: dict[tuple[str, str, str], int] | None = None) -> list[int | None]:
    """(mention, status, received_at) rows -> the new id of each, or None for a duplicate; one write.

    `cleaned`: the caller already ran NewMention.cleaned() (import does, to
    report bad lines), so the text is not scanned twice. `ids` caches author
    and account ids across calls in one long import: only pass a dict whose
    entries were all committed (or will be, in the same transaction).
    """
    with store.write():
        return _insert_rows(store, rows, cleaned, {} if ids is None else ids)


def _insert_rows(store: Store, rows: Iterable[tuple[NewMention, str, str | None]], cleaned: bool,
                 known: dict[tuple[str, str, str], int]) -> list[int | None]:
    now = store.now()
    accepted: list[NewMention] = []
    stored: list[MentionRow] = []
    positions: list[int] = []  # where each stored row is in the result
    count = 0
    for mention, status, received_at in rows:
        count += 1
        m = mention if cleaned else mention.cleaned()
        if not m.remote_id or not m.network:
            continue
        akey = ("accounts", m.network, m.account)
        if akey not in known:
            known[akey] = _ids_for(store, "accounts", m.network, m.account)
        hkey = ("authors", m.network, m.author_handle)
        if hkey not in known:
            known[hkey] = _ids_for(store, "authors", m.network, m.author_handle, {"display_name": m.author_name})
        stored.append((m.network, m.remote_id, known[akey], known[hkey], m.text, m.url, m.lang, m.created_at,
                       received_at or now, m.parent_remote_id, m.root_remote_id, status, 0,
                       # ASCII JSON: a payload may hold lone surrogates that SQLite cannot encode as text.
                       json.dumps(m.reply_ref) if m.reply_ref else "{}",
                       json.dumps(m.raw, default=str) if m.raw is not None else None))
        accepted.append(m)
        positions.append(count - 1)
    result: list[int | None] = [None] * count
    indexed: list[tuple[int, str, str, str]] = []
    # One statement for the whole batch: a bulk load of a million mentions runs through here too.
    for position, m, mention_id in zip(positions, accepted, insert_mention_rows(store, stored), strict=True):
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
        ids = insert_rows(store, ((mention, "open", None) for mention in mentions))
        new_ids = [mention_id for mention_id in ids if mention_id is not None]
        if signals is not None and len(signals) == len(ids):
            store.conn.executemany(
                "UPDATE mentions SET sig_lang = ?, sentiment = ?, needs_reply = ? WHERE id = ?",
                [(*signal.columns(), mention_id) for mention_id, signal in zip(ids, signals, strict=True)
                 if mention_id is not None])
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


def set_source_status(store: Store, source: str, state: str, detail: str = "",
                      last_event_at: str | None = None) -> None:
    # A state's detail often quotes a server's error body: the console's top bar and `accounts` show it.
    state, detail = clean_line(state, 64), clean_line(detail, 300)
    with store.write():
        store.conn.execute(
            """INSERT INTO source_status (source, state, detail, updated_at, last_event_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (source) DO UPDATE SET state = excluded.state, detail = excluded.detail,
               updated_at = excluded.updated_at,
               last_event_at = COALESCE(excluded.last_event_at, source_status.last_event_at)""",
            (source, state, redact_error(detail) or "", store.now(), last_event_at),
        )


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How an adapter's connection is doing, as the ingest leader last wrote it."""

    source: str
    state: str
    detail: str
    updated_at: str
    last_event_at: str | None


def source_statuses(store: Store) -> list[SourceStatus]:
    return [SourceStatus(**row) for row in store.rows(
        "SELECT source, state, detail, updated_at, last_event_at FROM source_status ORDER BY source"
    )]
