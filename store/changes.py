"""The change feed: what changed since a console last looked, cheaply.

`PRAGMA data_version` changes when *another* connection commits, so an
idle poll costs one pragma. When it moved, the high-water marks of the
mentions and the append-only event log say exactly what is new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from store.db import Store
from store.events import events_since

# Actions that can move a mention into or out of a quick view.
EVENTS_PER_POLL = 10_000
MEMBERSHIP_ACTIONS = {"tag.add", "tag.remove", "status.open", "status.done", "assign", "unassign"}


@dataclass(frozen=True, slots=True)
class Marks:
    data_version: int = -1
    mention_id: int = 0
    event_id: int = 0


@dataclass(frozen=True, slots=True)
class Changes:
    new_mentions: int = 0
    touched: frozenset[int] = field(default_factory=frozenset)
    membership_changed: bool = False
    actions: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.new_mentions or self.touched)


def marks_now(store: Store) -> Marks:
    conn = store.conn
    return Marks(
        conn.execute("PRAGMA data_version").fetchone()[0],
        conn.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0],
        conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0],
    )


def poll(store: Store, marks: Marks, *, force: bool = False) -> tuple[Changes, Marks]:
    """Changes since `marks`; `force` also sees this connection's own commits."""
    version = store.conn.execute("PRAGMA data_version").fetchone()[0]
    if version == marks.data_version and not force:
        return Changes(), marks
    top = store.conn.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0]
    events = events_since(store, marks.event_id, EVENTS_PER_POLL)
    touched = {mention_id for _, _, mention_id in events if mention_id is not None}
    actions = tuple(action for _, action, _ in events)
    changes = Changes(
        new_mentions=max(0, top - marks.mention_id),
        touched=frozenset(touched),
        membership_changed=any(action in MEMBERSHIP_ACTIONS for action in actions),
        actions=actions,
    )
    event_top = events[-1][0] if events else marks.event_id
    # A capped read leaves more to fetch: forget the version so the next poll reads on.
    version = version if len(events) < EVENTS_PER_POLL else -1
    return changes, Marks(version, max(top, marks.mention_id), event_top)
