"""What the next shift needs to know, from the database alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from store.db import Store, iso
from store.desk import HandoverNote, handover_notes_since
from store.handover_extras import (
    ShiftResponse,
    UnsentDraft,
    WaitingList,
    shift_response,
    unsent_drafts,
    waiting_for_reply,
)
from store.incidents import Incident, IncidentStats, incident_stats, incidents_since, stats_line
from store.report_buckets import TAGSET, parse_stored
from store.sanitize import clean_line, clean_text
from store.sla import SlaPolicy, short_span
from store.spikes import Spike, find_spikes

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
    for_operator: str = ""  # the incoming operator this report was made for
    waiting: WaitingList | None = None  # still waiting for a first reply, oldest first
    assigned_to_you: list[int] | None = None  # open mentions assigned to for_operator
    first_response: ShiftResponse | None = None  # first replies sent in the period, against targets
    spikes: list[Spike] | None = None  # arrival spikes in the period
    drafts: list[UnsentDraft] | None = None  # replies started and never sent, on open mentions
    incidents: list[Incident] | None = None  # incidents raised or still open in the period
    incident_stats: list[IncidentStats] | None = None  # each of them measured: people answered, skipped, failed

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _who(operator: str | None) -> str:
    """An operator name as stored, cleaned again: a desk file written by an older
    version may hold names with escape codes, and this report goes to terminals and chats."""
    return clean_line(operator, 64) or "?"


_TAGSET = TAGSET


def _still_open(store: Store, now: datetime) -> StillOpen:
    """Open mentions by tag and age, counted in SQL: a flood-day desk has hundreds of thousands."""
    conn = store.conn
    by_tag = {"care": 0, "marketing": 0, "both": 0, "untriaged": 0}
    names = {"care": "care", "marketing": "marketing", "care,marketing": "both", "": "untriaged"}
    for tagset, count in conn.execute(
        f"SELECT {_TAGSET} AS tagset, count(*) FROM mentions m WHERE m.status = 'open' GROUP BY 1"
    ):
        by_tag[names.get(tagset, "untriaged")] += count
    limits = [iso(now - timedelta(seconds=limit)) for _, limit in AGE_BUCKETS if limit is not None]
    cases = " ".join(f"WHEN created_at > ? THEN {i}" for i in range(len(limits)))
    by_age = {label: 0 for label, _ in AGE_BUCKETS}
    labels = [label for label, _ in AGE_BUCKETS]
    for bucket, count in conn.execute(
        f"SELECT CASE {cases} ELSE {len(limits)} END, count(*) FROM mentions WHERE status = 'open' GROUP BY 1", limits
    ):
        by_age[labels[bucket]] += count
    oldest_row = conn.execute(
        "SELECT id, created_at FROM mentions WHERE status = 'open' ORDER BY created_at, id LIMIT 1").fetchone()
    oldest = OldestOpen(*oldest_row) if oldest_row else None
    return StillOpen(sum(by_tag.values()), by_tag, by_age, oldest)


def handover_report(store: Store, since: str, incoming: str = "", policy: SlaPolicy | None = None) -> HandoverReport:
    """What the next shift needs, for `incoming` (the operator taking over) against `policy`'s targets."""
    conn = store.conn
    now = store.clock()
    policy = policy or SlaPolicy()
    arrived = dict(conn.execute(
        "SELECT network, count(*) FROM mentions WHERE received_at > ? GROUP BY network ORDER BY network", (since,)
    ).fetchall())
    replies = conn.execute(
        """SELECT operator,
                  CASE WHEN state = 'pending' AND waiting = 1 THEN 'waiting for network' ELSE state END AS shown,
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
        open=_still_open(store, now),
        replied=replied,
        done=closed,
        assigned=assigned,
        notes=notes,
        failed_replies=failed,
        handover_notes=handover_notes_since(store, since),
        for_operator=incoming,
        waiting=waiting_for_reply(store, policy),
        assigned_to_you=assigned.get(_who(incoming), []) if incoming else [],
        first_response=shift_response(store, since, policy),
        spikes=find_spikes(store, since),
        drafts=unsent_drafts(store),
        incidents=(found := incidents_since(store, since)),
        incident_stats=[incident_stats(store, incident.id) for incident in found],
    )


def period(since: str, until: str) -> str:
    start, end = parse_stored(since), parse_stored(until)
    return f"the last {short_span((end - start).total_seconds())}" if start and end else "period unknown"


def lead_lines(report: HandoverReport, when: Callable[[str], str]) -> list[str]:
    """What to act on first: who waits for a first reply, what is yours, how fast the shift answered, spikes."""
    lines: list[str] = []
    waiting = report.waiting
    if waiting is not None:
        late = f", {waiting.late} of the oldest {len(waiting.oldest)} past their target" if waiting.late else ""
        lines.append(f"Waiting for a first reply: {waiting.total}{late} (oldest first)")
        for item in waiting.oldest[:15]:
            tags = "+".join(item.tags) or "untriaged"
            sla = f" {item.sla}" if item.sla else ""
            owner = f" →{item.assigned_to}" if item.assigned_to else ""
            lines.append(f"  #{item.id} {when(item.created_at)}{sla} {tags} {item.author}{owner}: {item.excerpt[:60]}")
        if waiting.total > 15:
            lines.append(f"  … and {waiting.total - 15} more")
    if report.for_operator:
        mine = report.assigned_to_you or []
        shown = " ".join(f"#{i}" for i in mine[:12]) + (" …" if len(mine) > 12 else "")
        lines.append(f"Assigned to you ({report.for_operator}): {len(mine)}" + (f" — {shown}" if mine else ""))
    response = report.first_response
    if response is not None:
        if response.count:
            against = (f"; against target: {response.on_time} on time, {response.late} late"
                       if response.targets else "; no targets set ([sla] in the config)")
            per_tag = ", ".join(f"{tag} {_span(p50)}/{_span(p90)} ({n})" for tag, (n, p50, p90) in
                                response.by_tag.items())
            lines.append(f"First replies sent: {response.count}, p50 {_span(response.p50)}, "
                         f"p90 {_span(response.p90)}{against}")
            lines.append(f"  by tag (p50/p90): {per_tag}")
        else:
            lines.append("First replies sent: none in this period")
    if report.incidents:
        lines.append(f"Incidents: {len(report.incidents)}")
        measured = {stats.incident.id: stats for stats in report.incident_stats or []}
        for incident in report.incidents:
            lines.append(f"  #{incident.id} {incident.state} since {when(incident.started_at)}: {incident.title} "
                         f"({incident.mentions} mentions; mentiondesk incidents show {incident.id})")
            if incident.id in measured:
                lines.append(f"    {stats_line(measured[incident.id])}")
    if report.drafts:
        lines.append(f"Drafts left unsent: {len(report.drafts)}")
        for draft in report.drafts[:10]:
            lines.append(f"  #{draft.mention_id} {draft.operator} ({when(draft.updated_at)}): {draft.excerpt[:60]}")
    if report.spikes:
        lines.append(f"Spikes: {len(report.spikes)}")
        for spike in report.spikes:
            about = f" — {', '.join(spike.words)}" if spike.words else ""
            lines.append(f"  {when(spike.start)}: {spike.mentions} mentions, peak {spike.peak_per_minute}/min "
                         f"(typical {spike.typical_per_minute:g}/min){about}")
    elif report.spikes is not None:
        lines.append("Spikes: none")
    return lines + ([""] if lines else [])


def _span(seconds: float | None) -> str:
    return "—" if seconds is None else short_span(seconds)


def format_report(report: HandoverReport, when: Callable[[str], str] = lambda moment: moment) -> str:
    """The report as plain text for a terminal or a shift chat; `when` formats stored times."""
    lines = [f"Handover since {when(report.since)} (at {when(report.generated_at)}, "
             f"{period(report.since, report.generated_at)})", ""]
    lines += lead_lines(report, when)
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
