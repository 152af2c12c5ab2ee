"""Snooze as an undoable field: `z` on one or many mentions is one undo entry, like c, m, e and a.

store.snooze does the snoozing (its checks and events); this module records what each call
changed as a "field" undo entry (store.fields) and knows how to put a wake time back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from store.bulk import label_for
from store.db import Store
from store.events import log_event
from store.fields import Change, Field, id_list, register_field
from store.snooze import SnoozeChange, snooze, unsnooze
from store.undo import push


def _read(store: Store, ids: list[int]) -> dict[int, Any]:
    return dict(store.conn.execute(
        """SELECT m.id, z.until FROM mentions m LEFT JOIN snoozes z ON z.mention_id = m.id
           WHERE m.id IN (SELECT value FROM json_each(?))""", (id_list(ids),)))


def _write(store: Store, changes: list[Change], operator: str, extra: dict) -> None:
    waking = [mention_id for mention_id, _, until in changes if until is None]
    if waking:
        unsnooze(store, waking, operator)
    stamp = store.now()
    for mention_id, _, until in changes:
        if until is not None:  # back to the wake time it had, even one that has passed (the clock wakes it)
            store.conn.execute(
                """INSERT INTO snoozes (mention_id, until, operator, at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (mention_id) DO UPDATE SET until = excluded.until,
                   operator = excluded.operator, at = excluded.at""", (mention_id, until, operator, stamp))
            log_event(store, operator, "snooze", mention_id, until=until, **extra)


register_field(Field("snooze", _read, _write, toggle=None, words=lambda until: "Snoozed" if until else "Woke",
                     events=("snooze", "unsnooze", "snooze.wake")))


def _recorded(store: Store, operator: str, words: str, changes: list[SnoozeChange]) -> list[SnoozeChange]:
    if changes:
        push(store, operator, "field", label_for(words, [change.mention_id for change in changes]),
             {"field": "snooze", "changes": [[c.mention_id, c.before, c.after] for c in changes]})
    return changes


def snooze_undoably(store: Store, ids: Iterable[int], until: datetime, operator: str) -> list[SnoozeChange]:
    """store.snooze.snooze, and one undo entry in the same transaction."""
    with store.write():
        return _recorded(store, operator, "Snoozed", snooze(store, ids, until, operator))


def unsnooze_undoably(store: Store, ids: Iterable[int], operator: str) -> list[SnoozeChange]:
    with store.write():
        return _recorded(store, operator, "Woke", unsnooze(store, ids, operator))
