"""Snoozing: a mention leaves the open views until a time, or until its author posts again.

Every function takes a list of ids and changes them in one transaction, returning exactly
what changed (`SnoozeChange`: the wake time before and after), so bulk actions and undo
can build on it. Waking makes the mention new again for everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from store.db import Store, iso
from store.errors import ActionError
from store.events import log_event
from store.snooze_time import MAX_AHEAD

# Who the event log names for a wake nobody asked for (the clock, the author's new post).
WAKER = "snooze"


@dataclass(frozen=True, slots=True)
class SnoozeChange:
    mention_id: int
    before: str | None  # the wake time it had (None: it was not snoozed)
    after: str | None  # the wake time now (None: awake)


@dataclass(frozen=True, slots=True)
class Snoozed:
    mention_id: int
    until: str
    operator: str
    at: str


def _current(store: Store, ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        marks = ",".join("?" * len(chunk))
        found.update(store.conn.execute(
            f"SELECT mention_id, until FROM snoozes WHERE mention_id IN ({marks})", chunk).fetchall())
    return found


def _existing(store: Store, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        marks = ",".join("?" * len(chunk))
        known = {row[0] for row in store.conn.execute(f"SELECT id FROM mentions WHERE id IN ({marks})", chunk)}
        missing = [mention_id for mention_id in chunk if mention_id not in known]
        if missing:
            raise ActionError(f"no mention with id {missing[0]}")


def snooze(store: Store, ids: Iterable[int], until: datetime, operator: str) -> list[SnoozeChange]:
    """Snooze every mention in `ids` until `until` (aware); all or nothing.

    A mention already snoozed gets the new time; one snoozed to that very time is left alone.
    """
    if until.tzinfo is None:
        raise ActionError("a snooze time needs a time zone")
    now = store.clock()
    if until <= now:
        raise ActionError("that time has already passed; pick a later one")
    if until - now > MAX_AHEAD:
        raise ActionError("that is more than a year ahead; pick an earlier time")
    wake = iso(until)
    unique = list(dict.fromkeys(ids))
    changes: list[SnoozeChange] = []
    with store.write():
        _existing(store, unique)
        before = _current(store, unique)
        stamp = store.now()
        for mention_id in unique:
            if before.get(mention_id) == wake:
                continue
            store.conn.execute(
                """INSERT INTO snoozes (mention_id, until, operator, at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (mention_id) DO UPDATE SET until = excluded.until,
                   operator = excluded.operator, at = excluded.at""",
                (mention_id, wake, operator, stamp))
            log_event(store, operator, "snooze", mention_id, until=wake, before=before.get(mention_id))
            changes.append(SnoozeChange(mention_id, before.get(mention_id), wake))
    return changes


def unsnooze(store: Store, ids: Iterable[int], operator: str) -> list[SnoozeChange]:
    """Wake the mentions in `ids` now, by hand; ones not snoozed are left alone."""
    unique = list(dict.fromkeys(ids))
    with store.write():
        _existing(store, unique)
        return _wake(store, _current(store, unique), operator, "unsnooze", {})


def _wake(store: Store, snoozed: dict[int, str], operator: str, action: str, detail: dict) -> list[SnoozeChange]:
    changes = []
    for mention_id, until in snoozed.items():
        store.conn.execute("DELETE FROM snoozes WHERE mention_id = ?", (mention_id,))
        # Back as new to everyone: its earlier reads no longer count.
        store.conn.execute("DELETE FROM reads WHERE mention_id = ?", (mention_id,))
        store.conn.execute("UPDATE mentions SET seen = 0 WHERE id = ?", (mention_id,))
        log_event(store, operator, action, mention_id, until=until, **detail)
        changes.append(SnoozeChange(mention_id, until, None))
    return changes


def wake_due(store: Store) -> list[SnoozeChange]:
    """Wake every snooze whose time has come (by the store's clock); cheap when none is due."""
    now = store.now()
    if store.conn.execute("SELECT 1 FROM snoozes WHERE until <= ? LIMIT 1", (now,)).fetchone() is None:
        return []
    with store.write():  # re-read inside: another console may have woken them meanwhile
        due = dict(store.conn.execute("SELECT mention_id, until FROM snoozes WHERE until <= ?", (now,)).fetchall())
        return _wake(store, due, WAKER, "snooze.wake", {"reason": "time"})


def wake_on_posts(store: Store, new_ids: Sequence[int]) -> list[SnoozeChange]:
    """Inside the ingest transaction: wake snoozed mentions whose author just posted in their thread.

    "In their thread": the new post answers the snoozed one, or both share a thread root.
    """
    if not new_ids or store.conn.execute("SELECT 1 FROM snoozes LIMIT 1").fetchone() is None:
        return []
    woken: dict[int, str] = {}
    for start in range(0, len(new_ids), 500):
        chunk = list(new_ids[start:start + 500])
        marks = ",".join("?" * len(chunk))
        woken.update(store.conn.execute(
            f"""SELECT s.id, z.until FROM mentions n
                JOIN mentions s ON s.network = n.network AND s.author_id = n.author_id AND s.id != n.id
                JOIN snoozes z ON z.mention_id = s.id
                WHERE n.id IN ({marks}) AND (
                    n.parent_remote_id = s.remote_id OR n.root_remote_id = s.remote_id
                    OR coalesce(n.root_remote_id, n.parent_remote_id) = coalesce(s.root_remote_id, s.remote_id))""",
            chunk).fetchall())
    return _wake(store, woken, WAKER, "snooze.wake", {"reason": "author posted"}) if woken else []


def snoozed(store: Store) -> list[Snoozed]:
    """Every snoozed mention, soonest wake first."""
    return [Snoozed(*row) for row in store.conn.execute(
        "SELECT mention_id, until, operator, at FROM snoozes ORDER BY until, mention_id")]


def snoozed_until(store: Store, mention_id: int) -> str | None:
    row = store.conn.execute("SELECT until FROM snoozes WHERE mention_id = ?", (mention_id,)).fetchone()
    return row[0] if row else None
