"""Undo: each operator's last actions, and how each kind of action is put back.

An action pushes an entry in its own transaction, saying what it changed;
`undo_last` puts the newest entry back by writing the compensating change
with its own events (the event log stays append-only) and deletes the entry.
Entries live in the database, per operator, so `u` works after the toast,
after a restart and from `mentiondesk undo`; only the last UNDO_DEPTH are kept.

Kinds plug in: `register_kind(kind, undoer)`. Changes to one piece of a
mention's state (a tag, the status, the assignee, a snooze) need no undoer
of their own: register a `store.fields.Field` and change it through
`store.bulk.change`, which pushes a "field" entry that this module knows how
to put back without clobbering anyone's later change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from store.db import Store, inserted_id
from store.errors import ActionError

UNDO_DEPTH = 10
# Modules that register kinds on import; a new kind's module joins this list.
KIND_MODULES = ["store.fields", "store.recall", "store.snooze_undo"]


@dataclass(frozen=True, slots=True)
class UndoEntry:
    id: int
    operator: str
    at: str
    kind: str
    label: str  # what was done, for the toast: "Tagged care on 3 mentions"
    event_id: int  # the log's last event when the action committed: later events are others' changes
    detail: dict


@dataclass(frozen=True, slots=True)
class Undone:
    """What an undo did, in one line for the operator; `count` 0: nothing was put back."""

    message: str
    count: int = 0
    mention_ids: frozenset[int] = frozenset()
    kind: str = ""
    detail: dict = field(default_factory=dict)  # kind-specific: a recalled reply's text


class NothingToUndo(ActionError):
    def __init__(self) -> None:
        super().__init__("Nothing to undo.")


Undoer = Callable[[Store, UndoEntry, str], Undone]
_KINDS: dict[str, Undoer] = {}


def register_kind(kind: str, undoer: Undoer) -> None:
    _KINDS[kind] = undoer


def push(store: Store, operator: str, kind: str, label: str, detail: dict) -> int:
    """Record an action for undo, in the caller's transaction; drops this operator's oldest beyond UNDO_DEPTH."""
    with store.write() as conn:
        event_id = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        entry_id = inserted_id(conn.execute(
            "INSERT INTO undo_entries (operator, at, kind, label, event_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (operator, store.now(), kind, label, event_id, json.dumps(detail, ensure_ascii=False)),
        ))
        conn.execute(
            """DELETE FROM undo_entries WHERE operator = ? AND id NOT IN
               (SELECT id FROM undo_entries WHERE operator = ? ORDER BY id DESC LIMIT ?)""",
            (operator, operator, UNDO_DEPTH),
        )
    return entry_id


def entries(store: Store, operator: str) -> list[UndoEntry]:
    """This operator's undoable actions, newest first."""
    return [_entry(row) for row in store.conn.execute(
        "SELECT id, operator, at, kind, label, event_id, detail FROM undo_entries WHERE operator = ? ORDER BY id DESC",
        (operator,),
    )]


def _entry(row: tuple) -> UndoEntry:
    entry_id, operator, at, kind, label, event_id, detail = row
    return UndoEntry(entry_id, operator, at, kind, label, event_id, json.loads(detail))


def undo_last(store: Store, operator: str) -> Undone:
    """Put back this operator's newest action (NothingToUndo when there is none).

    The entry goes whatever the outcome: an action that can no longer be put
    back (someone changed it since, a reply already sent) says so in
    `message` and the next `u` reaches the one before it.
    """
    for module in KIND_MODULES:
        import_module(module)
    with store.write() as conn:
        row = conn.execute(
            """SELECT id, operator, at, kind, label, event_id, detail FROM undo_entries
               WHERE operator = ? ORDER BY id DESC LIMIT 1""", (operator,),
        ).fetchone()
        if row is None:
            raise NothingToUndo()
        entry = _entry(row)
        conn.execute("DELETE FROM undo_entries WHERE id = ?", (entry.id,))
        undoer = _KINDS.get(entry.kind)
        if undoer is None:  # written by a newer mentiondesk
            return Undone(f"Cannot undo {entry.label[:1].lower()}{entry.label[1:]}: this version does not know how.")
        return undoer(store, entry, operator)


def changed_by(store: Store, mention_ids: list[int], after_event: int, actions: tuple[str, ...] = ()) -> list[str]:
    """Who changed these mentions after `after_event` (by one of `actions`; any, if none), latest first:
    for "bo changed it since"."""
    names: list[str] = []
    wanted = json.dumps(actions)
    for start in range(0, len(mention_ids), 500):
        chunk = json.dumps(mention_ids[start:start + 500])
        for (name,) in store.conn.execute(
            """SELECT operator FROM events WHERE id > ? AND mention_id IN (SELECT value FROM json_each(?))
               AND (? = '[]' OR action IN (SELECT value FROM json_each(?)))
               GROUP BY operator ORDER BY max(id) DESC""", (after_event, chunk, wanted, wanted),
        ):
            if name not in names:
                names.append(name)
    return names
