"""The shared desk: notes, assignment, reply claims and the shift handover."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from store.actions import ActionError, _require_mention
from store.db import Store, inserted_id, iso
from store.events import log_event
from store.operators import check_operator
from store.sanitize import clean_line, clean_text

# A console renews its claims every CLAIM_RENEW while the composer is open, so a
# console that died (a dropped SSH session) stops showing "✎ name" within CLAIM_TTL.
CLAIM_TTL = timedelta(seconds=15)
CLAIM_RENEW = 5.0


class UnknownOperator(ActionError):
    """An assignment to a name nobody has used on this desk (a typo, most likely)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"nobody called {name!r} has used this desk yet")
        self.name = name


def register_operator(store: Store, operator: str) -> None:
    """A console started by `operator`: the name is now known to the desk."""
    now = store.now()
    with store.write():
        store.conn.execute(
            """INSERT INTO operators (name, first_seen, last_seen) VALUES (?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen""",
            (operator, now, now),
        )


def known_operator(store: Store, name: str) -> bool:
    """Whether `name` has used the desk: started a console, acted, or been assigned."""
    return any(store.conn.execute(sql, (name,)).fetchone() for sql in (
        "SELECT 1 FROM operators WHERE name = ?",
        "SELECT 1 FROM events WHERE operator = ? LIMIT 1",
        "SELECT 1 FROM assignments WHERE operator = ? LIMIT 1",
    ))


def add_note(store: Store, mention_id: int, text: str, operator: str) -> int:
    """An internal note: for the team, never sent to the network."""
    text = clean_text(text)
    if not text:
        raise ActionError("the note is empty")
    with store.write():
        _require_mention(store, mention_id)
        note_id = inserted_id(store.conn.execute(
            "INSERT INTO notes (mention_id, operator, at, text) VALUES (?, ?, ?, ?)",
            (mention_id, operator, store.now(), text),
        ))
        log_event(store, operator, "note.add", mention_id, note_id=note_id, text=text[:200])
    return note_id


def assign(store: Store, mention_id: int, assignee: str | None, operator: str, *,
           allow_new: bool = False) -> bool:
    """Assign to an operator (None or "" unassigns); returns whether it changed.

    A name nobody has used raises UnknownOperator unless `allow_new`.
    """
    assignee = check_operator(assignee) if assignee else ""
    with store.write():
        _require_mention(store, mention_id)
        if assignee and assignee != operator and not allow_new and not known_operator(store, assignee):
            raise UnknownOperator(assignee)
        row = store.conn.execute("SELECT operator FROM assignments WHERE mention_id = ?", (mention_id,)).fetchone()
        current = row[0] if row else ""
        if current == assignee:
            return False
        if assignee:
            store.conn.execute(
                """INSERT INTO assignments (mention_id, operator, by, at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (mention_id) DO UPDATE SET operator = excluded.operator, by = excluded.by,
                   at = excluded.at""",
                (mention_id, assignee, operator, store.now()),
            )
            log_event(store, operator, "assign", mention_id, to=assignee, previous=current or None)
        else:
            store.conn.execute("DELETE FROM assignments WHERE mention_id = ?", (mention_id,))
            log_event(store, operator, "unassign", mention_id, previous=current)
    return True


@dataclass(frozen=True, slots=True)
class Claim:
    operator: str
    at: str
    expires_at: str


def active_claim(store: Store, mention_id: int) -> Claim | None:
    row = store.conn.execute(
        "SELECT operator, at, expires_at FROM claims WHERE mention_id = ? AND expires_at > ?",
        (mention_id, store.now()),
    ).fetchone()
    return Claim(*row) if row else None


def claim(store: Store, mention_id: int, operator: str, ttl: timedelta = CLAIM_TTL) -> Claim | None:
    """Claim (or renew the claim on) a mention for replying. Returns another
    operator's live claim instead of taking it (the caller asks before
    stepping on it), else None."""
    now = store.clock()
    with store.write():
        _require_mention(store, mention_id)
        row = store.conn.execute(
            "SELECT operator, at, expires_at FROM claims WHERE mention_id = ?", (mention_id,)
        ).fetchone()
        if row and row[0] != operator and row[2] > iso(now):
            return Claim(*row)
        store.conn.execute(
            """INSERT INTO claims (mention_id, operator, at, expires_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (mention_id) DO UPDATE SET operator = excluded.operator, at = excluded.at,
               expires_at = excluded.expires_at""",
            (mention_id, operator, iso(now), iso(now + ttl)),
        )
        if not row or row[0] != operator or row[2] <= iso(now):
            log_event(store, operator, "claim", mention_id)
    return None


def take_claim(store: Store, mention_id: int, operator: str, ttl: timedelta = CLAIM_TTL) -> None:
    """Take over a claim after the operator confirmed."""
    now = store.clock()
    with store.write():
        store.conn.execute(
            """INSERT INTO claims (mention_id, operator, at, expires_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (mention_id) DO UPDATE SET operator = excluded.operator, at = excluded.at,
               expires_at = excluded.expires_at""",
            (mention_id, operator, iso(now), iso(now + ttl)),
        )
        log_event(store, operator, "claim", mention_id, taken_over=True)


def release_claim(store: Store, mention_id: int, operator: str) -> None:
    release_claims(store, [mention_id], operator)


def release_claims(store: Store, mention_ids, operator: str) -> int:
    """Drop this operator's claims on these mentions (a composer closed, a console quit)."""
    released = 0
    with store.write():
        for mention_id in mention_ids:
            if store.conn.execute(
                "DELETE FROM claims WHERE mention_id = ? AND operator = ?", (mention_id, operator)
            ).rowcount:
                log_event(store, operator, "claim.release", mention_id)
                released += 1
    return released


def leave_handover_note(store: Store, text: str, operator: str) -> int:
    text = clean_text(text)
    if not text:
        raise ActionError("the handover note is empty")
    with store.write():
        note_id = inserted_id(store.conn.execute(
            "INSERT INTO handover_notes (operator, at, text) VALUES (?, ?, ?)", (operator, store.now(), text)
        ))
        log_event(store, operator, "handover.note", None, note_id=note_id, text=text[:200])
    return note_id


@dataclass(frozen=True, slots=True)
class HandoverNote:
    operator: str
    at: str
    text: str


def handover_notes_since(store: Store, since: str) -> list[HandoverNote]:
    """Handover notes after `since`, oldest first.

    Cleaned on the way out too: they greet every operator at start, and a
    file written by an older version may hold escape codes.
    """
    return [HandoverNote(clean_line(operator, 64), at, clean_text(text)) for operator, at, text in store.conn.execute(
        "SELECT operator, at, text FROM handover_notes WHERE at > ? ORDER BY id", (since,)
    )]


def last_seen_by(store: Store, operator: str) -> str | None:
    """When this operator last acted (for "since you were here")."""
    row = store.conn.execute(
        "SELECT max(at) FROM events WHERE operator = ? AND action != 'session.start'", (operator,)
    ).fetchone()
    return row[0] if row and row[0] else None
