"""The append-only log of operator actions (who, what, when)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from store.db import Store, inserted_id
from store.operators import check_operator
from store.redact import redact_detail


def log_event(store: Store, operator: str, action: str, mention_id: int | None = None,
              **detail: object) -> int:
    """Append one event, in the same transaction as the change it records.

    Every operator action logs one, so an unusable operator name (escape
    codes, invisible characters) aborts the whole change here, whatever the caller.
    """
    check_operator(operator)
    with store.write() as conn:
        cursor = conn.execute(
            "INSERT INTO events (at, operator, action, mention_id, detail) VALUES (?, ?, ?, ?, ?)",
            (store.now(), operator, action, mention_id,
             json.dumps(redact_detail(detail), ensure_ascii=False, default=str)),
        )
    return inserted_id(cursor)


def log_events(store: Store, operator: str, events: list[tuple[str, int | None, dict]]) -> int:
    """Append many events (action, mention id, detail) in the caller's transaction, in one statement:
    a bulk action on thousands of mentions logs one event each without a savepoint per row.
    Returns the last event's id (0 when there are none)."""
    check_operator(operator)
    if not events:
        return 0
    now = store.now()
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO events (at, operator, action, mention_id, detail) VALUES (?, ?, ?, ?, ?)",
            [(now, operator, action, mention_id, json.dumps(redact_detail(detail), ensure_ascii=False, default=str))
             for action, mention_id, detail in events],
        )
        return conn.execute("SELECT max(id) FROM events").fetchone()[0]


@dataclass(frozen=True, slots=True)
class EventMark:
    """What the change feed needs of one event."""

    id: int
    action: str
    mention_id: int | None


def events_since(store: Store, after_id: int, limit: int = 10_000) -> list[EventMark]:
    """Events after `after_id`, oldest first."""
    return [EventMark(*row) for row in store.conn.execute(
        "SELECT id, action, mention_id FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
    )]

