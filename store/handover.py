"""What the next shift needs to know, from the database alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from store.db import Store
from store.desk import HandoverNote, handover_notes_since
from store.sanitize import clean_line, clean_text

AGE_BUCKETS = (("under 1h", 3600), ("1-4h", 4 * 3600), ("4-24h", 86400), ("over 24h", None))


@dataclass(frozen=True, slots=True)
class OldestOpen:
    id: int
    created_at: str


@dataclass(frozen=True, slots=True)
class Arrived:
    total: int
    by_network: dict[str, int]


@dataclass(frozen=True, slots=True)
class StillOpen:
    total: int
    by_tag: dict[str, int]
    by_age: dict[str, int]
    oldest: OldestOpen | None


@dataclass(frozen=True, slots=True)
class NoteLine:
    mention_id: int
    operator: str
    at: str
    text: str


@dataclass(frozen=True, slots=True)
class FailedReply:
    reply_id: int
    mention_id: int
    operator: str
    error: str
    may_have_posted: bool


@dataclass(frozen=True, slots=True)
class HandoverReport:
    """Field names and order are the `handover --json` format: scripts read it."""

    since: str
    generated_at: str
    arrived: Arrived
    open: StillOpen
    replied: dict[str, dict[str, int]]  # operator -> reply state -> count
    done: dict[str, int]  # operator -> mentions closed (and still done)
    assigned: dict[str, list[int]]  # operator -> open mention ids
    notes: list[NoteLine]
    failed_replies: list[FailedReply]
    handover_notes: list[HandoverNote]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _age_seconds(created: str, now: datetime) -> float:
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return 0.0
    return (now - moment).total_seconds()


def _who(operator: str | None) -> str:
    """An operator name as stored, cleaned again: a desk file written by an older
    version may hold names with escape codes, and this report goes to terminals and chats."""
    return clean_line(operator, 64) or "?"


def handover_report(store: Store, since: str) -> HandoverReport:
    conn = store.conn
    now = store.clock()
    arrived = dict(conn.execute(
        "SELECT network, count(*) FROM mentions WHERE received_at > ? GROUP BY network ORDER BY network", (since,)
    ).fetchall())
    open_by_tag = {"care": 0, "marketing": 0, "both": 0, "untriaged": 0}
    open_by_age = {label: 0 for label, _ in AGE_BUCKETS}
    oldest: OldestOpen | None = None
    for mention_id, created, tags in conn.execute(
        """SELECT m.id, m.created_at, (SELECT group_concat(tag) FROM tags t WHERE t.mention_id = m.id)
           FROM mentions m WHERE m.status = 'open' ORDER BY m.id"""
    ):
        tagset = set(tags.split(",")) if tags else set()
        key = "both" if len(tagset) == 2 else (tagset.pop() if tagset else "untriaged")
        open_by_tag[key] += 1
        seconds = _age_seconds(created, now)
        for label, limit in AGE_BUCKETS:
            if limit is None or seconds < limit:
                open_by_age[label] += 1
                break
        if oldest is None or created < oldest.created_at:
            oldest = OldestOpen(mention_id, created)
    replies = conn.execute(
        """SELECT operator, CASE WHEN state = 'pending' AND waiting THEN 'waiting for network' ELSE state END AS shown,
                  count(*) FROM replies WHERE created_at > ? GROUP BY operator, shown""", (since,)
    ).fetchall()
    replied: dict[str, dict[str, int]] = {}
    for operator, state, count in replies:
        states = replied.setdefault(_who(operator), {})
        states[state] = states.get(state, 0) + count
    # Closed since and still closed, credited to whoever closed it last (a reopen undoes it).
    done = conn.execute(
        """SELECT e.operator, count(*) FROM events e JOIN mentions m ON m.id = e.mention_id
           WHERE e.action = 'status.done' AND e.at > ? AND m.status = 'done'
             AND e.id = (SELECT max(id) FROM events WHERE mention_id = e.mention_id AND action = 'status.done')
           GROUP BY e.operator""",
        (since,),
    ).fetchall()
    closed: dict[str, int] = {}
    for operator, count in done:
        closed[_who(operator)] = closed.get(_who(operator), 0) + count
    assigned: dict[str, list[int]] = {}
    for operator, mention_id in conn.execute(
        """SELECT a.operator, a.mention_id FROM assignments a JOIN mentions m ON m.id = a.mention_id
           WHERE m.status = 'open' ORDER BY a.operator, a.mention_id"""
    ):
        assigned.setdefault(_who(operator), []).append(mention_id)
    notes = [
        NoteLine(mention_id, _who(operator), at, clean_text(text))
        for mention_id, operator, at, text in conn.execute(
            "SELECT mention_id, operator, at, text FROM notes WHERE at > ? ORDER BY id", (since,)
        )
    ]
    failed = [
        FailedReply(reply_id, mention_id, _who(operator), clean_line(error, 500), bool(uncertain))
        for reply_id, mention_id, operator, error, uncertain in conn.execute(
            "SELECT id, mention_id, operator, error, uncertain FROM replies WHERE state = 'failed' ORDER BY id"
        )
    ]
    return HandoverReport(
        since=since,
        generated_at=store.now(),
        arrived=Arrived(sum(arrived.values()), arrived),
        open=StillOpen(sum(open_by_tag.values()), open_by_tag, open_by_age, oldest),
        replied=replied,
        done=closed,
        assigned=assigned,
        notes=notes,
        failed_replies=failed,
        handover_notes=handover_notes_since(store, since),
    )


def format_report(report: HandoverReport, when: Callable[[str], str] = lambda moment: moment) -> str:
    """The report as plain text for a terminal or a shift chat; `when` formats stored times."""
    lines = [f"Handover since {when(report.since)} (at {when(report.generated_at)})", ""]
    arrived = report.arrived
    networks = ", ".join(f"{n} {c}" for n, c in arrived.by_network.items()) or "none"
    lines.append(f"Arrived: {arrived.total} ({networks})")
    opened = report.open
    lines.append(f"Still open: {opened.total} — " + ", ".join(f"{k} {v}" for k, v in opened.by_tag.items()))
    lines.append("  by age: " + ", ".join(f"{k} {v}" for k, v in opened.by_age.items()))
    if opened.oldest:
        lines.append(f"  oldest open: #{opened.oldest.id} from {when(opened.oldest.created_at)}")
    if report.replied:
        lines.append("Replied:")
        for operator, states in sorted(report.replied.items()):
            lines.append(f"  {operator}: " + ", ".join(f"{s} {c}" for s, c in sorted(states.items())))
    else:
        lines.append("Replied: none")
    if report.done:
        lines.append("Closed (still done): " + ", ".join(f"{o} {c}" for o, c in sorted(report.done.items())))
    if report.assigned:
        lines.append("Assigned (open):")
        for operator, ids in report.assigned.items():
            shown = " ".join(f"#{i}" for i in ids[:12]) + (" …" if len(ids) > 12 else "")
            lines.append(f"  {operator}: {len(ids)} — {shown}")
    if report.failed_replies:
        lines.append(f"Failed replies: {len(report.failed_replies)}")
        for item in report.failed_replies[:10]:
            maybe = " (may have been posted: it is looked up before any retry)" if item.may_have_posted else ""
            lines.append(f"  #{item.mention_id} ({item.operator}): {item.error}{maybe}")
    if report.notes:
        lines.append("Notes:")
        for note in report.notes[-20:]:
            lines.append(f"  #{note.mention_id} {note.operator}: {' '.join(note.text.split())}")
    if report.handover_notes:
        lines.append("Handover notes:")
        for handover in report.handover_notes:
            lines.append(f"  {handover.operator} at {when(handover.at)}: {handover.text}")
    return "\n".join(lines)
