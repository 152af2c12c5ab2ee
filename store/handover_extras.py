"""The parts of the handover a lead acts on: who still waits for a first reply, and how fast the shift answered."""

from __future__ import annotations

from dataclasses import dataclass

from store.db import Store
from store.report_buckets import TAGSET, parse_stored, percentile
from store.reports import tag_key
from store.sanitize import clean_line
from store.sla import SNOOZE_ACTIONS, SlaPolicy, paused_seconds, sla_state

WAITING_SHOWN = 200  # the list a person reads; the total is always counted
_UNANSWERED = "NOT EXISTS (SELECT 1 FROM replies r WHERE r.mention_id = m.id AND r.state != 'failed')"
_TAGSET = TAGSET


@dataclass(frozen=True, slots=True)
class Waiting:
    """An open mention nobody has written a reply to."""

    id: int
    network: str
    author: str
    created_at: str
    tags: list[str]
    excerpt: str
    sla: str | None  # "due 12m" / "late 3h", None without a target
    late: bool
    assigned_to: str | None


@dataclass(frozen=True, slots=True)
class WaitingList:
    total: int
    late: int  # of those listed (the oldest WAITING_SHOWN)
    oldest: list[Waiting]


@dataclass(frozen=True, slots=True)
class ShiftResponse:
    """First replies sent during the shift, against the targets."""

    count: int
    p50: float | None
    p90: float | None
    on_time: int
    late: int
    by_tag: dict[str, tuple[int, float | None, float | None]]  # tag -> (count, p50, p90)
    targets: dict[str, float]


def waiting_for_reply(store: Store, policy: SlaPolicy, limit: int = WAITING_SHOWN) -> WaitingList:
    now = store.clock()
    conn = store.conn
    total = conn.execute(f"SELECT count(*) FROM mentions m WHERE m.status = 'open' AND {_UNANSWERED}").fetchone()[0]
    oldest = []
    rows = conn.execute(
        f"""SELECT m.id, m.network, a.handle, m.created_at, {_TAGSET}, substr(m.text, 1, 200),
                   (SELECT operator FROM assignments s WHERE s.mention_id = m.id)
            FROM mentions m JOIN authors a ON a.id = m.author_id
            WHERE m.status = 'open' AND {_UNANSWERED} ORDER BY m.created_at, m.id LIMIT ?""", (limit,)
    ).fetchall()
    snoozes: dict[int, list[tuple[str, str]]] = {}
    marks = ",".join("?" * len(rows))
    for mention_id, action, at in conn.execute(
        f"""SELECT mention_id, action, at FROM events WHERE mention_id IN ({marks})
            AND action IN ({",".join("?" * len(SNOOZE_ACTIONS))}) ORDER BY id""",
        [row[0] for row in rows] + list(SNOOZE_ACTIONS)) if rows else ():
        snoozes.setdefault(mention_id, []).append((action, at))
    for mention_id, network, handle, created, tagset, text, assignee in rows:
        tags = [t for t in tagset.split(",") if t]
        created_at = parse_stored(created)
        paused = paused_seconds(snoozes.get(mention_id, []), now)  # snoozed time does not count
        state = sla_state(policy, tags, network, created_at, now, paused) if created_at else None
        oldest.append(Waiting(
            mention_id, network, clean_line(handle, 80), created, tags, " ".join(clean_line(text, 200).split()),
            state.label() if state else None, bool(state and state.late),
            clean_line(assignee, 64) if assignee else None))
    return WaitingList(total, sum(1 for w in oldest if w.late), oldest)


@dataclass(frozen=True, slots=True)
class UnsentDraft:
    mention_id: int
    operator: str
    updated_at: str
    excerpt: str


def unsent_drafts(store: Store) -> list[UnsentDraft]:
    """Replies someone started and never sent, on mentions still open: the next shift may finish them."""
    return [UnsentDraft(mention_id, clean_line(operator, 64), at, " ".join(clean_line(text, 120).split()))
            for mention_id, operator, at, text in store.conn.execute(
                """SELECT d.mention_id, d.operator, d.updated_at, substr(d.text, 1, 120) FROM drafts d
                   JOIN mentions m ON m.id = d.mention_id WHERE m.status = 'open'
                   ORDER BY d.updated_at LIMIT 100""")]


def shift_response(store: Store, since: str, policy: SlaPolicy) -> ShiftResponse:
    """First replies that went out since `since` (whenever their mention arrived)."""
    rows = store.conn.execute(
        f"""SELECT m.network, {_TAGSET}, m.created_at, f.at
            FROM (SELECT mention_id, min(CASE state WHEN 'sent' THEN sent_at ELSE created_at END) AS at
                  FROM replies WHERE state IN ('sent', 'manual') GROUP BY mention_id) f
            JOIN mentions m ON m.id = f.mention_id WHERE f.at >= ?""", (since,)
    ).fetchall()
    every: list[float] = []
    by_tag: dict[str, list[float]] = {}
    on_time = late = 0
    for network, tagset, created, at in rows:
        start, end = parse_stored(created), parse_stored(at)
        if start is None or end is None:
            continue
        seconds = max(0.0, (end - start).total_seconds())
        every.append(seconds)
        by_tag.setdefault(tag_key(tagset), []).append(seconds)
        target = policy.target([t for t in tagset.split(",") if t], network)
        if target is not None:
            late, on_time = (late + 1, on_time) if seconds > target else (late, on_time + 1)
    every.sort()
    for values in by_tag.values():
        values.sort()
    targets = {**policy.by_tag, **policy.by_network, **({"default": policy.default} if policy.default else {})}
    return ShiftResponse(
        len(every), percentile(every, 0.5), percentile(every, 0.9), on_time, late,
        {tag: (len(v), percentile(v, 0.5), percentile(v, 0.9)) for tag, v in sorted(by_tag.items())}, targets)
