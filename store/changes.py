"""The change feed: what changed since a console last looked, cheaply.

`PRAGMA data_version` changes when *another* connection commits, so an
idle poll costs one pragma. When it moved, the high-water marks of the
mentions, the append-only event log and the operator's reads say exactly
what is new.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from store.db import Store
from store.events import events_since

# Actions that can move a mention into or out of a quick view.
EVENTS_PER_POLL = 10_000
SHOW_EVERY = 1.0  # seconds between showings of a storm's changes (Backlog)
QUIET_GAP = 0.2  # seconds between showings of a few changes: other consoles' edits show well within a second
STORM_ITEMS = 20  # arrivals and touched rows in one showing beyond which it is a storm
MEMBERSHIP_ACTIONS = {"tag.add", "tag.remove", "status.open", "status.done", "assign", "unassign",
                      "snooze", "unsnooze", "snooze.wake"}


@dataclass(frozen=True, slots=True)
class Marks:
    data_version: int = -1
    mention_id: int = 0
    event_id: int = 0
    read_id: int = 0


@dataclass(frozen=True, slots=True)
class Assigned:
    """A mention someone else assigned to the polling operator."""

    mention_id: int
    by: str


@dataclass(frozen=True, slots=True)
class Changes:
    marks: Marks  # pass them to the next poll
    new_mentions: int = 0
    touched: frozenset[int] = field(default_factory=frozenset)
    membership_changed: bool = False
    actions: tuple[str, ...] = ()
    assigned_to_me: tuple[Assigned, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.new_mentions or self.touched)

    def merged(self, later: Changes) -> Changes:
        """These changes and `later` ones as one (the later marks)."""
        return Changes(later.marks, self.new_mentions + later.new_mentions, self.touched | later.touched,
                       self.membership_changed or later.membership_changed, self.actions + later.actions,
                       self.assigned_to_me + later.assigned_to_me)


class Backlog:
    """Polled changes not shown yet, merged; during a storm they are shown once per `show_every`.

    Showing changes costs the screen a redraw and a layout; at 2,000 arrivals a
    second, showing every poll's worth would keep the event loop busy. A few
    changes (a colleague's tag, a handful of arrivals) are shown `quiet_gap`
    after the last showing at most, so a desk's edits appear well within a
    second; once a showing or the pending changes hold more than `storm_items`
    rows, showings are spaced by `show_every` until it calms down. Nothing is
    dropped: touched ids are united and arrivals counted (the screen then reads
    every id above the newest it lists, so one showing brings all of them).
    """

    def __init__(self, show_every: float = SHOW_EVERY, clock: Callable[[], float] = time.monotonic, *,
                 quiet_gap: float = QUIET_GAP, storm_items: int = STORM_ITEMS) -> None:
        self.show_every = show_every
        self.quiet_gap = min(quiet_gap, show_every)
        self.storm_items = storm_items
        self._clock = clock
        self._pending: Changes | None = None
        self._shown_at = float("-inf")
        self._last_size = 0

    def add(self, changes: Changes) -> None:
        self._pending = changes if self._pending is None else self._pending.merged(changes)

    @property
    def pending(self) -> Changes | None:
        return self._pending

    def due(self) -> bool:
        return self.due_in() == 0.0

    def due_in(self) -> float | None:
        """Seconds until what is pending may be shown (0.0: now); None when nothing is pending."""
        if self._pending is None:
            return None
        storm = max(self._last_size, _size(self._pending)) > self.storm_items
        return max(0.0, self._shown_at + (self.show_every if storm else self.quiet_gap) - self._clock())

    def offer(self, changes: Changes, *, force: bool = False) -> Changes | None:
        """Add `changes`; everything pending if it is due (or `force`: the operator's own action)."""
        self.add(changes)
        return self.take() if force or self.due() else None

    def take(self) -> Changes:
        """Everything pending, now being shown."""
        if self._pending is None:
            raise LookupError("nothing pending")
        changes, self._pending = self._pending, None
        if not changes.empty:
            self._shown_at = self._clock()
            self._last_size = _size(changes)
        return changes


def _size(changes: Changes) -> int:
    return changes.new_mentions + len(changes.touched)


def marks_now(store: Store) -> Marks:
    conn = store.conn
    return Marks(
        conn.execute("PRAGMA data_version").fetchone()[0],
        conn.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0],
        conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0],
        conn.execute("SELECT coalesce(max(id), 0) FROM reads").fetchone()[0],
    )


def poll(store: Store, marks: Marks, *, force: bool = False, operator: str = "") -> Changes:
    """Changes since `marks` as `operator` sees them; `force` also sees this connection's own commits.

    Mentions `operator` read in another console count as touched (their
    "● new" goes), and assignments to `operator` by others are listed.
    """
    version = store.conn.execute("PRAGMA data_version").fetchone()[0]
    if version == marks.data_version and not force:
        return Changes(marks)
    top = store.conn.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0]
    events = events_since(store, marks.event_id, EVENTS_PER_POLL)
    touched = {event.mention_id for event in events if event.mention_id is not None}
    actions = tuple(event.action for event in events)
    event_top = events[-1].id if events else marks.event_id
    assigned: tuple[Assigned, ...] = ()
    if operator and "assign" in actions:
        assigned = tuple(Assigned(*row) for row in store.conn.execute(
            """SELECT mention_id, operator FROM events WHERE id > ? AND id <= ? AND action = 'assign'
               AND json_extract(detail, '$.to') = ? AND operator != ? ORDER BY id""",
            (marks.event_id, event_top, operator, operator),
        ))
    # Every operator's reads since the last poll are scanned (few per interval); only ours count.
    read_top = min(store.conn.execute("SELECT coalesce(max(id), 0) FROM reads").fetchone()[0],
                   marks.read_id + EVENTS_PER_POLL)
    if operator:
        touched.update(mention_id for (mention_id,) in store.conn.execute(
            "SELECT mention_id FROM reads WHERE id > ? AND id <= ? AND operator = ?",
            (marks.read_id, read_top, operator)))
    # A capped read leaves more to fetch: forget the version so the next poll reads on.
    capped = len(events) >= EVENTS_PER_POLL or read_top == marks.read_id + EVENTS_PER_POLL
    return Changes(
        marks=Marks(-1 if capped else version, max(top, marks.mention_id), event_top, read_top),
        new_mentions=max(0, top - marks.mention_id),
        touched=frozenset(touched),
        membership_changed=any(action in MEMBERSHIP_ACTIONS for action in actions),
        actions=actions,
        assigned_to_me=assigned,
    )
