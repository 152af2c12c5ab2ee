"""The pieces of a mention's state that single-key and bulk actions change, and their undo.

A `Field` reads its value for many mentions in one statement and writes many
changes with one event each (executemany: thousands of rows in one short
transaction). `store.bulk.change` applies one to a set of mentions and
pushes one undo entry; the "field" undo kind below puts back only the
mentions whose value is still what the action set, so nobody's later change
is clobbered. A new field (snooze) registers itself with `register_field`
from its own module, listed in store.undo.KIND_MODULES.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from store.db import Store
from store.events import log_events
from store.undo import UndoEntry, Undone, changed_by, register_kind

Change = tuple[int, Any, Any]  # mention id, value before, value after


@dataclass(frozen=True)
class Field:
    name: str
    #: each existing mention's current value (unknown ids are absent)
    read: Callable[[Store, list[int]], dict[int, Any]]
    #: apply (id, before, after) changes with their events; the dict is extra event detail (undo_of)
    write: Callable[[Store, list[Change], str, dict], None]
    #: the value a toggle sets, given the current values (None: the field does not toggle)
    toggle: Callable[[list[Any]], Any] | None
    #: the action in words for a value: "tagged care", "marked done", "assigned to bo"
    words: Callable[[Any], str]
    #: the event actions that change it (to name who changed a mention since)
    events: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {}


def register_field(spec: Field) -> Field:
    FIELDS[spec.name] = spec
    return spec


def id_list(ids: list[int]) -> str:
    """Ids as one JSON parameter for `IN (SELECT value FROM json_each(?))`: no limit on how many."""
    return json.dumps(ids)


def _tag_field(tag: str) -> Field:
    def read(store: Store, ids: list[int]) -> dict[int, Any]:
        return {mention_id: bool(present) for mention_id, present in store.conn.execute(
            """SELECT m.id, EXISTS (SELECT 1 FROM tags t WHERE t.mention_id = m.id AND t.tag = ?)
               FROM mentions m WHERE m.id IN (SELECT value FROM json_each(?))""", (tag, id_list(ids)))}

    def write(store: Store, changes: list[Change], operator: str, extra: dict) -> None:
        adding = [(mention_id, tag, operator, store.now()) for mention_id, _, on in changes if on]
        removing = [(mention_id, tag) for mention_id, _, on in changes if not on]
        store.conn.executemany("INSERT OR IGNORE INTO tags (mention_id, tag, operator, at) VALUES (?, ?, ?, ?)",
                               adding)
        store.conn.executemany("DELETE FROM tags WHERE mention_id = ? AND tag = ?", removing)
        log_events(store, operator, [("tag.add" if on else "tag.remove", mention_id, {"tag": tag, **extra})
                                     for mention_id, _, on in changes])

    return Field(f"tag:{tag}", read, write, toggle=lambda values: not all(values),
                 words=lambda on: f"{'Tagged' if on else 'Untagged'} {tag}", events=("tag.add", "tag.remove"))


def _read_status(store: Store, ids: list[int]) -> dict[int, Any]:
    return dict(store.conn.execute(
        "SELECT id, status FROM mentions WHERE id IN (SELECT value FROM json_each(?))", (id_list(ids),)))


def _write_status(store: Store, changes: list[Change], operator: str, extra: dict) -> None:
    store.conn.executemany("UPDATE mentions SET status = ?, seen = 1 WHERE id = ?",
                           [(status, mention_id) for mention_id, _, status in changes])
    log_events(store, operator, [(f"status.{status}", mention_id, dict(extra)) for mention_id, _, status in changes])


def _read_assignee(store: Store, ids: list[int]) -> dict[int, Any]:
    return dict(store.conn.execute(
        """SELECT m.id, coalesce(a.operator, '') FROM mentions m LEFT JOIN assignments a ON a.mention_id = m.id
           WHERE m.id IN (SELECT value FROM json_each(?))""", (id_list(ids),)))


def _write_assignee(store: Store, changes: list[Change], operator: str, extra: dict) -> None:
    now = store.now()
    store.conn.executemany(
        """INSERT INTO assignments (mention_id, operator, by, at) VALUES (?, ?, ?, ?)
           ON CONFLICT (mention_id) DO UPDATE SET operator = excluded.operator, by = excluded.by, at = excluded.at""",
        [(mention_id, to, operator, now) for mention_id, _, to in changes if to])
    store.conn.executemany("DELETE FROM assignments WHERE mention_id = ?",
                           [(mention_id,) for mention_id, _, to in changes if not to])
    log_events(store, operator, [
        ("assign", mention_id, {"to": to, "previous": before or None, **extra}) if to
        else ("unassign", mention_id, {"previous": before, **extra})
        for mention_id, before, to in changes])


for _tag in ("care", "marketing"):
    register_field(_tag_field(_tag))
register_field(Field("status", _read_status, _write_status,
                     toggle=lambda values: "open" if all(v == "done" for v in values) else "done",
                     words=lambda status: "Marked done" if status == "done" else "Reopened",
                     events=("status.open", "status.done")))
register_field(Field("assignee", _read_assignee, _write_assignee, toggle=None,
                     words=lambda to: f"Assigned to {to}" if to else "Unassigned", events=("assign", "unassign")))


def _undo_field(store: Store, entry: UndoEntry, operator: str) -> Undone:
    spec = FIELDS.get(entry.detail.get("field", ""))
    if spec is None:
        return Undone(f"Cannot undo {entry.label}: this version does not know that field.")
    changes = [tuple(change) for change in entry.detail["changes"]]
    current = spec.read(store, [change[0] for change in changes])
    # Only what is still as the action left it goes back; anything else was changed since.
    back = [(mention_id, after, before) for mention_id, before, after in changes
            if mention_id in current and current[mention_id] == after]
    kept = [mention_id for mention_id, _, after in changes if current.get(mention_id, after) != after]
    if back:
        spec.write(store, back, operator, {"undo_of": entry.id})
    ids = frozenset(mention_id for mention_id, _, _ in back)
    if not kept:
        return Undone(f"Undone: {entry.label}.", len(back), ids, "field")
    names = changed_by(store, kept, entry.event_id, spec.events)
    who = " and ".join("you" if name == operator else name for name in names[:2]) or "someone"
    if not back:
        where = f"#{kept[0]}" if len(kept) == 1 else f"those {len(kept)} mentions"
        return Undone(f"Not undone: {who} changed {where} since; left as it is now.", 0, ids, "field")
    return Undone(f"Undone on {len(back)} of {len(changes)}: {who} changed {len(kept)} since, left as they are.",
                  len(back), ids, "field")


register_kind("field", _undo_field)
